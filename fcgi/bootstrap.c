/*
 * First boot: the data directory, the store, and registration with the CA.
 * Registration is the one exchange that carries the shared seed.  `start`
 * registers in a child process that exits before the master serves, so the
 * seed, the request that carries it and the CA client's buffers are in no
 * serving process; the master only wipes the seed from its command line and
 * environment.  The seed is never logged or written.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include "ca.h"
#include "cert.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"
#include "ra.h"

int
ra_store_path(const struct config *cfg, char *out, size_t outlen)
{
	return config_path(cfg, "acme.db", out, outlen);
}

int
ra_data_dir_init(const struct config *cfg)
{
	char path[PATH_MAX], err[256];
	struct store *st;

	if (fs_mkdirs(cfg->data_dir, 0700) != 0) {
		log_error("cannot create data directory %s: %s", cfg->data_dir,
		    strerror(errno));
		return -1;
	}
	if (ra_store_path(cfg, path, sizeof(path)) != 0) {
		log_error("data directory path too long: %s", cfg->data_dir);
		return -1;
	}
	if (store_open(path, &st, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	store_close(st);
	return 0;
}

int
cmd_init(const struct config *cfg)
{
	if (ra_data_dir_init(cfg) != 0)
		return 1;
	log_info("data directory %s ready", cfg->data_dir);
	return 0;
}

static bool
ra_is_ip(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* "a, b,c" -> [{"type":"DNS","value":"a"}, ...]; IP literals get type IP. */
static json_object *
ra_sans_json(const char *list)
{
	json_object *arr = json_object_new_array();
	char *copy = strdup(list), *save = NULL;

	if (copy == NULL)
		return arr;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		json_object *san;

		while (*tok == ' ')
			tok++;
		tok[strcspn(tok, " ")] = '\0';
		if (*tok == '\0')
			continue;
		san = json_object_new_object();
		json_object_object_add(san, "type",
		    json_object_new_string(ra_is_ip(tok) ? "IP" : "DNS"));
		json_object_object_add(san, "value", json_object_new_string(tok));
		json_object_array_add(arr, san);
	}
	free(copy);
	return arr;
}

/* systemd's LoadCredential=seed:... puts the seed in a file that only this
 * service can read, which beats an environment variable. */
static char *
ra_seed_credential(void)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX], *seed;
	size_t len;

	if (dir == NULL || snprintf(path, sizeof(path), "%s/seed", dir) >= (int)sizeof(path) ||
	    (seed = fs_read(path, 4096, &len)) == NULL)
		return NULL;
	while (len > 0 && (seed[len - 1] == '\n' || seed[len - 1] == '\r'))
		seed[--len] = '\0';
	return seed;
}

/* The value is zeroed in place before the variable goes: /proc/PID/environ
 * shows the original block to anyone who may read the process, and forked
 * children share it. */
void
ra_env_forget(const char *name)
{
	char *value = getenv(name);

	if (value == NULL)
		return;
	OPENSSL_cleanse(value, strlen(value));
	unsetenv(name);
}

/* --seed's value is argv memory, which /proc/PID/cmdline shows. */
static void
ra_forget_seed(char *given)
{
	if (given != NULL)
		OPENSSL_cleanse(given, strlen(given));
	ra_env_forget("UPKI_CA_SEED");
}

/* The seed: --seed, else UPKI_CA_SEED, else the systemd credential. */
static char *
ra_take_seed(char *given)
{
	char *env = getenv("UPKI_CA_SEED"), *seed;

	if (given != NULL)
		seed = strdup(given);
	else if (env != NULL)
		seed = strdup(env);
	else
		seed = ra_seed_credential();
	ra_forget_seed(given);
	return seed;
}

static int
ra_write_identity(const struct config *cfg, const char *crt, const char *key,
    const char *cacrt)
{
	static const struct {
		const char *name;
		mode_t mode;
	} files[] = { { "ra.key", 0600 }, { "ca.crt", 0644 }, { "ra.crt", 0644 } };
	const char *data[] = { key, cacrt, crt };
	char path[PATH_MAX];

	/* ra.crt last: its presence is what `start` takes as "registered". */
	for (size_t i = 0; i < 3; i++) {
		if (config_path(cfg, files[i].name, path, sizeof(path)) != 0 ||
		    fs_write_atomic(path, data[i], strlen(data[i]), files[i].mode) != 0) {
			log_error("cannot write %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
ra_check_identity(const char *crt, const char *key, const char *cacrt)
{
	if (crt == NULL || key == NULL || cacrt == NULL) {
		log_error("registration answer lacks certificate, private_key or "
		    "ca_certificate");
		return -1;
	}
	if (!cert_key_matches(crt, key)) {
		log_error("registration answer: the private key does not match the "
		    "certificate");
		return -1;
	}
	if (!cert_issued_by(crt, cacrt)) {
		log_error("registration answer: the certificate is not signed by the "
		    "CA certificate");
		return -1;
	}
	return 0;
}

static int
ra_register(const struct config *cfg, const char *seed)
{
	struct ca_registration reg = { 0 };
	struct ca_client *ca;
	json_object *sans;
	char msg[512];
	enum ca_result r;
	int rc = -1;

	if ((ca = ca_client_new(cfg->ca_host, cfg->ca_port + 1, cfg->ca_timeout_ms)) == NULL) {
		log_error("out of memory");
		return -1;
	}
	sans = ra_sans_json(cfg->ra_sans);
	r = ca_register(ca, seed, cfg->ra_cn, "ra", sans, &reg, msg, sizeof(msg));
	json_object_put(sans);
	if (r != CA_OK) {
		log_error("registration with the CA at %s:%d failed: %s", cfg->ca_host,
		    cfg->ca_port + 1, msg);
		goto done;
	}
	if (ra_check_identity(reg.certificate, reg.private_key, reg.ca_certificate) != 0 ||
	    ra_write_identity(cfg, reg.certificate, reg.private_key, reg.ca_certificate) != 0)
		goto done;
	log_info("registered with the CA as '%s'; wrote ra.crt, ra.key, ca.crt in %s",
	    cfg->ra_cn, cfg->data_dir);
	rc = 0;
done:
	ca_registration_free(&reg);
	ca_client_free(ca);
	return rc;
}

int
cmd_register(const struct config *cfg, char *given_seed)
{
	char *seed = ra_take_seed(given_seed);
	int rc = 1;

	if (seed == NULL || *seed == '\0') {
		log_error("no registration seed: give --seed, set UPKI_CA_SEED, or "
		    "provide the systemd credential 'seed'");
		goto done;
	}
	if (ra_data_dir_init(cfg) == 0 && ra_register(cfg, seed) == 0)
		rc = 0;
done:
	if (seed != NULL) {
		OPENSSL_cleanse(seed, strlen(seed));
		free(seed);
	}
	return rc;
}

static bool
ra_registered(const struct config *cfg)
{
	char crt[PATH_MAX], key[PATH_MAX];

	return config_path(cfg, "ra.crt", crt, sizeof(crt)) == 0 &&
	    config_path(cfg, "ra.key", key, sizeof(key)) == 0 &&
	    fs_exists(crt) && fs_exists(key);
}

/* `register` in a child process, which takes the seed to its end. */
static int
ra_register_child(const struct config *cfg, char *given_seed)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		log_error("cannot fork to register: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		exit(cmd_register(cfg, given_seed));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_error("waiting for registration: %s", strerror(errno));
			return -1;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ca.crt replaced by the CA's current certificate when they differ. */
static int
ra_update_ca_crt(const struct config *cfg, const char *ca_pem)
{
	char path[PATH_MAX];
	struct cert_file cur = { 0 };
	bool same;

	if (config_path(cfg, "ca.crt", path, sizeof(path)) != 0)
		return -1;
	same = cert_file_load(&cur, path) == 0 && cert_same(cur.crt, ca_pem);
	cert_file_free(&cur);
	if (same)
		return 0;
	if (fs_write_atomic(path, ca_pem, strlen(ca_pem), 0644) != 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	log_warn("the CA's certificate changed (same CA, same key): wrote the new one to %s",
	    path);
	ra_nginx_reload(cfg);
	return 0;
}

/*
 * A data directory registered with another CA (a development CA's, say,
 * before the real one is configured) would serve that CA's certificates
 * without a word.  Its ra.crt must be signed by the configured CA's
 * certificate (which a CA certificate renewed on the same key still is).
 * A CA that does not answer now cannot say: start anyway.  The same CA with
 * another certificate than ca.crt renewed it: ca.crt becomes the new one.
 */
static int
ra_check_own_ca(const struct config *cfg)
{
	char crt_path[PATH_MAX], msg[512], *ca_pem = NULL, *crt;
	struct ca_client *ca;
	enum ca_result r;
	int rc = 0;

	if (config_path(cfg, "ra.crt", crt_path, sizeof(crt_path)) != 0 ||
	    (ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL)
		return 0;
	r = ca_probe(ca, &ca_pem, msg, sizeof(msg));
	ca_client_free(ca);
	if (r != CA_OK) {
		log_warn("cannot check that %s belongs to the CA at %s:%d: %s", cfg->data_dir,
		    cfg->ca_host, cfg->ca_port, msg);
		return 0;
	}
	crt = fs_read(crt_path, CERT_PEM_MAX, NULL);
	if (crt == NULL || !cert_issued_by(crt, ca_pem)) {
		log_error("%s belongs to another CA: its ra.crt is not from the CA "
		    "at %s:%d; give this CA a data directory of its own (--data-dir), or move "
		    "%s away to register again", cfg->data_dir, cfg->ca_host, cfg->ca_port,
		    cfg->data_dir);
		rc = -1;
	} else {
		rc = ra_update_ca_crt(cfg, ca_pem);
	}
	free(crt);
	free(ca_pem);
	return rc;
}

int
cmd_start(const struct config *cfg, char *given_seed)
{
	char path[PATH_MAX], msg[512];
	struct ca_client *ca;
	int rc;

	if (ra_registered(cfg) && ra_check_own_ca(cfg) != 0) {
		ra_forget_seed(given_seed);
		return 1;
	}
	if (!ra_registered(cfg)) {
		log_info("ra.crt or ra.key missing in %s: registering with the CA",
		    cfg->data_dir);
		rc = ra_register_child(cfg, given_seed);
	} else {
		rc = ra_data_dir_init(cfg);
	}
	ra_forget_seed(given_seed);
	if (rc != 0)
		return 1;
	/* nginx's ssl_crl needs the file before it starts; a CA that is down
	 * now is not fatal, the CRL timer will fetch it later. */
	if (config_path(cfg, "crl.pem", path, sizeof(path)) == 0 && !fs_exists(path) &&
	    (ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) != NULL) {
		if (ra_crl_refresh(cfg, ca, false, msg, sizeof(msg)) != 0)
			log_warn("no crl.pem yet: %s", msg);
		ca_client_free(ca);
	}
	return cmd_serve(cfg);
}
