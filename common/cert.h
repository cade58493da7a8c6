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

#include <openssl/x509.h>

#define CERT_PEM_MAX (64 * 1024)

/* DER CRL -> PEM text (malloc'd), NULL if the DER is not a CRL. */
char *cert_crl_der_to_pem(const unsigned char *der, size_t len);

/* First certificate of a PEM text, or NULL. */
X509 *cert_from_pem(const char *pem);
/* True when the PEM private key is the one of the PEM certificate. */
bool cert_key_matches(const char *cert_pem, const char *key_pem);
/* Serial as upper-case hex without leading zeros (as nginx prints it). */
int cert_serial_hex(const X509 *crt, char *out, size_t outlen);
/* The subject's first Common Name, or -1 when it has none. */
int cert_common_name(const X509 *crt, char *out, size_t outlen);
time_t cert_not_after(const X509 *crt);
/* True when the PEM certificate's signature verifies with the PEM CA
 * certificate's key and its issuer is the CA's subject. */
bool cert_issued_by(const char *cert_pem, const char *ca_pem);

#endif
