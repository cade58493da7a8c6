/*
 * Routing: the whole HTTP surface of the RA is the table in router.c, with
 * who may call each route.  The router checks that before any handler runs.
 */
#ifndef UPKI_ROUTER_H
#define UPKI_ROUTER_H

#include "http.h"
#include "ra.h"

#define ROUTER_PATH_MAX 1024
#define ROUTER_MAX_ARGS 2
#define ROUTER_ARG_MAX 256

struct auth_identity;

/* Path segments matched by '*' in a pattern, percent-decoded, and the
 * verified caller of an admin or client route. */
struct route_args {
	char arg[ROUTER_MAX_ARGS][ROUTER_ARG_MAX];
	int n;
	struct auth_identity *who;  /* NULL on public and ACME routes */
};

/* What every handler is (handlers.h declares them). */
typedef void route_fn(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args);

void router_dispatch(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp);

#endif
