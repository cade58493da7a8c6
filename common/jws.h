/*
 * JSON Web Signature as ACME uses it (RFC 8555 6.2 over RFC 7515): the
 * flattened JSON serialization only, public keys as JWKs (RFC 7517, 7518,
 * 8037), thumbprints (RFC 7638), and the HS256 MAC of external account
 * binding.  Parsing and verifying are separate steps because the key comes
 * either from the header ("jwk") or from the store ("kid").
 */
#ifndef UPKI_JWS_H
#define UPKI_JWS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#define JWS_BODY_MAX            (64 * 1024)     /* a whole JWS request body */
#define JWS_HEADER_MAX          (8 * 1024)      /* decoded protected header */
#define JWS_FIELD_MAX           1024            /* "nonce", "url", "kid" */
#define JWK_RSA_MIN_BITS        2048
#define JWK_RSA_MAX_BITS        8192            /* verification cost bound */
#define JWK_THUMBPRINT_LEN      43              /* base64url of SHA-256 */

enum jws_err {
	JWS_OK = 0,
	JWS_MALFORMED,          /* ACME "malformed": not a flattened JWS, bad base64url, bad header */
	JWS_BAD_ALG,            /* ACME "badSignatureAlgorithm" */
	JWS_BAD_KEY,            /* ACME "badPublicKey": weak or invalid JWK */
	JWS_BAD_SIGNATURE,      /* signature does not verify (ACME "malformed" per RFC 8555 6.2) */
};

/* The algorithms accepted, for the "algorithms" field of badSignatureAlgorithm. */
extern const char *const jws_algorithms[];   /* "RS256","ES256","ES384","ES512","EdDSA", NULL */

struct jws {
	json_object *header;      /* parsed protected header (owned) */
	const char *alg, *nonce, *url, *kid;   /* borrowed from header; NULL if absent */
	json_object *jwk;         /* borrowed from header; NULL if absent */
	unsigned char *payload;   /* decoded payload, NUL-terminated (owned) */
	size_t payload_len;       /* 0 for POST-as-GET (payload "") */
	char *signing_input;      /* "protected.payload" as sent (owned) */
	unsigned char *sig;       /* decoded signature (owned) */
	size_t sig_len;
};

/*
 * Parses an ACME request body: a flattened JSON serialization (RFC 7515
 * 7.2.2), an object with exactly "protected", "payload" and "signature"; a
 * "header" member or "signatures" (general serialization) is refused (RFC
 * 8555 6.2).  The protected header is a JSON object with a string "alg";
 * "nonce", "url", "kid" are strings of 1 to JWS_FIELD_MAX bytes when present
 * and "jwk" is an object; "crit" is refused (no extension is understood).
 * Beyond RFC 7515: "url" is required (RFC 8555 6.4) and exactly one of
 * "jwk" and "kid" is present, else JWS_MALFORMED; an alg not in
 * jws_algorithms gives JWS_BAD_ALG.  "nonce" is left to the caller, since
 * the inner JWS of a key change has none.  err gets a reason fit for a
 * problem document's "detail"; on failure *out is left empty.
 */
enum jws_err jws_parse(const char *body, size_t len, struct jws *out, char *err,
    size_t errlen);
/* Safe on a struct that a parse left empty. */
void jws_free(struct jws *j);

/*
 * The structural half of jws_parse, on a JWS already parsed as JSON: the
 * members, base64url and header types, with no rule on "alg" nor on
 * "jwk"/"kid"/"url".  jws_parse and jws_parse_eab add their rules on top;
 * the published test vectors, whose headers carry only "alg", use it alone.
 */
enum jws_err jws_parse_object(json_object *obj, struct jws *out, char *err,
    size_t errlen);

/*
 * Imports a public JWK: RSA (n, e; 2048 to 8192 bits, odd modulus, odd
 * exponent of 3 to 2^32 - 1, both minimally encoded so that a key has one
 * JWK), EC (crv P-256, P-384, P-521; x and y of exactly the coordinate size;
 * the point on the curve), OKP (crv Ed25519, x of 32 bytes, not a point of
 * small order).  Any other kty or crv, or private members ("d", "p", ...)
 * -> JWS_BAD_KEY.
 */
enum jws_err jwk_import(json_object *jwk, EVP_PKEY **out, char *err, size_t errlen);

/*
 * Checks that alg fits the key (RS256 with RSA; ES256 with P-256, ES384 with
 * P-384, ES512 with P-521; EdDSA with Ed25519), else JWS_BAD_ALG, then
 * verifies the signature over signing_input, else JWS_BAD_SIGNATURE.  ECDSA
 * signatures are the raw R||S of RFC 7518 3.4, of exactly twice the
 * coordinate size.
 */
enum jws_err jws_verify(const struct jws *j, EVP_PKEY *key, char *err, size_t errlen);

/*
 * A key made ready to verify many JWS, as an account's key is: its alg is
 * found and its verification context set up once (jws_verify does both at
 * every call, about a tenth of an ES256 verification).  jws_verifier_new
 * takes a reference of key; NULL when the key fits no alg or out of memory.
 * jws_verify_with checks as jws_verify does.
 */
struct jws_verifier;
struct jws_verifier *jws_verifier_new(EVP_PKEY *key);
void jws_verifier_free(struct jws_verifier *v);
EVP_PKEY *jws_verifier_key(const struct jws_verifier *v);
enum jws_err jws_verify_with(const struct jws *j, struct jws_verifier *v, char *err,
    size_t errlen);

/*
 * External account binding (RFC 8555 7.3.4): the "externalAccountBinding"
 * object of a newAccount payload.  Structure as jws_parse_object; then alg
 * must be "HS256" (else JWS_BAD_ALG, which the caller reports as
 * "malformed": jws_algorithms does not apply here), "kid" and "url" present,
 * "jwk" and "nonce" absent (else JWS_MALFORMED).  The caller compares "url"
 * with the outer one and the payload with the account key.
 */
enum jws_err jws_parse_eab(json_object *eab, struct jws *out, char *err, size_t errlen);
/* JWS_OK when alg is "HS256" and the MAC matches (compared in constant
 * time); JWS_BAD_ALG or JWS_BAD_SIGNATURE otherwise. */
enum jws_err jws_verify_hs256(const struct jws *j, const unsigned char *key, size_t keylen);

/* RFC 7638 thumbprint: base64url(SHA-256(the required members in
 * lexicographic order, no whitespace)) -> out (at least
 * JWK_THUMBPRINT_LEN + 1 bytes).  RSA, EC and OKP; -1 on anything else. */
int jwk_thumbprint(json_object *jwk, char *out, size_t outlen);

/* Key authorization (RFC 8555 8.1): token "." thumbprint, malloc'd. */
char *jwk_key_authorization(const char *token, const char *thumbprint);

/* Same public key?  (An account key must not be a certificate key, and a
 * key change must change the key.)  False when either is NULL. */
bool jwk_equal(EVP_PKEY *a, EVP_PKEY *b);

/* What each accepted alg needs of a key, and how a JWK names that key. */
struct jws_alg {
	const char *alg;
	const char *kty;        /* JWK "kty" */
	const char *crv;        /* JWK "crv"; NULL for RSA */
	const char *type;       /* OpenSSL key type */
	const char *group;      /* OpenSSL group name; NULL but for EC */
	const char *md;         /* NULL for EdDSA, which hashes by itself */
	size_t size;            /* EC coordinate or Ed25519 key bytes */
};

#define JWK_COORD_MAX 66        /* P-521 */

/* The alg a key goes with; NULL for a key no accepted alg takes. */
const struct jws_alg *jws_alg_of_key(EVP_PKEY *key);
/* HMAC-SHA256 of input, the MAC of external account binding (HS256). */
bool jws_hmac(const unsigned char *key, size_t keylen, const char *input,
    unsigned char *mac, size_t *maclen);

#endif
