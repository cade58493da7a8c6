/*
 * Keys and requests the RA makes for itself or for an operator on the RA
 * host (`upki-ra admin enrol`): a fresh EC P-256 key, a CSR for a CN and
 * its SANs, and a PKCS#12 of a key and its certificate for browsers.
 */
#ifndef UPKI_KEYGEN_H
#define UPKI_KEYGEN_H

#include <stddef.h>

/* A new key and a CSR for cn signed with it, both PEM, malloc'd.  sans:
 * "a,b,1.2.3.4" (IP literals become IP SANs), NULL or "" for none.  The
 * caller cleanses and frees *key_pem. */
int keygen_csr(const char *cn, const char *sans, char **key_pem, char **csr_pem);

/* PKCS#12 (AES-256, PBKDF2) of a PEM key, its PEM certificate and the CA's
 * PEM certificate (may be NULL), protected by password; *der malloc'd. */
int keygen_pkcs12(const char *key_pem, const char *crt_pem, const char *ca_pem,
    const char *name, const char *password, unsigned char **der, size_t *len);

#endif
