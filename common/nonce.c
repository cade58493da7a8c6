#include "nonce.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "b64.h"

#define NONCE_KEY_LEN 32
#define NONCE_RAND_LEN 8
#define NONCE_MAC_LEN 16        /* truncated HMAC-SHA-256: 128 bits */
#define NONCE_RAW_LEN (8 + NONCE_RAND_LEN + NONCE_MAC_LEN)

static unsigned char nonce_key[NONCE_KEY_LEN];
static int nonce_ready;

int
nonce_init(void)
{
	if (RAND_bytes(nonce_key, sizeof(nonce_key)) != 1)
		return -1;
	nonce_ready = 1;
	return 0;
}

static void
nonce_mac(const unsigned char *msg, size_t len, unsigned char out[NONCE_MAC_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	HMAC(EVP_sha256(), nonce_key, sizeof(nonce_key), msg, len, full, &n);
	memcpy(out, full, NONCE_MAC_LEN);
}

int
nonce_make(char out[NONCE_LEN + 1], time_t now)
{
	unsigned char raw[NONCE_RAW_LEN];
	uint64_t ts = (uint64_t)now;
	char *enc;

	if (!nonce_ready)
		return -1;
	for (int i = 0; i < 8; i++)
		raw[i] = (unsigned char)(ts >> (56 - 8 * i));
	if (RAND_bytes(raw + 8, NONCE_RAND_LEN) != 1)
		return -1;
	nonce_mac(raw, 8 + NONCE_RAND_LEN, raw + 8 + NONCE_RAND_LEN);
	if ((enc = b64url_encode(raw, sizeof(raw))) == NULL)
		return -1;
	memcpy(out, enc, NONCE_LEN + 1);
	free(enc);
	return 0;
}

int
nonce_check(const char *nonce, time_t now, int64_t *expires)
{
	unsigned char *raw, mac[NONCE_MAC_LEN];
	size_t len = 0;
	uint64_t ts = 0;
	int rc = -1;

	if (!nonce_ready || strlen(nonce) != NONCE_LEN ||
	    (raw = b64url_decode(nonce, NONCE_LEN, &len)) == NULL)
		return -1;
	if (len != NONCE_RAW_LEN)
		goto done;
	nonce_mac(raw, 8 + NONCE_RAND_LEN, mac);
	if (CRYPTO_memcmp(mac, raw + 8 + NONCE_RAND_LEN, NONCE_MAC_LEN) != 0)
		goto done;
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | raw[i];
	if (ts > (uint64_t)now + 60 || ts + NONCE_LIFETIME < (uint64_t)now)
		goto done;
	*expires = (int64_t)ts + NONCE_LIFETIME;
	rc = 0;
done:
	free(raw);
	return rc;
}
