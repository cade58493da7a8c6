/*
 * What the fuzz targets share (tests/fuzz/README.md): a worker's context
 * (struct ra_ctx) on a temporary store and data directory, a CA client that
 * points at a closed port with a 1 ms timeout, and, for the targets that
 * drive the router, an ACME account, a "ready" order and an issued
 * certificate made through the real routes at start-up.
 *
 * Everything here is made once per process, on first use; the temporary
 * directory is removed at exit.
 */
#ifndef UPKI_FUZZ_HARNESS_H
#define UPKI_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme.h"
#include "http.h"
#include "ra.h"
#include "store_acme.h"

/* The scheme and Host every harness request carries. */
#define FUZZ_HOST "ra.fuzz.test"
#define FUZZ_BASE "https://" FUZZ_HOST

/* The names of the harness's ready order (the finalize seeds' CSRs name
 * exactly these), and the admin DN the harness puts in the RA's list. */
#define FUZZ_ORDER_IDENTIFIERS \
	"[{\"type\":\"dns\",\"value\":\"fuzz.example.com\"}," \
	"{\"type\":\"dns\",\"value\":\"www.fuzz.example.com\"}," \
	"{\"type\":\"ip\",\"value\":\"192.0.2.7\"}]"
#define FUZZ_ADMIN_DN "/O=uPKI/CN=admin"

/* The worker context: config, store, CA client.  Aborts on failure. */
struct ra_ctx *fuzz_ctx(void);

/* The ACME state made through the router at start-up. */
struct fuzz_acme {
	EVP_PKEY *account_key;          /* fixtures/account.key */
	EVP_PKEY *leaf_key;             /* fixtures/leaf.key, the certificate's */
	char kid[ACME_URL_MAX];     /* FUZZ_BASE/acme/account/ID */
	char account_path[ACME_URL_MAX];
	char order_id[STORE_ID_MAX];
	char order_path[128];           /* /acme/order/ID */
	char finalize_path[128];        /* /acme/order/ID/finalize */
	char cert_serial[80];           /* of fixtures/leaf.crt, in the store */
	char thumbprint[64];            /* the account's, as the store has it */
	int64_t account_id;
};
const struct fuzz_acme *fuzz_acme(void);

/* A POST (or any method) through router_dispatch, as the worker would make
 * it; resp is initialised here and freed by the caller. */
void fuzz_dispatch(const char *method, const char *path, const char *content_type,
    const char *body, size_t body_len, struct http_response *resp);
/* A JWS around payload, signed by key (kid NULL: the key's jwk), with a
 * fresh nonce and the url of path, POSTed to path.  -1 if it cannot sign. */
int fuzz_signed_post(EVP_PKEY *key, const char *kid, const char *path,
    const char *payload, struct http_response *resp);
/* A response header's value, or NULL. */
const char *fuzz_header(const struct http_response *resp, const char *name);

/*
 * What every answer must be: a status with a reason phrase, and for a JSON
 * one (REST envelope, ACME object or problem) one JSON value.  With
 * FUZZ_STRICT_UTF8 set in the environment, that JSON must also be UTF-8
 * (RFC 8259 8.1), which the RA does not ensure today (README.md).
 */
void fuzz_check_response(const struct http_response *resp);

/*
 * The two spellings of a client certificate's subject must agree (dn.h):
 * dn_from_cert of the certificate (when nginx passes SSL_CLIENT_CERT) and
 * dn_canonical of the RFC 2253 text nginx makes of it for SSL_CLIENT_S_DN
 * (X509_NAME_print_ex with XN_FLAG_RFC2253, as ngx_ssl_get_subject_dn),
 * when both give one; and a canonical DN must canonicalise to itself.
 * With FUZZ_LAX_DN set, only the fixed point is checked (README.md).
 */
void fuzz_check_dn(X509 *crt);

/* A NUL-terminated copy of the input (stops at the first NUL). */
char *fuzz_cstr(const uint8_t *data, size_t size);
/* Aborts with a message: a broken invariant, reported by libFuzzer as a
 * crash with this line above the stack. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
