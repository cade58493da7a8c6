/*
 * Distinguished names in one canonical form.  nginx gives the client's DN
 * in RFC 2253 form ("CN=admin,O=uPKI", most specific first); the uPKI CA
 * and OpenSSL's one-line form write "/O=uPKI/CN=admin" (certificate order).
 * The canonical form is the latter, built from the certificate itself when
 * there is one, so two spellings of one name compare equal and no
 * spelling of another name does.
 */
#ifndef UPKI_DN_H
#define UPKI_DN_H

#include <stddef.h>

#include <openssl/x509.h>

#define DN_MAX 1024

/* From a certificate's subject. */
int dn_from_cert(const X509 *crt, char *out, size_t outlen);
/* From RFC 2253 text (nginx's $ssl_client_s_dn) or "/K=V/..." text.
 * -1 for anything that does not parse as a DN. */
int dn_canonical(const char *in, char *out, size_t outlen);
/* nginx's $ssl_client_escaped_cert: URL-encoded PEM -> certificate. */
X509 *dn_client_cert(const char *escaped_pem);

#endif
