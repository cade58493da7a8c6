#include "cert.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include "fsutil.h"
#include "pkey.h"

static char *
cert_bio_text(BIO *bio)
{
	char *data, *out;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0 || (out = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

char *
cert_crl_der_to_pem(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl;
	BIO *bio = NULL;
	char *out = NULL;

	if (len > CERT_PEM_MAX * 16 || (crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return NULL;
	if (p != der + len)     /* trailing bytes: not one CRL */
		goto done;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509_CRL(bio, crl))
		goto done;
	out = cert_bio_text(bio);
done:
	BIO_free(bio);
	X509_CRL_free(crl);
	return out;
}

unsigned char *
cert_crl_pem_to_der(const char *pem, size_t *len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_CRL *crl = bio != NULL ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n = crl != NULL ? i2d_X509_CRL(crl, &der) : -1;

	BIO_free(bio);
	X509_CRL_free(crl);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

X509 *
cert_from_pem(const char *pem)
{
	size_t len = strnlen(pem, CERT_PEM_MAX + 1);
	X509 *crt;
	BIO *bio;

	if (len > CERT_PEM_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return crt;
}

static EVP_PKEY *
cert_key_from_pem(const char *pem)
{
	size_t len = strnlen(pem, CERT_PEM_MAX + 1);
	EVP_PKEY *key;
	BIO *bio;

	if (len > CERT_PEM_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

bool
cert_key_matches(const char *cert_pem, const char *key_pem)
{
	X509 *crt = cert_from_pem(cert_pem);
	EVP_PKEY *key = cert_key_from_pem(key_pem);
	bool ok = crt != NULL && key != NULL && X509_check_private_key(crt, key) == 1;

	EVP_PKEY_free(key);
	X509_free(crt);
	return ok;
}

int
cert_serial_hex(const X509 *crt, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(crt), NULL);
	const char *p;
	char *hex;
	int rc = -1;

	if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto done;
	/* BN_bn2hex writes whole bytes ("0A1B"); one spelling per serial. */
	for (p = hex; *p == '0' && p[1] != '\0'; p++)
		;
	if (strlen(p) < outlen) {
		strcpy(out, p);
		rc = 0;
	}
	OPENSSL_free(hex);
done:
	BN_free(bn);
	return rc;
}

static int
cert_name_cn(const X509_NAME *name, char *out, size_t outlen)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	unsigned char *utf8;
	int n;

	if (i < 0)
		return -1;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if ((n = ASN1_STRING_to_UTF8(&utf8, s)) < 0)
		return -1;
	if ((size_t)n >= outlen || memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return -1;
	}
	memcpy(out, utf8, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(utf8);
	return 0;
}

int
cert_common_name(const X509 *crt, char *out, size_t outlen)
{
	return cert_name_cn(X509_get_subject_name(crt), out, outlen);
}

int
cert_req_common_name(X509_REQ *req, char *out, size_t outlen)
{
	return cert_name_cn(X509_REQ_get_subject_name(req), out, outlen);
}

bool
cert_same(X509 *crt, const char *pem)
{
	X509 *other = cert_from_pem(pem);
	bool same = other != NULL && X509_cmp(crt, other) == 0;

	X509_free(other);
	return same;
}

static time_t
cert_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

time_t
cert_not_before(const X509 *crt)
{
	return cert_time(X509_get0_notBefore(crt));
}

time_t
cert_not_after(const X509 *crt)
{
	return cert_time(X509_get0_notAfter(crt));
}

int
cert_subject_oneline(const X509 *crt, char *out, size_t outlen)
{
	return X509_NAME_oneline(X509_get_subject_name(crt), out, (int)outlen) != NULL ? 0 : -1;
}

bool
cert_signed_by(X509 *crt, X509 *ca)
{
	EVP_PKEY *cakey = X509_get0_pubkey(ca);

	return cakey != NULL &&
	    X509_NAME_cmp(X509_get_issuer_name(crt), X509_get_subject_name(ca)) == 0 &&
	    X509_verify(crt, cakey) == 1;
}

bool
cert_issued_by(const char *cert_pem, const char *ca_pem)
{
	X509 *crt = cert_from_pem(cert_pem), *ca = cert_from_pem(ca_pem);
	bool ok = crt != NULL && ca != NULL && cert_signed_by(crt, ca);

	X509_free(ca);
	X509_free(crt);
	return ok;
}

void
cert_file_free(struct cert_file *f)
{
	free(f->pem);
	X509_free(f->crt);
	memset(f, 0, sizeof(*f));
}

static bool
cert_file_same(const struct cert_file *f, const struct stat *st)
{
	return f->crt != NULL && f->dev == st->st_dev && f->ino == st->st_ino &&
	    f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int
cert_file_load(struct cert_file *f, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		cert_file_free(f);
		return -1;
	}
	if (cert_file_same(f, &st))
		return 0;
	/* The identity is the one seen before reading: a file replaced while
	 * it is read differs from it, and is read again next time. */
	cert_file_free(f);
	if ((f->pem = fs_read(path, CERT_PEM_MAX, NULL)) == NULL ||
	    (f->crt = cert_from_pem(f->pem)) == NULL) {
		cert_file_free(f);
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	return 0;
}

/*
 * OpenSSL 3.0 decodes the key of every certificate and CSR it parses, and
 * for that sets up its whole chain of decoders each time
 * (OSSL_DECODER_CTX_new_for_pkey), which costs most of a parse
 * (docs/PERFORMANCE.md has the figures).  Parsed in a library context that
 * has no provider, the key is left as it came, and cert_spki_key builds the
 * two kinds the RA accepts from their parameters.  The null provider keeps
 * OpenSSL from loading the default one into that context on first use.
 */
static OSSL_LIB_CTX *cert_bare;

static OSSL_LIB_CTX *
cert_bare_ctx(void)
{
	if (cert_bare == NULL && (cert_bare = OSSL_LIB_CTX_new()) != NULL &&
	    OSSL_PROVIDER_load(cert_bare, "null") == NULL) {
		OSSL_LIB_CTX_free(cert_bare);
		cert_bare = NULL;
	}
	return cert_bare;
}

/* One DER object of type it, all of der and nothing after it. */
static void *
cert_bare_d2i(const unsigned char *der, size_t len, const ASN1_ITEM *it)
{
	const unsigned char *p = der;
	ASN1_VALUE *v;

	if (len > CERT_PEM_MAX ||
	    (v = ASN1_item_d2i_ex(NULL, &p, (long)len, it, cert_bare_ctx(), NULL)) == NULL)
		return NULL;
	if (p != der + len) {
		ASN1_item_free(v, it);
		return NULL;
	}
	return v;
}

/* The DER of the first PEM block of type name (or its older spelling). */
static void *
cert_bare_pem(const char *pem, const char *name, const ASN1_ITEM *it)
{
	size_t len = strnlen(pem, CERT_PEM_MAX + 1);
	unsigned char *der = NULL;
	char *found = NULL;
	long derlen;
	void *v = NULL;
	BIO *bio;

	if (len > CERT_PEM_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	if (PEM_bytes_read_bio(&der, &derlen, &found, name, bio, NULL, NULL) == 1)
		v = cert_bare_d2i(der, (size_t)derlen, it);
	OPENSSL_free(der);
	OPENSSL_free(found);
	BIO_free(bio);
	return v;
}

X509 *
cert_from_pem_bare(const char *pem)
{
	return cert_bare_pem(pem, PEM_STRING_X509, ASN1_ITEM_rptr(X509));
}

X509_REQ *
cert_csr_from_pem_bare(const char *pem)
{
	return cert_bare_pem(pem, PEM_STRING_X509_REQ, ASN1_ITEM_rptr(X509_REQ));
}

static BIGNUM *
cert_positive_bn(const ASN1_TYPE *t)
{
	if (t->type != V_ASN1_INTEGER || ASN1_STRING_type(t->value.integer) != V_ASN1_INTEGER)
		return NULL;            /* not an INTEGER, or a negative one */
	return ASN1_INTEGER_to_BN(t->value.integer, NULL);
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static EVP_PKEY *
cert_rsa_key(const unsigned char *der, int len)
{
	const unsigned char *p = der;
	STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *key = NULL;

	if (seq != NULL && p == der + len && sk_ASN1_TYPE_num(seq) == 2 &&
	    (n = cert_positive_bn(sk_ASN1_TYPE_value(seq, 0))) != NULL &&
	    (e = cert_positive_bn(sk_ASN1_TYPE_value(seq, 1))) != NULL)
		key = pkey_rsa_public(n, e);
	BN_free(n);
	BN_free(e);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return key;
}

/* Any other kind of key, or one the two above refuse, goes through OpenSSL's
 * decoders as before, so that what is accepted does not change. */
static EVP_PKEY *
cert_spki_decode(const X509_PUBKEY *spki)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	int len = i2d_X509_PUBKEY(spki, &der);

	if (len > 0) {
		p = der;
		key = d2i_PUBKEY(NULL, &p, len);
	}
	OPENSSL_free(der);
	return key;
}

EVP_PKEY *
cert_spki_key(const X509_PUBKEY *spki)
{
	ASN1_OBJECT *alg;
	const unsigned char *pub;
	const void *param;
	X509_ALGOR *algor;
	EVP_PKEY *key = NULL;
	int publen, ptype;

	if (X509_PUBKEY_get0_param(&alg, &pub, &publen, &algor, spki) != 1)
		return NULL;
	X509_ALGOR_get0(NULL, &ptype, &param, algor);
	ERR_set_mark();
	if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT)
		key = pkey_public("EC", OBJ_nid2sn(OBJ_obj2nid(param)), pub, (size_t)publen);
	else if (OBJ_obj2nid(alg) == NID_rsaEncryption)
		key = cert_rsa_key(pub, publen);
	ERR_pop_to_mark();
	return key != NULL ? key : cert_spki_decode(spki);
}

bool
cert_spki_same(const X509_PUBKEY *a, const X509_PUBKEY *b)
{
	const unsigned char *ka, *kb;
	X509_ALGOR *aa, *ab;
	EVP_PKEY *pa, *pb;
	int la, lb;
	bool same;

	if (a == NULL || b == NULL ||
	    X509_PUBKEY_get0_param(NULL, &ka, &la, &aa, a) != 1 ||
	    X509_PUBKEY_get0_param(NULL, &kb, &lb, &ab, b) != 1)
		return false;
	if (X509_ALGOR_cmp(aa, ab) == 0 && la == lb && memcmp(ka, kb, (size_t)la) == 0)
		return true;
	/* The same key may be written two ways (an EC point compressed or not). */
	pa = cert_spki_key(a);
	pb = cert_spki_key(b);
	same = pa != NULL && pb != NULL && EVP_PKEY_eq(pa, pb) == 1;
	EVP_PKEY_free(pa);
	EVP_PKEY_free(pb);
	return same;
}

EVP_PKEY *
cert_csr_key(X509_REQ *req)
{
	EVP_PKEY *key = cert_spki_key(X509_REQ_get_X509_PUBKEY(req));

	/* The default library context: req's own has no provider to verify with. */
	if (key != NULL && X509_REQ_verify_ex(req, key, NULL, NULL) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

bool
cert_csr_verifies(X509_REQ *req)
{
	EVP_PKEY *key = cert_csr_key(req);

	EVP_PKEY_free(key);
	return key != NULL;
}

X509_REQ *
cert_csr_from_der(const unsigned char *der, size_t len, EVP_PKEY **key, char *why,
    size_t whylen)
{
	X509_REQ *req;

	if ((req = cert_bare_d2i(der, len, ASN1_ITEM_rptr(X509_REQ))) == NULL) {
		snprintf(why, whylen, "the CSR is not a DER PKCS#10 request");
		return NULL;
	}
	if ((*key = cert_csr_key(req)) == NULL) {
		snprintf(why, whylen, "the CSR's signature does not verify");
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

char *
cert_csr_to_pem(X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (bio != NULL && PEM_write_bio_X509_REQ(bio, req))
		out = cert_bio_text(bio);
	BIO_free(bio);
	return out;
}

int
cert_ip_canonical(const char *in, char *out, size_t outlen)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, in, addr) == 1)
		return inet_ntop(AF_INET, addr, out, (socklen_t)outlen) != NULL ? 0 : -1;
	if (inet_pton(AF_INET6, in, addr) == 1)
		return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) != NULL ? 0 : -1;
	return -1;
}

static int
cert_names_add(struct cert_names *out, const char *type, const char *value, char *why,
    size_t whylen)
{
	struct cert_name *n;

	for (int i = 0; i < out->n; i++)
		if (strcmp(out->names[i].type, type) == 0 && strcmp(out->names[i].value, value) == 0)
			return 0;
	if (out->n == CERT_MAX_NAMES) {
		snprintf(why, whylen, "more than %d names", CERT_MAX_NAMES);
		return -1;
	}
	n = &out->names[out->n++];
	snprintf(n->type, sizeof(n->type), "%s", type);
	snprintf(n->value, sizeof(n->value), "%s", value);
	return 0;
}

static int
cert_general_name(const GENERAL_NAME *gn, struct cert_names *out, char *why, size_t whylen)
{
	char text[CERT_NAME_MAX];
	const unsigned char *d;
	int len;

	switch (gn->type) {
	case GEN_DNS:
		d = ASN1_STRING_get0_data(gn->d.dNSName);
		len = ASN1_STRING_length(gn->d.dNSName);
		if (len <= 0 || len >= (int)sizeof(text) || memchr(d, '\0', (size_t)len) != NULL) {
			snprintf(why, whylen, "a DNS name in subjectAltName is empty or too long");
			return -1;
		}
		for (int i = 0; i < len; i++)
			text[i] = (char)tolower(d[i]);
		text[len] = '\0';
		return cert_names_add(out, "dns", text, why, whylen);
	case GEN_IPADD:
		d = ASN1_STRING_get0_data(gn->d.iPAddress);
		len = ASN1_STRING_length(gn->d.iPAddress);
		if ((len != 4 && len != 16) ||
		    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, text, sizeof(text)) == NULL) {
			snprintf(why, whylen, "an IP address in subjectAltName is malformed");
			return -1;
		}
		return cert_names_add(out, "ip", text, why, whylen);
	default:
		snprintf(why, whylen, "subjectAltName may hold only DNS names and IP addresses");
		return -1;
	}
}

static int
cert_collect(const X509_NAME *subject, GENERAL_NAMES *sans, struct cert_names *out,
    char *why, size_t whylen)
{
	int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1), rc = 0;

	memset(out, 0, sizeof(*out));
	if (i >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, s);

		if (n <= 0 || n >= CERT_NAME_MAX || memchr(utf8, '\0', (size_t)n) != NULL) {
			OPENSSL_free(utf8);
			snprintf(why, whylen, "the subject's Common Name is empty or too long");
			return -1;
		}
		for (int k = 0; k < n; k++)
			out->cn[k] = (char)tolower(utf8[k]);
		out->cn[n] = '\0';
		OPENSSL_free(utf8);
	}
	for (int k = 0; rc == 0 && k < sk_GENERAL_NAME_num(sans); k++)
		rc = cert_general_name(sk_GENERAL_NAME_value(sans, k), out, why, whylen);
	return rc;
}

/* OpenSSL answers NULL for no SAN, two SANs and a malformed one alike;
 * crit tells them apart, and only the first means "no names". */
static int
cert_sans_found(const GENERAL_NAMES *sans, int crit, char *why, size_t whylen)
{
	if (sans != NULL || crit == -1)
		return 0;
	snprintf(why, whylen, crit == -2 ? "more than one subjectAltName extension" :
	    "the subjectAltName extension is malformed");
	return -1;
}

int
cert_csr_names(X509_REQ *req, struct cert_names *out, char *why, size_t whylen)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *sans = NULL;
	int rc, crit = -1;

	if (exts == NULL) {
		snprintf(why, whylen, "the CSR's extensionRequest attribute is malformed");
		return -1;
	}
	sans = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	rc = cert_sans_found(sans, crit, why, whylen);
	if (rc == 0)
		rc = cert_collect(X509_REQ_get_subject_name(req), sans, out, why, whylen);
	GENERAL_NAMES_free(sans);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

int
cert_names(X509 *crt, struct cert_names *out, char *why, size_t whylen)
{
	int crit = -1;
	GENERAL_NAMES *sans = X509_get_ext_d2i(crt, NID_subject_alt_name, &crit, NULL);
	int rc = cert_sans_found(sans, crit, why, whylen);

	if (rc == 0)
		rc = cert_collect(X509_get_subject_name(crt), sans, out, why, whylen);

	GENERAL_NAMES_free(sans);
	return rc;
}

int
cert_key_acceptable(EVP_PKEY *key, char *why, size_t whylen)
{
	char group[64];
	size_t glen = 0;
	int bits = EVP_PKEY_get_bits(key);

	if (EVP_PKEY_is_a(key, "RSA")) {
		if (bits < 2048 || bits > 8192) {
			snprintf(why, whylen, "RSA keys must have 2048 to 8192 bits, not %d", bits);
			return -1;
		}
		return 0;
	}
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0))
		return 0;
	snprintf(why, whylen, "the key must be RSA (2048-8192 bits) or ECDSA on P-256 or P-384");
	return -1;
}
