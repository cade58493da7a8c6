/*
 * Every handler the route table in router.c names, by the file it lives in.
 */
#ifndef UPKI_HANDLERS_H
#define UPKI_HANDLERS_H

#include "router.h"

/* public.c */
route_fn public_health;
route_fn public_ca;
route_fn public_crl;
route_fn public_crl_der;
route_fn public_profiles;
route_fn public_profile;
route_fn public_magic;
route_fn public_certs;
route_fn public_certs_cn;
route_fn public_ocsp;

/* openapi.c */
route_fn public_openapi;

/* enrol.c */
route_fn enrol_certify;

/* admin.c */
route_fn admin_health;
route_fn admin_nodes;
route_fn admin_node_create;
route_fn admin_node_delete;
route_fn admin_admins;
route_fn admin_admin_create;
route_fn admin_admin_delete;
route_fn admin_certs;
route_fn admin_cert;
route_fn admin_cert_revoke;
route_fn admin_cert_unrevoke;
route_fn admin_cert_renew;
route_fn admin_crl_generate;
route_fn admin_config;
route_fn admin_options;
route_fn admin_eab_keys;
route_fn admin_eab_create;

/* client.c */
route_fn client_certificate;
route_fn client_status;
route_fn client_renew;
route_fn client_revoke;

/* acme_directory.c */
route_fn acme_directory;
route_fn acme_new_nonce;

/* acme_account.c */
route_fn acme_new_account;
route_fn acme_account;
route_fn acme_account_orders;
route_fn acme_key_change;

/* acme_order.c */
route_fn acme_new_order;
route_fn acme_order;
route_fn acme_finalize;
route_fn acme_certificate;

/* acme_authz.c */
route_fn acme_authz;
route_fn acme_challenge;

/* acme_ari.c */
route_fn acme_renewal_info;

/* acme_revoke.c */
route_fn acme_revoke;

#endif
