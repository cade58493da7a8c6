#include "nonce.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "b64.h"

#define NONCE_KEY_LEN 32
#define NONCE_MSG_LEN 16        /* timestamp, sequence number */
#define NONCE_MAC_LEN 16        /* truncated HMAC-SHA-256: 128 bits */
#define NONCE_RAW_LEN (NONCE_MSG_LEN + NONCE_MAC_LEN)

/* The window is shared by processes, not threads: its atomics must not be
 * emulated with a lock that lives in one process's memory. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(NONCE_WINDOW % 64 == 0, "the window is whole 64-bit words");

struct nonce_window {
	_Atomic uint64_t next;                  /* sequence number to hand out */
	_Atomic uint64_t used[NONCE_WINDOW / 64];
};

static struct nonce_window *nonce_win;
/* Keyed once in the master; each process then re-initialises its own copy
 * per nonce, which keeps the key schedule (OpenSSL 3's one-shot HMAC()
 * fetches the algorithm and builds two contexts on every call). */
static EVP_MAC_CTX *nonce_mac_ctx;

int
nonce_init(void)
{
	unsigned char key[NONCE_KEY_LEN];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = NULL;
	int rc = -1;

	if (nonce_mac_ctx != NULL)
		return 0;
	nonce_win = mmap(NULL, sizeof(*nonce_win), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (nonce_win == MAP_FAILED) {
		nonce_win = NULL;
		return -1;
	}
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (nonce_mac_ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    !EVP_MAC_init(nonce_mac_ctx, key, sizeof(key), params))
		goto done;
	rc = 0;
done:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_MAC_free(mac);
	if (rc != 0) {
		EVP_MAC_CTX_free(nonce_mac_ctx);
		nonce_mac_ctx = NULL;
		munmap(nonce_win, sizeof(*nonce_win));
		nonce_win = NULL;
	}
	return rc;
}

static int
nonce_mac(const unsigned char msg[NONCE_MSG_LEN], unsigned char out[NONCE_MAC_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	size_t n = 0;

	if (!EVP_MAC_init(nonce_mac_ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(nonce_mac_ctx, msg, NONCE_MSG_LEN) ||
	    !EVP_MAC_final(nonce_mac_ctx, full, &n, sizeof(full)) || n < NONCE_MAC_LEN)
		return -1;
	memcpy(out, full, NONCE_MAC_LEN);
	return 0;
}

static void
nonce_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t
nonce_get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static _Atomic uint64_t *
nonce_word(uint64_t seq, uint64_t *bit)
{
	*bit = (uint64_t)1 << (seq % 64);
	return &nonce_win->used[(seq % NONCE_WINDOW) / 64];
}

int
nonce_make(char out[NONCE_LEN + 1], time_t now)
{
	unsigned char raw[NONCE_RAW_LEN];
	uint64_t seq, bit;
	_Atomic uint64_t *word;
	char *enc;

	if (nonce_mac_ctx == NULL)
		return -1;
	seq = atomic_fetch_add(&nonce_win->next, 1);
	/* The slot held seq - NONCE_WINDOW, which the window has just left. */
	word = nonce_word(seq, &bit);
	atomic_fetch_and(word, ~bit);
	nonce_put64(raw, (uint64_t)now);
	nonce_put64(raw + 8, seq);
	if (nonce_mac(raw, raw + NONCE_MSG_LEN) != 0 ||
	    (enc = b64url_encode(raw, sizeof(raw))) == NULL)
		return -1;
	memcpy(out, enc, NONCE_LEN + 1);
	free(enc);
	return 0;
}

static enum nonce_status
nonce_decode(const char *nonce, time_t now, uint64_t *seq)
{
	unsigned char *raw, mac[NONCE_MAC_LEN];
	enum nonce_status st = NONCE_UNKNOWN;
	size_t len = 0;
	uint64_t ts;

	if (strlen(nonce) != NONCE_LEN || (raw = b64url_decode(nonce, NONCE_LEN, &len)) == NULL)
		return NONCE_UNKNOWN;
	if (len != NONCE_RAW_LEN || nonce_mac(raw, mac) != 0 ||
	    CRYPTO_memcmp(mac, raw + NONCE_MSG_LEN, NONCE_MAC_LEN) != 0)
		goto done;
	ts = nonce_get64(raw);
	*seq = nonce_get64(raw + 8);
	/* A timestamp ahead of the clock is only ever a clock step back. */
	st = ts > (uint64_t)now + 60 || ts + NONCE_LIFETIME < (uint64_t)now ?
	    NONCE_EXPIRED : NONCE_OK;
done:
	free(raw);
	return st;
}

enum nonce_status
nonce_use(const char *nonce, time_t now)
{
	enum nonce_status st;
	uint64_t seq = 0, bit;
	_Atomic uint64_t *word;

	if (nonce_mac_ctx == NULL)
		return NONCE_UNKNOWN;
	if ((st = nonce_decode(nonce, now, &seq)) != NONCE_OK)
		return st;
	if (seq >= atomic_load(&nonce_win->next))
		return NONCE_UNKNOWN;   /* a MAC of ours never signed it */
	if (seq + NONCE_WINDOW <= atomic_load(&nonce_win->next))
		return NONCE_EXPIRED;
	word = nonce_word(seq, &bit);
	if (atomic_fetch_or(word, bit) & bit)
		return NONCE_USED;
	/* nonce_make() may have recycled this slot between the window check
	 * and the fetch-or, clearing the bit of this nonce's earlier use: look
	 * at the window again, after the bit (the atomics are sequentially
	 * consistent), so that a nonce is never accepted twice.  The bit set
	 * then belongs to the newer nonce, which is refused once as used: a
	 * badNonce, which clients retry. */
	if (seq + NONCE_WINDOW <= atomic_load(&nonce_win->next))
		return NONCE_EXPIRED;
	return NONCE_OK;
}

const char *
nonce_status_str(enum nonce_status s)
{
	switch (s) {
	case NONCE_OK:
		return "good";
	case NONCE_UNKNOWN:
		return "not a nonce of this server";
	case NONCE_EXPIRED:
		return "expired nonce";
	case NONCE_USED:
		return "nonce already used";
	}
	return "bad nonce";
}
