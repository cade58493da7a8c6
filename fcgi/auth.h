/*
 * Who is calling a protected route.  Identity comes only from the client
 * certificate nginx passes (SSL_CLIENT_CERT, never an HTTP header), and only
 * once the worker verified it itself (certcheck.h) and found it not revoked
 * in the RA's own records; nginx's SSL_CLIENT_S_DN is never used.
 */
#ifndef UPKI_AUTH_H
#define UPKI_AUTH_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "dn.h"
#include "http.h"
#include "ra.h"

struct auth_identity {
	X509 *cert;
	char dn[DN_MAX];        /* canonical, see dn.h */
	char cn[256];
	char serial[80];        /* upper-case hex */
};

/* 0 with the identity of a verified client; -1 with a 401 in resp when
 * there is no certificate nginx verified (or it does not parse), a 403 when
 * the worker's own check refuses it (logged). */
int auth_client(struct ra_ctx *ctx, const struct http_request *req,
    struct auth_identity *id, struct http_response *resp);
/* The admin list: the RA's own, then the CA's (cached for admin_cache_s),
 * with the RA's removals winning.  -1 when neither can be asked. */
int auth_is_admin(struct ra_ctx *ctx, const char *dn, bool *yes);
/* Forgets this process's copy of the CA's admin list. */
void auth_admin_cache_clear(void);
void auth_identity_free(struct auth_identity *id);

#endif
