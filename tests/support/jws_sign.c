#include "jws_sign.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>

#include "b64.h"
#include "jsonx.h"
#include "jws.h"

static bool
jws_add(json_object *obj, const char *key, const char *value)
{
	json_object *v;

	if ((v = json_object_new_string(value)) == NULL)
		return false;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool
jws_add_b64(json_object *obj, const char *key, const unsigned char *bin, size_t len)
{
	char *b64;
	bool ok;

	if ((b64 = b64url_encode(bin, len)) == NULL)
		return false;
	ok = jws_add(obj, key, b64);
	free(b64);
	return ok;
}

/* A key parameter as a base64url member, left-padded to pad bytes (0:
 * minimal, as RSA wants; EC coordinates have a fixed size). */
static bool
jwk_add_bn(json_object *jwk, const char *name, EVP_PKEY *key, const char *param,
    size_t pad)
{
	BIGNUM *bn = NULL;
	unsigned char *bin = NULL;
	size_t len;
	bool ok = false;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return false;
	len = pad > 0 ? pad : (size_t)BN_num_bytes(bn);
	if ((bin = malloc(len)) != NULL && BN_bn2binpad(bn, bin, (int)len) == (int)len)
		ok = jws_add_b64(jwk, name, bin, len);
	free(bin);
	BN_free(bn);
	return ok;
}

static bool
jwk_add_raw(json_object *jwk, const char *name, EVP_PKEY *key)
{
	unsigned char pub[JWK_COORD_MAX];
	size_t len = sizeof(pub);

	return EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 &&
	    jws_add_b64(jwk, name, pub, len);
}

json_object *
jwk_export(EVP_PKEY *key)
{
	const struct jws_alg *a = jws_alg_of_key(key);
	json_object *jwk;
	bool ok;

	if (a == NULL || (jwk = json_object_new_object()) == NULL)
		return NULL;
	if (a->crv == NULL)
		ok = jwk_add_bn(jwk, "e", key, OSSL_PKEY_PARAM_RSA_E, 0) &&
		    jws_add(jwk, "kty", a->kty) &&
		    jwk_add_bn(jwk, "n", key, OSSL_PKEY_PARAM_RSA_N, 0);
	else if (a->group != NULL)
		ok = jws_add(jwk, "crv", a->crv) && jws_add(jwk, "kty", a->kty) &&
		    jwk_add_bn(jwk, "x", key, OSSL_PKEY_PARAM_EC_PUB_X, a->size) &&
		    jwk_add_bn(jwk, "y", key, OSSL_PKEY_PARAM_EC_PUB_Y, a->size);
	else
		ok = jws_add(jwk, "crv", a->crv) && jws_add(jwk, "kty", a->kty) &&
		    jwk_add_raw(jwk, "x", key);
	if (!ok) {
		json_object_put(jwk);
		return NULL;
	}
	return jwk;
}

static json_object *
jws_header_new(const char *alg, const char *url, const char *nonce, const char *kid)
{
	json_object *h;

	if ((h = json_object_new_object()) == NULL)
		return NULL;
	if (!jws_add(h, "alg", alg) || (kid != NULL && !jws_add(h, "kid", kid)) ||
	    (nonce != NULL && !jws_add(h, "nonce", nonce)) ||
	    (url != NULL && !jws_add(h, "url", url))) {
		json_object_put(h);
		return NULL;
	}
	return h;
}

static bool
jws_add_jwk(json_object *header, EVP_PKEY *key)
{
	json_object *jwk;

	if ((jwk = jwk_export(key)) == NULL)
		return false;
	if (json_object_object_add(header, "jwk", jwk) != 0) {
		json_object_put(jwk);
		return false;
	}
	return true;
}

static char *
jws_signing_input(json_object *header, const char *payload)
{
	const char *h = jsonx_print(header);
	char *p64 = NULL, *y64 = NULL, *input = NULL;

	if (h != NULL &&
	    (p64 = b64url_encode((const unsigned char *)h, strlen(h))) != NULL &&
	    (y64 = b64url_encode((const unsigned char *)payload, strlen(payload))) != NULL &&
	    asprintf(&input, "%s.%s", p64, y64) < 0)
		input = NULL;
	free(p64);
	free(y64);
	return input;
}

/* The three members are base64url, so they are pasted without escaping. */
static char *
jws_serialize(const char *input, const unsigned char *sig, size_t siglen)
{
	const char *dot = strchr(input, '.');
	char *s64, *out;

	if ((s64 = b64url_encode(sig, siglen)) == NULL)
		return NULL;
	if (asprintf(&out, "{\"protected\":\"%.*s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
	    (int)(dot - input), input, dot + 1, s64) < 0)
		out = NULL;
	free(s64);
	return out;
}

/* OpenSSL's DER ECDSA signature -> the fixed-size R||S of RFC 7518 3.4. */
static unsigned char *
jws_ecdsa_raw(const unsigned char *der, size_t derlen, size_t size, size_t *rawlen)
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	unsigned char *raw;
	ECDSA_SIG *es;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		return NULL;
	ECDSA_SIG_get0(es, &r, &s);
	if ((raw = malloc(2 * size)) != NULL &&
	    (BN_bn2binpad(r, raw, (int)size) < 0 ||
	    BN_bn2binpad(s, raw + size, (int)size) < 0)) {
		free(raw);
		raw = NULL;
	}
	ECDSA_SIG_free(es);
	*rawlen = 2 * size;
	return raw;
}

static unsigned char *
jws_sign_raw(const struct jws_alg *a, EVP_PKEY *key, const char *input,
    size_t *siglen)
{
	const unsigned char *in = (const unsigned char *)input;
	size_t inlen = strlen(input), len = 0;
	unsigned char *sig = NULL, *raw;
	EVP_MD_CTX *ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestSignInit_ex(ctx, NULL, a->md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, in, inlen) != 1 ||
	    (sig = malloc(len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &len, in, inlen) != 1) {
		free(sig);
		sig = NULL;
	}
	EVP_MD_CTX_free(ctx);
	*siglen = len;
	if (sig == NULL || a->group == NULL)
		return sig;
	raw = jws_ecdsa_raw(sig, len, a->size, siglen);
	free(sig);
	return raw;
}

char *
jws_sign(EVP_PKEY *key, const char *url, const char *nonce, const char *kid,
    const char *payload)
{
	const struct jws_alg *a = jws_alg_of_key(key);
	json_object *header;
	unsigned char *sig = NULL;
	char *input = NULL, *out = NULL;
	size_t siglen;

	if (a == NULL || (header = jws_header_new(a->alg, url, nonce, kid)) == NULL)
		return NULL;
	if ((kid != NULL || jws_add_jwk(header, key)) &&
	    (input = jws_signing_input(header, payload)) != NULL &&
	    (sig = jws_sign_raw(a, key, input, &siglen)) != NULL)
		out = jws_serialize(input, sig, siglen);
	json_object_put(header);
	free(input);
	free(sig);
	return out;
}

char *
jws_sign_hs256(const unsigned char *key, size_t keylen, const char *kid,
    const char *url, const char *payload)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen;
	json_object *header;
	char *input, *out = NULL;

	if ((header = jws_header_new("HS256", url, NULL, kid)) == NULL)
		return NULL;
	input = jws_signing_input(header, payload);
	json_object_put(header);
	if (input != NULL && jws_hmac(key, keylen, input, mac, &maclen))
		out = jws_serialize(input, mac, maclen);
	free(input);
	return out;
}
