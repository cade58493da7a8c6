/*
 * The RA's own policy on a CSR, checked before any CA is asked to sign it,
 * so that what the RA forwards does not depend on the checks of the CA
 * behind it.  For ACME finalize and, later, the REST enrolment.
 */
#ifndef UPKI_CSR_POLICY_H
#define UPKI_CSR_POLICY_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert.h"

/*
 * 0 when req, whose key is key, follows the policy and every name it holds
 * (subjectAltName and Common Name) is in allowed; its names are then in
 * *names.  -1 otherwise, with the rule it breaks in why:
 *   - at most one extensionRequest attribute, and it decodes;
 *   - no extension twice;
 *   - exactly one subjectAltName, which decodes and holds at least one name;
 *   - only subjectAltName, keyUsage (no keyCertSign nor cRLSign),
 *     extendedKeyUsage, basicConstraints (CA:FALSE), subjectKeyIdentifier
 *     and the TLS feature extension;
 *   - at most one Common Name, one of allowed;
 *   - the key acceptable to cert_key_acceptable.
 */
int csr_policy_check(X509_REQ *req, EVP_PKEY *key, const struct cert_names *allowed,
    struct cert_names *names, char *why, size_t whylen);

#endif
