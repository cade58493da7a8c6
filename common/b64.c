#include "b64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *
b64_encode_with(const char *alpha, bool pad, const unsigned char *in, size_t len)
{
	size_t olen = (len + 2) / 3 * 4 + 1, o = 0;
	char *out;

	if (len > SIZE_MAX / 2 || (out = malloc(olen)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rem = len - i;

		if (rem > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			v |= in[i + 2];
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		if (rem > 1)
			out[o++] = alpha[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (rem > 2)
			out[o++] = alpha[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

/* Both alphabets share their first 62 characters, in ASCII's order; only
 * the last two differ.  (A search of the alphabet per character was 2 % of
 * a worker's time under ACME load.) */
static int
b64_value(const char *alpha, char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == alpha[62])
		return 62;
	if (c == alpha[63])
		return 63;
	return -1;
}

/* Decodes a run of alphabet characters with no padding and no whitespace. */
static unsigned char *
b64_decode_run(const char *alpha, const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (len % 4 == 1)
		return NULL;
	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(alpha, in[i]);

		if (v < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)           /* leftover bits must be zero: one spelling only */
		goto fail;
	out[o] = '\0';
	*outlen = o;
	return out;
fail:
	free(out);
	return NULL;
}

char *
b64url_encode(const unsigned char *in, size_t len)
{
	return b64_encode_with(b64_url, false, in, len);
}

unsigned char *
b64url_decode(const char *in, size_t len, size_t *outlen)
{
	return b64_decode_run(b64_url, in, len, outlen);
}

char *
b64_encode(const unsigned char *in, size_t len)
{
	return b64_encode_with(b64_std, true, in, len);
}

unsigned char *
b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t n = 0, pad = 0;
	char *clean;

	if ((clean = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)    /* data after padding */
			goto fail;
		clean[n++] = c;
	}
	if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0))
		goto fail;
	out = b64_decode_run(b64_std, clean, n, outlen);
	free(clean);
	return out;
fail:
	free(clean);
	return NULL;
}
