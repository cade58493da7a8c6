/*
 * What the REST handlers (public, admin, client) share: request bodies,
 * error answers, certificate records as JSON.
 */
#ifndef UPKI_REST_H
#define UPKI_REST_H

#include <stdbool.h>

#include <json-c/json.h>

#include "ca.h"
#include "http.h"
#include "issue.h"
#include "ra.h"
#include "revoke.h"
#include "store_cert.h"

/* The JSON object of the body, or NULL with a 400 (or 415) in resp. */
json_object *rest_body(const struct http_request *req, struct http_response *resp);
void rest_store_failed(struct http_response *resp);
/* A store look-up's result (0 found, 1 not found, -1 failed) as an answer:
 * 0 when found; otherwise -1, with a 404 saying what was not found (fmt), or
 * a 503 when the store failed. */
int rest_found(struct http_response *resp, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A list the store filled (rc from a store_*_each) as the answer, or a 503
 * when the store failed; list is consumed. */
void rest_list(struct http_response *resp, int rc, json_object *list);
/* 503 for a CA that does not answer (why is logged, not told), 502
 * otherwise; both with Retry-After. */
void rest_ca_failed(struct http_response *resp, enum ca_result r, const char *msg);
/* Letters, digits and ._- only, 1 to 64 of them: profile names. */
bool rest_name_ok(const char *s);
/* SHA-256 of an enrolment token, hex. */
int rest_token_hash(const char *token, char *out, size_t outlen);
/* Upper-case hex without leading zeros, as the store keeps serials. */
int rest_serial_canonical(const char *in, char *out, size_t outlen);
json_object *rest_cert_json(const struct store_cert *c, bool with_pem);
/* GET with ?page=N&per_page=M over the certificates (of one CN). */
void rest_cert_page(struct ra_ctx *ctx, const struct http_request *req, const char *cn,
    struct http_response *resp, bool with_pem);
/* The reason of a revocation request: the optional body's "reason" (a
 * name the CA knows), "unspecified" without one.  NULL with the error in
 * resp; *body is the parsed body (or NULL) for the caller to put. */
const char *rest_revoke_reason(const struct http_request *req, struct http_response *resp,
    json_object **body);
/* Maps a revoke_* result to an error answer; 0 for REVOKE_OK. */
int rest_revoke_result(struct http_response *resp, enum revoke_result r, const char *msg);
/* Maps an issue_* failure to an error answer: 4xx for what asking again
 * will not change, 503 with Retry-After for what may pass. */
void rest_issue_failed(struct http_response *resp, enum issue_result r, const char *msg);

#endif
