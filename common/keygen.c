#include "keygen.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "cert.h"

/* The PEM text of a memory BIO, malloc'd and NUL-terminated. */
static char *
keygen_bio_text(BIO *b)
{
	char *data, *out;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0 || (out = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

static int
keygen_add_sans(X509_REQ *req, const char *sans)
{
	char *list = NULL, *p, *save = NULL, ip[64];
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	size_t len = 0;
	int rc = -1;

	if (sans == NULL || *sans == '\0')
		return 0;
	/* "DNS:a,IP:1.2.3.4": the value syntax of the config file. */
	if ((list = malloc(strlen(sans) * 4 + 8)) == NULL)
		return -1;
	list[0] = '\0';
	p = strdup(sans);
	for (char *tok = p != NULL ? strtok_r(p, ", ", &save) : NULL; tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		len += (size_t)sprintf(list + len, "%s%s:%s", len > 0 ? "," : "",
		    cert_ip_canonical(tok, ip, sizeof(ip)) == 0 ? "IP" : "DNS", tok);
	}
	free(p);
	if (len == 0) {
		rc = 0;
		goto done;
	}
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, list)) == NULL ||
	    sk_X509_EXTENSION_push(exts, ext) == 0)
		goto done;
	ext = NULL;
	rc = X509_REQ_add_extensions(req, exts) == 1 ? 0 : -1;
done:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	free(list);
	return rc;
}

int
keygen_csr(const char *cn, const char *sans, char **key_pem, char **csr_pem)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *kb = BIO_new(BIO_s_mem()), *rb = BIO_new(BIO_s_mem());
	int rc = -1;

	*key_pem = *csr_pem = NULL;
	if (key == NULL || req == NULL || name == NULL || kb == NULL || rb == NULL ||
	    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    keygen_add_sans(req, sans) != 0 || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509_REQ(rb, req) != 1)
		goto done;
	*key_pem = keygen_bio_text(kb);
	*csr_pem = keygen_bio_text(rb);
	if (*key_pem != NULL && *csr_pem != NULL) {
		rc = 0;
		goto done;
	}
	if (*key_pem != NULL)
		OPENSSL_clear_free(*key_pem, strlen(*key_pem));
	free(*csr_pem);
	*key_pem = *csr_pem = NULL;
done:
	BIO_free(kb);
	BIO_free(rb);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

static EVP_PKEY *
keygen_key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return key;
}

int
keygen_pkcs12(const char *key_pem, const char *crt_pem, const char *ca_pem,
    const char *name, const char *password, unsigned char **der, size_t *len)
{
	EVP_PKEY *key = keygen_key_from_pem(key_pem);
	X509 *crt = cert_from_pem(crt_pem), *ca = ca_pem != NULL ? cert_from_pem(ca_pem) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	PKCS12 *p12 = NULL;
	unsigned char *p;
	int n, rc = -1;

	*der = NULL;
	if (key == NULL || crt == NULL || chain == NULL)
		goto done;
	if (ca != NULL) {
		if (sk_X509_push(chain, ca) == 0)
			goto done;
		ca = NULL;      /* the stack owns it now */
	}
	/* OpenSSL 3's defaults: AES-256-CBC, PBKDF2, SHA-256 MAC. */
	p12 = PKCS12_create(password, name, key, crt, chain, 0, 0, 0, 0, 0);
	if (p12 == NULL || (n = i2d_PKCS12(p12, NULL)) <= 0 || (*der = malloc((size_t)n)) == NULL)
		goto done;
	p = *der;
	i2d_PKCS12(p12, &p);
	*len = (size_t)n;
	rc = 0;
done:
	PKCS12_free(p12);
	sk_X509_pop_free(chain, X509_free);
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}
