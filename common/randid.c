#include "randid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "b64.h"

static int
randid_encode(const unsigned char *raw, size_t n, char *out, size_t outlen)
{
	char *enc = b64url_encode(raw, n);

	if (enc == NULL)
		return -1;
	if (strlen(enc) >= outlen) {
		free(enc);
		return -1;
	}
	strcpy(out, enc);
	free(enc);
	return 0;
}

int
randid_new(char *out, size_t outlen, size_t n)
{
	unsigned char raw[32];

	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return -1;
	return randid_encode(raw, n, out, outlen);
}

/*
 * Orders and authorizations are keyed by their id, and a random key puts
 * each new row into a random page of every index on it: in a large store
 * every new-order then reads pages from all over the file, and every
 * checkpoint writes them back.  The clock first (milliseconds, 6 bytes, so
 * the first 8 characters) keeps the rows of one moment in the same few
 * pages; 10 random bytes after it keep the id unguessable, not that
 * guessing one gives anything (every use is checked against its account).
 */
int
randid_timed(char *out, size_t outlen)
{
	unsigned char raw[16];
	struct timespec t;
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &t);
	ms = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(ms >> (40 - 8 * i));
	if (RAND_bytes(raw + 6, (int)sizeof(raw) - 6) != 1)
		return -1;
	return randid_encode(raw, sizeof(raw), out, outlen);
}
