/*
 * The worker's own check of a client certificate, whatever nginx said: it
 * chains to ca.crt, is within its dates, is not on crl.pem, and is meant for
 * client authentication (its extended key usage names clientAuth).  nginx
 * checks the same at the handshake, but a resumed TLS session is not checked
 * again, and nginx reads crl.pem only when it reloads; and a peer that talks
 * FastCGI straight to the socket passes whatever params it likes.
 *
 * A verified certificate is remembered by its SHA-256 fingerprint for a few
 * seconds (signature checks are the cost); a change to ca.crt or crl.pem,
 * looked for on every call, forgets every one.  The RA's own revocation records are not looked at
 * here: the caller asks the store on every request.
 */
#ifndef UPKI_CERTCHECK_H
#define UPKI_CERTCHECK_H

#include <openssl/x509.h>

/* How long a verified certificate is taken as verified. */
#define CERTCHECK_CACHE_S 5

struct certcheck;

/* A checker of ca_path (PEM, one or more CA certificates) and crl_path (a
 * PEM CRL; a missing file means no CRL yet).  NULL when out of memory. */
struct certcheck *certcheck_new(const char *ca_path, const char *crl_path);
void certcheck_free(struct certcheck *cc);
/* 0 when crt passes; -1 with a short reason in *why (static text). */
int certcheck_verify(struct certcheck *cc, X509 *crt, const char **why);

#endif
