/*
 * Finalize (RFC 8555 7.4): the CSR is checked against the order, never
 * the other way round: a CSR that names anything the account has not
 * proven is refused.  Then the CA signs, and what it returns is checked
 * too before the order becomes valid.  A CA that refuses or is down
 * leaves the order "ready", so the client can finalize again.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "acme.h"
#include "b64.h"
#include "cert.h"
#include "csr_policy.h"
#include "fsutil.h"
#include "issue.h"
#include "jsonx.h"
#include "log.h"

#define ACME_CSR_MAX (16 * 1024)

/* The order's identifiers as a name set, to compare with a CSR's. */
static int
acme_order_names(const struct store_order *o, struct cert_names *out)
{
	json_object *arr = json_tokener_parse(o->identifiers);
	size_t n = arr != NULL ? json_object_array_length(arr) : 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n && out->n < CERT_MAX_NAMES; i++) {
		json_object *id = json_object_array_get_idx(arr, i);
		struct cert_name *name = &out->names[out->n++];

		snprintf(name->type, sizeof(name->type), "%s", jsonx_get_string(id, "type"));
		snprintf(name->value, sizeof(name->value), "%s", jsonx_get_string(id, "value"));
	}
	json_object_put(arr);
	return arr != NULL ? 0 : -1;
}

static bool
acme_names_has(const struct cert_names *set, const char *type, const char *value)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(set->names[i].type, type) == 0 && strcmp(set->names[i].value, value) == 0)
			return true;
	return false;
}

/* Exactly the same names, and the CN (if any) one of them. */
static bool
acme_names_match(const struct cert_names *want, const struct cert_names *got, char *why,
    size_t whylen)
{
	char ip[CERT_NAME_MAX];

	for (int i = 0; i < got->n; i++) {
		if (!acme_names_has(want, got->names[i].type, got->names[i].value)) {
			snprintf(why, whylen, "'%.64s' is not an identifier of this order",
			    got->names[i].value);
			return false;
		}
	}
	for (int i = 0; i < want->n; i++) {
		if (!acme_names_has(got, want->names[i].type, want->names[i].value)) {
			snprintf(why, whylen, "'%.64s' of the order is missing from the "
			    "subjectAltName", want->names[i].value);
			return false;
		}
	}
	if (got->cn[0] != '\0' && !acme_names_has(want, "dns", got->cn) &&
	    !(cert_ip_canonical(got->cn, ip, sizeof(ip)) == 0 && acme_names_has(want, "ip", ip))) {
		snprintf(why, whylen, "the Common Name '%.64s' is not an identifier of this order",
		    got->cn);
		return false;
	}
	return true;
}

/* Decodes and checks the CSR of the payload; writes badCSR otherwise. */
static X509_REQ *
acme_csr(const struct acme_req *ar, const struct store_order *o, struct http_response *resp)
{
	const char *b64 = jsonx_get_string(ar->payload, "csr");
	struct cert_names want, got;
	unsigned char *der = NULL;
	X509_REQ *csr = NULL;
	EVP_PKEY *key = NULL;
	char why[256];
	size_t len;

	if (b64 == NULL || strlen(b64) > ACME_CSR_MAX ||
	    (der = b64url_decode(b64, strlen(b64), &len)) == NULL) {
		snprintf(why, sizeof(why), "csr must be the base64url DER of a CSR");
		goto bad;
	}
	if ((csr = cert_csr_from_der(der, len, &key, why, sizeof(why))) == NULL)
		goto bad;
	if (jwk_equal(key, ar->key)) {
		snprintf(why, sizeof(why), "the certificate key must not be the account key");
		goto bad;
	}
	if (acme_order_names(o, &want) != 0 ||
	    csr_policy_check(csr, key, &want, &got, why, sizeof(why)) != 0 ||
	    !acme_names_match(&want, &got, why, sizeof(why)))
		goto bad;
	EVP_PKEY_free(key);
	free(der);
	return csr;
bad:
	log_warn("acme: finalize of order %s refused: %s", o->id, why);
	acme_problem(resp, 400, ACME_ERR("badCSR"), NULL, "%s", why);
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	free(der);
	return NULL;
}

/* A refusal from `sign` is about the CSR; say what the CA wants. */
static void
acme_ca_refused(struct http_response *resp, const char *msg)
{
	if (strstr(msg, "no Common Name") != NULL)
		acme_problem(resp, 400, ACME_ERR("badCSR"), NULL,
		    "the CA refused the CSR: it needs a Common Name in the subject; "
		    "put one of the order's names in the CN (CA said: %s)", msg);
	else
		acme_problem(resp, 400, ACME_ERR("badCSR"), NULL,
		    "the CA refused the CSR: %s", msg);
}

/* The names of what the CA issued must be the order's. */
static int
acme_check_names(const struct store_order *o, X509 *crt, char *why, size_t whylen)
{
	struct cert_names want, got;

	if (cert_names(crt, &got, why, whylen) != 0 || acme_order_names(o, &want) != 0 ||
	    !acme_names_match(&want, &got, why, whylen))
		return -1;
	return 0;
}

/* issue_request.record: the certificate checked against the order, then
 * recorded and the order made valid in one transaction. */
static int
acme_record(struct ra_ctx *ctx, X509 *crt, struct store_cert *c, void *arg, char *why,
    size_t whylen)
{
	const struct store_order *o = arg;

	if (acme_check_names(o, crt, why, whylen) != 0)
		return 1;
	return store_order_complete(ctx->store, o->id, c) == 0 ? 0 : -1;
}

/* The CA issued something that is not what was asked for: the order is
 * spoiled, and says why. */
static void
acme_wrong_certificate(struct ra_ctx *ctx, const struct store_order *o, const char *why,
    struct http_response *resp)
{
	json_object *problem = acme_problem_json(ACME_ERR("serverInternal"),
	    "the CA returned a certificate that does not match the order: %s", why);

	log_error("acme: order %s: the CA returned a wrong certificate: %s", o->id, why);
	store_order_fail(ctx->store, o->id, jsonx_print(problem));
	json_object_put(problem);
	http_header_add(resp, "Retry-After", "30");
	acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL,
	    "the CA returned a certificate that does not match the order: %s", why);
}

/* The CA did not issue: the order goes back to "ready" for another try,
 * and the client is told whether trying again can help. */
static void
acme_issue_failed(struct ra_ctx *ctx, const struct store_order *o, enum issue_result r,
    const char *msg, struct http_response *resp)
{
	if (r == ISSUE_BAD_ANSWER) {
		acme_wrong_certificate(ctx, o, msg, resp);
		return;
	}
	store_order_abort_finalize(ctx->store, o->id);
	switch (r) {
	case ISSUE_REFUSED:
		acme_ca_refused(resp, msg);
		return;
	case ISSUE_HELD:
		acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL, "%s", msg);
		return;
	case ISSUE_STORE:
		acme_store_failed(resp);
		return;
	case ISSUE_BUSY:
		http_header_add(resp, "Retry-After", "5");
		acme_problem(resp, 503, ACME_ERR("serverInternal"), NULL, "%s", msg);
		return;
	default:
		break;
	}
	/* msg names the CA's address: issue_certificate logged it. */
	http_header_add(resp, "Retry-After", "30");
	acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL,
	    "the CA is unavailable; finalize again later");
}

int
acme_issue(struct ra_ctx *ctx, const struct acme_req *ar, const struct store_order *o,
    struct http_response *resp)
{
	struct issue_request rq = { .profile = o->profile, .source = "acme",
	    .account_id = ar->account.id, .record = acme_record, .record_arg = (void *)o };
	struct store_cert c = { 0 };
	char why[512], owner[STORE_OWNER_MAX];
	enum issue_result r;
	int rc, earlier = 0;

	if (strcmp(o->status, "ready") != 0) {
		acme_problem(resp, 403, ACME_ERR("orderNotReady"), NULL,
		    "the order is %s, not ready", o->status);
		return -1;
	}
	if (ar->payload == NULL || (rq.csr = acme_csr(ar, o, resp)) == NULL) {
		if (ar->payload == NULL)
			acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "finalize needs a csr");
		return -1;
	}
	if ((rc = store_order_begin_finalize(ctx->store, o->id, ar->now, (int)getpid(),
	    &earlier)) != 0) {
		if (rc < 0)
			acme_store_failed(resp);
		else
			acme_problem(resp, 403, ACME_ERR("orderNotReady"), NULL,
			    "the order is being finalized already");
		X509_REQ_free(rq.csr);
		return -1;
	}
	store_cert_owner_account(ar->account.id, owner);
	rq.owner = owner;
	rq.adopt = earlier > 0;
	if ((r = issue_certificate(ctx, &rq, &c, why, sizeof(why))) == ISSUE_OK)
		log_info("acme: order %s: issued certificate %s for account %s", o->id, c.serial,
		    ar->account.kid);
	else
		acme_issue_failed(ctx, o, r, why, resp);
	store_cert_free(&c);
	X509_REQ_free(rq.csr);
	return r == ISSUE_OK ? 0 : -1;
}
