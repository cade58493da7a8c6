/*
 * revoke-cert (RFC 8555 7.6): by the account that owns the certificate, or
 * by the certificate's own key.  The CA side is revoke.c.
 */
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

#define ACME_CERT_DER_MAX (16 * 1024)

static const char *
acme_reason(json_object *payload, struct http_response *resp)
{
	json_object *v;
	int64_t code;

	if (!json_object_object_get_ex(payload, "reason", &v))
		return revoke_reason_name(0);
	if (!json_object_is_type(v, json_type_int) || (code = json_object_get_int64(v)) < 0 ||
	    code > 10 || code == 7) {
		acme_problem(resp, 400, ACME_ERR("badRevocationReason"), NULL,
		    "reason must be an RFC 5280 code: 0-6 or 8-10");
		return NULL;
	}
	if (code > 6) {
		acme_problem(resp, 400, ACME_ERR("badRevocationReason"), NULL,
		    "reason %d is not one the CA can record; use 0 to 6", (int)code);
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

static bool
acme_revoke_allowed(const struct acme_req *ar, X509 *crt, const struct store_cert *rec,
    struct http_response *resp)
{
	if (ar->has_account) {
		if (rec->account_id == ar->account.id)
			return true;
	} else if (EVP_PKEY_eq(X509_get0_pubkey(crt), ar->key) == 1) {
		return true;
	}
	acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL,
	    "only the owning account or the certificate's key may revoke it");
	return false;
}

HANDLER(acme_revoke)
{
	struct acme_req ar;
	struct store_cert rec = { 0 };
	const char *reason;
	X509 *crt = NULL;
	char msg[512];

	(void)args;
	if (acme_authenticate(ctx, req, resp, ACME_BY_EITHER, &ar) != 0)
		goto done;
	if (ar.payload == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "revoke-cert needs a payload");
		goto done;
	}
	if ((reason = acme_reason(ar.payload, resp)) == NULL ||
	    (crt = acme_revoke_cert(ctx, ar.payload, &rec, resp)) == NULL ||
	    !acme_revoke_allowed(&ar, crt, &rec, resp))
		goto done;
	if (strcmp(rec.status, "revoked") == 0) {
		acme_problem(resp, 400, ACME_ERR("alreadyRevoked"), NULL,
		    "certificate %s is already revoked", rec.serial);
		goto done;
	}
	switch (revoke_certificate(ctx, &rec, reason, msg, sizeof(msg))) {
	case REVOKE_OK:
		resp->status = 200;
		break;
	case REVOKE_CA_DOWN:
		http_header_add(resp, "Retry-After", "30");
		/* FALLTHROUGH */
	default:
		acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL,
		    "revocation failed: %s", msg);
		break;
	}
done:
	X509_free(crt);
	store_cert_free(&rec);
	acme_req_free(&ar);
}
