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

/* acme_directory.c */
HANDLER(acme_directory);
HANDLER(acme_new_nonce);

/* acme_account.c */
HANDLER(acme_new_account);
HANDLER(acme_account);
HANDLER(acme_account_orders);
HANDLER(acme_key_change);

/* acme_order.c */
HANDLER(acme_new_order);
HANDLER(acme_order);
HANDLER(acme_finalize);
HANDLER(acme_certificate);

/* acme_authz.c */
HANDLER(acme_authz);
HANDLER(acme_challenge);

/* acme_revoke.c */
HANDLER(acme_revoke);

#endif
