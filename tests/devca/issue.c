/*
 * Making keys and certificates.  Every certificate, the CA's own included,
 * goes through issue_cert, so that they all carry the same extensions in
 * the same way: basicConstraints, keyUsage and extendedKeyUsage from the
 * profile, SKI/AKI, and the SANs as given.
 */
#include "devca.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>

#define ISSUE_SERIAL_BITS 159   /* positive and at most 20 octets, as RFC 5280 wants */

/* Only P-256 for "ec": every profile that asks for EC asks for 256 bits. */
EVP_PKEY *
issue_key(const struct profile *p)
{
	if (strcmp(p->key_type, "rsa") == 0)
		return EVP_RSA_gen((unsigned int)p->key_len);
	return EVP_EC_gen("P-256");
}

/* cn may be NULL: a CN-less CSR gets a subject of O only. */
X509_NAME *
issue_subject(const char *cn)
{
	X509_NAME *name;

	if ((name = X509_NAME_new()) == NULL)
		return NULL;
	if ((cn != NULL && X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)"uPKI", -1, -1, 0) != 1) {
		X509_NAME_free(name);
		return NULL;
	}
	return name;
}

static int
issue_serial(X509 *x)
{
	BIGNUM *bn;
	int rc = -1;

	if ((bn = BN_new()) == NULL)
		return -1;
	do {
		if (BN_rand(bn, ISSUE_SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
			goto done;
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
done:
	BN_free(bn);
	return rc;
}

static int
issue_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int rc;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

static int
issue_extensions(X509 *x, X509V3_CTX *ctx, const struct issue_req *req)
{
	const struct profile *p = req->profile;
	char ku[128];

	snprintf(ku, sizeof(ku), "critical,%s", p->key_usage);
	if (issue_ext(x, ctx, NID_basic_constraints, p->ca ? "critical,CA:TRUE" :
	    "critical,CA:FALSE") != 0 ||
	    issue_ext(x, ctx, NID_key_usage, ku) != 0 ||
	    (*p->eku != '\0' && issue_ext(x, ctx, NID_ext_key_usage, p->eku) != 0) ||
	    issue_ext(x, ctx, NID_subject_key_identifier, "hash") != 0 ||
	    issue_ext(x, ctx, NID_authority_key_identifier, "keyid:always") != 0)
		return -1;
	if (sk_GENERAL_NAME_num(req->sans) <= 0)
		return 0;
	/* The SAN list is only read; the API takes it without const. */
	return X509_add1_ext_i2d(x, NID_subject_alt_name, (GENERAL_NAMES *)req->sans, 0,
	    X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
}

/* The parameters of a key's algorithm, copied: an OID (EC's curve), a
 * SEQUENCE (explicit parameters), or none (RSA's NULL, Ed25519). */
static int
issue_algor_param(int ptype, const void *pval, void **out)
{
	*out = NULL;
	if (ptype == V_ASN1_OBJECT)
		*out = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		*out = ASN1_STRING_dup(pval);
	else if (ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF)
		return 0;
	return *out != NULL ? 0 : -1;
}

/* Puts spki into x as it is.  X509_set_pubkey would encode the key and
 * decode it again, each through OpenSSL 3's decoder framework: a fifth of
 * this CA's time per certificate. */
static int
issue_set_spki(X509 *x, const X509_PUBKEY *spki)
{
	const unsigned char *pk;
	ASN1_OBJECT *obj = NULL;
	const ASN1_OBJECT *alg;
	unsigned char *pub;
	const void *pval;
	void *param;
	X509_ALGOR *a;
	int ptype, len;

	if (X509_PUBKEY_get0_param(NULL, &pk, &len, &a, spki) != 1 || len <= 0)
		return -1;
	X509_ALGOR_get0(&alg, &ptype, &pval, a);
	if (issue_algor_param(ptype, pval, &param) != 0)
		return -1;
	if ((obj = OBJ_dup(alg)) == NULL || (pub = OPENSSL_memdup(pk, (size_t)len)) == NULL)
		goto fail;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), obj, ptype, param, pub, len) == 1)
		return 0;
	OPENSSL_free(pub);
fail:
	ASN1_OBJECT_free(obj);
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(param);
	else
		ASN1_STRING_free(param);
	return -1;
}

static int
issue_set_key(X509 *x, const struct issue_req *req)
{
	if (req->spki != NULL)
		return issue_set_spki(x, req->spki);
	return X509_set_pubkey(x, req->pubkey) == 1 ? 0 : -1;
}

/* issuer NULL: self-signed, req->pubkey being sign_key's own. */
X509 *
issue_cert(X509 *issuer, EVP_PKEY *sign_key, const struct issue_req *req)
{
	time_t now = time(NULL);
	X509V3_CTX ctx;
	X509 *x;

	if ((x = X509_new()) == NULL)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || issue_serial(x) != 0 ||
	    X509_set_subject_name(x, req->subject) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x)) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), req->days, req->seconds, &now) == NULL ||
	    issue_set_key(x, req) != 0)
		goto fail;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if (issue_extensions(x, &ctx, req) != 0 || X509_sign(x, sign_key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

X509 *
issue_self_signed(EVP_PKEY *key)
{
	struct issue_req req = { 0 };
	X509_NAME *subject;
	X509 *x;

	if ((subject = issue_subject("uPKI Dev CA")) == NULL)
		return NULL;
	req.subject = subject;
	req.pubkey = key;
	req.profile = profiles_find("ca");
	req.days = DEVCA_MAX_DAYS;
	x = issue_cert(NULL, key, &req);
	X509_NAME_free(subject);
	return x;
}
