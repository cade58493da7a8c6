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
HANDLER(public_crl_der);
HANDLER(public_profiles);
HANDLER(public_profile);
HANDLER(public_magic);

/* openapi.c */
HANDLER(public_openapi);

/* enrol.c */
HANDLER(public_certify);
HANDLER(public_certs);
HANDLER(public_certs_cn);
HANDLER(public_ocsp);

/* admin.c */
HANDLER(admin_health);
HANDLER(admin_nodes);
HANDLER(admin_node_create);
HANDLER(admin_node_delete);
HANDLER(admin_admins);
HANDLER(admin_admin_create);
HANDLER(admin_admin_delete);
HANDLER(admin_certs);
HANDLER(admin_cert);
HANDLER(admin_cert_revoke);
HANDLER(admin_cert_unrevoke);
HANDLER(admin_cert_renew);
HANDLER(admin_crl_generate);
HANDLER(admin_config);
HANDLER(admin_options);
HANDLER(admin_eab_keys);
HANDLER(admin_eab_create);

/* client.c */
HANDLER(client_certificate);
HANDLER(client_status);
HANDLER(client_renew);
HANDLER(client_revoke);

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

/* acme_ari.c */
HANDLER(acme_renewal_info);

/* acme_revoke.c */
HANDLER(acme_revoke);

#endif
