/*
 * Reading and writing certificates, keys and CSRs, and the few fields the
 * tasks need from them in text form.
 */
#include "devca.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>

/* Copies a memory BIO's contents into a NUL-terminated malloc'd string. */
static char *
codec_bio_string(BIO *bio)
{
	char *data, *out;
	long n;

	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		return NULL;
	if ((out = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

char *
codec_cert_pem(X509 *x)
{
	char *out = NULL;
	BIO *bio;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, x) == 1)
		out = codec_bio_string(bio);
	BIO_free(bio);
	return out;
}

/* PKCS#8, unencrypted: the form ra.key and the test clients load. */
char *
codec_key_pem(EVP_PKEY *key)
{
	char *out = NULL;
	BIO *bio;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		out = codec_bio_string(bio);
	BIO_free(bio);
	return out;
}

X509 *
codec_cert(const char *pem)
{
	X509 *x;
	BIO *bio;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

/* Hex is upper case without separators (the registry's key, tasks.log,
 * view and ocsp_check); decimal is what the answers to sign carry. */
int
codec_serial(const X509 *x, bool hex, char *buf, size_t len)
{
	BIGNUM *bn;
	char *s;
	int rc = -1;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL)
		return -1;
	s = hex ? BN_bn2hex(bn) : BN_bn2dec(bn);
	if (s != NULL && strlen(s) < len) {
		memcpy(buf, s, strlen(s) + 1);
		rc = 0;
	}
	OPENSSL_free(s);
	BN_free(bn);
	return rc;
}

time_t
codec_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return (time_t)-1;
	return timegm(&tm);
}

/* 1 and the first CN as UTF-8, 0 when the name has none, -1 when it is
 * too long or does not convert. */
int
codec_cn(const X509_NAME *name, char *buf, size_t len)
{
	const X509_NAME_ENTRY *e;
	unsigned char *utf8;
	int i, n;

	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return 0;
	e = X509_NAME_get_entry(name, i);
	if ((n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e))) < 0)
		return -1;
	if (n == 0 || (size_t)n >= len || memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return n == 0 ? 0 : -1;
	}
	memcpy(buf, utf8, (size_t)n);
	buf[n] = '\0';
	OPENSSL_free(utf8);
	return 1;
}

/* The "/CN=x/O=y" form the reference CA and the RA's admin list use. */
void
codec_dn(const X509_NAME *name, char *buf, size_t len)
{
	if (X509_NAME_oneline(name, buf, (int)len) == NULL)
		buf[0] = '\0';
}
