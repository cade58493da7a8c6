/*
 * ACME anti-replay nonces (RFC 8555 6.5) that cost no database access at
 * all.  A nonce is a timestamp and a sequence number, MACed with a key that
 * only this RA's processes hold, so it cannot be forged; that it is used
 * once is kept in memory that the master maps before it forks and every
 * worker shares: a window of the last NONCE_WINDOW sequence numbers handed
 * out, one bit each (IPsec's anti-replay window, RFC 4303 3.4.3).  A nonce
 * older than the window, or than NONCE_LIFETIME, is refused as unknown.
 *
 * The key and the window live only in memory, so a restart of the master
 * invalidates every outstanding nonce, which ACME clients handle: they
 * retry a badNonce with the fresh nonce of its answer (RFC 8555 6.5).
 */
#ifndef UPKI_NONCE_H
#define UPKI_NONCE_H

#include <time.h>

#define NONCE_LEN 43            /* base64url of 32 bytes */
#define NONCE_LIFETIME 600      /* seconds a nonce is accepted */
/* Nonces that stay usable once handed out: 128 KiB of shared bits, about
 * 100 s of nonces at 10,000 a second, the whole lifetime at usual rates. */
#define NONCE_WINDOW (1u << 20)

enum nonce_status {
	NONCE_OK,
	NONCE_UNKNOWN,          /* not one of ours (or of this run) */
	NONCE_EXPIRED,          /* too old, or out of the window */
	NONCE_USED,             /* accepted once already */
};

/* Makes the key and maps the shared window: call once in the master, before
 * fork, so that every worker accepts the nonces of every other. */
int nonce_init(void);
int nonce_make(char out[NONCE_LEN + 1], time_t now);
/* Checks a nonce and, when it is good, marks it used. */
enum nonce_status nonce_use(const char *nonce, time_t now);
const char *nonce_status_str(enum nonce_status s);

#endif
