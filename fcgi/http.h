/*
 * The request as a handler sees it and the response it fills in.  The
 * worker (worker.c) builds the request from FastCGI params and writes the
 * response back; handlers never touch FastCGI, which keeps them testable
 * and fuzzable without a web server.
 */
#ifndef UPKI_HTTP_H
#define UPKI_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"

/* nginx bounds bodies too (client_max_body_size); this is the second check. */
#define HTTP_BODY_MAX (64 * 1024)
#define HTTP_RESPONSE_MAX (4 * 1024 * 1024)
#define HTTP_MAX_HEADERS 8

struct http_request {
	const char *method;
	const char *path;           /* REQUEST_URI up to '?', not decoded */
	const char *query;          /* after '?', or "" */
	const char *host;           /* HTTP_HOST */
	bool https;
	const char *content_type;
	/* From nginx's own variables, never from client headers (DESIGN.md). */
	const char *client_verify;  /* SUCCESS, FAILED:reason, NONE, or NULL */
	const char *client_cert;    /* URL-encoded PEM, as nginx escapes it */
	const char *remote_addr;    /* $remote_addr: whom new-account counts */
	const char *body;
	size_t body_len;
};

struct http_header {
	const char *name;
	char *value;                /* owned */
};

struct http_response {
	int status;
	const char *content_type;
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
	struct buf body;
};

void http_response_init(struct http_response *resp);
void http_response_free(struct http_response *resp);
void http_header_add(struct http_response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A 5xx says the failure may pass, so every one carries Retry-After: the
 * handler's own, or a short default.  Run once the handler has answered. */
void http_response_seal(struct http_response *resp);
const char *http_status_text(int status);

/* The REST envelope of DESIGN.md: {"status":"success","data":...} (data is
 * consumed) and {"status":"error","message":...}. */
void http_rest_data(struct http_response *resp, int status, json_object *data);
/* A success whose data lacks a part that could not be had: the envelope
 * says so with "partial": true and a message. */
void http_rest_partial(struct http_response *resp, int status, json_object *data,
    const char *message);
void http_rest_error(struct http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A body of another type: PEM, text. */
void http_text(struct http_response *resp, int status, const char *type,
    const char *text);
/* A binary body (DER). */
void http_bytes(struct http_response *resp, int status, const char *type, const void *data,
    size_t len);

#endif
