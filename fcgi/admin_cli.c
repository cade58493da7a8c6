/*
 * `upki-ra admin add|remove|list|enrol`: the RA's own admin list, managed on
 * the RA host.  This is how the first admin is made, before anyone can use
 * the admin API: `enrol` even has the CA make its certificate, with the
 * RA's own access to the CA.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cert.h"
#include "dn.h"
#include "fsutil.h"
#include "keygen.h"
#include "log.h"
#include "ra.h"
#include "store_admin.h"

#define ADMIN_PW_MAX 256

static void
admin_cli_print(const char *dn, int64_t created, void *arg)
{
	(void)created;
	(void)arg;
	printf("%s\n", dn);
}

static int
admin_cli_open(const struct config *cfg, struct store **st)
{
	char path[PATH_MAX], err[256];

	if (ra_data_dir_init(cfg) != 0 || ra_store_path(cfg, path, sizeof(path)) != 0)
		return -1;
	if (store_open(path, st, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* Adds dn to the RA's list, and when tell_ca to the CA's, as the admin API
 * does; a CA without admin tasks or out of reach is no reason to fail: the
 * RA's list is the one that lets the certificate in. */
static int
admin_cli_grant(const struct config *cfg, struct store *st, const char *dn, bool tell_ca)
{
	struct ca_client *ca;
	char msg[256];
	enum ca_result r;
	int rc = store_admin_add(st, dn, time(NULL));

	if (rc < 0) {
		log_error("cannot change the admin list");
		return -1;
	}
	printf("%s is an admin%s\n", dn, rc == 1 ? " (unchanged)" : "");
	if (!tell_ca || (ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL)
		return 0;
	r = ca_add_admin(ca, dn, msg, sizeof(msg));
	if (r != CA_OK && r != CA_ERR_UNSUPPORTED)
		log_warn("the CA could not add admin %s: %s", dn, msg);
	ca_client_free(ca);
	return 0;
}

/* The subject of the certificate in a PEM file. */
static int
admin_cli_cert_dn(const char *path, char *dn, size_t dnlen)
{
	char *pem = fs_read(path, CERT_PEM_MAX, NULL);
	X509 *crt = pem != NULL ? cert_from_pem(pem) : NULL;
	int rc = crt != NULL ? dn_from_cert(crt, dn, dnlen) : -1;

	if (crt == NULL)
		log_error("%s holds no PEM certificate", path);
	else if (rc != 0)
		log_error("the subject of %s is not one the RA can compare", path);
	X509_free(crt);
	free(pem);
	return rc;
}

/* The DN as given (see dn_operator), or from --cert; says how it was read. */
static int
admin_cli_dn(const struct admin_args *a, char *dn, size_t dnlen)
{
	const char *form = NULL;
	int rc;

	if (a->cert != NULL && a->arg != NULL) {
		log_error("give a DN or --cert FILE, not both");
		return -1;
	}
	if (a->cert != NULL) {
		if (admin_cli_cert_dn(a->cert, dn, dnlen) != 0)
			return -1;
		printf("read the subject of %s\n", a->cert);
		return 0;
	}
	rc = a->arg != NULL ? dn_operator(a->arg, dn, dnlen, &form) : DN_BAD;
	if (rc == DN_AMBIGUOUS) {
		log_error("ambiguous DN '%s': its order could be either way; give it as "
		    "`openssl x509 -noout -subject` prints it, as /O=y/CN=x, or give --cert FILE",
		    a->arg);
		return -1;
	}
	if (rc != 0) {
		log_error("admin %s needs a DN (as `openssl x509 -noout -subject` prints it, "
		    "or /O=y/CN=x) or --cert FILE", a->action);
		return -1;
	}
	printf("read '%s' as %s\n", a->arg, form);
	return 0;
}

static int
admin_cli_change(const struct config *cfg, struct store *st, const struct admin_args *a)
{
	char dn[DN_MAX];
	int rc;

	if (admin_cli_dn(a, dn, sizeof(dn)) != 0)
		return 1;
	if (strcmp(a->action, "add") == 0)
		return admin_cli_grant(cfg, st, dn, false) == 0 ? 0 : 1;
	if ((rc = store_admin_remove(st, dn, time(NULL))) < 0) {
		log_error("cannot change the admin list");
		return 1;
	}
	printf("%s is no admin%s\n", dn, rc == 1 ? " (unchanged)" : "");
	return 0;
}

/* -- enrol ------------------------------------------------------------------- */

/* One line of a file, without its line end: the password never goes
 * through the command line, where ps shows it. */
static int
admin_pw_file(const char *path, char *pw, size_t len)
{
	size_t n;
	char *text = fs_read(path, ADMIN_PW_MAX, &n);

	if (text == NULL) {
		log_error("cannot read the password file %s: %s", path, strerror(errno));
		return -1;
	}
	n = strcspn(text, "\r\n");
	text[n] = '\0';
	snprintf(pw, len, "%s", text);
	OPENSSL_cleanse(text, n);
	free(text);
	return 0;
}

/* Asks on the terminal, without echo: stdin may be a pipe. */
static int
admin_pw_read(FILE *tty, const char *prompt, char *pw, size_t len)
{
	struct termios old, quiet;
	int fd = fileno(tty), rc = -1;

	if (tcgetattr(fd, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fprintf(tty, "%s", prompt);
	fflush(tty);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		return -1;
	if (fgets(pw, (int)len, tty) != NULL) {
		pw[strcspn(pw, "\r\n")] = '\0';
		rc = 0;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	fprintf(tty, "\n");
	return rc;
}

static int
admin_pw_prompt(const char *p12, char *pw, size_t len)
{
	char again[ADMIN_PW_MAX], prompt[PATH_MAX + 64];
	FILE *tty = fopen("/dev/tty", "r+");
	int rc = -1;

	if (tty == NULL) {
		log_error("no terminal to ask the PKCS#12 password on: give --password-file FILE");
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "password for %s: ", p12);
	if (admin_pw_read(tty, prompt, pw, len) == 0 &&
	    admin_pw_read(tty, "the same again: ", again, sizeof(again)) == 0) {
		rc = strcmp(pw, again) == 0 ? 0 : -1;
		if (rc != 0)
			log_error("the two passwords differ");
	}
	OPENSSL_cleanse(again, sizeof(again));
	fclose(tty);
	return rc;
}

static int
admin_pw_get(const struct admin_args *a, const char *p12, char *pw, size_t len)
{
	if ((a->password_file != NULL ? admin_pw_file(a->password_file, pw, len) :
	    admin_pw_prompt(p12, pw, len)) != 0)
		return -1;
	if (*pw == '\0') {
		log_error("the PKCS#12 password is empty");
		return -1;
	}
	return 0;
}

/* A new file only: an operator's earlier key is never overwritten. */
static int
admin_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ssize_t n;

	if (fd < 0) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, data, len);
	if (close(fd) != 0 || n != (ssize_t)len) {
		log_error("cannot write %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

struct admin_enrolment {
	char key[PATH_MAX], crt[PATH_MAX], p12[PATH_MAX];
	char password[ADMIN_PW_MAX];
	char *key_pem, *crt_pem, *ca_pem;
	unsigned char *p12_der;
	size_t p12_len;
};

static void
admin_enrolment_free(struct admin_enrolment *e)
{
	OPENSSL_cleanse(e->password, sizeof(e->password));
	if (e->key_pem != NULL)
		OPENSSL_clear_free(e->key_pem, strlen(e->key_pem));
	free(e->crt_pem);
	free(e->ca_pem);
	if (e->p12_der != NULL)
		OPENSSL_clear_free(e->p12_der, e->p12_len);
}

/* The CN names the files: a path of its own would write elsewhere. */
static int
admin_enrol_paths(const char *cn, const char *out, struct admin_enrolment *e)
{
	char dir[PATH_MAX];

	if (*cn == '\0' || strchr(cn, '/') != NULL || cn[0] == '.' || strlen(cn) > 64) {
		log_error("admin enrol needs a CN of at most 64 characters, without '/'");
		return -1;
	}
	if (realpath(out != NULL ? out : ".", dir) == NULL) {
		log_error("no directory %s: %s", out != NULL ? out : ".", strerror(errno));
		return -1;
	}
	if (snprintf(e->key, sizeof(e->key), "%s/%s.key", dir, cn) >= (int)sizeof(e->key) ||
	    snprintf(e->crt, sizeof(e->crt), "%s/%s.crt", dir, cn) >= (int)sizeof(e->crt) ||
	    snprintf(e->p12, sizeof(e->p12), "%s/%s.p12", dir, cn) >= (int)sizeof(e->p12)) {
		log_error("directory path too long: %s", dir);
		return -1;
	}
	if (fs_exists(e->key) || fs_exists(e->crt) || fs_exists(e->p12)) {
		log_error("%s, %s or %s exists already: remove it or give --out DIR", e->key,
		    e->crt, e->p12);
		return -1;
	}
	return 0;
}

/* The key and CSR made here, the certificate by the CA's `admin` profile. */
static int
admin_enrol_sign(const struct config *cfg, const char *cn, struct admin_enrolment *e)
{
	struct ca_client *ca;
	char *csr = NULL, msg[512], path[PATH_MAX];
	enum ca_result r;

	if (keygen_csr(cn, NULL, &e->key_pem, &csr) != 0) {
		log_error("cannot make a key and a CSR");
		return -1;
	}
	if ((ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL) {
		free(csr);
		return -1;
	}
	r = ca_sign(ca, csr, "admin", &e->crt_pem, msg, sizeof(msg));
	ca_client_free(ca);
	free(csr);
	if (r != CA_OK) {
		log_error("the CA at %s:%d did not sign the admin certificate: %s", cfg->ca_host,
		    cfg->ca_port, msg);
		return -1;
	}
	if (config_path(cfg, "ca.crt", path, sizeof(path)) == 0)
		e->ca_pem = fs_read(path, CERT_PEM_MAX, NULL);
	if (keygen_pkcs12(e->key_pem, e->crt_pem, e->ca_pem, cn, e->password, &e->p12_der,
	    &e->p12_len) != 0) {
		log_error("cannot make the PKCS#12");
		return -1;
	}
	return 0;
}

static int
admin_enrol_write(struct admin_enrolment *e)
{
	if (admin_write_new(e->key, e->key_pem, strlen(e->key_pem), 0600) != 0)
		return -1;
	if (admin_write_new(e->crt, e->crt_pem, strlen(e->crt_pem), 0644) == 0 &&
	    admin_write_new(e->p12, e->p12_der, e->p12_len, 0600) == 0)
		return 0;
	unlink(e->key);
	unlink(e->crt);
	return -1;
}

/* The one command that shows the certificate opens the admin API. */
static void
admin_enrol_curl(const struct config *cfg, const struct admin_enrolment *e)
{
	char base[CONFIG_STR + 16], cacrt[PATH_MAX], host[CERT_NAME_MAX + 2];
	size_t n = strlen(cfg->base_url);

	/* Without a base URL, a name of ra.crt: curl checks the server's name. */
	if (n > 0)
		snprintf(base, sizeof(base), "%.*s", (int)(cfg->base_url[n - 1] == '/' ? n - 1 : n),
		    cfg->base_url);
	else if (ra_self_name(cfg, host, sizeof(host)) == 0)
		snprintf(base, sizeof(base), "https://%s:%d", host, cfg->ra_port);
	else
		snprintf(base, sizeof(base), "https://%s:%d", cfg->ra_host, cfg->ra_port);
	if (config_path(cfg, "ca.crt", cacrt, sizeof(cacrt)) != 0)
		return;
	printf("wrote %s (0600), %s and %s; try it with:\n", e->key, e->crt, e->p12);
	printf("curl --cacert '%s' --cert '%s' --key '%s' %s/api/v1/admins\n", cacrt, e->crt,
	    e->key, base);
}

static int
admin_enrol(const struct config *cfg, struct store *st, const struct admin_args *a)
{
	struct admin_enrolment e = { 0 };
	char dn[DN_MAX];
	X509 *crt = NULL;
	int rc = 1;

	if (a->arg == NULL) {
		log_error("usage: upki-ra admin enrol CN [--out DIR] [--password-file FILE]");
		return 1;
	}
	if (admin_enrol_paths(a->arg, a->out, &e) != 0 ||
	    admin_pw_get(a, e.p12, e.password, sizeof(e.password)) != 0 ||
	    admin_enrol_sign(cfg, a->arg, &e) != 0)
		goto done;
	if ((crt = cert_from_pem(e.crt_pem)) == NULL || dn_from_cert(crt, dn, sizeof(dn)) != 0) {
		log_error("the CA's certificate has no subject the RA can use");
		goto done;
	}
	if (admin_enrol_write(&e) != 0 || admin_cli_grant(cfg, st, dn, true) != 0)
		goto done;
	log_info("enrolled admin %s", dn);
	admin_enrol_curl(cfg, &e);
	rc = 0;
done:
	X509_free(crt);
	admin_enrolment_free(&e);
	return rc;
}

int
cmd_admin(const struct config *cfg, const struct admin_args *a)
{
	static const char *const actions[] = { "add", "remove", "list", "enrol" };
	struct store *st;
	size_t i;
	int rc;

	for (i = 0; a->action != NULL && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(a->action, actions[i]) == 0)
			break;
	if (a->action == NULL || i == sizeof(actions) / sizeof(actions[0])) {
		log_error("usage: upki-ra admin add|remove DN, admin add|remove --cert FILE, "
		    "admin list, or admin enrol CN");
		return 1;
	}
	if (a->cert != NULL && strcmp(a->action, "add") != 0 && strcmp(a->action, "remove") != 0) {
		log_error("--cert is for admin add and admin remove");
		return 1;
	}
	if (admin_cli_open(cfg, &st) != 0)
		return 1;
	if (strcmp(a->action, "list") == 0)
		rc = store_admin_each(st, admin_cli_print, NULL) == 0 ? 0 : 1;
	else if (strcmp(a->action, "enrol") == 0)
		rc = admin_enrol(cfg, st, a);
	else
		rc = admin_cli_change(cfg, st, a);
	store_close(st);
	return rc;
}
