#include "jws.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "b64.h"
#include "buf.h"
#include "jsonx.h"
#include "pkey.h"

/* Longest base64url spelling of n bytes. */
#define B64URL_LEN(n)   (((n) * 4 + 2) / 3)
#define B64URL_ALPHABET \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define JWK_CANON_MAX   4096                    /* thumbprint input */

const char *const jws_algorithms[] = {
	"RS256", "ES256", "ES384", "ES512", "EdDSA", NULL
};

static const struct jws_alg jws_algs[] = {
	{ "RS256", "RSA", NULL, "RSA", NULL, "SHA256", 0 },
	{ "ES256", "EC", "P-256", "EC", "prime256v1", "SHA256", 32 },
	{ "ES384", "EC", "P-384", "EC", "secp384r1", "SHA384", 48 },
	{ "ES512", "EC", "P-521", "EC", "secp521r1", "SHA512", 66 },
	{ "EdDSA", "OKP", "Ed25519", "ED25519", NULL, NULL, 32 },
};
#define JWS_NALGS (sizeof(jws_algs) / sizeof(jws_algs[0]))

/* RFC 7638 3.2: the members a thumbprint covers, in lexicographic order. */
static const struct {
	const char *kty;
	const char *members[5];
} jwk_required[] = {
	{ "EC", { "crv", "kty", "x", "y", NULL } },
	{ "OKP", { "crv", "kty", "x", NULL } },
	{ "RSA", { "e", "kty", "n", NULL } },
};

/* RFC 7517/7518 private members: their presence means a private key. */
static const char *const jwk_private[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

static enum jws_err jws_fail(enum jws_err, char *, size_t, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static enum jws_err
jws_fail(enum jws_err rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const struct jws_alg *
jws_alg_by_name(const char *alg)
{
	for (size_t i = 0; alg != NULL && i < JWS_NALGS; i++)
		if (strcmp(jws_algs[i].alg, alg) == 0)
			return &jws_algs[i];
	return NULL;
}

static const struct jws_alg *
jws_alg_by_curve(const char *kty, const char *crv)
{
	for (size_t i = 0; kty != NULL && crv != NULL && i < JWS_NALGS; i++)
		if (jws_algs[i].crv != NULL && strcmp(jws_algs[i].kty, kty) == 0 &&
		    strcmp(jws_algs[i].crv, crv) == 0)
			return &jws_algs[i];
	return NULL;
}

const struct jws_alg *
jws_alg_of_key(EVP_PKEY *key)
{
	char group[32] = "";

	if (key == NULL)
		return NULL;
	if (EVP_PKEY_is_a(key, "EC") &&
	    !EVP_PKEY_get_group_name(key, group, sizeof(group), NULL))
		return NULL;
	for (size_t i = 0; i < JWS_NALGS; i++) {
		const struct jws_alg *a = &jws_algs[i];

		if (EVP_PKEY_is_a(key, a->type) &&
		    (a->group == NULL || strcmp(a->group, group) == 0))
			return a;
	}
	return NULL;
}

/* A string member and its length (which counts any "\u0000" in it). */
static const char *
jws_string(json_object *obj, const char *key, size_t *len)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/*
 * A header member that must be a non-empty bounded string when present;
 * -1 otherwise.  An embedded NUL is refused: callers compare these with
 * strcmp, which would stop short of what was signed.
 */
static int
jws_header_string(json_object *h, const char *key, const char **out)
{
	size_t len;

	*out = NULL;
	if (!json_object_object_get_ex(h, key, NULL))
		return 0;
	if ((*out = jws_string(h, key, &len)) == NULL || len == 0 ||
	    len > JWS_FIELD_MAX || strlen(*out) != len) {
		*out = NULL;
		return -1;
	}
	return 0;
}

static enum jws_err
jws_header_fields(struct jws *j, char *err, size_t errlen)
{
	json_object *h = j->header;

	if (json_object_object_get_ex(h, "crit", NULL))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS header \"crit\": no extension is supported");
	if (jws_header_string(h, "alg", &j->alg) != 0 || j->alg == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS header needs a string \"alg\"");
	if (jws_header_string(h, "nonce", &j->nonce) != 0 ||
	    jws_header_string(h, "url", &j->url) != 0 ||
	    jws_header_string(h, "kid", &j->kid) != 0)
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS header \"nonce\", "
		    "\"url\" and \"kid\" must be strings of 1 to %d bytes", JWS_FIELD_MAX);
	if (json_object_object_get_ex(h, "jwk", &j->jwk) &&
	    !json_object_is_type(j->jwk, json_type_object))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS header \"jwk\" must be an object");
	return JWS_OK;
}

static enum jws_err
jws_decode_header(const char *b64, size_t len, struct jws *out, char *err,
    size_t errlen)
{
	unsigned char *raw;
	size_t rawlen;
	char jerr[128];

	if ((raw = b64url_decode(b64, len, &rawlen)) == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS protected header is not base64url");
	out->header = jsonx_parse((const char *)raw, rawlen, JWS_HEADER_MAX, jerr,
	    sizeof(jerr));
	free(raw);
	if (out->header == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS protected header: %s", jerr);
	if (!json_object_is_type(out->header, json_type_object))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS protected header is not a JSON object");
	return jws_header_fields(out, err, errlen);
}

static enum jws_err
jws_check_members(json_object *obj, char *err, size_t errlen)
{
	if (!json_object_is_type(obj, json_type_object))
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS is not a JSON object");
	if (json_object_object_get_ex(obj, "signatures", NULL))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "general JWS serialization: use the flattened one");
	if (json_object_object_get_ex(obj, "header", NULL))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS unprotected header is not allowed");
	if (jsonx_get_string(obj, "protected") == NULL ||
	    jsonx_get_string(obj, "payload") == NULL ||
	    jsonx_get_string(obj, "signature") == NULL ||
	    json_object_object_length(obj) != 3)
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS needs exactly "
		    "\"protected\", \"payload\" and \"signature\" strings");
	return JWS_OK;
}

static enum jws_err
jws_decode(json_object *obj, struct jws *out, char *err, size_t errlen)
{
	size_t plen = 0, ylen = 0, slen = 0;
	const char *prot = jws_string(obj, "protected", &plen);
	const char *payload = jws_string(obj, "payload", &ylen);
	const char *sig = jws_string(obj, "signature", &slen);
	enum jws_err rc;

	if ((rc = jws_decode_header(prot, plen, out, err, errlen)) != JWS_OK)
		return rc;
	if ((out->payload = b64url_decode(payload, ylen, &out->payload_len)) == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS payload is not base64url");
	if (slen == 0 || (out->sig = b64url_decode(sig, slen, &out->sig_len)) == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS signature is empty or not base64url");
	if (asprintf(&out->signing_input, "%s.%s", prot, payload) < 0) {
		out->signing_input = NULL;
		return jws_fail(JWS_MALFORMED, err, errlen, "out of memory");
	}
	return JWS_OK;
}

enum jws_err
jws_parse_object(json_object *obj, struct jws *out, char *err, size_t errlen)
{
	enum jws_err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = jws_check_members(obj, err, errlen)) != JWS_OK)
		return rc;
	if ((rc = jws_decode(obj, out, err, errlen)) != JWS_OK)
		jws_free(out);
	return rc;
}

/* RFC 8555 6.2 and 6.4: what every ACME JWS has beyond RFC 7515. */
static enum jws_err
jws_check_acme(const struct jws *j, char *err, size_t errlen)
{
	if (jws_alg_by_name(j->alg) == NULL)
		return jws_fail(JWS_BAD_ALG, err, errlen,
		    "JWS alg must be one of RS256, ES256, ES384, ES512, EdDSA");
	if ((j->jwk == NULL) == (j->kid == NULL))
		return jws_fail(JWS_MALFORMED, err, errlen,
		    "JWS header needs exactly one of \"jwk\" and \"kid\"");
	if (j->url == NULL)
		return jws_fail(JWS_MALFORMED, err, errlen, "JWS header has no \"url\"");
	return JWS_OK;
}

enum jws_err
jws_parse(const char *body, size_t len, struct jws *out, char *err, size_t errlen)
{
	json_object *obj;
	enum jws_err rc;

	memset(out, 0, sizeof(*out));
	if ((obj = jsonx_parse(body, len, JWS_BODY_MAX, err, errlen)) == NULL)
		return JWS_MALFORMED;
	rc = jws_parse_object(obj, out, err, errlen);
	json_object_put(obj);
	if (rc == JWS_OK && (rc = jws_check_acme(out, err, errlen)) != JWS_OK)
		jws_free(out);
	return rc;
}

enum jws_err
jws_parse_eab(json_object *eab, struct jws *out, char *err, size_t errlen)
{
	enum jws_err rc;

	if ((rc = jws_parse_object(eab, out, err, errlen)) != JWS_OK)
		return rc;
	if (strcmp(out->alg, "HS256") != 0)
		rc = jws_fail(JWS_BAD_ALG, err, errlen,
		    "external account binding alg must be HS256");
	else if (out->kid == NULL || out->url == NULL || out->jwk != NULL ||
	    out->nonce != NULL)
		rc = jws_fail(JWS_MALFORMED, err, errlen, "external account binding "
		    "needs \"kid\" and \"url\", and no \"jwk\" nor \"nonce\"");
	if (rc != JWS_OK)
		jws_free(out);
	return rc;
}

void
jws_free(struct jws *j)
{
	json_object_put(j->header);
	free(j->payload);
	free(j->signing_input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

/*
 * A base64url member of at most max bytes, decoded; NULL when absent, not a
 * string, too long or not canonical base64url.  The length is checked on
 * the text, so an oversized key costs nothing to refuse.
 */
static unsigned char *
jwk_member(json_object *jwk, const char *name, size_t max, size_t *len)
{
	const char *s;
	size_t slen;

	if ((s = jws_string(jwk, name, &slen)) == NULL || slen == 0 ||
	    slen > B64URL_LEN(max))
		return NULL;
	return b64url_decode(s, slen, len);
}

/* A minimally encoded unsigned integer member, as RFC 7518 6.3.1 wants. */
static BIGNUM *
jwk_bn(json_object *jwk, const char *name, size_t max)
{
	unsigned char *raw;
	size_t len;
	BIGNUM *bn = NULL;

	if ((raw = jwk_member(jwk, name, max, &len)) == NULL)
		return NULL;
	if (len > 0 && raw[0] != 0)
		bn = BN_bin2bn(raw, (int)len, NULL);
	free(raw);
	return bn;
}

static const char *
jwk_rsa_weak(const BIGNUM *n, const BIGNUM *e)
{
	if (BN_num_bits(n) < JWK_RSA_MIN_BITS)
		return "RSA key under 2048 bits";
	if (!BN_is_odd(n))
		return "RSA modulus is even";
	if (!BN_is_odd(e) || BN_num_bits(e) < 2)
		return "RSA exponent must be odd and at least 3";
	return NULL;
}

static enum jws_err
jwk_import_rsa(json_object *jwk, EVP_PKEY **out, char *err, size_t errlen)
{
	BIGNUM *n = NULL, *e = NULL;
	const char *why;
	enum jws_err rc = JWS_OK;

	if ((n = jwk_bn(jwk, "n", JWK_RSA_MAX_BITS / 8)) == NULL ||
	    (e = jwk_bn(jwk, "e", 4)) == NULL)
		why = "RSA key needs minimal base64url \"n\" of at most 8192 bits "
		    "and \"e\" of at most 32 bits";
	else
		why = jwk_rsa_weak(n, e);
	if (why != NULL)
		rc = jws_fail(JWS_BAD_KEY, err, errlen, "%s", why);
	else if ((*out = pkey_rsa_public(n, e)) == NULL)
		rc = jws_fail(JWS_BAD_KEY, err, errlen, "invalid RSA public key");
	BN_free(n);
	BN_free(e);
	return rc;
}

/* Appends member name, of exactly size bytes, to buf at *off. */
static bool
jwk_coord(json_object *jwk, const char *name, size_t size, unsigned char *buf,
    size_t *off)
{
	unsigned char *raw;
	size_t len;

	if ((raw = jwk_member(jwk, name, size, &len)) == NULL)
		return false;
	if (len == size) {
		memcpy(buf + *off, raw, size);
		*off += size;
	}
	free(raw);
	return len == size;
}

static enum jws_err
jwk_import_curve(json_object *jwk, const struct jws_alg *a, EVP_PKEY **out,
    char *err, size_t errlen)
{
	unsigned char pub[1 + 2 * JWK_COORD_MAX];
	size_t publen = 0;
	bool ec = a->group != NULL;

	if (ec)
		pub[publen++] = POINT_CONVERSION_UNCOMPRESSED;
	if (!jwk_coord(jwk, "x", a->size, pub, &publen) ||
	    (ec && !jwk_coord(jwk, "y", a->size, pub, &publen)))
		return jws_fail(JWS_BAD_KEY, err, errlen, "%s key needs %s of %zu bytes",
		    a->crv, ec ? "\"x\" and \"y\"" : "\"x\"", a->size);
	if (!ec && pkey_ed25519_small_order(pub))
		return jws_fail(JWS_BAD_KEY, err, errlen, "%s key is a point of small order",
		    a->crv);
	/* Import is the curve check: pkey_public refuses a point off the curve. */
	if ((*out = pkey_public(a->type, a->group, pub, publen)) == NULL)
		return jws_fail(JWS_BAD_KEY, err, errlen, "invalid %s public key", a->type);
	return JWS_OK;
}

static bool
jwk_is_private(json_object *jwk)
{
	for (size_t i = 0; jwk_private[i] != NULL; i++)
		if (json_object_object_get_ex(jwk, jwk_private[i], NULL))
			return true;
	return false;
}

enum jws_err
jwk_import(json_object *jwk, EVP_PKEY **out, char *err, size_t errlen)
{
	const struct jws_alg *a;
	const char *kty = jsonx_get_string(jwk, "kty");

	*out = NULL;
	if (kty == NULL)
		return jws_fail(JWS_BAD_KEY, err, errlen, "JWK has no \"kty\"");
	if (jwk_is_private(jwk))
		return jws_fail(JWS_BAD_KEY, err, errlen, "JWK holds a private key");
	if (strcmp(kty, "RSA") == 0)
		return jwk_import_rsa(jwk, out, err, errlen);
	if ((a = jws_alg_by_curve(kty, jsonx_get_string(jwk, "crv"))) == NULL)
		return jws_fail(JWS_BAD_KEY, err, errlen, "JWK must be RSA, "
		    "EC P-256, P-384, P-521 or OKP Ed25519");
	return jwk_import_curve(jwk, a, out, err, errlen);
}

/* The DER signature OpenSSL takes, from the R||S of RFC 7518 3.4. */
static unsigned char *
jws_ecdsa_der(const unsigned char *raw, size_t len, size_t *derlen)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int n;

	if ((es = ECDSA_SIG_new()) == NULL)
		return NULL;
	r = BN_bin2bn(raw, (int)(len / 2), NULL);
	s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	if (r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
	} else if ((n = i2d_ECDSA_SIG(es, &der)) > 0)
		*derlen = (size_t)n;
	ECDSA_SIG_free(es);
	return der;
}

static bool
jws_digest_verify(const struct jws_alg *a, EVP_PKEY *key, const unsigned char *sig,
    size_t siglen, const char *input)
{
	EVP_MD_CTX *ctx;
	bool ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit_ex(ctx, NULL, a->md, NULL, NULL, key, NULL) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input,
	    strlen(input)) == 1;
	EVP_MD_CTX_free(ctx);
	/* A bad signature is an expected outcome, not an error to report
	 * later from an unrelated OpenSSL call. */
	ERR_clear_error();
	return ok;
}

struct jws_verifier {
	EVP_PKEY *key;
	const struct jws_alg *alg;
	EVP_MD *md;             /* NULL for EdDSA, which has no pre-hashed form */
	EVP_PKEY_CTX *ctx;      /* verifies a digest made with md */
};

static int
jws_verifier_setup(struct jws_verifier *v, EVP_PKEY *key, const struct jws_alg *a)
{
	memset(v, 0, sizeof(*v));
	if (EVP_PKEY_up_ref(key) != 1)
		return -1;
	v->key = key;
	v->alg = a;
	if (a->md == NULL)
		return 0;
	if ((v->md = EVP_MD_fetch(NULL, a->md, NULL)) == NULL ||
	    (v->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_verify_init(v->ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(v->ctx, v->md) != 1)
		return -1;
	return 0;
}

static void
jws_verifier_clear(struct jws_verifier *v)
{
	EVP_PKEY_CTX_free(v->ctx);
	EVP_MD_free(v->md);
	EVP_PKEY_free(v->key);
	memset(v, 0, sizeof(*v));
}

struct jws_verifier *
jws_verifier_new(EVP_PKEY *key)
{
	const struct jws_alg *a = jws_alg_of_key(key);
	struct jws_verifier *v;

	if (a == NULL || (v = malloc(sizeof(*v))) == NULL)
		return NULL;
	if (jws_verifier_setup(v, key, a) != 0) {
		jws_verifier_free(v);
		return NULL;
	}
	return v;
}

void
jws_verifier_free(struct jws_verifier *v)
{
	if (v == NULL)
		return;
	jws_verifier_clear(v);
	free(v);
}

EVP_PKEY *
jws_verifier_key(const struct jws_verifier *v)
{
	return v->key;
}

/* The context only ever verifies a digest, so a failed verification leaves
 * nothing in it for the next. */
static bool
jws_verifier_check(struct jws_verifier *v, const unsigned char *sig, size_t siglen,
    const char *input)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	bool ok;

	if (v->ctx == NULL)
		return jws_digest_verify(v->alg, v->key, sig, siglen, input);
	ok = EVP_Digest(input, strlen(input), md, &mdlen, v->md, NULL) == 1 &&
	    EVP_PKEY_verify(v->ctx, sig, siglen, md, mdlen) == 1;
	ERR_clear_error();
	return ok;
}

enum jws_err
jws_verify_with(const struct jws *j, struct jws_verifier *v, char *err, size_t errlen)
{
	const struct jws_alg *a = v->alg;
	const unsigned char *sig = j->sig;
	unsigned char *der = NULL;
	size_t siglen = j->sig_len;
	bool ok;

	if (j->alg == NULL || strcmp(j->alg, a->alg) != 0)
		return jws_fail(JWS_BAD_ALG, err, errlen,
		    "JWS alg must be %s for this key", a->alg);
	if (a->group != NULL) {
		if (j->sig_len != 2 * a->size)
			return jws_fail(JWS_BAD_SIGNATURE, err, errlen,
			    "%s signature must be R||S of %zu bytes", a->alg, 2 * a->size);
		if ((der = jws_ecdsa_der(j->sig, j->sig_len, &siglen)) == NULL)
			return jws_fail(JWS_BAD_SIGNATURE, err, errlen, "out of memory");
		sig = der;
	}
	ok = jws_verifier_check(v, sig, siglen, j->signing_input);
	OPENSSL_free(der);
	if (!ok)
		return jws_fail(JWS_BAD_SIGNATURE, err, errlen,
		    "JWS signature does not verify");
	return JWS_OK;
}

enum jws_err
jws_verify(const struct jws *j, EVP_PKEY *key, char *err, size_t errlen)
{
	const struct jws_alg *a = jws_alg_of_key(key);
	struct jws_verifier v;
	enum jws_err e;

	if (a == NULL)
		return jws_fail(JWS_BAD_ALG, err, errlen, "the key fits no JWS alg");
	if (jws_verifier_setup(&v, key, a) != 0)
		e = jws_fail(JWS_BAD_SIGNATURE, err, errlen, "out of memory");
	else
		e = jws_verify_with(j, &v, err, errlen);
	jws_verifier_clear(&v);
	return e;
}

bool
jws_hmac(const unsigned char *key, size_t keylen, const char *input,
    unsigned char *mac, size_t *maclen)
{
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
	    (const unsigned char *)input, strlen(input), mac, EVP_MAX_MD_SIZE,
	    maclen) != NULL;
}

enum jws_err
jws_verify_hs256(const struct jws *j, const unsigned char *key, size_t keylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen;

	if (j->alg == NULL || strcmp(j->alg, "HS256") != 0)
		return JWS_BAD_ALG;
	if (!jws_hmac(key, keylen, j->signing_input, mac, &maclen) ||
	    j->sig_len != maclen || CRYPTO_memcmp(mac, j->sig, maclen) != 0)
		return JWS_BAD_SIGNATURE;
	return JWS_OK;
}

/* A member that needs no JSON escaping: base64url text, or a kty or crv. */
static const char *
jwk_plain_member(json_object *jwk, const char *name)
{
	const char *s;
	size_t len;

	if ((s = jws_string(jwk, name, &len)) == NULL || len == 0 ||
	    strspn(s, B64URL_ALPHABET) != len)
		return NULL;
	return s;
}

static const char *const *
jwk_thumbprint_members(const char *kty)
{
	for (size_t i = 0; kty != NULL &&
	    i < sizeof(jwk_required) / sizeof(jwk_required[0]); i++)
		if (strcmp(jwk_required[i].kty, kty) == 0)
			return jwk_required[i].members;
	return NULL;
}

int
jwk_thumbprint(json_object *jwk, char *out, size_t outlen)
{
	const char *const *m = jwk_thumbprint_members(jsonx_get_string(jwk, "kty"));
	unsigned char md[EVP_MAX_MD_SIZE];
	char *enc = NULL;
	size_t mdlen;
	struct buf b;
	int rc = -1;

	if (m == NULL || outlen < JWK_THUMBPRINT_LEN + 1)
		return -1;
	buf_init(&b, JWK_CANON_MAX);
	for (size_t i = 0; m[i] != NULL; i++) {
		const char *v = jwk_plain_member(jwk, m[i]);

		if (v == NULL)
			goto done;
		buf_printf(&b, "%c\"%s\":\"%s\"", i == 0 ? '{' : ',', m[i], v);
	}
	if (!buf_adds(&b, "}") ||
	    !EVP_Q_digest(NULL, "SHA256", NULL, b.data, b.len, md, &mdlen) ||
	    (enc = b64url_encode(md, mdlen)) == NULL)
		goto done;
	snprintf(out, outlen, "%s", enc);
	rc = 0;
done:
	buf_free(&b);
	free(enc);
	return rc;
}

char *
jwk_key_authorization(const char *token, const char *thumbprint)
{
	char *s;

	if (asprintf(&s, "%s.%s", token, thumbprint) < 0)
		return NULL;
	return s;
}

bool
jwk_equal(EVP_PKEY *a, EVP_PKEY *b)
{
	return a != NULL && b != NULL && EVP_PKEY_eq(a, b) == 1;
}
