/*
 * Every handler the route table in router.c names, by the file it lives in.
 */
#ifndef UPKI_HANDLERS_H
#define UPKI_HANDLERS_H

#include "router.h"

#define HANDLER(name) void name(struct ra_ctx *ctx, const struct http_request *req, \
    struct http_response *resp, const struct route_args *args)

/* public.c */
HANDLER(public_health);
HANDLER(public_ca);
HANDLER(public_crl);
HANDLER(public_profiles);
HANDLER(public_profile);
HANDLER(public_magic);

#endif
