#include "auth.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "certcheck.h"
#include "jsonx.h"
#include "log.h"
#include "rest.h"
#include "store_admin.h"
#include "store_cert.h"

#define AUTH_MAX_CA_ADMINS 256

/* This worker's copy of the CA's list_admins, canonical DNs. */
static char (*auth_ca_admins)[DN_MAX];
static int auth_ca_nadmins;
static time_t auth_ca_fetched;

void
auth_identity_free(struct auth_identity *id)
{
	X509_free(id->cert);
	id->cert = NULL;
}

static struct certcheck *
auth_checker(struct ra_ctx *ctx)
{
	char ca[PATH_MAX], crl[PATH_MAX];

	if (ctx->clients != NULL)
		return ctx->clients;
	if (config_path(ctx->cfg, "ca.crt", ca, sizeof(ca)) != 0 ||
	    config_path(ctx->cfg, "crl.pem", crl, sizeof(crl)) != 0)
		return NULL;
	ctx->clients = certcheck_new(ca, crl);
	return ctx->clients;
}

/* The RA's own records: what it revoked is refused at once, before the CA's
 * CRL says so and whatever TLS session nginx resumed.  1 revoked, -1 the
 * records cannot be read now (refused too, as a failure that may pass). */
static int
auth_not_revoked(struct ra_ctx *ctx, const char *serial, const char **why)
{
	struct store_cert c;
	int rc = store_cert_by_serial(ctx->store, serial, &c);

	if (rc < 0) {
		*why = "the RA's records cannot be read";
		return -1;
	}
	if (rc > 0)
		return 0;       /* not one the RA issued: ca.crt and crl.pem decide */
	rc = strcmp(c.status, "revoked") == 0 ? 1 : 0;
	if (rc != 0)
		*why = "certificate revoked";
	store_cert_free(&c);
	return rc;
}

int
auth_client(struct ra_ctx *ctx, const struct http_request *req, struct auth_identity *id,
    struct http_response *resp)
{
	struct certcheck *cc;
	const char *why = "out of memory";
	int revoked = 0;

	memset(id, 0, sizeof(*id));
	if (req->client_verify == NULL || strcmp(req->client_verify, "SUCCESS") != 0 ||
	    req->client_cert == NULL || *req->client_cert == '\0') {
		http_rest_error(resp, 401, "a verified client certificate is required");
		return -1;
	}
	if ((id->cert = dn_client_cert(req->client_cert)) == NULL ||
	    dn_from_cert(id->cert, id->dn, sizeof(id->dn)) != 0 ||
	    cert_serial_hex(id->cert, id->serial, sizeof(id->serial)) != 0) {
		http_rest_error(resp, 401, "the client certificate could not be read");
		goto fail;
	}
	if (cert_common_name(id->cert, id->cn, sizeof(id->cn)) != 0)
		id->cn[0] = '\0';
	if ((cc = auth_checker(ctx)) == NULL || certcheck_verify(cc, id->cert, &why) != 0 ||
	    (revoked = auth_not_revoked(ctx, id->serial, &why)) != 0) {
		log_warn("refused %.16s %.128s to %s (serial %s): %s", req->method, req->path,
		    id->dn, id->serial, why);
		if (revoked < 0)
			rest_store_failed(resp);
		else
			http_rest_error(resp, 403, "the client certificate is not accepted: %s",
			    why);
		goto fail;
	}
	return 0;
fail:
	auth_identity_free(id);
	return -1;
}

void
auth_admin_cache_clear(void)
{
	auth_ca_fetched = 0;
}

static int
auth_ca_admins_refresh(struct ra_ctx *ctx)
{
	json_object *data = NULL;
	char msg[256];
	enum ca_result r;
	size_t n;

	if (auth_ca_admins == NULL &&
	    (auth_ca_admins = calloc(AUTH_MAX_CA_ADMINS, DN_MAX)) == NULL)
		return -1;
	r = ca_list_admins(ctx->ca, &data, msg, sizeof(msg));
	if (r == CA_ERR_UNSUPPORTED) {
		auth_ca_nadmins = 0;
	} else if (r != CA_OK) {
		log_warn("cannot read the CA's admin list: %s", msg);
		return -1;
	} else {
		auth_ca_nadmins = 0;
		n = json_object_array_length(data);
		for (size_t i = 0; i < n && auth_ca_nadmins < AUTH_MAX_CA_ADMINS; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(data, i));

			if (s != NULL && dn_canonical(s, auth_ca_admins[auth_ca_nadmins],
			    DN_MAX) == 0)
				auth_ca_nadmins++;
		}
	}
	json_object_put(data);
	auth_ca_fetched = time(NULL);
	return 0;
}

int
auth_is_admin(struct ra_ctx *ctx, const char *dn, bool *yes)
{
	int state = store_admin_has(ctx->store, dn);

	*yes = state == STORE_ADMIN_YES;
	if (state != STORE_ADMIN_UNKNOWN)
		return state < 0 ? -1 : 0;
	if (time(NULL) - auth_ca_fetched >= ctx->cfg->admin_cache_s &&
	    auth_ca_admins_refresh(ctx) != 0)
		return 0;       /* the RA's own list said no; the CA cannot say yes */
	for (int i = 0; i < auth_ca_nadmins; i++)
		if (strcmp(auth_ca_admins[i], dn) == 0)
			*yes = true;
	return 0;
}
