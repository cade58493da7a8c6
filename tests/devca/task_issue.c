/*
 * The tasks that issue certificates: sign (the key is the CSR's), generate
 * and register (the CA makes the key and hands it out), renew (same
 * subject, names, key and profile under a new serial).
 */
#include "devca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cert.h"
#include "jsonx.h"

/* json-c prints ds as it is, so the serial goes out as a JSON integer
 * wider than any C type, the way the reference CA (Python) sends it. */
static json_object *
task_serial_json(X509 *x)
{
	char dec[DEVCA_SERIAL_LEN];

	if (codec_serial(x, false, dec, sizeof(dec)) != 0)
		return NULL;
	return json_object_new_double_s(strtod(dec, NULL), dec);
}

/* Issues what req describes and files it as the current certificate under
 * name.  Returns the answer {certificate, serial}, or NULL after task_fail. */
static json_object *
task_issue(struct task_ctx *t, const struct issue_req *req, const char *name)
{
	struct authority *ca = &t->dc->ca;
	struct issue_req r = *req;
	json_object *data = NULL;
	struct reg_cert c;
	X509 *x;

	/* --ra-seconds: an RA certificate that the RA must renew within a test. */
	if (t->dc->opts->ra_seconds > 0 && strcmp(req->profile->name, "ra") == 0) {
		r.days = 0;
		r.seconds = t->dc->opts->ra_seconds;
	}
	memset(&c, 0, sizeof(c));
	if ((x = issue_cert(ca->cert, ca->key, &r)) == NULL) {
		task_fail(t, 600, "Cannot issue the certificate");
		return NULL;
	}
	snprintf(c.cn, sizeof(c.cn), "%s", name);
	snprintf(c.profile, sizeof(c.profile), "%s", req->profile->name);
	c.not_before = codec_time(X509_get0_notBefore(x));
	c.not_after = codec_time(X509_get0_notAfter(x));
	if (codec_serial(x, true, c.serial, sizeof(c.serial)) != 0 ||
	    (c.pem = codec_cert_pem(x)) == NULL || registry_add(t->dc->reg, &c) != 0) {
		task_fail(t, 600, "Cannot file the certificate");
		goto done;
	}
	snprintf(t->cn, sizeof(t->cn), "%s", name);
	snprintf(t->serial, sizeof(t->serial), "%s", c.serial);
	data = json_object_new_object();
	json_object_object_add(data, "certificate", json_object_new_string(c.pem));
	json_object_object_add(data, "serial", task_serial_json(x));
done:
	registry_cert_free(&c);
	X509_free(x);
	return data;
}

static int
task_unreserved(struct task_ctx *t, const char *cn, const GENERAL_NAMES *sans)
{
	const char *r = names_reserved(t->dc->opts, cn, sans);

	return r == NULL ? 0 : task_fail(t, 300, "Reserved name: %s", r);
}

static X509_REQ *
task_csr(struct task_ctx *t, const char *pem)
{
	X509_REQ *csr;

	if ((csr = cert_csr_from_pem_bare(pem)) == NULL) {
		task_fail(t, 300, "Failed to load CSR: not a PEM certificate request");
		return NULL;
	}
	if (!cert_csr_verifies(csr)) {
		X509_REQ_free(csr);
		task_fail(t, 300, "Failed to load CSR: invalid signature");
		return NULL;
	}
	return csr;
}

static GENERAL_NAMES *
task_csr_sans(struct task_ctx *t, X509_REQ *csr)
{
	GENERAL_NAMES *sans;
	char err[128];

	if ((sans = names_from_req(csr, err, sizeof(err))) == NULL)
		task_fail(t, 300, "%s", err);
	return sans;
}

/* The name to file the certificate under: the CSR's CN, or else its first
 * SAN unless the CA was told to refuse CN-less CSRs as the reference does. */
static int
task_csr_name(struct task_ctx *t, X509_REQ *csr, const GENERAL_NAMES *sans, char *name,
    bool *has_cn)
{
	int rc = codec_cn(X509_REQ_get_subject_name(csr), name, DEVCA_MAX_CN + 1);

	if (rc < 0)
		return task_fail(t, 300, "Invalid Common Name in CSR (UTF-8, at most %d bytes)",
		    DEVCA_MAX_CN);
	if ((*has_cn = rc == 1))
		return 0;
	if (t->dc->opts->refuse_cnless || sk_GENERAL_NAME_num(sans) <= 0 ||
	    names_text(sk_GENERAL_NAME_value(sans, 0), name, DEVCA_MAX_NAME) != 0)
		return task_fail(t, 300, "CSR has no Common Name");
	return 0;
}

int
task_sign(struct task_ctx *t)
{
	char name[DEVCA_MAX_NAME];
	const struct profile *p;
	GENERAL_NAMES *sans = NULL;
	X509_NAME *subject = NULL;
	struct issue_req req;
	X509_REQ *csr;
	const char *pem;
	bool has_cn;

	if (task_require(t, "csr", &pem) != 0 || task_profile(t, "server", &p) != 0)
		return -1;
	if (p->ca)
		return task_fail(t, 500, "Profile %s cannot be used to sign", p->name);
	if ((csr = task_csr(t, pem)) == NULL)
		return -1;
	if ((sans = task_csr_sans(t, csr)) == NULL ||
	    task_csr_name(t, csr, sans, name, &has_cn) != 0 ||
	    task_unreserved(t, has_cn ? name : NULL, sans) != 0)
		goto done;
	if ((subject = issue_subject(has_cn ? name : NULL)) == NULL) {
		task_fail(t, 600, "Out of memory");
		goto done;
	}
	req = (struct issue_req){ subject, NULL, X509_REQ_get_X509_PUBKEY(csr), sans, p,
	    p->days, 0 };
	t->data = task_issue(t, &req, name);
done:
	X509_NAME_free(subject);
	GENERAL_NAMES_free(sans);
	X509_REQ_free(csr);
	return t->data != NULL ? 0 : -1;
}

static int
task_cn(struct task_ctx *t, const char **cn)
{
	if (task_require(t, "cn", cn) != 0)
		return -1;
	snprintf(t->cn, sizeof(t->cn), "%s", *cn);
	if (strlen(*cn) > DEVCA_MAX_CN)
		return task_fail(t, 300, "Common Name too long (at most %d bytes)", DEVCA_MAX_CN);
	return 0;
}

static GENERAL_NAMES *
task_sans(struct task_ctx *t)
{
	json_object *list = NULL;
	GENERAL_NAMES *sans;
	char err[128];

	json_object_object_get_ex(t->params, "sans", &list);
	if ((sans = names_from_json(list, err, sizeof(err))) == NULL)
		task_fail(t, 300, "%s", err);
	return sans;
}

/* Makes a key and a certificate for cn.  The answer carries the key: the
 * CA keeps none, so this is the only copy. */
static json_object *
task_keyed(struct task_ctx *t, const char *cn, const GENERAL_NAMES *sans,
    const struct profile *p)
{
	X509_NAME *subject = NULL;
	json_object *data = NULL;
	struct issue_req req;
	char *keypem = NULL;
	EVP_PKEY *key;
	char dn[512];

	if ((key = issue_key(p)) == NULL || (keypem = codec_key_pem(key)) == NULL ||
	    (subject = issue_subject(cn)) == NULL) {
		task_fail(t, 600, "Cannot make the key");
		goto done;
	}
	req = (struct issue_req){ subject, key, NULL, sans, p, p->days, 0 };
	if ((data = task_issue(t, &req, cn)) == NULL)
		goto done;
	codec_dn(subject, dn, sizeof(dn));
	json_object_object_add(data, "dn", json_object_new_string(dn));
	json_object_object_add(data, "private_key", json_object_new_string(keypem));
done:
	if (keypem != NULL)
		OPENSSL_cleanse(keypem, strlen(keypem));
	free(keypem);
	X509_NAME_free(subject);
	EVP_PKEY_free(key);
	return data;
}

int
task_generate(struct task_ctx *t)
{
	const struct profile *p;
	GENERAL_NAMES *sans;
	const char *cn;

	if (task_cn(t, &cn) != 0 || task_profile(t, "server", &p) != 0)
		return -1;
	if (p->ca)
		return task_fail(t, 500, "Profile %s cannot be used to sign", p->name);
	if ((sans = task_sans(t)) == NULL)
		return -1;
	if (task_unreserved(t, cn, sans) == 0)
		t->data = task_keyed(t, cn, sans, p);
	GENERAL_NAMES_free(sans);
	return t->data != NULL ? 0 : -1;
}

static bool
task_seed_ok(const char *given, const char *seed)
{
	size_t n = strlen(seed);

	return given != NULL && strlen(given) == n && CRYPTO_memcmp(given, seed, n) == 0;
}

/* The RA's own certificate.  Its CN may not be reserved, but its SANs may:
 * in development the RA is reached as https://localhost. */
int
task_register(struct task_ctx *t)
{
	const struct profile *p;
	GENERAL_NAMES *sans;
	const char *cn;

	if (!task_seed_ok(jsonx_get_string(t->params, "seed"), t->dc->opts->seed))
		return task_fail(t, 700, "Invalid registration seed");
	if (task_cn(t, &cn) != 0 || task_profile(t, "ra", &p) != 0 ||
	    task_unreserved(t, cn, NULL) != 0)
		return -1;
	if (p->ca)
		return task_fail(t, 500, "Profile %s cannot be used to sign", p->name);
	if ((sans = task_sans(t)) == NULL)
		return -1;
	t->data = task_keyed(t, cn, sans, p);
	GENERAL_NAMES_free(sans);
	if (t->data == NULL)
		return -1;
	if (registry_enrol(t->dc->reg, cn, t->serial, time(NULL)) != 0)
		return task_fail(t, 600, "Registry error");
	json_object_object_add(t->data, "status", json_object_new_string("registered"));
	json_object_object_add(t->data, "cn", json_object_new_string(cn));
	json_object_object_add(t->data, "profile", json_object_new_string(p->name));
	json_object_object_add(t->data, "ca_certificate",
	    json_object_new_string(t->dc->ca.cert_pem));
	return 0;
}

/* The "duration" parameter in days, the profile's when absent. */
static int
task_days(struct task_ctx *t, const struct profile *p, int *days)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(t->params, "duration", &v) || v == NULL) {
		*days = p->days;
		return 0;
	}
	if (!jsonx_get_int64(t->params, "duration", &n) || n < 1 || n > DEVCA_MAX_DAYS)
		return task_fail(t, 700, "Invalid duration parameter (1 to %d days)",
		    DEVCA_MAX_DAYS);
	*days = (int)n;
	return 0;
}

int
task_renew(struct task_ctx *t)
{
	GENERAL_NAMES *sans = NULL;
	const struct profile *p;
	struct reg_cert node;
	struct issue_req req;
	X509 *old = NULL;
	int days = 0;

	if (task_node(t, &node) != 0)
		return -1;
	if (node.revoked_at != 0) {
		task_fail(t, 900, "Certificate is revoked: %.128s", node.cn);
		goto done;
	}
	if ((p = profiles_find(node.profile)) == NULL) {
		task_fail(t, 500, "Profile not found: %.64s", node.profile);
		goto done;
	}
	if (task_days(t, p, &days) != 0)
		goto done;
	if ((old = codec_cert(node.pem)) == NULL || (sans = names_from_cert(old)) == NULL) {
		task_fail(t, 600, "Cannot read the certificate");
		goto done;
	}
	/* As the reference CA: the old certificate is revoked as superseded
	 * before the new one is signed, so one stays live under the CN. */
	if (registry_revoke(t->dc->reg, node.serial, time(NULL), "superseded") != 0) {
		task_fail(t, 600, "Registry error");
		goto done;
	}
	req = (struct issue_req){ X509_get_subject_name(old), NULL, X509_get_X509_PUBKEY(old),
	    sans, p, days, 0 };
	t->data = task_issue(t, &req, node.cn);
done:
	GENERAL_NAMES_free(sans);
	X509_free(old);
	registry_cert_free(&node);
	return t->data != NULL ? 0 : -1;
}
