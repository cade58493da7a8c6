/*
 * The RA's own certificate kept alive.  ra.crt is what nginx serves; it
 * lasts as long as the CA's `ra` profile says (a year at the reference CA)
 * and nothing else renews it.  Once two thirds of its life have passed, the
 * master has a child process make a fresh key and a CSR for the same CN and
 * SANs, signed through the operations port with the `ra` profile (the seed
 * is needed for the first registration only), then replaces ra.key and
 * ra.crt and has nginx reload.  `upki-ra reissue` does the same at once,
 * with the SANs of --sans.  The logs warn while ra.crt or ca.crt is near its
 * end.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cert.h"
#include "fsutil.h"
#include "keygen.h"
#include "log.h"
#include "ra.h"

/* ca.crt is warned about in its last 30 days: a CA certificate is renewed
 * by the CA's operator, who needs time to do it. */
#define SELFCERT_CA_WARN_S (30 * 86400)

struct selfcert_info {
	char cn[CONFIG_STR];
	char sans[CERT_MAX_NAMES * 48];
	time_t not_before, not_after;
};

/* The CN, SANs ("a,b") and life of the certificate of a PEM file. */
static int
selfcert_read(const struct config *cfg, const char *name, struct selfcert_info *out)
{
	char path[PATH_MAX], why[128], *pem;
	struct cert_names names;
	size_t len = 0;
	X509 *crt;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (config_path(cfg, name, path, sizeof(path)) != 0 ||
	    (pem = fs_read(path, CERT_PEM_MAX, NULL)) == NULL)
		return -1;
	if ((crt = cert_from_pem(pem)) == NULL || cert_names(crt, &names, why, sizeof(why)) != 0)
		goto done;
	if (cert_common_name(crt, out->cn, sizeof(out->cn)) != 0)
		snprintf(out->cn, sizeof(out->cn), "%s", cfg->ra_cn);
	for (int i = 0; i < names.n; i++)
		len += (size_t)snprintf(out->sans + len, sizeof(out->sans) - len, "%s%s",
		    i > 0 ? "," : "", names.names[i].value);
	out->not_before = cert_not_before(crt);
	out->not_after = cert_not_after(crt);
	rc = len < sizeof(out->sans) ? 0 : -1;
done:
	X509_free(crt);
	free(pem);
	return rc;
}

/* A time as the logs give it: ISO 8601, UTC. */
static const char *
selfcert_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%ld", (long)t);
	return buf;
}

/* When renewal is due: two thirds into the certificate's life. */
static time_t
selfcert_due(const struct selfcert_info *i)
{
	return i->not_before + (i->not_after - i->not_before) * 2 / 3;
}

/* ra.key first, ra.crt last: `start` takes ra.crt as "registered", and
 * nginx reads both only when told to reload, after both are in place. */
static int
selfcert_write(const struct config *cfg, const char *key, const char *crt, char *msg,
    size_t msglen)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];

	if (config_path(cfg, "ra.key", kpath, sizeof(kpath)) != 0 ||
	    config_path(cfg, "ra.crt", cpath, sizeof(cpath)) != 0 ||
	    fs_write_atomic(kpath, key, strlen(key), 0600) != 0 ||
	    fs_write_atomic(cpath, crt, strlen(crt), 0644) != 0) {
		snprintf(msg, msglen, "cannot write ra.key or ra.crt in %s: %s", cfg->data_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The certificate must be for the new key and from the CA of ca.crt. */
static int
selfcert_check(const struct config *cfg, const char *crt, const char *key, char *msg,
    size_t msglen)
{
	char path[PATH_MAX], *ca = NULL;
	int rc = -1;

	if (config_path(cfg, "ca.crt", path, sizeof(path)) == 0)
		ca = fs_read(path, CERT_PEM_MAX, NULL);
	if (!cert_key_matches(crt, key))
		snprintf(msg, msglen, "the CA's certificate is not for the key sent");
	else if (ca == NULL || !cert_issued_by(crt, ca))
		snprintf(msg, msglen, "the CA's certificate is not signed by ca.crt");
	else
		rc = 0;
	free(ca);
	return rc;
}

int
ra_self_reissue(const struct config *cfg, struct ca_client *ca, const char *sans, char *msg,
    size_t msglen)
{
	struct selfcert_info now, next;
	char *key = NULL, *csr = NULL, *crt = NULL, when[32];
	enum ca_result r;
	int rc = -1;

	if (selfcert_read(cfg, "ra.crt", &now) != 0) {
		snprintf(msg, msglen, "no readable ra.crt in %s: register first", cfg->data_dir);
		return -1;
	}
	if (sans == NULL || *sans == '\0')
		sans = now.sans;
	if (keygen_csr(now.cn, sans, &key, &csr) != 0) {
		snprintf(msg, msglen, "cannot make a key and a CSR for '%s' (SANs %s)", now.cn,
		    sans);
		return -1;
	}
	if ((r = ca_sign(ca, csr, "ra", &crt, msg, msglen)) != CA_OK ||
	    selfcert_check(cfg, crt, key, msg, msglen) != 0 ||
	    selfcert_write(cfg, key, crt, msg, msglen) != 0)
		goto done;
	if (selfcert_read(cfg, "ra.crt", &next) == 0)
		log_info("renewed ra.crt for '%s' (SANs %s), valid until %s", next.cn, next.sans,
		    selfcert_time(next.not_after, when, sizeof(when)));
	ra_nginx_reload(cfg);
	rc = 0;
done:
	OPENSSL_clear_free(key, key != NULL ? strlen(key) : 0);
	free(csr);
	free(crt);
	return rc;
}

/* One certificate's entry of the admins' health: its end, and for ra.crt
 * when it is renewed; a warning for what needs an operator. */
static json_object *
selfcert_entry(const struct config *cfg, const char *name, time_t now, json_object *warnings)
{
	json_object *o = json_object_new_object();
	struct selfcert_info i;
	const char *status = "ok";
	bool ra = strcmp(name, "ra.crt") == 0;
	char when[32], text[160];

	if (selfcert_read(cfg, name, &i) != 0) {
		json_object_object_add(o, "status", json_object_new_string("unreadable"));
		snprintf(text, sizeof(text), "%s cannot be read", name);
		json_object_array_add(warnings, json_object_new_string(text));
		return o;
	}
	json_object_object_add(o, "not_after",
	    json_object_new_string(selfcert_time(i.not_after, when, sizeof(when))));
	if (ra)
		json_object_object_add(o, "renew_at",
		    json_object_new_string(selfcert_time(selfcert_due(&i), when, sizeof(when))));
	if (now >= i.not_after)
		status = "expired";
	else if (ra && now >= selfcert_due(&i))
		status = "renewal due";
	else if (!ra && i.not_after - now <= SELFCERT_CA_WARN_S)
		status = "expires soon";
	json_object_object_add(o, "status", json_object_new_string(status));
	if (strcmp(status, "ok") != 0) {
		snprintf(text, sizeof(text), "%s: %s (not after %s)", name, status,
		    selfcert_time(i.not_after, when, sizeof(when)));
		json_object_array_add(warnings, json_object_new_string(text));
	}
	return o;
}

void
ra_self_status(const struct config *cfg, json_object *data)
{
	json_object *certs = json_object_new_object(), *warnings = json_object_new_array();
	time_t now = time(NULL);

	json_object_object_add(certs, "ra.crt", selfcert_entry(cfg, "ra.crt", now, warnings));
	json_object_object_add(certs, "ca.crt", selfcert_entry(cfg, "ca.crt", now, warnings));
	json_object_object_add(data, "certificates", certs);
	json_object_object_add(data, "warnings", warnings);
}

int
ra_self_name(const struct config *cfg, char *out, size_t outlen)
{
	struct selfcert_info i;
	size_t n;

	if (selfcert_read(cfg, "ra.crt", &i) != 0 || (n = strcspn(i.sans, ",")) == 0)
		return -1;
	/* An IPv6 address goes in brackets in a URL. */
	if (memchr(i.sans, ':', n) != NULL)
		return snprintf(out, outlen, "[%.*s]", (int)n, i.sans) < (int)outlen ? 0 : -1;
	return snprintf(out, outlen, "%.*s", (int)n, i.sans) < (int)outlen ? 0 : -1;
}

/* The renewing child: its own CA client, the signals back to default. */
static void
selfcert_child(const struct config *cfg)
{
	struct ca_client *ca;
	char msg[512];
	sigset_t all;
	int rc = 1;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if ((ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) != NULL) {
		rc = ra_self_reissue(cfg, ca, NULL, msg, sizeof(msg)) == 0 ? 0 : 1;
		if (rc != 0)
			log_warn("ra.crt is due for renewal and could not be renewed: %s", msg);
		ca_client_free(ca);
	}
	_exit(rc);
}

/* Warns about ca.crt near its end, at most once a day. */
static void
selfcert_ca_warn(const struct config *cfg, time_t now)
{
	static time_t warned;
	struct selfcert_info ca;
	char when[32];

	if (now - warned < 86400 || selfcert_read(cfg, "ca.crt", &ca) != 0 ||
	    ca.not_after - now > SELFCERT_CA_WARN_S)
		return;
	warned = now;
	log_warn("ca.crt (the CA's certificate) expires at %s, in %ld days: its renewal is "
	    "the CA operator's", selfcert_time(ca.not_after, when, sizeof(when)),
	    (long)((ca.not_after - now) / 86400));
}

void
selfcert_tick(const struct config *cfg)
{
	static time_t next;
	static pid_t child;
	struct selfcert_info ra;
	time_t now = time(NULL), life;
	char when[32];

	if (child > 0 && kill(child, 0) != 0 && errno == ESRCH)
		child = 0;
	if (now < next || child > 0)
		return;
	selfcert_ca_warn(cfg, now);
	if (selfcert_read(cfg, "ra.crt", &ra) != 0) {
		next = now + 60;
		return;
	}
	/* Not due: look again when it is, or in an hour (ra.crt may have been
	 * replaced by hand).  Due: try now, and again after a thirtieth of the
	 * life (between 5 s and an hour) while it fails. */
	life = ra.not_after - ra.not_before;
	if (now < selfcert_due(&ra)) {
		next = selfcert_due(&ra) < now + 3600 ? selfcert_due(&ra) : now + 3600;
		return;
	}
	next = now + (life / 30 < 5 ? 5 : life / 30 > 3600 ? 3600 : life / 30);
	log_info("ra.crt is two thirds into its life (it expires at %s): renewing it",
	    selfcert_time(ra.not_after, when, sizeof(when)));
	if ((child = fork()) == 0)
		selfcert_child(cfg);
	if (child < 0) {
		log_warn("cannot fork to renew ra.crt: %s", strerror(errno));
		child = 0;
	}
}

int
cmd_reissue(const struct config *cfg)
{
	struct ca_client *ca;
	char msg[512];
	int rc;

	if ((ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL) {
		log_error("out of memory");
		return 1;
	}
	rc = ra_self_reissue(cfg, ca, cfg->ra_sans, msg, sizeof(msg));
	ca_client_free(ca);
	if (rc != 0) {
		log_error("ra.crt not reissued: %s", msg);
		return 1;
	}
	return 0;
}
