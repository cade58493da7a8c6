/*
 * JWS and JWK: the published vectors of RFC 7515 (A.1 HS256, A.2 RS256,
 * A.3 ES256), RFC 8037 (Ed25519) and RFC 7638 (thumbprints), the key and
 * header checks ACME needs, and sign / parse / verify round trips for every
 * key type the RA accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "b64.h"
#include "jsonx.h"
#include "jws.h"
#include "jws_sign.h"

#define URL     "https://ra.example/acme/new-order"
#define NONCE   "vOa2hzG4xYUFi7bUqXT9rw"
#define KID     "https://ra.example/acme/acct/1"

/* RFC 7515 A.1 to A.3 share the payload. */
#define RFC7515_PAYLOAD \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
	"cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

/* RFC 7515 A.1: HS256. */
#define A1_PROTECTED    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define A1_SIGNATURE    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_KEY \
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h" \
	"cgUuTwjAzZr1Z9CAow"

/* RFC 7515 A.2: RS256. */
#define A2_PROTECTED    "eyJhbGciOiJSUzI1NiJ9"
#define A2_SIGNATURE \
	"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7" \
	"AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4" \
	"BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K" \
	"0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv" \
	"hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB" \
	"p0igcN_IoypGlUPQGe77Rw"
#define A2_N \
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-" \
	"4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2" \
	"jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7" \
	"WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvU" \
	"K-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RSA_A2_E(e)     "{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"" e "\"}"
#define A2_JWK          RSA_A2_E("AQAB")

/* RFC 7515 A.3: ES256 (its signature happens to have a high S). */
#define A3_PROTECTED    "eyJhbGciOiJFUzI1NiJ9"
#define A3_SIGNATURE \
	"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQ" \
	"xfKTUJqPP3-Kg6NU1Q"
#define A3_X    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D    "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_JWK  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"

/* RFC 8037 A.1 key, A.3 thumbprint, A.4 signature. */
#define ED_X    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D    "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define ED_JWK  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}"
#define ED_THUMBPRINT   "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define ED_PROTECTED    "eyJhbGciOiJFZERTQSJ9"
#define ED_PAYLOAD      "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define ED_SIGNATURE \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt" \
	"9g7sVvpAr_MuM0KAg"

/* RFC 7638 3.1. */
#define TP_N \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7" \
	"aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXA" \
	"rwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7" \
	"d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lF" \
	"d2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define TP_THUMBPRINT   "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static char *
b64s(const char *s)
{
	char *out = b64url_encode((const unsigned char *)s, strlen(s));

	assert_non_null(out);
	return out;
}

static json_object *
json_of(const char *text)
{
	json_object *obj = jsonx_parse(text, strlen(text), JWS_BODY_MAX, NULL, 0);

	assert_non_null(obj);
	return obj;
}

/* A flattened JWS from its three base64url parts. */
static char *
flat(const char *prot, const char *payload, const char *sig)
{
	char *out;

	assert_true(asprintf(&out, "{\"protected\":\"%s\",\"payload\":\"%s\","
	    "\"signature\":\"%s\"}", prot, payload, sig) > 0);
	return out;
}

/* The same from a header and a payload in clear. */
static char *
flat_clear(const char *header, const char *payload, const char *sig)
{
	char *p = b64s(header), *y = b64s(payload), *out = flat(p, y, sig);

	free(p);
	free(y);
	return out;
}

static enum jws_err
parse_body(const char *body, struct jws *j)
{
	char err[256];

	return jws_parse(body, strlen(body), j, err, sizeof(err));
}

/* Parses text as JSON and hands it to fn, which must not borrow from it. */
static enum jws_err
parse_with(enum jws_err (*fn)(json_object *, struct jws *, char *, size_t),
    const char *text, struct jws *j)
{
	json_object *obj = json_of(text);
	enum jws_err rc;
	char err[256];

	rc = fn(obj, j, err, sizeof(err));
	json_object_put(obj);
	return rc;
}

static enum jws_err
import_text(const char *text, EVP_PKEY **key, char *err, size_t errlen)
{
	json_object *jwk = json_of(text);
	enum jws_err rc;

	rc = jwk_import(jwk, key, err, errlen);
	json_object_put(jwk);
	if (rc != JWS_OK)
		assert_null(*key);
	return rc;
}

static EVP_PKEY *
import_ok(const char *text)
{
	EVP_PKEY *key;

	assert_int_equal(import_text(text, &key, NULL, 0), JWS_OK);
	return key;
}

/* JWS_BAD_KEY, with why in the reason when not NULL. */
static void
expect_bad_key_why(const char *text, const char *why)
{
	EVP_PKEY *key;
	char err[256] = "";
	enum jws_err rc = import_text(text, &key, err, sizeof(err));

	EVP_PKEY_free(key);
	if (rc != JWS_BAD_KEY || (why != NULL && strstr(err, why) == NULL))
		fail_msg("jwk_import gave %d (%s) for %.200s", rc, err, text);
}

static void
expect_bad_key(const char *text)
{
	expect_bad_key_why(text, NULL);
}

/* base64url of the decoding of b64 with one byte changed, or with a byte
 * added in front (at == -1) or the first one dropped (at == -2). */
static char *
b64_edit(const char *b64, long at, unsigned char xor)
{
	size_t len;
	unsigned char *raw = b64url_decode(b64, strlen(b64), &len), *p;
	char *out;

	assert_non_null(raw);
	assert_non_null(p = malloc(len + 1));
	if (at == -1) {
		p[0] = xor;
		memcpy(p + 1, raw, len++);
	} else if (at == -2)
		memcpy(p, raw + 1, --len);
	else {
		memcpy(p, raw, len);
		p[at] ^= xor;
	}
	out = b64url_encode(p, len);
	assert_non_null(out);
	free(raw);
	free(p);
	return out;
}

/* base64url of len bytes of value v, the last one being last. */
static char *
b64_fill(size_t len, unsigned char v, unsigned char last)
{
	unsigned char *raw = malloc(len);
	char *out;

	assert_non_null(raw);
	memset(raw, v, len);
	raw[len - 1] = last;
	out = b64url_encode(raw, len);
	assert_non_null(out);
	free(raw);
	return out;
}

static char *
rsa_text(const char *n, const char *e)
{
	char *out;

	assert_true(asprintf(&out, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}",
	    n, e) > 0);
	return out;
}

static char *
ec_text(const char *x, const char *y)
{
	char *out;

	assert_true(asprintf(&out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\","
	    "\"y\":\"%s\"}", x, y) > 0);
	return out;
}

/* Flips one bit of *p: verification must fail, then pass once restored. */
static void
expect_flip_fails(struct jws *j, EVP_PKEY *key, void *p)
{
	unsigned char *b = p;

	*b ^= 1;
	assert_int_equal(jws_verify(j, key, NULL, 0), JWS_BAD_SIGNATURE);
	*b ^= 1;
	assert_int_equal(jws_verify(j, key, NULL, 0), JWS_OK);
}

/*
 * A published vector: its header has only "alg", so jws_parse refuses it
 * as an ACME request, and the structural parse alone is used.  One bit
 * flipped in the signature, the protected header or the payload as sent
 * must break it.
 */
static void
check_vector(const char *prot, const char *payload, const char *sig, const char *jwk)
{
	char *body = flat(prot, payload, sig), err[256];
	EVP_PKEY *key = import_ok(jwk);
	struct jws j;

	assert_int_equal(parse_body(body, &j), JWS_MALFORMED);
	assert_int_equal(parse_with(jws_parse_object, body, &j), JWS_OK);
	assert_int_equal(jws_verify(&j, key, err, sizeof(err)), JWS_OK);
	expect_flip_fails(&j, key, &j.sig[j.sig_len / 2]);
	expect_flip_fails(&j, key, &j.signing_input[1]);
	expect_flip_fails(&j, key, &j.signing_input[strlen(prot) + 2]);
	jws_free(&j);
	EVP_PKEY_free(key);
	free(body);
}

static void
test_rfc7515_a2_rs256(void **state)
{
	(void)state;
	check_vector(A2_PROTECTED, RFC7515_PAYLOAD, A2_SIGNATURE, A2_JWK);
}

static void
test_rfc7515_a3_es256(void **state)
{
	(void)state;
	check_vector(A3_PROTECTED, RFC7515_PAYLOAD, A3_SIGNATURE, A3_JWK);
}

static void
test_rfc8037_ed25519(void **state)
{
	char *body = flat(ED_PROTECTED, ED_PAYLOAD, ED_SIGNATURE);
	struct jws j;

	(void)state;
	check_vector(ED_PROTECTED, ED_PAYLOAD, ED_SIGNATURE, ED_JWK);
	assert_int_equal(parse_with(jws_parse_object, body, &j), JWS_OK);
	assert_string_equal((char *)j.payload, "Example of Ed25519 signing");
	assert_string_equal(j.alg, "EdDSA");
	jws_free(&j);
	free(body);
}

static void
test_rfc7515_a1_hs256(void **state)
{
	char *body = flat(A1_PROTECTED, RFC7515_PAYLOAD, A1_SIGNATURE);
	unsigned char *key;
	size_t keylen;
	struct jws j;

	(void)state;
	assert_non_null(key = b64url_decode(A1_KEY, strlen(A1_KEY), &keylen));
	assert_int_equal(parse_with(jws_parse_object, body, &j), JWS_OK);
	assert_int_equal(jws_verify_hs256(&j, key, keylen), JWS_OK);
	j.sig[0] ^= 1;
	assert_int_equal(jws_verify_hs256(&j, key, keylen), JWS_BAD_SIGNATURE);
	j.sig[0] ^= 1;
	j.signing_input[strlen(A1_PROTECTED) + 2] ^= 1;
	assert_int_equal(jws_verify_hs256(&j, key, keylen), JWS_BAD_SIGNATURE);
	j.signing_input[strlen(A1_PROTECTED) + 2] ^= 1;
	key[0] ^= 1;
	assert_int_equal(jws_verify_hs256(&j, key, keylen), JWS_BAD_SIGNATURE);
	jws_free(&j);
	free(key);
	free(body);
}

static void
thumbprint_of(const char *text, char *out)
{
	json_object *jwk = json_of(text);

	assert_int_equal(jwk_thumbprint(jwk, out, JWK_THUMBPRINT_LEN + 1), 0);
	json_object_put(jwk);
}

static int
thumbprint_fails(const char *text, size_t outlen)
{
	json_object *jwk = json_of(text);
	char out[JWK_THUMBPRINT_LEN + 1];
	int rc = jwk_thumbprint(jwk, out, outlen);

	json_object_put(jwk);
	return rc == -1;
}

static void
test_rfc7638_thumbprint(void **state)
{
	char tp[JWK_THUMBPRINT_LEN + 1];

	(void)state;
	/* The RFC's key carries "alg" and "kid", which the hash leaves out. */
	thumbprint_of("{\"kty\":\"RSA\",\"n\":\"" TP_N "\",\"e\":\"AQAB\","
	    "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}", tp);
	assert_string_equal(tp, TP_THUMBPRINT);
	thumbprint_of("{\"e\":\"AQAB\",\"n\":\"" TP_N "\",\"kty\":\"RSA\"}", tp);
	assert_string_equal(tp, TP_THUMBPRINT);
	thumbprint_of(ED_JWK, tp);
	assert_string_equal(tp, ED_THUMBPRINT);

	assert_true(thumbprint_fails(ED_JWK, JWK_THUMBPRINT_LEN));
	assert_true(thumbprint_fails("{\"kty\":\"oct\",\"k\":\"AAAA\"}", sizeof(tp)));
	assert_true(thumbprint_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", sizeof(tp)));
	/* A member that would need JSON escaping is no JWK member. */
	assert_true(thumbprint_fails("{\"kty\":\"OKP\",\"crv\":\"Ed\\\"25519\","
	    "\"x\":\"AAAA\"}", sizeof(tp)));
}

static void
test_key_authorization(void **state)
{
	char *ka = jwk_key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
	    TP_THUMBPRINT);

	(void)state;
	assert_string_equal(ka, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." TP_THUMBPRINT);
	free(ka);
}

static void
expect_bad_key_free(char *text)
{
	expect_bad_key(text);
	free(text);
}

/* An RSA JWK whose modulus is len bytes: first, 0xff..., last. */
static char *
rsa_fake(size_t len, unsigned char first, unsigned char last)
{
	char *ff = b64_fill(len, 0xff, last), *n = b64_edit(ff, 0, 0xff ^ first);
	char *text = rsa_text(n, "AQAB");

	free(ff);
	free(n);
	return text;
}

static void
test_rsa_key_checks(void **state)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024), *key;
	json_object *jwk = jwk_export(small);
	struct timespec t0, t1;
	char *text, *n;
	long ms;

	(void)state;
	assert_int_equal(jwk_import(jwk, &key, NULL, 0), JWS_BAD_KEY);
	assert_null(key);
	json_object_put(jwk);
	EVP_PKEY_free(small);

	/* Exponent 1, 2, 65536, over 32 bits, with a leading zero; 3 is fine. */
	expect_bad_key(RSA_A2_E("AQ"));
	expect_bad_key(RSA_A2_E("Ag"));
	expect_bad_key(RSA_A2_E("AQAA"));
	expect_bad_key(RSA_A2_E("AQAAAAE"));
	expect_bad_key(RSA_A2_E("AAEAAQ"));
	expect_bad_key("{\"kty\":\"RSA\",\"n\":\"" A2_N "\"}");
	expect_bad_key("{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":65537}");
	EVP_PKEY_free(import_ok(RSA_A2_E("Aw")));

	/* A leading zero byte would give the key a second JWK and thumbprint. */
	n = b64_edit(A2_N, -1, 0);
	expect_bad_key_free(rsa_text(n, "AQAB"));
	free(n);

	/* Even; 2047 bits; 8192 bits is the limit, inclusive. */
	EVP_PKEY_free(import_ok(text = rsa_fake(256, 0xff, 0xff)));
	free(text);
	expect_bad_key_free(rsa_fake(256, 0xff, 0xfe));
	expect_bad_key_free(rsa_fake(256, 0x7f, 0xff));
	EVP_PKEY_free(import_ok(text = rsa_fake(1024, 0x80, 0xff)));
	free(text);
	expect_bad_key_free(rsa_fake(1025, 0x01, 0xff));

	/* 16384 bits: refused on the length of the text, before any work. */
	text = rsa_fake(2048, 0xff, 0xff);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_bad_key(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 100);
	free(text);
}

static void
test_ec_key_checks(void **state)
{
	char *x, *y, *text;

	(void)state;
	EVP_PKEY_free(import_ok(A3_JWK));

	/* Off the curve: one bit of y. */
	y = b64_edit(A3_Y, 31, 1);
	expect_bad_key_free(ec_text(A3_X, y));
	free(y);
	/* x >= p. */
	x = b64_fill(32, 0xff, 0xff);
	expect_bad_key_free(ec_text(x, A3_Y));
	free(x);
	/* Coordinates one byte short, one byte long (even a leading zero). */
	x = b64_edit(A3_X, -2, 0);
	text = ec_text(x, A3_Y);
	expect_bad_key_why(text, "of 32 bytes");
	free(text);
	free(x);
	x = b64_edit(A3_X, -1, 0);
	text = ec_text(x, A3_Y);
	expect_bad_key_why(text, "of 32 bytes");
	free(text);
	free(x);
	/* A P-256 point named as another curve, or as none. */
	expect_bad_key("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\","
	    "\"y\":\"" A3_Y "\"}");
	expect_bad_key("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" A3_X "\","
	    "\"y\":\"" A3_Y "\"}");
	expect_bad_key("{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}");
	expect_bad_key("{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}");
	expect_bad_key("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}");
}

static void
test_okp_and_other_key_checks(void **state)
{
	char *x, *text;

	(void)state;
	EVP_PKEY_free(import_ok(ED_JWK));
	x = b64_edit(ED_X, -2, 0);
	assert_true(asprintf(&text, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"%s\"}", x) > 0);
	expect_bad_key_free(text);
	free(x);
	expect_bad_key("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" ED_X "\"}");
	expect_bad_key("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}");
	expect_bad_key("{\"kty\":\"OKP\",\"crv\":\"P-256\",\"x\":\"" A3_X "\","
	    "\"y\":\"" A3_Y "\"}");

	/* Private keys, however well formed. */
	expect_bad_key_why("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\","
	    "\"y\":\"" A3_Y "\",\"d\":\"" A3_D "\"}", "private");
	expect_bad_key("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\","
	    "\"d\":\"" ED_D "\"}");
	expect_bad_key("{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\","
	    "\"p\":\"AQAB\"}");

	/* Other key types. */
	expect_bad_key("{\"kty\":\"oct\",\"k\":\"" A1_KEY "\"}");
	expect_bad_key("{\"kty\":\"foo\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}");
	expect_bad_key("{\"kty\":\"rsa\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}");
	expect_bad_key("{\"n\":\"" A2_N "\",\"e\":\"AQAB\"}");
	expect_bad_key("{\"kty\":1}");
	expect_bad_key("\"RSA\"");
}

/* The 8 points of small order of edwards25519, as the 5 y coordinates they
 * have, and y = p and p + 1, the non-canonical encodings of 0 and 1; each
 * with the sign bit of x clear and set.  A signature by such a key verifies
 * for more than one message. */
static const char *const ed_small_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void
test_okp_small_order(void **state)
{
	unsigned char raw[32];
	char *x, *text;

	(void)state;
	for (size_t i = 0; i < sizeof(ed_small_order) / sizeof(ed_small_order[0]); i++) {
		for (int sign = 0; sign < 2; sign++) {
			for (size_t k = 0; k < sizeof(raw); k++)
				assert_int_equal(sscanf(ed_small_order[i] + 2 * k, "%2hhx", &raw[k]), 1);
			raw[31] = (unsigned char)(sign ? raw[31] | 0x80 : raw[31] & 0x7f);
			x = b64url_encode(raw, sizeof(raw));
			assert_true(asprintf(&text, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
			    "\"x\":\"%s\"}", x) > 0);
			expect_bad_key_why(text, "small order");
			free(text);
			free(x);
		}
	}
}

static void
test_alg_key_mismatch(void **state)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *rsa = import_ok(A2_JWK);
	char *body, *a2 = flat(A2_PROTECTED, RFC7515_PAYLOAD, A2_SIGNATURE);
	struct jws_verifier *v;
	struct jws j;

	(void)state;
	body = jws_sign(p256, URL, NONCE, KID, "{}");
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_string_equal(j.alg, "ES256");
	assert_int_equal(jws_verify(&j, p384, NULL, 0), JWS_BAD_ALG);
	assert_int_equal(jws_verify(&j, rsa, NULL, 0), JWS_BAD_ALG);
	assert_int_equal(jws_verify(&j, ed, NULL, 0), JWS_BAD_ALG);
	assert_int_equal(jws_verify(&j, p256, NULL, 0), JWS_OK);
	v = jws_verifier_new(p384);
	assert_int_equal(jws_verify_with(&j, v, NULL, 0), JWS_BAD_ALG);
	jws_verifier_free(v);
	jws_free(&j);
	free(body);

	assert_int_equal(parse_with(jws_parse_object, a2, &j), JWS_OK);
	assert_int_equal(jws_verify(&j, p256, NULL, 0), JWS_BAD_ALG);
	assert_int_equal(jws_verify(&j, ed, NULL, 0), JWS_BAD_ALG);
	jws_free(&j);
	free(a2);

	body = jws_sign(ed, URL, NONCE, KID, "");
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_int_equal(jws_verify(&j, rsa, NULL, 0), JWS_BAD_ALG);
	jws_free(&j);
	free(body);

	/* A header alg outside the list never reaches a key. */
	body = flat_clear("{\"alg\":\"none\"}", "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_object, body, &j), JWS_OK);
	assert_int_equal(jws_verify(&j, rsa, NULL, 0), JWS_BAD_ALG);
	jws_free(&j);
	free(body);

	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
}

#define H_JWK   "\"jwk\":" A3_JWK
#define H_REST  "\"nonce\":\"" NONCE "\",\"url\":\"" URL "\""

static const struct {
	const char *name;
	const char *header;
	enum jws_err want;
} header_cases[] = {
	{ "jwk", "{\"alg\":\"ES256\"," H_JWK "," H_REST "}", JWS_OK },
	{ "kid", "{\"alg\":\"ES256\",\"kid\":\"" KID "\"," H_REST "}", JWS_OK },
	{ "no nonce (key change inner JWS)",
	  "{\"alg\":\"ES256\"," H_JWK ",\"url\":\"" URL "\"}", JWS_OK },
	{ "alg none", "{\"alg\":\"none\"," H_JWK "," H_REST "}", JWS_BAD_ALG },
	{ "alg HS256", "{\"alg\":\"HS256\",\"kid\":\"" KID "\"," H_REST "}", JWS_BAD_ALG },
	{ "alg RS1", "{\"alg\":\"RS1\"," H_JWK "," H_REST "}", JWS_BAD_ALG },
	{ "alg rs256", "{\"alg\":\"rs256\"," H_JWK "," H_REST "}", JWS_BAD_ALG },
	{ "alg Ed25519", "{\"alg\":\"Ed25519\"," H_JWK "," H_REST "}", JWS_BAD_ALG },
	{ "both jwk and kid",
	  "{\"alg\":\"ES256\"," H_JWK ",\"kid\":\"" KID "\"," H_REST "}", JWS_MALFORMED },
	{ "neither jwk nor kid", "{\"alg\":\"ES256\"," H_REST "}", JWS_MALFORMED },
	{ "no url", "{\"alg\":\"ES256\"," H_JWK ",\"nonce\":\"" NONCE "\"}", JWS_MALFORMED },
	{ "no alg", "{" H_JWK "," H_REST "}", JWS_MALFORMED },
	{ "alg not a string", "{\"alg\":256," H_JWK "," H_REST "}", JWS_MALFORMED },
	{ "nonce not a string",
	  "{\"alg\":\"ES256\"," H_JWK ",\"nonce\":1,\"url\":\"" URL "\"}", JWS_MALFORMED },
	{ "url empty", "{\"alg\":\"ES256\"," H_JWK ",\"url\":\"\"}", JWS_MALFORMED },
	{ "url with NUL",
	  "{\"alg\":\"ES256\"," H_JWK ",\"url\":\"" URL "\\u0000x\"}", JWS_MALFORMED },
	{ "kid null", "{\"alg\":\"ES256\",\"kid\":null," H_REST "}", JWS_MALFORMED },
	{ "jwk not an object", "{\"alg\":\"ES256\",\"jwk\":\"x\"," H_REST "}", JWS_MALFORMED },
	{ "crit", "{\"alg\":\"ES256\"," H_JWK "," H_REST ",\"b64\":false,"
	  "\"crit\":[\"b64\"]}", JWS_MALFORMED },
	{ "array", "[{\"alg\":\"ES256\"}]", JWS_MALFORMED },
	{ "string", "\"ES256\"", JWS_MALFORMED },
	{ "not JSON", "{alg:ES256}", JWS_MALFORMED },
	{ "trailing bytes", "{\"alg\":\"ES256\"," H_JWK "," H_REST "}x", JWS_MALFORMED },
};

static void
test_header_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		char *body = flat_clear(header_cases[i].header, "{}", "AAAA"), err[256];
		struct jws j;
		enum jws_err rc = jws_parse(body, strlen(body), &j, err, sizeof(err));

		if (rc != header_cases[i].want)
			fail_msg("%s: got %d, want %d (%s)", header_cases[i].name, rc,
			    header_cases[i].want, err);
		if (rc != JWS_OK)
			assert_true(j.header == NULL && j.payload == NULL && j.sig == NULL &&
			    j.signing_input == NULL && j.alg == NULL);
		jws_free(&j);
		free(body);
	}
}

/* "@" stands for a valid protected header; why is a part of the reason. */
static const struct {
	const char *name;
	const char *body;
	const char *why;
} body_cases[] = {
	{ "general serialization", "{\"payload\":\"\",\"signatures\":"
	  "[{\"protected\":\"@\",\"signature\":\"AAAA\"}]}", "general" },
	{ "general and flattened", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AAAA\",\"signatures\":[]}", "general" },
	{ "unprotected header", "{\"protected\":\"@\",\"header\":{\"kid\":\"1\"},"
	  "\"payload\":\"\",\"signature\":\"AAAA\"}", "unprotected" },
	{ "no signature", "{\"protected\":\"@\",\"payload\":\"\"}", "exactly" },
	{ "no payload", "{\"protected\":\"@\",\"signature\":\"AAAA\"}", "exactly" },
	{ "no protected", "{\"payload\":\"\",\"signature\":\"AAAA\"}", "exactly" },
	{ "extra member", "{\"protected\":\"@\",\"payload\":\"\",\"signature\":\"AAAA\","
	  "\"x\":1}", "exactly" },
	{ "protected as an object", "{\"protected\":{\"alg\":\"ES256\"},\"payload\":\"\","
	  "\"signature\":\"AAAA\"}", "exactly" },
	{ "payload as an object", "{\"protected\":\"@\",\"payload\":{},"
	  "\"signature\":\"AAAA\"}", "exactly" },
	{ "empty signature", "{\"protected\":\"@\",\"payload\":\"\",\"signature\":\"\"}",
	  "signature" },
	{ "padding in signature", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AAA=\"}", "signature" },
	{ "padding in protected", "{\"protected\":\"@==\",\"payload\":\"\","
	  "\"signature\":\"AAAA\"}", "protected header" },
	{ "'+' in payload", "{\"protected\":\"@\",\"payload\":\"e+0\","
	  "\"signature\":\"AAAA\"}", "payload" },
	{ "'/' in signature", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AA/A\"}", "signature" },
	{ "space in signature", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AA AA\"}", "signature" },
	{ "non-zero trailing bits", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AB\"}", "signature" },
	{ "compact serialization", "@..AAAA", NULL },
	{ "array", "[\"@\",\"\",\"AAAA\"]", "not a JSON object" },
	{ "empty body", "", NULL },
	{ "trailing bytes", "{\"protected\":\"@\",\"payload\":\"\","
	  "\"signature\":\"AAAA\"}{}", NULL },
};

static char *
with_protected(const char *tmpl, const char *prot)
{
	char *out = calloc(1, strlen(tmpl) + 2 * strlen(prot) + 1), *o = out;

	assert_non_null(out);
	for (const char *p = tmpl; *p != '\0'; p++)
		if (*p == '@')
			o = stpcpy(o, prot);
		else
			*o++ = *p;
	return out;
}

static void
test_body_errors(void **state)
{
	char *prot = b64s("{\"alg\":\"ES256\",\"kid\":\"" KID "\"," H_REST "}");
	char *body = with_protected("{\"protected\":\"@\",\"payload\":\"\","
	    "\"signature\":\"AAAA\"}", prot);
	struct jws j;

	(void)state;
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_int_equal(j.payload_len, 0);
	assert_int_equal(j.sig_len, 3);
	jws_free(&j);
	free(body);
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		char err[256] = "";
		enum jws_err rc;

		body = with_protected(body_cases[i].body, prot);
		rc = jws_parse(body, strlen(body), &j, err, sizeof(err));
		if (rc != JWS_MALFORMED || err[0] == '\0' ||
		    (body_cases[i].why != NULL && strstr(err, body_cases[i].why) == NULL))
			fail_msg("%s: got %d (%s)", body_cases[i].name, rc, err);
		assert_null(j.header);
		jws_free(&j);
		free(body);
	}
	free(prot);
}

/* A body whose protected header is alg, kid and url padded with spaces to
 * hdrlen bytes, and whose url is urllen bytes. */
static char *
padded_body(size_t hdrlen, size_t urllen)
{
	char *hdr = malloc(hdrlen + 1), *url = malloc(urllen + 1), *body;
	int n;

	assert_non_null(hdr);
	assert_non_null(url);
	memset(url, 'u', urllen);
	url[urllen] = '\0';
	n = snprintf(hdr, hdrlen + 1, "{\"alg\":\"ES256\",\"kid\":\"k\",\"url\":\"%s\"",
	    url);
	assert_true(n > 0 && (size_t)n < hdrlen);
	memset(hdr + n, ' ', hdrlen - (size_t)n - 1);
	hdr[hdrlen - 1] = '}';
	hdr[hdrlen] = '\0';
	body = flat_clear(hdr, "", "AAAA");
	free(hdr);
	free(url);
	return body;
}

static void
expect_parse_free(char *body, enum jws_err want, const char *why)
{
	char err[256] = "";
	struct jws j;
	enum jws_err rc = jws_parse(body, strlen(body), &j, err, sizeof(err));

	if (rc != want || (why != NULL && strstr(err, why) == NULL))
		fail_msg("got %d (%s), want %d (%s)", rc, err, want, why);
	jws_free(&j);
	free(body);
}

static void
test_size_bounds(void **state)
{
	char *big = b64_fill(JWS_BODY_MAX, 'a', 'a');

	(void)state;
	expect_parse_free(padded_body(JWS_HEADER_MAX, JWS_FIELD_MAX), JWS_OK, NULL);
	expect_parse_free(padded_body(JWS_HEADER_MAX + 1, 1), JWS_MALFORMED, "too large");
	expect_parse_free(padded_body(2 * JWS_FIELD_MAX, JWS_FIELD_MAX + 1), JWS_MALFORMED,
	    "1024");
	expect_parse_free(flat_clear("{\"alg\":\"ES256\",\"kid\":\"k\",\"url\":\"u\"}",
	    "", big), JWS_MALFORMED, "too large");
	free(big);
}

static void
test_ecdsa_signature_length(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *body = jws_sign(key, URL, NONCE, KID, "{}"), err[256];
	unsigned char *sig;
	struct jws j;

	(void)state;
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_int_equal(j.sig_len, 96);
	assert_int_equal(jws_verify(&j, key, NULL, 0), JWS_OK);
	j.sig_len--;
	assert_int_equal(jws_verify(&j, key, err, sizeof(err)), JWS_BAD_SIGNATURE);
	assert_non_null(strstr(err, "96"));
	/* As long as a DER signature might be. */
	assert_non_null(sig = realloc(j.sig, 104));
	j.sig = sig;
	memset(sig + 96, 0, 8);
	j.sig_len = 104;
	assert_int_equal(jws_verify(&j, key, NULL, 0), JWS_BAD_SIGNATURE);
	jws_free(&j);
	free(body);
	EVP_PKEY_free(key);
}

/* A fresh key of the type alg takes. */
static EVP_PKEY *
key_for_alg(const char *alg)
{
	if (strcmp(alg, "RS256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (strcmp(alg, "EdDSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", strcmp(alg, "ES256") == 0 ? "P-256" :
	    strcmp(alg, "ES384") == 0 ? "P-384" : "P-521");
}

/*
 * A verifier answers as jws_verify, and its context, set up once, serves
 * verification after verification: a failed one (a bit flipped in the
 * signature, then in the signed input) leaves nothing behind for the next.
 * A verifier of another key refuses the signature.
 */
static void
expect_verifier_reusable(struct jws *j, EVP_PKEY *key, const char *alg)
{
	struct jws_verifier *v = jws_verifier_new(key), *w;
	EVP_PKEY *other = key_for_alg(alg);
	size_t last = strlen(j->signing_input) - 1;

	assert_non_null(v);
	assert_ptr_equal(jws_verifier_key(v), key);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jws_verify_with(j, v, NULL, 0), JWS_OK);
		j->sig[0] ^= 1;
		assert_int_equal(jws_verify_with(j, v, NULL, 0), JWS_BAD_SIGNATURE);
		j->sig[0] ^= 1;
		j->signing_input[last] ^= 1;
		assert_int_equal(jws_verify_with(j, v, NULL, 0), JWS_BAD_SIGNATURE);
		j->signing_input[last] ^= 1;
	}
	assert_non_null(other);
	assert_non_null(w = jws_verifier_new(other));
	assert_int_equal(jws_verify_with(j, w, NULL, 0), JWS_BAD_SIGNATURE);
	jws_verifier_free(w);
	jws_verifier_free(v);
	EVP_PKEY_free(other);
}

static void
roundtrip(EVP_PKEY *key, const char *alg)
{
	const char *payload = "{\"termsOfServiceAgreed\":true}";
	char *body = jws_sign(key, URL, NONCE, NULL, payload), err[256];
	char tp1[JWK_THUMBPRINT_LEN + 1], tp2[JWK_THUMBPRINT_LEN + 1];
	EVP_PKEY *pub = NULL, *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	json_object *exported = jwk_export(key);
	struct jws j;

	assert_non_null(body);
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_string_equal(j.alg, alg);
	assert_string_equal(j.url, URL);
	assert_string_equal(j.nonce, NONCE);
	assert_null(j.kid);
	assert_non_null(j.jwk);
	assert_int_equal(j.payload_len, strlen(payload));
	assert_string_equal((char *)j.payload, payload);

	assert_int_equal(jwk_import(j.jwk, &pub, err, sizeof(err)), JWS_OK);
	assert_true(jwk_equal(pub, key));
	assert_false(jwk_equal(pub, other));
	assert_false(jwk_equal(pub, NULL));
	assert_int_equal(jws_verify(&j, pub, err, sizeof(err)), JWS_OK);
	expect_flip_fails(&j, pub, &j.sig[0]);
	expect_flip_fails(&j, pub, &j.signing_input[strlen(j.signing_input) - 1]);
	expect_verifier_reusable(&j, pub, alg);

	assert_int_equal(jwk_thumbprint(j.jwk, tp1, sizeof(tp1)), 0);
	assert_int_equal(jwk_thumbprint(exported, tp2, sizeof(tp2)), 0);
	assert_string_equal(tp1, tp2);
	assert_int_equal(strlen(tp1), JWK_THUMBPRINT_LEN);
	jws_free(&j);
	free(body);

	/* POST-as-GET with the account URL. */
	body = jws_sign(key, URL, NONCE, KID, "");
	assert_int_equal(parse_body(body, &j), JWS_OK);
	assert_string_equal(j.kid, KID);
	assert_null(j.jwk);
	assert_int_equal(j.payload_len, 0);
	assert_string_equal((char *)j.payload, "");
	assert_int_equal(jws_verify(&j, pub, err, sizeof(err)), JWS_OK);
	jws_free(&j);
	free(body);

	json_object_put(exported);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
}

static void
test_roundtrip_rsa2048(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

	(void)state;
	roundtrip(key, "RS256");
	EVP_PKEY_free(key);
}

static void
test_roundtrip_p256(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	(void)state;
	roundtrip(key, "ES256");
	EVP_PKEY_free(key);
}

static void
test_roundtrip_p384(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	(void)state;
	roundtrip(key, "ES384");
	EVP_PKEY_free(key);
}

static void
test_roundtrip_p521(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");

	(void)state;
	/* Enough signatures that some R or S has leading zero bytes, which
	 * the fixed-size encoding must keep. */
	for (int i = 0; i < 16; i++)
		roundtrip(key, "ES512");
	EVP_PKEY_free(key);
}

static void
test_roundtrip_ed25519(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)state;
	roundtrip(key, "EdDSA");
	EVP_PKEY_free(key);
}

static void
test_algorithms_list(void **state)
{
	size_t n = 0;

	(void)state;
	for (; jws_algorithms[n] != NULL; n++) {
		char *hdr, *body;
		struct jws j;

		assert_true(asprintf(&hdr, "{\"alg\":\"%s\",\"kid\":\"" KID "\"," H_REST "}",
		    jws_algorithms[n]) > 0);
		body = flat_clear(hdr, "", "AAAA");
		assert_int_equal(parse_body(body, &j), JWS_OK);
		jws_free(&j);
		free(body);
		free(hdr);
	}
	assert_int_equal(n, 5);
}

static const unsigned char eab_key[32] = {
	0x9d, 0x47, 0x1c, 0x3e, 0x51, 0xa2, 0x08, 0x6f, 0xe4, 0x33, 0x7b, 0xc0,
	0x12, 0x5a, 0x99, 0xd1, 0x6e, 0x20, 0x84, 0xbf, 0x07, 0x3c, 0xaa, 0x45,
	0xf8, 0x61, 0x2d, 0x90, 0xce, 0x15, 0x7a, 0x03,
};

/* The newAccount flow: the EAB rides in the payload of the outer JWS, and
 * its own payload is the key that signed the outer one. */
static void
test_eab(void **state)
{
	EVP_PKEY *acct = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *pub;
	json_object *jwk = jwk_export(acct), *payload, *eab, *inner;
	char *eab_text = jws_sign_hs256(eab_key, sizeof(eab_key), "kid-1", URL,
	    jsonx_print(jwk));
	char *outer_payload, *body, err[256];
	unsigned char wrong[sizeof(eab_key)];
	struct jws outer, j;

	(void)state;
	assert_non_null(eab_text);
	assert_true(asprintf(&outer_payload, "{\"termsOfServiceAgreed\":true,"
	    "\"externalAccountBinding\":%s}", eab_text) > 0);
	body = jws_sign(acct, URL, NONCE, NULL, outer_payload);
	assert_int_equal(parse_body(body, &outer), JWS_OK);
	payload = jsonx_parse((char *)outer.payload, outer.payload_len, JWS_BODY_MAX,
	    NULL, 0);
	assert_non_null(eab = jsonx_get_object(payload, "externalAccountBinding"));

	assert_int_equal(jws_parse_eab(eab, &j, err, sizeof(err)), JWS_OK);
	assert_string_equal(j.alg, "HS256");
	assert_string_equal(j.kid, "kid-1");
	assert_string_equal(j.url, outer.url);
	assert_null(j.nonce);
	assert_int_equal(jws_verify_hs256(&j, eab_key, sizeof(eab_key)), JWS_OK);
	memcpy(wrong, eab_key, sizeof(wrong));
	wrong[31] ^= 0x80;
	assert_int_equal(jws_verify_hs256(&j, wrong, sizeof(wrong)), JWS_BAD_SIGNATURE);
	assert_int_equal(jws_verify_hs256(&j, eab_key, 16), JWS_BAD_SIGNATURE);
	/* A MAC cut short is no MAC, even where it matches. */
	j.sig_len = 16;
	assert_int_equal(jws_verify_hs256(&j, eab_key, sizeof(eab_key)), JWS_BAD_SIGNATURE);
	j.sig_len = 32;

	inner = jsonx_parse((char *)j.payload, j.payload_len, JWS_BODY_MAX, NULL, 0);
	assert_int_equal(jwk_import(inner, &pub, NULL, 0), JWS_OK);
	assert_true(jwk_equal(pub, acct));
	/* An account key's signature is no MAC. */
	assert_int_equal(jws_verify_hs256(&outer, eab_key, sizeof(eab_key)), JWS_BAD_ALG);

	EVP_PKEY_free(pub);
	json_object_put(inner);
	jws_free(&j);
	jws_free(&outer);
	json_object_put(payload);
	free(body);
	free(outer_payload);
	free(eab_text);
	json_object_put(jwk);
	EVP_PKEY_free(acct);
}

static void
test_eab_errors(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char *text;
	struct jws j;

	(void)state;
	/* Whatever the struct held, a failed parse leaves it empty. */
	memset(&j, 0xa5, sizeof(j));
	assert_int_equal(parse_with(jws_parse_eab, "{\"payload\":\"\"}", &j), JWS_MALFORMED);
	assert_null(j.header);
	jws_free(&j);
	/* Signed with a key instead of a MAC. */
	text = jws_sign(key, URL, NULL, "kid-1", "{}");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_BAD_ALG);
	free(text);
	text = flat_clear("{\"alg\":\"HS256\",\"kid\":\"kid-1\",\"url\":\"" URL "\","
	    "\"nonce\":\"" NONCE "\"}", "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_MALFORMED);
	free(text);
	text = flat_clear("{\"alg\":\"HS256\",\"url\":\"" URL "\"}", "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_MALFORMED);
	free(text);
	text = flat_clear("{\"alg\":\"HS256\",\"kid\":\"kid-1\"," H_JWK ",\"url\":\""
	    URL "\"}", "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_MALFORMED);
	free(text);
	text = flat_clear("{\"alg\":\"HS256\",\"kid\":\"kid-1\"}", "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_MALFORMED);
	free(text);
	text = flat_clear("{\"alg\":\"HS256\",\"kid\":\"kid-1\",\"url\":\"" URL "\"}",
	    "{}", "AAAA");
	assert_int_equal(parse_with(jws_parse_eab, text, &j), JWS_OK);
	assert_int_equal(jws_verify_hs256(&j, eab_key, sizeof(eab_key)), JWS_BAD_SIGNATURE);
	jws_free(&j);
	free(text);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a1_hs256),
		cmocka_unit_test(test_rfc7515_a2_rs256),
		cmocka_unit_test(test_rfc7515_a3_es256),
		cmocka_unit_test(test_rfc8037_ed25519),
		cmocka_unit_test(test_rfc7638_thumbprint),
		cmocka_unit_test(test_key_authorization),
		cmocka_unit_test(test_rsa_key_checks),
		cmocka_unit_test(test_ec_key_checks),
		cmocka_unit_test(test_okp_and_other_key_checks),
		cmocka_unit_test(test_okp_small_order),
		cmocka_unit_test(test_alg_key_mismatch),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_body_errors),
		cmocka_unit_test(test_size_bounds),
		cmocka_unit_test(test_ecdsa_signature_length),
		cmocka_unit_test(test_roundtrip_rsa2048),
		cmocka_unit_test(test_roundtrip_p256),
		cmocka_unit_test(test_roundtrip_p384),
		cmocka_unit_test(test_roundtrip_p521),
		cmocka_unit_test(test_roundtrip_ed25519),
		cmocka_unit_test(test_algorithms_list),
		cmocka_unit_test(test_eab),
		cmocka_unit_test(test_eab_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
