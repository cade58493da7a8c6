/*
 * The CA's own key and certificate: ca.key (PKCS#8, mode 0600) and ca.crt
 * in the CA's directory.  Made on first start, loaded on every later one.
 * Half a CA (a key without its certificate, or the reverse) is an error,
 * never silently replaced: everything issued so far chains to the old one.
 */
#include "devca.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "fsutil.h"
#include "log.h"

#define AUTHORITY_MAX_FILE (64 * 1024)

static int
authority_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static EVP_PKEY *
authority_read_key(const char *path)
{
	EVP_PKEY *key = NULL;
	size_t len;
	char *pem;
	BIO *bio;

	if ((pem = fs_read(path, AUTHORITY_MAX_FILE, &len)) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	OPENSSL_cleanse(pem, len);
	free(pem);
	return key;
}

static int
authority_load(struct authority *ca, const char *keypath, const char *certpath)
{
	char *pem;

	if ((ca->key = authority_read_key(keypath)) == NULL) {
		log_error("cannot load the CA key %s", keypath);
		return -1;
	}
	if ((pem = fs_read(certpath, AUTHORITY_MAX_FILE, NULL)) == NULL ||
	    (ca->cert = codec_cert(pem)) == NULL) {
		free(pem);
		log_error("cannot load the CA certificate %s", certpath);
		return -1;
	}
	free(pem);
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		log_error("%s does not belong to %s", certpath, keypath);
		return -1;
	}
	return 0;
}

static int
authority_create(struct authority *ca, const char *keypath, const char *certpath)
{
	char *keypem, *certpem;
	int rc;

	if ((ca->key = issue_key(profiles_find("ca"))) == NULL ||
	    (ca->cert = issue_self_signed(ca->key)) == NULL) {
		log_error("cannot make the CA key and certificate");
		return -1;
	}
	if ((keypem = codec_key_pem(ca->key)) == NULL)
		return -1;
	rc = fs_write_atomic(keypath, keypem, strlen(keypem), 0600);
	OPENSSL_cleanse(keypem, strlen(keypem));
	free(keypem);
	if (rc != 0 || (certpem = codec_cert_pem(ca->cert)) == NULL) {
		log_error("cannot write %s", keypath);
		return -1;
	}
	rc = fs_write_atomic(certpath, certpem, strlen(certpem), 0644);
	free(certpem);
	if (rc != 0) {
		log_error("cannot write %s", certpath);
		return -1;
	}
	log_info("created a new CA in %s", certpath);
	return 0;
}

int
authority_open(struct authority *ca, const char *dir)
{
	char keypath[PATH_MAX], certpath[PATH_MAX];
	int rc;

	memset(ca, 0, sizeof(*ca));
	if (authority_path(keypath, sizeof(keypath), dir, "ca.key") != 0 ||
	    authority_path(certpath, sizeof(certpath), dir, "ca.crt") != 0) {
		log_error("CA directory path too long");
		return -1;
	}
	if (!fs_exists(keypath) && !fs_exists(certpath))
		rc = authority_create(ca, keypath, certpath);
	else
		rc = authority_load(ca, keypath, certpath);
	if (rc == 0 && (ca->cert_pem = codec_cert_pem(ca->cert)) == NULL)
		rc = -1;
	if (rc != 0)
		authority_close(ca);
	return rc;
}

void
authority_close(struct authority *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->cert_pem);
	memset(ca, 0, sizeof(*ca));
}
