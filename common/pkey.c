#include "pkey.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

EVP_PKEY *
pkey_public(const char *type, const char *group, const unsigned char *pub, size_t len)
{
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *key = NULL;

	ERR_set_mark();
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    (group == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0)) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, len))
		key = pkey_fromdata(type, bld);
	OSSL_PARAM_BLD_free(bld);
	ERR_pop_to_mark();
	return key;
}

EVP_PKEY *
pkey_rsa_public(const BIGNUM *n, const BIGNUM *e)
{
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *key = NULL;

	ERR_set_mark();
	if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		key = pkey_fromdata("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	ERR_pop_to_mark();
	return key;
}

/* The y coordinates of the 8 points of small order, little-endian: 0 and
 * 1, p - 1, and the two of order 8.  Their x is given by the sign bit. */
static const unsigned char pkey_ed25519_small_y[][32] = {
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

bool
pkey_ed25519_small_order(const unsigned char pub[32])
{
	unsigned char y[32];
	bool high = true;

	memcpy(y, pub, sizeof(y));
	y[31] &= 0x7f;
	/* y >= p = 2^255 - 19 is y - p in [0, 18], written non-canonically. */
	for (size_t i = 1; i < 31; i++)
		high = high && y[i] == 0xff;
	if (high && y[31] == 0x7f && y[0] >= 0xed) {
		y[0] = (unsigned char)(y[0] - 0xed);
		memset(y + 1, 0, sizeof(y) - 1);
	}
	for (size_t i = 0; i < sizeof(pkey_ed25519_small_y) / sizeof(y); i++)
		if (memcmp(y, pkey_ed25519_small_y[i], sizeof(y)) == 0)
			return true;
	return false;
}
