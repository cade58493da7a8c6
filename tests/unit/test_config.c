/*
 * Unit tests for common/config.c: default < environment < flag, value
 * checking with messages that name where the bad value came from, ~/
 * expansion, paths in the data directory, and the JSON view of the settings
 * (which must never carry the CA seed).
 *
 * The tests change the process environment.  The group setup saves and
 * unsets every variable config.c reads (and HOME, UPKI_CA_SEED); each
 * test's teardown unsets them again, and the group teardown restores them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define MAX_VARS 64

static struct saved_var {
	char *name;
	char *value;            /* NULL: was not set */
} saved[MAX_VARS];
static size_t nsaved;

static void
save_var(const char *name)
{
	const char *v = getenv(name);

	for (size_t i = 0; i < nsaved; i++)
		if (strcmp(saved[i].name, name) == 0)
			return;
	assert_true(nsaved < MAX_VARS);
	saved[nsaved].name = strdup(name);
	saved[nsaved].value = v != NULL ? strdup(v) : NULL;
	assert_non_null(saved[nsaved].name);
	nsaved++;
}

/* Unsets every saved variable except HOME, which gets a fixed value. */
static void
clean_env(void)
{
	for (size_t i = 0; i < nsaved; i++)
		unsetenv(saved[i].name);
	setenv("HOME", "/home/unit-test", 1);
}

static int
group_setup(void **state)
{
	struct config cfg;
	json_object *j;
	char err[256];

	(void)state;
	save_var("HOME");
	save_var("UPKI_CA_SEED");
	/* The names config.c reads are the keys of its JSON view. */
	if (config_load(&cfg, err, sizeof(err)) != 0) {
		/* the inherited environment is bad: still learn the names */
		memset(&cfg, 0, sizeof(cfg));
	}
	j = config_to_json(&cfg);
	if (j == NULL)
		return -1;
	json_object_object_foreach(j, key, val) {
		(void)val;
		save_var(key);
	}
	json_object_put(j);
	clean_env();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nsaved; i++) {
		if (saved[i].value != NULL)
			setenv(saved[i].name, saved[i].value, 1);
		else
			unsetenv(saved[i].name);
		free(saved[i].name);
		free(saved[i].value);
	}
	nsaved = 0;
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	clean_env();
	return 0;
}

static int
test_teardown(void **state)
{
	(void)state;
	clean_env();
	return 0;
}

static void
load_ok(struct config *cfg)
{
	char err[256] = "";

	if (config_load(cfg, err, sizeof(err)) != 0)
		fail_msg("config_load failed: %s", err);
}

static void
set_ok(struct config *cfg, const char *flag, const char *value)
{
	char err[256] = "";

	if (config_set(cfg, flag, value, err, sizeof(err)) != 0)
		fail_msg("config_set --%s %s failed: %s", flag, value, err);
}

/* Loads with NAME=value in the environment; must fail naming NAME. */
static void
env_refused(const char *name, const char *value)
{
	struct config cfg;
	char err[256] = "";

	setenv(name, value, 1);
	if (config_load(&cfg, err, sizeof(err)) == 0)
		fail_msg("%s=%s was accepted", name, value);
	if (strstr(err, name) == NULL)
		fail_msg("message for %s=%s does not name the variable: %s", name, value, err);
	unsetenv(name);
}

/* config_set must fail naming --flag, and leave the old value. */
static void
flag_refused(struct config *cfg, const char *flag, const char *value)
{
	struct config before = *cfg;
	char err[256] = "", want[64];

	snprintf(want, sizeof(want), "--%s", flag);
	if (config_set(cfg, flag, value, err, sizeof(err)) == 0)
		fail_msg("--%s '%s' was accepted", flag, value);
	if (strstr(err, want) == NULL)
		fail_msg("message for --%s '%s' does not name the flag: %s", flag, value, err);
	assert_memory_equal(&before, cfg, sizeof(before));
}

static void
test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg);
	assert_string_equal(cfg.data_dir, "/home/unit-test/.upki/ra");
	assert_string_equal(cfg.ca_host, "127.0.0.1");
	assert_int_equal(cfg.ca_port, 5000);
	assert_string_equal(cfg.ra_host, "127.0.0.1");
	assert_int_equal(cfg.ra_port, 8000);
	assert_true(cfg.ra_tls);
	assert_string_equal(cfg.ra_cn, "RA");
	assert_string_equal(cfg.ra_sans, "");
	assert_true(cfg.ca_timeout_ms > 0);
	/* one worker per CPU, at least 2 */
	assert_int_equal(cfg.workers, sysconf(_SC_NPROCESSORS_ONLN) < 2 ? 2 :
	    (int)sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(cfg.spare_workers, 1);
}

static void
test_precedence_string(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg);
	assert_string_equal(cfg.ca_host, "127.0.0.1");
	setenv("UPKI_CA_HOST", "ca.env.test", 1);
	load_ok(&cfg);
	assert_string_equal(cfg.ca_host, "ca.env.test");
	set_ok(&cfg, "ca-host", "ca.flag.test");
	assert_string_equal(cfg.ca_host, "ca.flag.test");
	/* the environment does not touch other settings */
	assert_string_equal(cfg.ra_host, "127.0.0.1");
	/* a flag wins even without the environment */
	unsetenv("UPKI_CA_HOST");
	load_ok(&cfg);
	set_ok(&cfg, "ca-host", "only.flag.test");
	assert_string_equal(cfg.ca_host, "only.flag.test");
}

static void
test_precedence_port(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg);
	assert_int_equal(cfg.ca_port, 5000);
	setenv("UPKI_CA_PORT", "6001", 1);
	load_ok(&cfg);
	assert_int_equal(cfg.ca_port, 6001);
	set_ok(&cfg, "ca-port", "7002");
	assert_int_equal(cfg.ca_port, 7002);
	/* bounds of a port */
	set_ok(&cfg, "ca-port", "1");
	assert_int_equal(cfg.ca_port, 1);
	set_ok(&cfg, "ca-port", "65535");
	assert_int_equal(cfg.ca_port, 65535);

	setenv("UPKI_RA_PORT", "8443", 1);
	load_ok(&cfg);
	assert_int_equal(cfg.ra_port, 8443);
	assert_int_equal(cfg.ca_port, 6001);
}

static void
test_precedence_bool(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} spellings[] = {
		{ "true", true }, { "false", false }, { "1", true }, { "0", false },
		{ "yes", true }, { "no", false }, { "on", true }, { "off", false },
		{ "TRUE", true }, { "False", false },
	};
	struct config cfg;

	(void)state;
	load_ok(&cfg);
	assert_true(cfg.ra_tls);
	setenv("UPKI_RA_TLS", "false", 1);
	load_ok(&cfg);
	assert_false(cfg.ra_tls);
	set_ok(&cfg, "ra-tls", "true");
	assert_true(cfg.ra_tls);
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		setenv("UPKI_RA_TLS", spellings[i].text, 1);
		load_ok(&cfg);
		if (cfg.ra_tls != spellings[i].value)
			fail_msg("UPKI_RA_TLS=%s gave %d", spellings[i].text, cfg.ra_tls);
		set_ok(&cfg, "ra-tls", spellings[i].text);
		if (cfg.ra_tls != spellings[i].value)
			fail_msg("--ra-tls %s gave %d", spellings[i].text, cfg.ra_tls);
		/* and the flag wins over the environment */
		set_ok(&cfg, "ra-tls", spellings[i].value ? "false" : "true");
		assert_true(cfg.ra_tls == !spellings[i].value);
	}
}

static void
test_invalid_env_values(void **state)
{
	char longval[CONFIG_STR + 100];

	(void)state;
	env_refused("UPKI_CA_PORT", "abc");
	env_refused("UPKI_CA_PORT", "0");
	env_refused("UPKI_CA_PORT", "65536");
	env_refused("UPKI_CA_PORT", "5000x");
	env_refused("UPKI_CA_PORT", "");
	env_refused("UPKI_CA_PORT", "-1");
	env_refused("UPKI_CA_PORT", "99999999999999999999");
	env_refused("UPKI_RA_PORT", "http");
	env_refused("UPKI_RA_TLS", "maybe");
	env_refused("UPKI_RA_TLS", "");
	env_refused("UPKI_RA_TLS", "truex");
	memset(longval, 'h', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	env_refused("UPKI_CA_HOST", longval);
}

static void
test_invalid_flag_values(void **state)
{
	struct config cfg;
	char longval[CONFIG_STR + 100];

	(void)state;
	load_ok(&cfg);
	flag_refused(&cfg, "ca-port", "abc");
	flag_refused(&cfg, "ca-port", "0");
	flag_refused(&cfg, "ca-port", "65536");
	flag_refused(&cfg, "ca-port", "12ab");
	flag_refused(&cfg, "ca-port", "");
	flag_refused(&cfg, "ra-port", "-80");
	flag_refused(&cfg, "ra-tls", "maybe");
	flag_refused(&cfg, "ra-tls", "2");
	flag_refused(&cfg, "workers", "0");
	flag_refused(&cfg, "workers", "many");
	flag_refused(&cfg, "spare-workers", "-1");
	flag_refused(&cfg, "spare-workers", "65");
	memset(longval, 'h', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	{
		char err[256] = "";

		assert_int_equal(config_set(&cfg, "ca-host", longval, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "--ca-host"));
	}
}

static void
test_unknown_flag(void **state)
{
	struct config cfg, before;
	char err[256] = "";

	(void)state;
	load_ok(&cfg);
	before = cfg;
	assert_int_equal(config_set(&cfg, "no-such-option", "1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-option"));
	assert_memory_equal(&before, &cfg, sizeof(cfg));
	assert_false(config_has_flag("no-such-option"));
	assert_false(config_has_flag(""));
	assert_false(config_has_flag("CA-PORT"));
	assert_false(config_has_flag("--ca-port"));
	assert_true(config_has_flag("ca-port"));
	assert_true(config_has_flag("data-dir"));
	assert_true(config_has_flag("ra-tls"));
	/* the seed is not a setting (config.h) */
	assert_false(config_has_flag("seed"));
	assert_false(config_has_flag("ca-seed"));
	err[0] = '\0';
	assert_int_equal(config_set(&cfg, "seed", "s3cr3t", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "seed"));
}

static void
test_home_expansion(void **state)
{
	struct config cfg;

	(void)state;
	setenv("HOME", "/srv/home-of-test", 1);
	load_ok(&cfg);
	assert_string_equal(cfg.data_dir, "/srv/home-of-test/.upki/ra");
	setenv("UPKI_DATA_DIR", "~/from-env", 1);
	load_ok(&cfg);
	assert_string_equal(cfg.data_dir, "/srv/home-of-test/from-env");
	set_ok(&cfg, "data-dir", "~/from-flag/sub");
	assert_string_equal(cfg.data_dir, "/srv/home-of-test/from-flag/sub");
	/* only a leading "~/" is expanded */
	set_ok(&cfg, "data-dir", "/abs/~/x");
	assert_string_equal(cfg.data_dir, "/abs/~/x");
	set_ok(&cfg, "data-dir", "~other/x");
	assert_string_equal(cfg.data_dir, "~other/x");
	set_ok(&cfg, "data-dir", "relative/dir");
	assert_string_equal(cfg.data_dir, "relative/dir");
}

static void
test_config_path(void **state)
{
	struct config cfg;
	char out[CONFIG_STR + 32], tiny[8];

	(void)state;
	load_ok(&cfg);
	set_ok(&cfg, "data-dir", "/var/lib/upki-ra");
	assert_int_equal(config_path(&cfg, "acme.db", out, sizeof(out)), 0);
	assert_string_equal(out, "/var/lib/upki-ra/acme.db");
	assert_int_equal(config_path(&cfg, "ra.key", out, sizeof(out)), 0);
	assert_string_equal(out, "/var/lib/upki-ra/ra.key");
	/* too small a buffer is an error, not a silently cut path */
	assert_int_equal(config_path(&cfg, "acme.db", tiny, sizeof(tiny)), -1);
	/* exactly fitting: "/var/lib/upki-ra/x" is 18 bytes plus NUL */
	assert_int_equal(config_path(&cfg, "x", out, 19), 0);
	assert_string_equal(out, "/var/lib/upki-ra/x");
	assert_int_equal(config_path(&cfg, "x", out, 18), -1);
}

static void
test_to_json_keys(void **state)
{
	static const char *const documented[] = {
		"UPKI_DATA_DIR", "UPKI_CA_HOST", "UPKI_CA_PORT", "UPKI_RA_HOST",
		"UPKI_RA_PORT", "UPKI_RA_TLS", "UPKI_RA_SANS", "UPKI_RA_CN",
	};
	struct config cfg;
	json_object *j, *v;
	size_t nkeys = 0;

	(void)state;
	setenv("UPKI_CA_PORT", "5100", 1);
	setenv("UPKI_RA_TLS", "no", 1);
	setenv("UPKI_RA_CN", "ra.example.test", 1);
	load_ok(&cfg);
	set_ok(&cfg, "ca-host", "ca.example.test");
	j = config_to_json(&cfg);
	assert_non_null(j);
	assert_true(json_object_is_type(j, json_type_object));
	json_object_object_foreach(j, key, val) {
		(void)val;
		nkeys++;
		if (strncmp(key, "UPKI_", 5) != 0)
			fail_msg("key %s is not an environment variable name", key);
		if (strstr(key, "SEED") != NULL)
			fail_msg("key %s in the config JSON", key);
	}
	assert_true(nkeys >= sizeof(documented) / sizeof(documented[0]));
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (!json_object_object_get_ex(j, documented[i], &v))
			fail_msg("%s missing from the config JSON", documented[i]);
	/* the values are the effective ones, with their JSON types */
	assert_true(json_object_object_get_ex(j, "UPKI_CA_PORT", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), 5100);
	assert_true(json_object_object_get_ex(j, "UPKI_RA_TLS", &v));
	assert_true(json_object_is_type(v, json_type_boolean));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(j, "UPKI_CA_HOST", &v));
	assert_string_equal(json_object_get_string(v), "ca.example.test");
	assert_true(json_object_object_get_ex(j, "UPKI_RA_CN", &v));
	assert_string_equal(json_object_get_string(v), "ra.example.test");
	json_object_put(j);
}

/* A seed in the environment never reaches the settings or their JSON. */
static void
test_seed_never_in_config(void **state)
{
	static const char secret[] = "seed-value-that-must-not-leak";
	struct config cfg;
	json_object *j;

	(void)state;
	setenv("UPKI_CA_SEED", secret, 1);
	load_ok(&cfg);
	assert_null(memmem(&cfg, sizeof(cfg), secret, strlen(secret)));
	j = config_to_json(&cfg);
	assert_non_null(j);
	assert_null(strstr(json_object_to_json_string(j), secret));
	assert_null(strstr(json_object_to_json_string(j), "SEED"));
	json_object_put(j);
}

static void
test_usage_lists_flags(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	config_usage(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "--ca-port"));
	assert_non_null(strstr(text, "UPKI_CA_PORT"));
	assert_non_null(strstr(text, "--data-dir"));
	assert_null(strstr(text, "SEED"));
	free(text);
}

/* A CAA identity is a domain name (RFC 8659): the base URL's host without
 * scheme, port or path, else the CN when it is a domain name, else none. */
static void
test_caa_identity(void **state)
{
	struct config cfg;
	char err[256], out[CONFIG_STR];

	(void)state;
	load_ok(&cfg);
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), -1);
	set_ok(&cfg, "cn", "ra.example.test");
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "ra.example.test");
	set_ok(&cfg, "base-url", "https://RA.Example.net:8443/acme/");
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "ra.example.net");
	set_ok(&cfg, "base-url", "https://127.0.0.1:8000");
	set_ok(&cfg, "cn", "RA");
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), -1);
	set_ok(&cfg, "base-url", "https://localhost:8000");
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "localhost");
	setenv("UPKI_RA_CAA_IDENTITY", "pki.example.org", 1);
	load_ok(&cfg);
	assert_int_equal(config_caa_identity(&cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "pki.example.org");
	assert_int_equal(config_set(&cfg, "caa-identity", "pki.example.org:443", err,
	    sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "caa-identity", "https://pki.example.org", err,
	    sizeof(err)), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_precedence_string),
		T(test_precedence_port),
		T(test_precedence_bool),
		T(test_invalid_env_values),
		T(test_invalid_flag_values),
		T(test_unknown_flag),
		T(test_home_expansion),
		T(test_config_path),
		T(test_to_json_keys),
		T(test_seed_never_in_config),
		T(test_usage_lists_flags),
		T(test_caa_identity),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
