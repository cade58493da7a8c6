/*
 * A per-process cache of ACME account keys, imported and made ready to
 * verify (jws_verifier).  Building an EVP_PKEY from a JWK costs more than
 * verifying a signature with it (for P-256 the curve group and its
 * Montgomery context are built anew; for RSA the Montgomery context of the
 * modulus is set up at the first verification), and every JWS request of an
 * account needs the same key.
 *
 * An entry is found by account id and is good only while the account's
 * stored JWK is the text it was made from: a key change (which rewrites the
 * JWK) or a reused id can never return a stale key.
 */
#ifndef UPKI_KEYCACHE_H
#define UPKI_KEYCACHE_H

#include <stdint.h>

#include <openssl/evp.h>

#include "jws.h"

/* The cached verifier of account id's key made from jwk, or NULL.  It stays
 * the cache's: good until the next keycache_put. */
struct jws_verifier *keycache_get(int64_t id, const char *jwk);
/* Caches a verifier of key (which keeps a reference of its own) for account
 * id and jwk, and returns it; NULL when key fits no JWS alg or out of
 * memory, and then nothing is cached. */
struct jws_verifier *keycache_put(int64_t id, const char *jwk, EVP_PKEY *key);

#endif
