/*
 * Who is calling a protected route.  Identity comes only from the FastCGI
 * params nginx sets from its own variables (never from HTTP headers), and
 * from the certificate itself where nginx passed it: the DN string is used
 * only when there is no certificate.
 */
#ifndef UPKI_AUTH_H
#define UPKI_AUTH_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "dn.h"
#include "http.h"
#include "ra.h"

struct auth_identity {
	X509 *cert;             /* NULL when nginx passed only the DN */
	char dn[DN_MAX];        /* canonical, see dn.h */
	char cn[256];
	char serial[80];        /* upper-case hex */
};

/* 0 with the identity of a verified client; -1 when nginx did not verify
 * one (or the params do not parse), with a 401 in resp. */
int auth_client(const struct http_request *req, struct auth_identity *id,
    struct http_response *resp);
/* The admin list: the RA's own, then the CA's (cached for admin_cache_s),
 * with the RA's removals winning.  -1 when neither can be asked. */
int auth_is_admin(struct ra_ctx *ctx, const char *dn, bool *yes);
/* Forgets this process's copy of the CA's admin list. */
void auth_admin_cache_clear(void);
void auth_identity_free(struct auth_identity *id);

#endif
