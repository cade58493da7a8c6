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
/*
 * A DN an operator typed or pasted: "/O=y/CN=x", or either form
 * `openssl x509 -noout -subject` prints, its "subject=" included: the
 * default one-line form "CN = x, O = y" (certificate order) or, with
 * -nameopt RFC2253, "O=y,CN=x" (most specific first).  A text of several
 * RDNs that is neither ("CN=x, O=y", "CN = x,O=y") could mean either order
 * and is DN_AMBIGUOUS.  On 0, *form names the form it was read as.
 */
#define DN_BAD (-1)
#define DN_AMBIGUOUS (-2)
int dn_operator(const char *in, char *out, size_t outlen, const char **form);
/* nginx's $ssl_client_escaped_cert: URL-encoded PEM -> certificate. */
X509 *dn_client_cert(const char *escaped_pem);

#endif
