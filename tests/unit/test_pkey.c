/*
 * Unit tests for common/pkey.c: public keys made from their parameters
 * equal the keys they came from, points off the curve and wrong lengths
 * are refused without leaving errors on OpenSSL's queue, and the small-order
 * Ed25519 points are recognised in every encoding, canonical or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "pkey.h"

/* The encoded public point of a new EC key of the group (uncompressed). */
static EVP_PKEY *
ec_key(const char *group, unsigned char *pub, size_t publen, size_t *len)
{
	EVP_PKEY *k = EVP_EC_gen(group);

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub,
	    publen, len), 1);
	return k;
}

static void
test_ec_from_point(void **state)
{
	static const char *const groups[] = { "P-256", "P-384", "P-521" };
	unsigned char pub[200];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		EVP_PKEY *k = ec_key(groups[i], pub, sizeof(pub), &len), *made;

		made = pkey_public("EC", groups[i], pub, len);
		assert_non_null(made);
		assert_int_equal(EVP_PKEY_eq(k, made), 1);
		EVP_PKEY_free(made);
		EVP_PKEY_free(k);
	}
}

/* Off the curve, truncated, or of another group: NULL, and OpenSSL's error
 * queue is left as it was. */
static void
test_ec_refused(void **state)
{
	unsigned char pub[200];
	size_t len;
	EVP_PKEY *k, *made;

	(void)state;
	k = ec_key("P-256", pub, sizeof(pub), &len);
	assert_int_equal(len, 65);
	ERR_clear_error();

	pub[64] ^= 0x01;                /* y changed: not on the curve */
	assert_null(pkey_public("EC", "P-256", pub, len));
	assert_int_equal(ERR_peek_error(), 0);
	pub[64] ^= 0x01;
	assert_null(pkey_public("EC", "P-256", pub, len - 1));
	assert_null(pkey_public("EC", "P-384", pub, len));
	assert_null(pkey_public("EC", "no-such-group", pub, len));
	assert_null(pkey_public("EC", "P-256", pub, 0));
	assert_int_equal(ERR_peek_error(), 0);
	/* the point put back is accepted again */
	made = pkey_public("EC", "P-256", pub, len);
	assert_non_null(made);
	EVP_PKEY_free(made);
	EVP_PKEY_free(k);
}

static void
test_ed25519_raw(void **state)
{
	unsigned char raw[32];
	size_t len = sizeof(raw);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *made;

	(void)state;
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &len), 1);
	assert_int_equal(len, 32);
	made = pkey_public("ED25519", NULL, raw, len);
	assert_non_null(made);
	assert_int_equal(EVP_PKEY_eq(k, made), 1);
	EVP_PKEY_free(made);
	ERR_clear_error();
	assert_null(pkey_public("ED25519", NULL, raw, 31));
	assert_int_equal(ERR_peek_error(), 0);
	/* an ordinary key is not of small order */
	assert_false(pkey_ed25519_small_order(raw));
	EVP_PKEY_free(k);
}

static void
test_rsa_from_n_e(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), *made;
	BIGNUM *n = NULL, *e = NULL;

	(void)state;
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	made = pkey_rsa_public(n, e);
	assert_non_null(made);
	assert_int_equal(EVP_PKEY_eq(k, made), 1);
	assert_int_equal(EVP_PKEY_get_bits(made), 2048);
	EVP_PKEY_free(made);
	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(k);
}

/*
 * The points of small order of edwards25519, as the usual blocklists give
 * them (libsodium's, for one): y = 0 (order 4), 1 (the neutral element),
 * p - 1 (order 2), and the two y of the points of order 8.
 */
static const unsigned char small_y[][32] = {
	{ 0 },
	{ 1 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89,
	  0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39,
	  0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
	{ 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76,
	  0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
	  0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
};

/* With either sign bit (the top bit: x's sign, not part of y). */
static void
test_small_order_canonical(void **state)
{
	unsigned char p[32];

	(void)state;
	for (size_t i = 0; i < sizeof(small_y) / sizeof(small_y[0]); i++) {
		memcpy(p, small_y[i], 32);
		assert_true(pkey_ed25519_small_order(p));
		p[31] |= 0x80;
		assert_true(pkey_ed25519_small_order(p));
	}
}

/* y + p for y = 0 and 1 (the only small y below 19) still fits in 255
 * bits: those non-canonical encodings are small too; y + p for other y is
 * not. */
static void
test_small_order_non_canonical(void **state)
{
	unsigned char p[32];

	(void)state;
	memset(p, 0xff, sizeof(p));
	p[31] = 0x7f;
	p[0] = 0xed;            /* p: 0 */
	assert_true(pkey_ed25519_small_order(p));
	p[0] = 0xee;            /* p + 1: 1 */
	assert_true(pkey_ed25519_small_order(p));
	p[31] = 0xff;           /* with the sign bit */
	assert_true(pkey_ed25519_small_order(p));
	p[31] = 0x7f;
	p[0] = 0xef;            /* p + 2: 2, not small */
	assert_false(pkey_ed25519_small_order(p));
	p[0] = 0xff;            /* 2^255 - 1 = p + 18 */
	assert_false(pkey_ed25519_small_order(p));
}

static void
test_not_small_order(void **state)
{
	unsigned char p[32];

	(void)state;
	memset(p, 0, sizeof(p));
	p[0] = 2;
	assert_false(pkey_ed25519_small_order(p));
	/* p - 1 with one bit off in the middle */
	memcpy(p, small_y[2], 32);
	p[15] = 0xfe;
	assert_false(pkey_ed25519_small_order(p));
	/* 1 with a stray high byte */
	memcpy(p, small_y[1], 32);
	p[30] = 0x01;
	assert_false(pkey_ed25519_small_order(p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ec_from_point),
		cmocka_unit_test(test_ec_refused),
		cmocka_unit_test(test_ed25519_raw),
		cmocka_unit_test(test_rsa_from_n_e),
		cmocka_unit_test(test_small_order_canonical),
		cmocka_unit_test(test_small_order_non_canonical),
		cmocka_unit_test(test_not_small_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
