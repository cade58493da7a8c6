#include "cert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

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
	char *hex;
	int rc = -1;

	if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto done;
	if (strlen(hex) < outlen) {
		strcpy(out, hex);
		rc = 0;
	}
	OPENSSL_free(hex);
done:
	BN_free(bn);
	return rc;
}

int
cert_common_name(const X509 *crt, char *out, size_t outlen)
{
	const X509_NAME *name = X509_get_subject_name(crt);
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

time_t
cert_not_after(const X509 *crt)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(crt), &tm) != 1)
		return 0;
	return timegm(&tm);
}

bool
cert_issued_by(const char *cert_pem, const char *ca_pem)
{
	X509 *crt = cert_from_pem(cert_pem), *ca = cert_from_pem(ca_pem);
	EVP_PKEY *cakey = ca != NULL ? X509_get0_pubkey(ca) : NULL;
	bool ok = crt != NULL && cakey != NULL &&
	    X509_NAME_cmp(X509_get_issuer_name(crt), X509_get_subject_name(ca)) == 0 &&
	    X509_verify(crt, cakey) == 1;

	X509_free(ca);
	X509_free(crt);
	return ok;
}
