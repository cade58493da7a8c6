#include "pkey.h"

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
