/*
 * Unit tests for common/b64.c: base64url without padding (JOSE, ACME) and
 * standard base64 with padding (the CA's DER payloads).  The decoders must
 * accept exactly one spelling of a given byte string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
	const char *plain;
	const char *std;        /* standard alphabet, padded */
	const char *url;        /* base64url, unpadded */
} vectors[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* Decodes with the given function and checks the exact bytes, the length
 * and the convenience NUL after them. */
static void
expect_decode(unsigned char *(*dec)(const char *, size_t, size_t *), const char *in,
    size_t inlen, const void *want, size_t wantlen)
{
	size_t outlen = (size_t)-1;
	unsigned char *out = dec(in, inlen, &outlen);

	if (out == NULL)
		fail_msg("decoding \"%.*s\" failed", (int)inlen, in);
	assert_int_equal(outlen, wantlen);
	assert_memory_equal(out, want, wantlen);
	assert_int_equal(out[outlen], '\0');
	free(out);
}

static void
expect_refused(unsigned char *(*dec)(const char *, size_t, size_t *), const char *in,
    size_t inlen)
{
	size_t outlen = 12345;
	unsigned char *out = dec(in, inlen, &outlen);

	if (out != NULL) {
		free(out);
		fail_msg("\"%.*s\" (%zu bytes) was accepted, must be refused", (int)inlen,
		    in, inlen);
	}
}

static void
test_url_encode_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS; i++) {
		char *enc = b64url_encode((const unsigned char *)vectors[i].plain,
		    strlen(vectors[i].plain));

		assert_non_null(enc);
		assert_string_equal(enc, vectors[i].url);
		free(enc);
	}
}

static void
test_url_decode_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS; i++)
		expect_decode(b64url_decode, vectors[i].url, strlen(vectors[i].url),
		    vectors[i].plain, strlen(vectors[i].plain));
}

static void
test_std_encode_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS; i++) {
		char *enc = b64_encode((const unsigned char *)vectors[i].plain,
		    strlen(vectors[i].plain));

		assert_non_null(enc);
		assert_string_equal(enc, vectors[i].std);
		free(enc);
	}
}

static void
test_std_decode_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECTORS; i++)
		expect_decode(b64_decode, vectors[i].std, strlen(vectors[i].std),
		    vectors[i].plain, strlen(vectors[i].plain));
}

/* The two alphabets differ in exactly the last two characters. */
static void
test_url_alphabet_dash_underscore(void **state)
{
	static const unsigned char fbff[] = { 0xfb, 0xff };
	static const unsigned char all62[] = { 0xfb, 0xef, 0xbe };
	static const unsigned char all63[] = { 0xff, 0xff, 0xff };
	char *enc;

	(void)state;
	enc = b64url_encode(fbff, sizeof(fbff));
	assert_non_null(enc);
	assert_string_equal(enc, "-_8");
	free(enc);
	enc = b64_encode(fbff, sizeof(fbff));
	assert_non_null(enc);
	assert_string_equal(enc, "+/8=");
	free(enc);
	expect_decode(b64url_decode, "-_8", 3, fbff, sizeof(fbff));
	expect_decode(b64_decode, "+/8=", 4, fbff, sizeof(fbff));

	enc = b64url_encode(all62, sizeof(all62));
	assert_non_null(enc);
	assert_string_equal(enc, "----");
	free(enc);
	enc = b64url_encode(all63, sizeof(all63));
	assert_non_null(enc);
	assert_string_equal(enc, "____");
	free(enc);
	expect_decode(b64url_decode, "----", 4, all62, sizeof(all62));
	expect_decode(b64url_decode, "____", 4, all63, sizeof(all63));
	expect_decode(b64_decode, "++++", 4, all62, sizeof(all62));
	expect_decode(b64_decode, "////", 4, all63, sizeof(all63));
}

/* Every byte value and every length modulo 3, both alphabets. */
static void
test_roundtrip_all_bytes(void **state)
{
	unsigned char data[300];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(data); len += (len < 20 ? 1 : 37)) {
		char *u = b64url_encode(data, len), *s = b64_encode(data, len);

		assert_non_null(u);
		assert_non_null(s);
		assert_int_equal(strlen(u), (len * 4 + 2) / 3);
		assert_int_equal(strlen(s), (len + 2) / 3 * 4);
		assert_null(strchr(u, '='));
		assert_null(strchr(u, '+'));
		assert_null(strchr(u, '/'));
		assert_null(strchr(s, '-'));
		assert_null(strchr(s, '_'));
		expect_decode(b64url_decode, u, strlen(u), data, len);
		expect_decode(b64_decode, s, strlen(s), data, len);
		free(u);
		free(s);
	}
}

/* The length argument is what counts, not a NUL. */
static void
test_decode_honours_length(void **state)
{
	(void)state;
	expect_decode(b64url_decode, "Zm9vYmFy", 4, "foo", 3);
	expect_decode(b64_decode, "Zm9vYmFy", 4, "foo", 3);
	expect_decode(b64url_decode, "Zm9vYmFy", 0, "", 0);
	/* A NUL within the given length is not skipped. */
	expect_refused(b64url_decode, "Zm9v\0mFy", 8);
	expect_refused(b64_decode, "Zm9v\0mFy", 8);
}

static void
test_url_refuses_padding(void **state)
{
	(void)state;
	expect_refused(b64url_decode, "Zg==", 4);
	expect_refused(b64url_decode, "Zg=", 3);
	expect_refused(b64url_decode, "Zm8=", 4);
	expect_refused(b64url_decode, "Zm9vYg==", 8);
	expect_refused(b64url_decode, "=", 1);
	expect_refused(b64url_decode, "Zm9=", 4);
}

static void
test_url_refuses_standard_alphabet(void **state)
{
	(void)state;
	expect_refused(b64url_decode, "+_8", 3);
	expect_refused(b64url_decode, "-/8", 3);
	expect_refused(b64url_decode, "+/8", 3);
	expect_refused(b64url_decode, "++++", 4);
	expect_refused(b64url_decode, "Zm9v////", 8);
}

static void
test_url_refuses_illegal_characters(void **state)
{
	static const char *const bad[] = {
		/* each of a length that would otherwise be fine */
		"Zm9v!A", "Zm9v.A", "Zm9v*A", "Zm 9vY", "Zm9vY\n", "Zm\t9vY", "Zm9v\r\n",
		"Zm9\x80", "Zm9\xff", "\xc3\xa9Zm",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(b64url_decode, bad[i], strlen(bad[i]));
}

/* Every byte value: a character decodes exactly when its alphabet has it
 * (the standard decoding also takes padding and skips whitespace). */
static void
test_every_byte_value(void **state)
{
	static const char url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n\r\t";

	(void)state;
	for (int c = 0; c < 256; c++) {
		char in[4] = { 'A', 'A', 'A', (char)c };
		unsigned char *out;
		size_t n;

		out = b64url_decode(in, 4, &n);
		assert_true((out != NULL) == (c != 0 && memchr(url, c, 64) != NULL));
		if (out != NULL)
			assert_int_equal(out[2], (unsigned char)((char *)memchr(url, c, 64) - url));
		free(out);
		out = b64_decode(in, 4, &n);
		assert_true((out != NULL) == (c != 0 && memchr(std, c, sizeof(std) - 1) != NULL));
		free(out);
	}
}

static void
test_refuses_length_mod4_is_1(void **state)
{
	(void)state;
	/* "A" and "Zm9vA" carry only zero bits past the last full byte: the
	 * length alone makes them wrong */
	expect_refused(b64url_decode, "A", 1);
	expect_refused(b64url_decode, "Zm9vA", 5);
	expect_refused(b64url_decode, "AAAAA", 5);
	expect_refused(b64url_decode, "Z", 1);
	expect_refused(b64url_decode, "Zm9vY", 5);
	expect_refused(b64url_decode, "Zm9vYmFyZ", 9);
	expect_refused(b64_decode, "A", 1);
	expect_refused(b64_decode, "Zm9vA", 5);
	expect_refused(b64_decode, "Z", 1);
	expect_refused(b64_decode, "Zm9vY", 5);
	expect_refused(b64_decode, "Zm9vYmFyZ", 9);
	expect_refused(b64_decode, "Zm9v\nY\n", 7);
}

/* "Zh" would also decode to "f" if the low bits were ignored. */
static void
test_refuses_nonzero_trailing_bits(void **state)
{
	static const char *const url_bad[] = { "Zh", "Zv", "Zm9", "Zm9vYh", "Zm9vYmF" };
	static const char *const std_bad[] = { "Zh==", "Zv==", "Zm9=", "Zm9vYh==", "Zm9vYmF=" };

	(void)state;
	for (size_t i = 0; i < sizeof(url_bad) / sizeof(url_bad[0]); i++)
		expect_refused(b64url_decode, url_bad[i], strlen(url_bad[i]));
	for (size_t i = 0; i < sizeof(std_bad) / sizeof(std_bad[0]); i++)
		expect_refused(b64_decode, std_bad[i], strlen(std_bad[i]));
	/* the canonical spellings right next to them are fine */
	expect_decode(b64url_decode, "Zg", 2, "f", 1);
	expect_decode(b64url_decode, "Zm8", 3, "fo", 2);
	expect_decode(b64_decode, "Zg==", 4, "f", 1);
	expect_decode(b64_decode, "Zm8=", 4, "fo", 2);
}

static void
test_std_refuses_data_after_padding(void **state)
{
	(void)state;
	expect_refused(b64_decode, "Zg==Zg==", 8);
	expect_refused(b64_decode, "Zg=a", 4);
	/* these would decode cleanly if the '=' were just skipped */
	expect_refused(b64_decode, "Zg=A", 4);
	expect_refused(b64_decode, "AA=A", 4);
	expect_refused(b64_decode, "Zm9vZg=A", 8);
	expect_refused(b64_decode, "Zm8=\nZm9v", 9);
	expect_refused(b64_decode, "Zm8=Zm9v", 8);
	expect_refused(b64_decode, "Zg==\nZm9v", 9);
}

static void
test_std_refuses_bad_padding(void **state)
{
	(void)state;
	expect_refused(b64_decode, "Zg=", 3);       /* half the padding */
	expect_refused(b64_decode, "Zg===", 5);     /* too much */
	expect_refused(b64_decode, "Zm8==", 5);
	expect_refused(b64_decode, "Zm9v=", 5);
	expect_refused(b64_decode, "=", 1);
	expect_refused(b64_decode, "==", 2);
	expect_refused(b64_decode, "====", 4);
}

static void
test_std_refuses_illegal_characters(void **state)
{
	static const char *const bad[] = {
		/* each well padded, so that only the character is wrong */
		"Zm9v-_8=", "Zm9v____", "Zm9v!A==", "Zm9v.A==", "Zm9v\x80" "AA=", "Zm\xff" "v",
		"Zm\v9vYg=", "Zm\f9vYg=",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(b64_decode, bad[i], strlen(bad[i]));
}

static void
test_std_skips_whitespace(void **state)
{
	static const char pem_body[] = "Zm9v\nYmFy\r\n";
	static const char spaced[] = " Zm 9v\tYg==\n";

	(void)state;
	expect_decode(b64_decode, pem_body, strlen(pem_body), "foobar", 6);
	expect_decode(b64_decode, spaced, strlen(spaced), "foob", 4);
	expect_decode(b64_decode, "Zm9vYmE=\r\n", 10, "fooba", 5);
	expect_decode(b64_decode, " \n\t\r", 4, "", 0);
	/* whitespace does not make a bad input good */
	expect_refused(b64_decode, "Zh==\n", 5);
	expect_refused(b64_decode, "Z\n", 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_encode_rfc4648),
		cmocka_unit_test(test_url_decode_rfc4648),
		cmocka_unit_test(test_std_encode_rfc4648),
		cmocka_unit_test(test_std_decode_rfc4648),
		cmocka_unit_test(test_url_alphabet_dash_underscore),
		cmocka_unit_test(test_roundtrip_all_bytes),
		cmocka_unit_test(test_decode_honours_length),
		cmocka_unit_test(test_url_refuses_padding),
		cmocka_unit_test(test_url_refuses_standard_alphabet),
		cmocka_unit_test(test_url_refuses_illegal_characters),
		cmocka_unit_test(test_every_byte_value),
		cmocka_unit_test(test_refuses_length_mod4_is_1),
		cmocka_unit_test(test_refuses_nonzero_trailing_bits),
		cmocka_unit_test(test_std_refuses_data_after_padding),
		cmocka_unit_test(test_std_refuses_bad_padding),
		cmocka_unit_test(test_std_refuses_illegal_characters),
		cmocka_unit_test(test_std_skips_whitespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
