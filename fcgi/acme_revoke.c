/*
 * revoke-cert (RFC 8555 7.6): by the account that owns the certificate, by
 * an account that holds valid authorizations for all its names, or by the
 * certificate's own key.  The CA side is revoke.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme.h"
#include "b64.h"
#include "cert.h"
#include "handlers.h"
#include "jsonx.h"
#include "log.h"
#include "revoke.h"
#include "store_acme.h"

#define ACME_CERT_DER_MAX (16 * 1024)

static const char *
acme_reason(json_object *payload, struct http_response *resp)
{
	json_object *v;
	int64_t code;

	if (!json_object_object_get_ex(payload, "reason", &v))
		return revoke_reason_name(0);
	if (!json_object_is_type(v, json_type_int) || (code = json_object_get_int64(v)) < 0 ||
	    code > INT_MAX || revoke_reason_name((int)code) == NULL) {
		acme_problem(resp, 400, ACME_ERR("badRevocationReason"), NULL,
		    "reason must be an RFC 5280 code the CA accepts: 0 to 6 or 8 to 10 (%s)",
		    revoke_reason_list());
		return NULL;
	}
	return revoke_reason_name((int)code);
}

/* The certificate of the payload, which must be one this RA issued, byte
 * for byte. */
static X509 *
acme_revoke_cert(struct ra_ctx *ctx, json_object *payload, struct store_cert *rec,
    struct http_response *resp)
{
	const char *b64 = jsonx_get_string(payload, "certificate");
	unsigned char *der = NULL, *ours = NULL;
	const unsigned char *p;
	X509 *crt = NULL, *stored = NULL;
	char serial[80];
	size_t len = 0;
	int ourlen, rc = 1;

	if (b64 == NULL || strlen(b64) > ACME_CERT_DER_MAX ||
	    (der = b64url_decode(b64, strlen(b64), &len)) == NULL ||
	    (p = der, crt = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "certificate must be the base64url DER of a certificate");
		goto fail;
	}
	if (cert_serial_hex(crt, serial, sizeof(serial)) != 0 ||
	    (rc = store_cert_by_serial(ctx->store, serial, rec)) == 1) {
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL,
		    "this RA did not issue that certificate");
		goto fail;
	}
	if (rc < 0) {
		acme_store_failed(resp);
		goto fail;
	}
	stored = cert_from_pem(rec->pem);
	ourlen = stored != NULL ? i2d_X509(stored, &ours) : -1;
	if (ourlen < 0 || (size_t)ourlen != len || memcmp(ours, der, len) != 0) {
		store_cert_free(rec);
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL,
		    "this RA did not issue that certificate");
		goto fail;
	}
	OPENSSL_free(ours);
	X509_free(stored);
	free(der);
	return crt;
fail:
	OPENSSL_free(ours);
	X509_free(stored);
	X509_free(crt);
	free(der);
	return NULL;
}

/* Does the account hold valid authorizations for every name of crt?  -1
 * when the store cannot tell. */
static int
acme_revoke_authorized(struct ra_ctx *ctx, int64_t account_id, X509 *crt, time_t now)
{
	struct cert_names names;
	char why[128], id[STORE_ID_MAX];
	int rc = 0;

	if (cert_names(crt, &names, why, sizeof(why)) != 0 || names.n == 0)
		return 0;
	for (int i = 0; i < names.n && rc == 0; i++) {
		const char *value = names.names[i].value;
		int wildcard = strncmp(value, "*.", 2) == 0;

		rc = store_authz_reusable(ctx->store, account_id, names.names[i].type,
		    value + (wildcard ? 2 : 0), wildcard, now, id);
	}
	return rc < 0 ? -1 : rc == 0;
}

static bool
acme_revoke_allowed(struct ra_ctx *ctx, const struct acme_req *ar, X509 *crt,
    const struct store_cert *rec, struct http_response *resp)
{
	int rc;

	if (!ar->has_account) {
		if (EVP_PKEY_eq(X509_get0_pubkey(crt), ar->key) == 1)
			return true;
	} else if (rec->account_id == ar->account.id) {
		return true;
	} else if ((rc = acme_revoke_authorized(ctx, ar->account.id, crt, ar->now)) != 0) {
		if (rc > 0)
			return true;
		acme_store_failed(resp);
		return false;
	}
	log_warn("acme: revocation of %s refused: not the owner, its key, or an account "
	    "authorized for all its names", rec->serial);
	acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL, "only the owning account, an "
	    "account with valid authorizations for all its names, or the certificate's key "
	    "may revoke it");
	return false;
}

/* revoke_certificate's refusals, as RFC 8555 clients read them: a 4xx
 * when asking again cannot help, a 5xx with Retry-After when it may. */
static void
acme_revoke_failed(enum revoke_result r, const char *msg, struct http_response *resp)
{
	switch (r) {
	case REVOKE_OK:
		return;
	case REVOKE_NOT_HELD:
		acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL, "%s", msg);
		return;
	case REVOKE_REFUSED:
		if (strstr(msg, "already revoked") != NULL)
			acme_problem(resp, 400, ACME_ERR("alreadyRevoked"), NULL, "%s", msg);
		else
			acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL,
			    "the CA refused the revocation: %s", msg);
		return;
	case REVOKE_STORE:
		http_header_add(resp, "Retry-After", "5");
		acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL, "%s", msg);
		return;
	case REVOKE_CA_DOWN:
		break;
	}
	/* msg names the CA's address: revoke.c logged it. */
	http_header_add(resp, "Retry-After", "30");
	acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL,
	    "the CA is unavailable; revoke again later");
}

void
acme_revoke(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_cert rec = { 0 };
	const char *reason;
	X509 *crt = NULL;
	char msg[512];
	enum revoke_result r;

	(void)args;
	if (acme_authenticate(ctx, req, resp, ACME_BY_EITHER, &ar) != 0)
		goto done;
	if (ar.payload == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "revoke-cert needs a payload");
		goto done;
	}
	if ((reason = acme_reason(ar.payload, resp)) == NULL ||
	    (crt = acme_revoke_cert(ctx, ar.payload, &rec, resp)) == NULL ||
	    !acme_revoke_allowed(ctx, &ar, crt, &rec, resp))
		goto done;
	if (strcmp(rec.status, "revoked") == 0) {
		log_warn("acme: revocation of %s refused: already revoked", rec.serial);
		acme_problem(resp, 400, ACME_ERR("alreadyRevoked"), NULL,
		    "certificate %s is already revoked", rec.serial);
		goto done;
	}
	r = revoke_certificate(ctx, &rec, reason, msg, sizeof(msg));
	if (r == REVOKE_OK)
		resp->status = 200;
	else
		acme_revoke_failed(r, msg, resp);
done:
	X509_free(crt);
	store_cert_free(&rec);
	acme_req_free(&ar);
}
