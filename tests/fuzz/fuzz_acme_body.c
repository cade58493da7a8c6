/*
 * fuzz_acme_body: ACME request payloads, past the signature check.
 *
 * The first byte picks the request; the rest is the payload, which the
 * harness signs (jws_sign, fixed keys, a fresh nonce, the right url and
 * kid) and POSTs through router_dispatch, so the fuzzed bytes reach the
 * payload parsers of the handlers rather than stop at the JWS checks:
 *
 *   0  POST /acme/new-account          jwk of a fresh P-256 key
 *   1  POST /acme/new-order            kid of the harness's account
 *   2  POST /acme/order/ID/finalize    kid; ID is the harness's "ready" order
 *   3  POST /acme/revoke-cert          kid (the account owns the certificate)
 *   4  POST /acme/revoke-cert          jwk of the certificate's own key
 *   5  raw: the second byte picks a route, the rest is the whole body,
 *      unsigned (the JWS layer as the router meets it)
 *   6  POST /acme/key-change           kid; the payload is the inner JWS
 *   7  POST /acme/account/ID           kid of a scratch account (contact
 *      updates, deactivation: a deactivated one is replaced by a new one)
 *
 * The payload stops at its first NUL (jws_sign takes a C string).  The CA
 * is down (harness.h), so finalize and revoke get as far as asking it.
 *
 * Invariants checked: fuzz_check_response (harness.h) on every answer; the
 * CA being down, finalize leaves the order "ready" and revoke-cert leaves
 * the certificate "valid" (acme_issue.c, revoke.c); a fuzzed key-change
 * leaves the harness's account valid and on its key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "harness.h"
#include "store_acme.h"
#include "store_cert.h"

enum {
	M_NEW_ACCOUNT, M_NEW_ORDER, M_FINALIZE, M_REVOKE_KID, M_REVOKE_JWK, M_RAW, M_KEY_CHANGE,
	M_ACCOUNT, M_COUNT
};

/* The account mode 7 may deactivate: never the harness's own. */
static struct {
	EVP_PKEY *key;
	char kid[ACME_URL_MAX];
	char path[ACME_URL_MAX];
} scratch;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A new scratch account, when there is none or it is no longer valid. */
static void
fuzz_scratch(void)
{
	struct store_account acc;
	struct http_response resp;
	const char *id = scratch.kid[0] != '\0' ? strrchr(scratch.kid, '/') + 1 : NULL;
	const char *loc;
	int rc;

	if (id != NULL && (rc = store_account_by_kid(fuzz_ctx()->store, id, &acc)) == 0) {
		rc = strcmp(acc.status, "valid") != 0;
		store_account_free(&acc);
		if (rc == 0)
			return;
	}
	EVP_PKEY_free(scratch.key);
	if ((scratch.key = EVP_EC_gen("P-256")) == NULL ||
	    fuzz_signed_post(scratch.key, NULL, "/acme/new-account",
	    "{\"termsOfServiceAgreed\":true}", &resp) != 0 || resp.status != 201 ||
	    (loc = fuzz_header(&resp, "Location")) == NULL ||
	    strncmp(loc, FUZZ_BASE, strlen(FUZZ_BASE)) != 0)
		fuzz_fail("cannot make a scratch account");
	snprintf(scratch.kid, sizeof(scratch.kid), "%s", loc);
	snprintf(scratch.path, sizeof(scratch.path), "%s", loc + strlen(FUZZ_BASE));
	http_response_free(&resp);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_acme();
	fuzz_scratch();
	return 0;
}

static void
fuzz_check_state(const struct fuzz_acme *a, int mode)
{
	struct store *st = fuzz_ctx()->store;
	struct store_order o;
	struct store_cert c;

	if (mode == M_FINALIZE) {
		if (store_order_get(st, a->order_id, time(NULL), &o) != 0)
			fuzz_fail("the order is gone");
		if (strcmp(o.status, "ready") != 0)
			fuzz_fail("finalize with the CA down left the order %s", o.status);
		store_order_free(&o);
	} else if (mode == M_KEY_CHANGE) {
		/* The inner JWS would have to name the account's random URL and
		 * be signed by a new key: a fuzzed one cannot roll it over. */
		struct store_account acc;

		if (store_account_by_kid(st, strrchr(a->kid, '/') + 1, &acc) != 0)
			fuzz_fail("the harness's account is gone");
		if (strcmp(acc.thumbprint, a->thumbprint) != 0 || strcmp(acc.status, "valid") != 0)
			fuzz_fail("a fuzzed key-change rolled the account over, or made it %s",
			    acc.status);
		store_account_free(&acc);
	} else if (mode == M_REVOKE_KID || mode == M_REVOKE_JWK) {
		if (store_cert_by_serial(st, a->cert_serial, &c) != 0)
			fuzz_fail("the certificate is gone");
		if (strcmp(c.status, "valid") != 0)
			fuzz_fail("revoke-cert with the CA down left the certificate %s", c.status);
		store_cert_free(&c);
	}
}

static void
fuzz_raw(const struct fuzz_acme *a, const uint8_t *data, size_t size)
{
	const char *paths[] = {
		"/acme/new-account", "/acme/new-order", a->finalize_path, "/acme/revoke-cert",
		"/acme/key-change", a->account_path, NULL, "/acme/authz/x",
		"/acme/cert/5EED0F0221", a->order_path,
	};
	static const char *const types[] = {
		"application/jose+json", "application/jose+json; charset=utf-8",
		"application/json", NULL,
	};
	char orders[ACME_URL_MAX + 8];
	struct http_response resp;
	size_t n = sizeof(paths) / sizeof(paths[0]);
	const char *path;

	if (size < 1)
		return;
	snprintf(orders, sizeof(orders), "%s/orders", a->account_path);
	paths[6] = orders;
	path = paths[data[0] % n];
	/* The body as the worker hands it over: exactly its bytes, no NUL
	 * after them, so a read past the end is ASan's to see. */
	fuzz_dispatch("POST", path, types[(data[0] / n) % 4], (const char *)data + 1, size - 1,
	    &resp);
	fuzz_check_response(&resp);
	http_response_free(&resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_acme *a = fuzz_acme();
	struct http_response resp;
	EVP_PKEY *fresh = NULL;
	char *payload;
	int mode, rc = 0;

	if (size < 1)
		return 0;
	mode = data[0] % M_COUNT;
	if (mode == M_RAW) {
		fuzz_raw(a, data + 1, size - 1);
		return 0;
	}
	payload = fuzz_cstr(data + 1, size - 1);
	switch (mode) {
	case M_NEW_ACCOUNT:
		/* A key no account has yet: an existing one would be answered
		 * before the payload is read. */
		if ((fresh = EVP_EC_gen("P-256")) == NULL)
			fuzz_fail("EVP_EC_gen");
		rc = fuzz_signed_post(fresh, NULL, "/acme/new-account", payload, &resp);
		break;
	case M_NEW_ORDER:
		rc = fuzz_signed_post(a->account_key, a->kid, "/acme/new-order", payload, &resp);
		break;
	case M_FINALIZE:
		rc = fuzz_signed_post(a->account_key, a->kid, a->finalize_path, payload, &resp);
		break;
	case M_REVOKE_KID:
		rc = fuzz_signed_post(a->account_key, a->kid, "/acme/revoke-cert", payload, &resp);
		break;
	case M_REVOKE_JWK:
		rc = fuzz_signed_post(a->leaf_key, NULL, "/acme/revoke-cert", payload, &resp);
		break;
	case M_KEY_CHANGE:
		rc = fuzz_signed_post(a->account_key, a->kid, "/acme/key-change", payload, &resp);
		break;
	case M_ACCOUNT:
		rc = fuzz_signed_post(scratch.key, scratch.kid, scratch.path, payload, &resp);
		break;
	}
	if (rc != 0)
		fuzz_fail("jws_sign failed (mode %d)", mode);
	if (getenv("FUZZ_VERBOSE") != NULL)   /* to see what the seeds reach */
		fprintf(stderr, "mode %d: %d %.*s\n", mode, resp.status,
		    (int)(resp.body.len < 300 ? resp.body.len : 300), resp.body.data);
	fuzz_check_response(&resp);
	http_response_free(&resp);
	fuzz_check_state(a, mode);
	if (mode == M_ACCOUNT)
		fuzz_scratch();
	EVP_PKEY_free(fresh);
	free(payload);
	return 0;
}
