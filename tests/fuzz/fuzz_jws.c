/*
 * fuzz_jws: an ACME request body as jws_parse sees it, then what
 * acme_authenticate does with a "jwk" header (jwk_import, jws_verify) and
 * what new-account does with it (jwk_thumbprint).  The same bytes also go
 * through jws_parse_eab, as the externalAccountBinding object of a
 * new-account payload would.
 *
 * Invariant checked: a key that imports has one JWK, so exporting it and
 * importing the export gives the same key and the same RFC 7638 thumbprint
 * (account lookup by thumbprint relies on it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "harness.h"
#include "jsonx.h"
#include "jws.h"
#include "jws_sign.h"

static const unsigned char fuzz_eab_key[] = "fuzz-eab-mac-key-0123456789abcdef";

static void
fuzz_key_roundtrip(EVP_PKEY *key, json_object *jwk)
{
	char tp[JWK_THUMBPRINT_LEN + 1], tp2[JWK_THUMBPRINT_LEN + 1], err[256];
	json_object *exported = jwk_export(key);
	EVP_PKEY *again = NULL;

	if (exported == NULL)
		fuzz_fail("jwk_export failed on a key jwk_import made");
	if (jwk_import(exported, &again, err, sizeof(err)) != JWS_OK)
		fuzz_fail("an exported JWK does not import: %s (%s)", err,
		    jsonx_print(exported));
	if (!jwk_equal(key, again))
		fuzz_fail("an exported JWK imports as another key");
	if (jwk_thumbprint(exported, tp2, sizeof(tp2)) != 0)
		fuzz_fail("no thumbprint for an exported JWK");
	if (jwk_thumbprint(jwk, tp, sizeof(tp)) != 0)
		fuzz_fail("a JWK that imports has no thumbprint: %s", jsonx_print(jwk));
	if (strcmp(tp, tp2) != 0)
		fuzz_fail("two thumbprints for one key: %s (%s) and %s (%s)", tp,
		    jsonx_print(jwk), tp2, jsonx_print(exported));
	EVP_PKEY_free(again);
	json_object_put(exported);
}

static void
fuzz_eab(const uint8_t *data, size_t size)
{
	json_object *obj = jsonx_parse((const char *)data, size, JWS_BODY_MAX, NULL, 0);
	struct jws j;
	char err[256];

	if (obj == NULL)
		return;
	if (jws_parse_eab(obj, &j, err, sizeof(err)) == JWS_OK) {
		jws_verify_hs256(&j, fuzz_eab_key, sizeof(fuzz_eab_key) - 1);
		jws_free(&j);
	}
	json_object_put(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], tp[JWK_THUMBPRINT_LEN + 1];
	EVP_PKEY *key = NULL;
	struct jws j;

	if (jws_parse((const char *)data, size, &j, err, sizeof(err)) == JWS_OK) {
		if (j.jwk != NULL) {
			if (jwk_import(j.jwk, &key, err, sizeof(err)) == JWS_OK) {
				jws_verify(&j, key, err, sizeof(err));
				fuzz_key_roundtrip(key, j.jwk);
			}
			jwk_thumbprint(j.jwk, tp, sizeof(tp));
		}
		EVP_PKEY_free(key);
		jws_free(&j);
	}
	fuzz_eab(data, size);
	ERR_clear_error();     /* see fuzz_csr.c */
	return 0;
}
