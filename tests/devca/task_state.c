/*
 * The tasks about the state of what was issued: revocation and its undoing,
 * the CRL, view, ocsp_check, and the RA registration status.
 */
#include "devca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "jsonx.h"

/* The reference CA's names; it refuses numbers, and so does this CA. */
static const char *const task_reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", "removeFromCRL",
	"privilegeWithdrawn", "aACompromise",
};

static int
task_reason(struct task_ctx *t, const char **reason)
{
	json_object *v;

	*reason = "unspecified";
	if (!json_object_object_get_ex(t->params, "reason", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		for (size_t i = 0; i < sizeof(task_reasons) / sizeof(task_reasons[0]); i++) {
			if (strcmp(json_object_get_string(v), task_reasons[i]) == 0) {
				*reason = task_reasons[i];
				return 0;
			}
		}
	}
	return task_fail(t, 900, "Invalid revocation reason: %.32s", json_object_is_type(v,
	    json_type_string) ? json_object_get_string(v) : jsonx_print(v));
}

/* Records the change and remakes the CRL, so that get_crl shows it at once
 * as on the reference CA. */
static int
task_set_revoked(struct task_ctx *t, const struct reg_cert *node, const char *reason)
{
	unsigned char *der;
	size_t len;
	int rc;

	if (reason != NULL)
		rc = registry_revoke(t->dc->reg, node->serial, time(NULL), reason);
	else
		rc = registry_unrevoke(t->dc->reg, node->serial);
	if (rc != 0 || (der = crl_refresh(t->dc, &len)) == NULL)
		return task_fail(t, 600, "Cannot update the CRL");
	free(der);
	t->data = json_object_new_boolean(1);
	return 0;
}

int
task_revoke(struct task_ctx *t)
{
	struct reg_cert node;
	const char *reason;
	int rc;

	if (task_reason(t, &reason) != 0 || task_node(t, &node) != 0)
		return -1;
	if (node.revoked_at != 0)
		rc = task_fail(t, 900, "Certificate already revoked: %.128s", node.cn);
	else
		rc = task_set_revoked(t, &node, reason);
	registry_cert_free(&node);
	return rc;
}

int
task_unrevoke(struct task_ctx *t)
{
	struct reg_cert node;
	int rc;

	if (task_node(t, &node) != 0)
		return -1;
	if (node.revoked_at == 0)
		rc = task_fail(t, 900, "Certificate is not revoked: %.128s", node.cn);
	else
		rc = task_set_revoked(t, &node, NULL);
	registry_cert_free(&node);
	return rc;
}

/* Deleting revokes (cessationOfOperation); deleting what is already revoked
 * keeps the first reason and answers true, as the node is gone either way. */
int
task_delete(struct task_ctx *t)
{
	struct reg_cert node;
	int rc = 0;

	if (task_node(t, &node) != 0)
		return -1;
	if (node.revoked_at == 0)
		rc = task_set_revoked(t, &node, "cessationOfOperation");
	else
		t->data = json_object_new_boolean(1);
	registry_cert_free(&node);
	return rc;
}

static json_object *
task_time(time_t when)
{
	char iso[32];

	if (when == 0)
		return NULL;
	task_iso8601(when, iso, sizeof(iso));
	return json_object_new_string(iso);
}

int
task_view(struct task_ctx *t)
{
	struct reg_cert node;
	json_object *d;
	char dn[512];
	X509 *x;

	if (task_node(t, &node) != 0)
		return -1;
	if ((x = codec_cert(node.pem)) == NULL) {
		registry_cert_free(&node);
		return task_fail(t, 600, "Cannot read the certificate");
	}
	codec_dn(X509_get_subject_name(x), dn, sizeof(dn));
	d = json_object_new_object();
	json_object_object_add(d, "dn", json_object_new_string(dn));
	json_object_object_add(d, "cn", json_object_new_string(node.cn));
	json_object_object_add(d, "profile", json_object_new_string(node.profile));
	json_object_object_add(d, "serial", json_object_new_string(node.serial));
	json_object_object_add(d, "not_before", task_time(node.not_before));
	json_object_object_add(d, "not_after", task_time(node.not_after));
	json_object_object_add(d, "revoked", json_object_new_boolean(node.revoked_at != 0));
	json_object_object_add(d, "revoked_at", task_time(node.revoked_at));
	json_object_object_add(d, "revocation_reason",
	    node.revoked_at != 0 ? json_object_new_string(node.reason) : NULL);
	json_object_object_add(d, "certificate", json_object_new_string(node.pem));
	t->data = d;
	X509_free(x);
	registry_cert_free(&node);
	return 0;
}

/* Signed by this CA's key under this CA's name: anything else is not this
 * CA's to answer for. */
static bool
task_ours(const struct authority *ca, X509 *x)
{
	return X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca->cert)) == 0 &&
	    X509_verify(x, ca->key) == 1;
}

/* c is the registry's record of x, when filed. */
static json_object *
task_ocsp_answer(X509 *x, const char *serial, const struct reg_cert *c, bool filed)
{
	time_t now = time(NULL);
	char cn[DEVCA_MAX_NAME] = "";
	json_object *d = json_object_new_object();
	const char *status = "good";

	if (filed)
		snprintf(cn, sizeof(cn), "%s", c->cn);
	else if (codec_cn(X509_get_subject_name(x), cn, sizeof(cn)) != 1)
		cn[0] = '\0';
	if (filed && c->revoked_at != 0)
		status = "revoked";
	else if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0 ||
	    X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
		status = "expired";
	json_object_object_add(d, "status", json_object_new_string(status));
	json_object_object_add(d, "serial", json_object_new_string(serial));
	json_object_object_add(d, "cn", json_object_new_string(cn));
	if (strcmp(status, "revoked") == 0) {
		json_object_object_add(d, "revoked_at", task_time(c->revoked_at));
		json_object_object_add(d, "reason", json_object_new_string(c->reason));
	}
	return d;
}

/* A certificate of this CA's that its registry does not hold (say, after
 * the registry was reset) was never revoked here: it is good or expired. */
int
task_ocsp_check(struct task_ctx *t)
{
	char serial[DEVCA_SERIAL_LEN];
	struct reg_cert c;
	const char *pem;
	X509 *x;
	int rc;

	if (task_require(t, "cert", &pem) != 0)
		return -1;
	if ((x = codec_cert(pem)) == NULL)
		return task_fail(t, 300, "Failed to load certificate");
	if (!task_ours(&t->dc->ca, x)) {
		X509_free(x);
		return task_fail(t, 300, "Certificate not issued by this CA");
	}
	memset(&c, 0, sizeof(c));
	if (codec_serial(x, true, serial, sizeof(serial)) != 0 ||
	    (rc = registry_by_serial(t->dc->reg, serial, &c)) < 0) {
		X509_free(x);
		return task_fail(t, 600, "Registry error");
	}
	snprintf(t->serial, sizeof(t->serial), "%s", serial);
	t->data = task_ocsp_answer(x, serial, &c, rc == 1);
	registry_cert_free(&c);
	X509_free(x);
	return 0;
}

/* Whether an RA registered under "cn" on the registration port. */
int
task_status(struct task_ctx *t)
{
	char serial[DEVCA_SERIAL_LEN];
	json_object *node;
	struct reg_cert c;
	const char *cn;
	time_t at;
	int rc;

	if (task_require(t, "cn", &cn) != 0)
		return -1;
	snprintf(t->cn, sizeof(t->cn), "%s", cn);
	if ((rc = registry_enrolment(t->dc->reg, cn, serial, sizeof(serial), &at)) < 0 ||
	    (rc == 1 && registry_by_serial(t->dc->reg, serial, &c) != 1))
		return task_fail(t, 600, "Registry error");
	t->data = json_object_new_object();
	if (rc == 0) {
		json_object_object_add(t->data, "status", json_object_new_string("not_registered"));
		return 0;
	}
	node = json_object_new_object();
	json_object_object_add(node, "cn", json_object_new_string(cn));
	json_object_object_add(node, "profile", json_object_new_string(c.profile));
	json_object_object_add(node, "serial", json_object_new_string(serial));
	json_object_object_add(node, "registered_at", task_time(at));
	json_object_object_add(node, "not_after", task_time(c.not_after));
	json_object_object_add(node, "revoked", json_object_new_boolean(c.revoked_at != 0));
	json_object_object_add(t->data, "status", json_object_new_string("registered"));
	json_object_object_add(t->data, "node", node);
	registry_cert_free(&c);
	return 0;
}

static int
task_crl_answer(struct task_ctx *t, unsigned char *der, size_t len)
{
	char *b64;

	if (der == NULL)
		return task_fail(t, 600, "Cannot make the CRL");
	b64 = b64_encode(der, len);
	free(der);
	if (b64 == NULL)
		return task_fail(t, 600, "Out of memory");
	t->data = json_object_new_string(b64);
	free(b64);
	return 0;
}

int
task_get_crl(struct task_ctx *t)
{
	unsigned char *der;
	size_t len = 0;

	der = crl_current(t->dc, &len);
	return task_crl_answer(t, der, len);
}

int
task_generate_crl(struct task_ctx *t)
{
	unsigned char *der;
	size_t len = 0;

	der = crl_refresh(t->dc, &len);
	return task_crl_answer(t, der, len);
}
