/*
 * ACME anti-replay nonces (RFC 8555 6.5) that cost nothing to hand out: a
 * nonce is a timestamp and random bytes, MACed with a key that only this
 * RA's processes hold.  Handing one out touches no database; using one
 * records it in the store (store_nonce_use) so it is accepted exactly once
 * across every worker.  The key is made at start-up by the master and lives
 * only in memory, so a restart invalidates outstanding nonces, which ACME
 * clients handle by retrying with the fresh nonce of the badNonce answer.
 */
#ifndef UPKI_NONCE_H
#define UPKI_NONCE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NONCE_LEN 43            /* base64url of 32 bytes */
#define NONCE_LIFETIME 600     /* used ones are remembered this long */

/* Makes a fresh random key; call once in the master, before fork. */
int nonce_init(void);
int nonce_make(char out[NONCE_LEN + 1], time_t now);
/* 0 when the nonce is one of ours and not older than NONCE_LIFETIME; sets
 * *expires to when it stops being accepted anyway. */
int nonce_check(const char *nonce, time_t now, int64_t *expires);

#endif
