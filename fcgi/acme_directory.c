/*
 * GET /acme/directory and HEAD|GET /acme/new-nonce: the only ACME
 * resources a client may GET (RFC 8555 7.1.1, 7.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "handlers.h"
#include "jsonx.h"

static void
acme_directory_add(json_object *dir, struct ra_ctx *ctx, const struct http_request *req,
    const char *key, const char *path)
{
	char url[ACME_URL_MAX];

	acme_url(ctx, req, url, sizeof(url), "%s", path);
	json_object_object_add(dir, key, json_object_new_string(url));
}

/* The ACME profiles draft: the CA profiles an order may name. */
static json_object *
acme_directory_profiles(const struct config *cfg)
{
	json_object *profiles = json_object_new_object();
	char name[64];

	for (const char *p = cfg->acme_profiles; *p != '\0';) {
		size_t len = strcspn(p, ",");

		if (len > 0 && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			json_object_object_add(profiles, name, json_object_new_string(
			    strcmp(name, cfg->acme_profile) == 0 ?
			    "uPKI CA profile (the default)" : "uPKI CA profile"));
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return profiles;
}

static json_object *
acme_directory_meta(struct ra_ctx *ctx, const struct http_request *req)
{
	json_object *meta = json_object_new_object(), *caa;
	char base[ACME_URL_MAX], identity[CONFIG_STR];

	acme_base(ctx, req, base, sizeof(base));
	if (ctx->cfg->tos_url[0] != '\0')
		json_object_object_add(meta, "termsOfService",
		    json_object_new_string(ctx->cfg->tos_url));
	json_object_object_add(meta, "website", json_object_new_string(base));
	/* A domain name, without port (RFC 8659): none rather than a wrong one. */
	if (config_caa_identity(ctx->cfg, identity, sizeof(identity)) == 0) {
		caa = json_object_new_array();
		json_object_array_add(caa, json_object_new_string(identity));
		json_object_object_add(meta, "caaIdentities", caa);
	}
	json_object_object_add(meta, "externalAccountRequired",
	    json_object_new_boolean(ctx->cfg->eab_required));
	json_object_object_add(meta, "profiles", acme_directory_profiles(ctx->cfg));
	return meta;
}

static char *
acme_directory_make(struct ra_ctx *ctx, const struct http_request *req)
{
	json_object *dir = json_object_new_object();
	char *body;

	acme_directory_add(dir, ctx, req, "newNonce", "/acme/new-nonce");
	acme_directory_add(dir, ctx, req, "newAccount", "/acme/new-account");
	acme_directory_add(dir, ctx, req, "newOrder", "/acme/new-order");
	acme_directory_add(dir, ctx, req, "revokeCert", "/acme/revoke-cert");
	acme_directory_add(dir, ctx, req, "keyChange", "/acme/key-change");
	acme_directory_add(dir, ctx, req, "renewalInfo", "/acme/renewal-info");
	json_object_object_add(dir, "meta", acme_directory_meta(ctx, req));
	body = strdup(jsonx_print(dir));
	json_object_put(dir);
	return body;
}

/* The directory depends only on the base URL and on the configuration,
 * which is fixed for the life of a worker (SIGHUP replaces workers): each
 * worker makes it once for the base URL its clients use. */
static struct {
	char base[ACME_URL_MAX];
	char *body;
} acme_directory_cache;

void
acme_directory(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	char base[ACME_URL_MAX];
	char *body;

	(void)args;
	acme_base(ctx, req, base, sizeof(base));
	if (acme_directory_cache.body == NULL || strcmp(acme_directory_cache.base, base) != 0) {
		if ((body = acme_directory_make(ctx, req)) == NULL) {
			acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL, "out of memory");
			return;
		}
		free(acme_directory_cache.body);
		acme_directory_cache.body = body;
		snprintf(acme_directory_cache.base, sizeof(acme_directory_cache.base), "%s", base);
	}
	http_text(resp, 200, "application/json", acme_directory_cache.body);
}

void
acme_new_nonce(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	(void)ctx;
	(void)args;
	/* The nonce itself is in Replay-Nonce, as on every ACME response. */
	http_header_add(resp, "Cache-Control", "no-store");
	resp->status = strcmp(req->method, "HEAD") == 0 ? 200 : 204;
}
