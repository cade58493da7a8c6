/*
 * Public keys made from their parameters, as a JWK (common/jws.c) or a
 * SubjectPublicKeyInfo (common/cert.c) gives them, with EVP_PKEY_fromdata:
 * no trip through OpenSSL's decoders.  Making an EC key decodes its point
 * with EC_POINT_oct2point, which refuses one off the curve.
 */
#ifndef UPKI_PKEY_H
#define UPKI_PKEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

/* type "EC" with its group's OpenSSL name and an encoded point, or a key
 * type without parameters ("ED25519") and its raw public key.  NULL, with
 * OpenSSL's error queue left as it was, when OpenSSL refuses it. */
EVP_PKEY *pkey_public(const char *type, const char *group, const unsigned char *pub,
    size_t len);
/* True when the 32 bytes encode a point of small order of edwards25519
 * (RFC 8032 5.1.3), canonically or not: a signature by such a key verifies
 * for more than one message, so it proves nothing. */
bool pkey_ed25519_small_order(const unsigned char pub[32]);
/* An RSA public key, or NULL as above. */
EVP_PKEY *pkey_rsa_public(const BIGNUM *n, const BIGNUM *e);

#endif
