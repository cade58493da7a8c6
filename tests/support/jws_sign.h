/*
 * The client side of JWS, for the test suites, the fuzz harness and the
 * load generator (tests/bench): not part of upki-ra, which only verifies.
 * jwk_export gives the public JWK of a key (a new reference).  jws_sign
 * makes a flattened JWS, as a malloc'd string, with alg chosen from the key
 * (RSA -> RS256, P-256 -> ES256, P-384 -> ES384, P-521 -> ES512, Ed25519 ->
 * EdDSA), "kid" or, when kid is NULL, the key's "jwk"; url and nonce are
 * left out of the header when NULL; payload "" for POST-as-GET.
 * jws_sign_hs256 makes an external account binding (payload: the account
 * JWK as JSON).  All return NULL on failure.
 */
#ifndef UPKI_TEST_JWS_SIGN_H
#define UPKI_TEST_JWS_SIGN_H

#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

json_object *jwk_export(EVP_PKEY *key);
char *jws_sign(EVP_PKEY *key, const char *url, const char *nonce, const char *kid,
    const char *payload);
char *jws_sign_hs256(const unsigned char *key, size_t keylen, const char *kid,
    const char *url, const char *payload);

#endif
