/*
 * X.509 helpers on OpenSSL 3: the few questions the RA asks of certificates,
 * CSRs and CRLs.  Everything from the CA or a client is parsed with a size
 * bound and checked here before it is stored or served.
 */
#ifndef UPKI_CERT_H
#define UPKI_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <sys/stat.h>

#include <openssl/x509.h>

#define CERT_PEM_MAX (64 * 1024)

/* DER CRL -> PEM text (malloc'd), NULL if the DER is not a CRL. */
char *cert_crl_der_to_pem(const unsigned char *der, size_t len);
/* The first CRL of a PEM text as DER (OPENSSL_malloc'd: OPENSSL_free it),
 * NULL if there is none. */
unsigned char *cert_crl_pem_to_der(const char *pem, size_t *len);

/* First certificate of a PEM text, or NULL. */
X509 *cert_from_pem(const char *pem);
/* True when the PEM private key is the one of the PEM certificate. */
bool cert_key_matches(const char *cert_pem, const char *key_pem);
/* Serial as upper-case hex without leading zeros: the one spelling the
 * store keeps. */
int cert_serial_hex(const X509 *crt, char *out, size_t outlen);
/* The subject's first Common Name, or -1 when it has none. */
int cert_common_name(const X509 *crt, char *out, size_t outlen);
time_t cert_not_before(const X509 *crt);
time_t cert_not_after(const X509 *crt);
/* The subject as the CA writes it: "/CN=x/O=y". */
int cert_subject_oneline(const X509 *crt, char *out, size_t outlen);
/* True when crt's signature verifies with ca's key and its issuer is ca's
 * subject. */
bool cert_signed_by(X509 *crt, X509 *ca);
/* cert_signed_by for two PEM texts. */
bool cert_issued_by(const char *cert_pem, const char *ca_pem);

/*
 * A certificate file read once, and again only when it changes.  ca.crt is
 * needed for every issuance and download, and parsing it cost more than the
 * rest of checking what the CA returned (OpenSSL 3 decodes the key through
 * its provider machinery).  `register` may replace the file: another inode,
 * size or mtime makes the next load read it again.  Zero-initialise.
 */
struct cert_file {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char *pem;
	X509 *crt;
};

/* The file's current certificate in f->crt and its text in f->pem: 0, or
 * -1 when it cannot be read or holds no certificate (f is then empty). */
int cert_file_load(struct cert_file *f, const char *path);
void cert_file_free(struct cert_file *f);


/* The names a CSR or certificate is for: DNS names as they are (lower-cased)
 * and IP addresses in their canonical text form. */
#define CERT_MAX_NAMES 100
#define CERT_NAME_MAX 256

struct cert_name {
	char type[4];               /* "dns" or "ip", as ACME identifiers */
	char value[CERT_NAME_MAX];
};

struct cert_names {
	struct cert_name names[CERT_MAX_NAMES];
	int n;
	char cn[CERT_NAME_MAX];     /* "" when the subject has no CN */
};

/*
 * Certificates and CSRs parsed "bare": their key is left undecoded, which
 * is most of what a parse costs on OpenSSL 3.0 (cert.c).  Names, dates,
 * serial, encoding and cert_signed_by work on them as on any other;
 * X509_get0_pubkey and X509_REQ_get0_pubkey answer NULL, and
 * cert_spki_key, cert_spki_same and cert_csr_key stand in.  NULL when the
 * PEM text holds no such object or its DER has bytes after it.
 */
X509 *cert_from_pem_bare(const char *pem);
X509_REQ *cert_csr_from_pem_bare(const char *pem);
/* The key of a SubjectPublicKeyInfo, for the caller to free, or NULL. */
EVP_PKEY *cert_spki_key(const X509_PUBKEY *spki);
/* True when a and b hold the same key, written alike or not. */
bool cert_spki_same(const X509_PUBKEY *a, const X509_PUBKEY *b);
/* The CSR's key, for the caller to free, when the CSR's self-signature
 * verifies with it; NULL otherwise. */
EVP_PKEY *cert_csr_key(X509_REQ *req);
bool cert_csr_verifies(X509_REQ *req);
/* A bare DER CSR whose self-signature verifies, and its key in *key (the
 * caller frees both), or NULL with a reason. */
X509_REQ *cert_csr_from_der(const unsigned char *der, size_t len, EVP_PKEY **key,
    char *why, size_t whylen);
char *cert_csr_to_pem(X509_REQ *req);
/* -1 with a reason for a name that is not a DNS name or IP address, for
 * more than CERT_MAX_NAMES names, or for a subjectAltName extension that is
 * malformed or not alone. */
int cert_csr_names(X509_REQ *req, struct cert_names *out, char *why, size_t whylen);
int cert_names(X509 *crt, struct cert_names *out, char *why, size_t whylen);
/* The CSR subject's first Common Name, or -1 when it has none. */
int cert_req_common_name(X509_REQ *req, char *out, size_t outlen);
/* True when crt is, byte for byte, the certificate of the PEM text. */
bool cert_same(X509 *crt, const char *pem);
/* RSA of 2048 to 8192 bits, or EC on P-256 or P-384. */
int cert_key_acceptable(EVP_PKEY *key, char *why, size_t whylen);
/* Canonical text of an IP address (v4 dotted, v6 RFC 5952), -1 if none. */
int cert_ip_canonical(const char *in, char *out, size_t outlen);

#endif
