/*
 * What every ACME handler shares: problem documents, URLs, and the checks
 * of RFC 8555 section 6 that every POST passes before a handler sees it
 * (Content-Type, flattened JWS, algorithm, key, nonce, url, signature).
 */
#ifndef UPKI_ACME_H
#define UPKI_ACME_H

#include <stdbool.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "http.h"
#include "jws.h"
#include "ra.h"
#include "store_acme.h"

#define ACME_URL_MAX 768

#define ACME_ERR(name) "urn:ietf:params:acme:error:" name

/* How the request must identify its key (RFC 8555 6.2). */
enum acme_keyref {
	ACME_BY_KID,            /* an existing, valid account */
	ACME_BY_JWK,            /* new-account, and revocation by certificate key */
	ACME_BY_EITHER,         /* revoke-cert */
};

struct acme_req {
	struct jws jws;
	EVP_PKEY *key;
	struct jws_verifier *verifier;  /* the key cache's, or NULL: a key sent as a jwk */
	json_object *payload;           /* NULL for POST-as-GET */
	bool has_account;
	struct store_account account;   /* when the request used a kid */
	char url[ACME_URL_MAX];         /* the URL the client used */
	time_t now;
};

/* The base of every URL the RA gives out, from UPKI_RA_BASE_URL or the
 * request's own scheme and Host. */
void acme_base(const struct ra_ctx *ctx, const struct http_request *req, char *out,
    size_t outlen);
/* base + fmt, e.g. acme_url(ctx, req, buf, len, "/acme/order/%s", id). */
void acme_url(const struct ra_ctx *ctx, const struct http_request *req, char *out,
    size_t outlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* RFC 7807 problem document; subproblems (consumed, may be NULL). */
void acme_problem(struct http_response *resp, int status, const char *type,
    json_object *subproblems, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A problem document stored as JSON text (order and challenge errors). */
json_object *acme_problem_json(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ACME object as the response body. obj is consumed. */
void acme_json(struct http_response *resp, int status, json_object *obj);
/* Replay-Nonce and Link rel="index", added to every ACME response. */
void acme_common_headers(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp);

/* The checks of RFC 8555 section 6; on failure the response holds the
 * problem and -1 is returned.  acme_req_free in every case. */
int acme_authenticate(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, enum acme_keyref keyref, struct acme_req *out);
void acme_req_free(struct acme_req *ar);

/* Time as RFC 3339 in UTC. */
void acme_time(time_t t, char *out, size_t outlen);
/* True when the account owns the object; writes "unauthorized" otherwise. */
bool acme_owner(const struct acme_req *ar, int64_t account_id, struct http_response *resp);
/* The store failed: 500 serverInternal. */
void acme_store_failed(struct http_response *resp);

/* ARI CertID -> serial as the store keeps it (acme_ari.c). */
int acme_ari_serial(const char *certid, char *out, size_t outlen);

/* Finalize (acme_issue.c): checks the payload's CSR against the order,
 * has the CA sign it, checks what came back and records it.  0 when the
 * order is now valid; otherwise the response holds the problem. */
int acme_issue(struct ra_ctx *ctx, const struct acme_req *ar, const struct store_order *o,
    struct http_response *resp);

#endif
