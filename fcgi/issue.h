/*
 * Getting a certificate signed by the CA and recording it: shared by ACME
 * finalize, token enrolment and client renewal.
 */
#ifndef UPKI_ISSUE_H
#define UPKI_ISSUE_H

#include <stdint.h>

#include <openssl/x509.h>

#include "ra.h"
#include "store_cert.h"

enum issue_result {
	ISSUE_OK,
	ISSUE_REFUSED,          /* the CA refused; msg has its reason */
	ISSUE_CA_DOWN,          /* no usable answer: try again later */
	ISSUE_BAD_ANSWER,       /* the CA answered with a wrong certificate */
};

/* `sign` with the CSR and profile; *crt and *pem on ISSUE_OK, after checking
 * that the certificate is our CA's and for the CSR's key. */
enum issue_result issue_sign(struct ra_ctx *ctx, X509_REQ *csr, const char *profile,
    X509 **crt, char **pem, char *msg, size_t msglen);
/* When an earlier sign for this CSR lost its answer, the CA may hold the
 * certificate already: under the CSR's CN (or first name), for its key and
 * not revoked.  ISSUE_OK with *crt and *pem when it does, so that asking
 * again does not issue a twin. */
enum issue_result issue_adopt(struct ra_ctx *ctx, X509_REQ *csr, X509 **crt, char **pem);
/* Fills a certificate record from what the CA returned (pem is borrowed). */
int issue_record_fill(struct store_cert *c, X509 *crt, char *pem, const char *profile,
    const char *source, int64_t account_id);
/* Checks a CA answer: our CA's signature, and the key of spki.  *crt is
 * parsed bare (cert.h).  -1 with a reason otherwise. */
int issue_check(struct ra_ctx *ctx, const char *pem, const X509_PUBKEY *spki, X509 **crt,
    char *why, size_t whylen);

/* Leaf PEM followed by the CA certificate: a new malloc'd string. */
char *issue_chain(struct ra_ctx *ctx, const char *leaf_pem);

#endif
