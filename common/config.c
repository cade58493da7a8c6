#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* CONFIG_T_DOMAIN: a string that is empty or a DNS name. */
enum config_type { CONFIG_T_STR, CONFIG_T_PORT, CONFIG_T_INT, CONFIG_T_BOOL, CONFIG_T_DOMAIN };

struct config_key {
	const char *flag;
	const char *env;
	enum config_type type;
	size_t offset;
	const char *def;
	int min, max;           /* bounds for CONFIG_T_INT */
};

/* A default that is the number of CPUs (config_cpus). */
#define CONFIG_CPUS "cpus"

#define S(f, e, m, d) { f, e, CONFIG_T_STR, offsetof(struct config, m), d, 0, 0 }
#define P(f, e, m, d) { f, e, CONFIG_T_PORT, offsetof(struct config, m), d, 1, 65535 }
#define I(f, e, m, d, lo, hi) { f, e, CONFIG_T_INT, offsetof(struct config, m), d, lo, hi }
#define B(f, e, m, d) { f, e, CONFIG_T_BOOL, offsetof(struct config, m), d, 0, 0 }
#define D(f, e, m, d) { f, e, CONFIG_T_DOMAIN, offsetof(struct config, m), d, 0, 0 }

static const struct config_key config_keys[] = {
	S("data-dir", "UPKI_DATA_DIR", data_dir, "~/.upki/ra"),
	S("ca-host", "UPKI_CA_HOST", ca_host, "127.0.0.1"),
	P("ca-port", "UPKI_CA_PORT", ca_port, "5000"),
	I("ca-timeout-ms", "UPKI_CA_TIMEOUT_MS", ca_timeout_ms, "5000", 100, 600000),
	S("ra-host", "UPKI_RA_HOST", ra_host, "127.0.0.1"),
	P("ra-port", "UPKI_RA_PORT", ra_port, "8000"),
	B("ra-tls", "UPKI_RA_TLS", ra_tls, "true"),
	S("cn", "UPKI_RA_CN", ra_cn, "RA"),
	S("sans", "UPKI_RA_SANS", ra_sans, ""),
	S("base-url", "UPKI_RA_BASE_URL", base_url, ""),
	S("dns-server", "UPKI_RA_DNS_SERVER", dns_server, ""),
	P("http01-port", "UPKI_RA_HTTP01_PORT", http01_port, "80"),
	P("tlsalpn01-port", "UPKI_RA_TLSALPN01_PORT", tlsalpn01_port, "443"),
	S("validation-allow", "UPKI_RA_VALIDATION_ALLOW", validation_allow, ""),
	S("acme-profile", "UPKI_RA_ACME_PROFILE", acme_profile, "server"),
	S("acme-profiles", "UPKI_RA_ACME_PROFILES", acme_profiles, "server,webapp"),
	B("acme-client-auth", "UPKI_RA_ACME_CLIENT_AUTH", acme_client_auth, "false"),
	S("allowed-names", "UPKI_RA_ALLOWED_NAMES", allowed_names, ""),
	B("eab-required", "UPKI_RA_EAB_REQUIRED", eab_required, "false"),
	B("share-cn", "UPKI_RA_SHARE_CN", share_cn, "false"),
	I("rate-orders", "UPKI_RA_RATE_ORDERS", rate_orders, "300", 0, 1000000),
	I("rate-inflight", "UPKI_RA_RATE_INFLIGHT", rate_inflight, "10", 0, 1000000),
	I("rate-pending-authz", "UPKI_RA_RATE_PENDING_AUTHZ", rate_pending_authz, "1000", 0,
	    1000000),
	I("rate-failed", "UPKI_RA_RATE_FAILED", rate_failed, "60", 0, 1000000),
	I("rate-accounts", "UPKI_RA_RATE_ACCOUNTS", rate_accounts, "20", 0, 1000000),
	S("tos-url", "UPKI_RA_TOS_URL", tos_url, ""),
	S("openapi-file", "UPKI_RA_OPENAPI_FILE", openapi_file, ""),
	D("caa-identity", "UPKI_RA_CAA_IDENTITY", caa_identity, ""),
	S("listen", "UPKI_RA_LISTEN", listen, ""),
	S("fcgi-auth-file", "UPKI_RA_FCGI_AUTH_FILE", fcgi_auth_file, ""),
	I("workers", "UPKI_RA_WORKERS", workers, CONFIG_CPUS, 1, 256),
	I("spare-workers", "UPKI_RA_SPARE_WORKERS", spare_workers, "1", 0, 64),
	I("validators", "UPKI_RA_VALIDATORS", validators, "2", 1, 64),
	I("validators-per-account", "UPKI_RA_VALIDATORS_PER_ACCOUNT", validators_per_account,
	    "0", 0, 64),
	S("nginx-pid", "UPKI_RA_NGINX_PID", nginx_pid, ""),
	I("token-ttl", "UPKI_RA_TOKEN_TTL", token_ttl, "86400", 60, 30 * 86400),
	I("admin-cache", "UPKI_RA_ADMIN_CACHE", admin_cache_s, "30", 0, 3600),
	S("log-level", "UPKI_LOG_LEVEL", log_level, "info"),
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const struct config_key *
config_find(const char *flag)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].flag, flag) == 0)
			return &config_keys[i];
	return NULL;
}

bool
config_has_flag(const char *flag)
{
	return config_find(flag) != NULL;
}

static int
config_parse_int(const char *value, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int
config_parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* "~/x" becomes "$HOME/x"; anything else is copied as it is. */
static int
config_expand(const char *value, char *out, size_t outlen)
{
	const char *home = getenv("HOME");
	int n;

	if (strncmp(value, "~/", 2) == 0 && home != NULL && *home != '\0')
		n = snprintf(out, outlen, "%s/%s", home, value + 2);
	else
		n = snprintf(out, outlen, "%s", value);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* A DNS name: labels of letters, digits and inner hyphens, no port, not
 * an IP address (a name whose last label is all digits). */
static bool
config_is_domain(const char *name)
{
	size_t label = 0, len = strlen(name);
	bool digits = true;

	if (len == 0 || len > 253 || name[len - 1] == '.')
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (!isalnum((unsigned char)*p) && (*p != '-' || label == 0))
			return false;
		digits &= isdigit((unsigned char)*p) != 0;
		if (++label > 63)
			return false;
	}
	return name[len - 1] != '-' && !digits;
}

static int
config_apply(struct config *cfg, const struct config_key *k, const char *value,
    const char *source, char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	int rc = 0;

	switch (k->type) {
	case CONFIG_T_STR:
		rc = config_expand(value, field, CONFIG_STR);
		break;
	case CONFIG_T_DOMAIN:
		rc = *value == '\0' || config_is_domain(value) ? config_expand(value, field,
		    CONFIG_STR) : -1;
		break;
	case CONFIG_T_PORT:
	case CONFIG_T_INT:
		rc = config_parse_int(value, k->min, k->max, (int *)(void *)field);
		break;
	case CONFIG_T_BOOL:
		rc = config_parse_bool(value, (bool *)(void *)field);
		break;
	}
	if (rc != 0)
		snprintf(err, errlen, "invalid value for %s: '%.64s'", source, value);
	return rc;
}

/*
 * The default of the worker count: one per CPU, at least 2.  A worker serves
 * every connection nginx keeps to it, so workers past the cores only add
 * context switches and longer queues (docs/PERFORMANCE.md); two keep one
 * free while the other waits on the CA.
 */
static const char *
config_cpus(char *buf, size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	snprintf(buf, len, "%ld", n < 2 ? 2 : n > 256 ? 256 : n);
	return buf;
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	char cpus[24];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *env = getenv(k->env);
		const char *def = strcmp(k->def, CONFIG_CPUS) == 0 ?
		    config_cpus(cpus, sizeof(cpus)) : k->def;

		if (config_apply(cfg, k, def, k->flag, err, errlen) != 0)
			return -1;
		if (env != NULL && config_apply(cfg, k, env, k->env, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int
config_set(struct config *cfg, const char *flag, const char *value, char *err,
    size_t errlen)
{
	const struct config_key *k = config_find(flag);
	char name[64];

	if (k == NULL) {
		snprintf(err, errlen, "unknown option --%.32s", flag);
		return -1;
	}
	snprintf(name, sizeof(name), "--%s", flag);
	return config_apply(cfg, k, value, name, err, errlen);
}

void
config_usage(FILE *out)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		fprintf(out, "  --%-16s %-24s default: %s\n", config_keys[i].flag,
		    config_keys[i].env, *config_keys[i].def ? config_keys[i].def : "(none)");
}

int
config_path(const struct config *cfg, const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", cfg->data_dir, name);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

json_object *
config_to_json(const struct config *cfg)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *field = (const char *)cfg + k->offset;
		json_object *v = NULL;

		switch (k->type) {
		case CONFIG_T_STR:
		case CONFIG_T_DOMAIN:
			v = json_object_new_string(field);
			break;
		case CONFIG_T_PORT:
		case CONFIG_T_INT:
			v = json_object_new_int(*(const int *)(const void *)field);
			break;
		case CONFIG_T_BOOL:
			v = json_object_new_boolean(*(const bool *)(const void *)field);
			break;
		}
		json_object_object_add(o, k->env, v);
	}
	return o;
}

/* The host of the base URL: after "scheme://", up to a port, path or end;
 * an IPv6 literal ("[...]") is no domain name and gives "". */
static void
config_url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p != NULL ? p + 3 : url;
	n = strcspn(p, ":/?#");
	if (*p == '[' || n >= outlen)
		n = 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[n] = '\0';
}

int
config_caa_identity(const struct config *cfg, char *out, size_t outlen)
{
	char host[CONFIG_STR];

	if (cfg->caa_identity[0] != '\0') {
		snprintf(out, outlen, "%s", cfg->caa_identity);
		return 0;
	}
	config_url_host(cfg->base_url, host, sizeof(host));
	if (config_is_domain(host)) {
		snprintf(out, outlen, "%s", host);
		return 0;
	}
	/* A CN of one label ("RA", the default) names no host. */
	if (strchr(cfg->ra_cn, '.') != NULL && config_is_domain(cfg->ra_cn)) {
		config_url_host(cfg->ra_cn, out, outlen);
		return 0;
	}
	return -1;
}

/* One "KEY=value" line of an EnvironmentFile=: the value without the quotes
 * around it, if any.  Only UPKI_ variables: the file must not set PATH or
 * LD_PRELOAD for a command run by hand. */
static void
config_env_line(char *line)
{
	char *eq = strchr(line, '='), *value;
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '#' || eq == NULL || strncmp(line, "UPKI_", 5) != 0)
		return;
	*eq = '\0';
	for (const char *k = line; *k != '\0'; k++)
		if (!isupper((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_')
			return;
	value = eq + 1;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == ' ' || value[n - 1] == '\t'))
		value[--n] = '\0';
	if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0]) {
		value[n - 1] = '\0';
		value++;
	}
	setenv(line, value, 0);
}

int
config_env_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read the environment file %.256s: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		config_env_line(line);
	}
	free(line);
	fclose(f);
	return 0;
}
