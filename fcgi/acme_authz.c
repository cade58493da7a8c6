/*
 * Authorizations and challenges (RFC 8555 7.5).  Responding to a challenge
 * only records that the client is ready: a validator process does the
 * network check later (validator.c), so no request waits on a slow target.
 */
#include <stdio.h>
#include <string.h>

#include "acme.h"
#include "handlers.h"
#include "jsonx.h"
#include "log.h"
#include "store_authz.h"
#include "wakeup.h"

static json_object *
acme_challenge_json(struct ra_ctx *ctx, const struct http_request *req,
    const struct store_authz *a, const struct store_challenge *c)
{
	json_object *o = json_object_new_object();
	char url[ACME_URL_MAX], t[32];

	json_object_object_add(o, "type", json_object_new_string(c->type));
	acme_url(ctx, req, url, sizeof(url), "/acme/challenge/%s/%s", a->id, c->type);
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "status", json_object_new_string(c->status));
	json_object_object_add(o, "token", json_object_new_string(c->token));
	if (c->validated != 0 && strcmp(c->status, "valid") == 0) {
		acme_time(c->validated, t, sizeof(t));
		json_object_object_add(o, "validated", json_object_new_string(t));
	}
	if (c->error != NULL)
		json_object_object_add(o, "error", json_tokener_parse(c->error));
	return o;
}

static json_object *
acme_authz_json(struct ra_ctx *ctx, const struct http_request *req,
    const struct store_authz *a)
{
	json_object *o = json_object_new_object(), *id = json_object_new_object();
	json_object *chs = json_object_new_array();
	char t[32];

	json_object_object_add(id, "type", json_object_new_string(a->type));
	json_object_object_add(id, "value", json_object_new_string(a->value));
	json_object_object_add(o, "identifier", id);
	json_object_object_add(o, "status", json_object_new_string(a->status));
	acme_time(a->expires, t, sizeof(t));
	json_object_object_add(o, "expires", json_object_new_string(t));
	for (int i = 0; i < a->nchallenges; i++) {
		/* RFC 8555 7.1.4: a valid authorization lists the challenge
		 * that validated it; the others may be left out. */
		if (strcmp(a->status, "valid") == 0 && strcmp(a->challenges[i].status, "valid") != 0)
			continue;
		json_object_array_add(chs, acme_challenge_json(ctx, req, a, &a->challenges[i]));
	}
	json_object_object_add(o, "challenges", chs);
	if (a->wildcard)
		json_object_object_add(o, "wildcard", json_object_new_boolean(1));
	return o;
}

static int
acme_authz_load(struct ra_ctx *ctx, const struct acme_req *ar, const char *id,
    struct store_authz *a, struct http_response *resp)
{
	int rc = store_authz_get(ctx->store, id, ar->now, a);

	if (rc < 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (rc == 1) {
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such authorization");
		return -1;
	}
	if (!acme_owner(ar, a->account_id, resp)) {
		store_authz_free(a);
		return -1;
	}
	return 0;
}

static int
acme_authz_deactivate(struct ra_ctx *ctx, const struct acme_req *ar, struct store_authz *a,
    struct http_response *resp)
{
	const char *status = jsonx_get_string(ar->payload, "status");

	if (status == NULL || strcmp(status, "deactivated") != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "an authorization's status can only be set to deactivated");
		return -1;
	}
	if (strcmp(a->status, "pending") != 0 && strcmp(a->status, "valid") != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "a %s authorization cannot be deactivated", a->status);
		return -1;
	}
	if (store_authz_deactivate(ctx->store, a->id) < 0) {
		acme_store_failed(resp);
		return -1;
	}
	snprintf(a->status, sizeof(a->status), "deactivated");
	return 0;
}

void
acme_authz(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_authz a;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (acme_authz_load(ctx, &ar, args->arg[0], &a, resp) != 0)
		goto done;
	if (ar.payload == NULL || acme_authz_deactivate(ctx, &ar, &a, resp) == 0) {
		if (strcmp(a.status, "pending") == 0)
			http_header_add(resp, "Retry-After", "1");
		acme_json(resp, 200, acme_authz_json(ctx, req, &a));
	}
	store_authz_free(&a);
done:
	acme_req_free(&ar);
}

static struct store_challenge *
acme_challenge_find(struct store_authz *a, const char *type)
{
	for (int i = 0; i < a->nchallenges; i++)
		if (strcmp(a->challenges[i].type, type) == 0)
			return &a->challenges[i];
	return NULL;
}

/* One account's validations are bounded: how many run at once (the
 * validators are shared), and how many may fail in an hour. */
static int
acme_challenge_rate(struct ra_ctx *ctx, const struct acme_req *ar,
    struct http_response *resp)
{
	int inflight = 0, failed = 0;
	int64_t oldest = 0;

	if (store_account_challenges(ctx->store, ar->account.id, ar->now - 3600, &inflight,
	    &failed, &oldest) != 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (ctx->cfg->rate_inflight > 0 && inflight >= ctx->cfg->rate_inflight) {
		/* A check ends within 15 s, its total timeout. */
		http_header_add(resp, "Retry-After", "15");
		acme_problem(resp, 429, ACME_ERR("rateLimited"), NULL,
		    "at most %d validations in flight per account", ctx->cfg->rate_inflight);
		return -1;
	}
	if (ctx->cfg->rate_failed > 0 && failed >= ctx->cfg->rate_failed) {
		http_header_add(resp, "Retry-After", "%lld",
		    (long long)(oldest + 3600 - ar->now > 1 ? oldest + 3600 - ar->now : 1));
		acme_problem(resp, 429, ACME_ERR("rateLimited"), NULL,
		    "at most %d failed validations per account per hour", ctx->cfg->rate_failed);
		return -1;
	}
	return 0;
}

void
acme_challenge(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_authz a;
	struct store_challenge *c;
	char up[ACME_URL_MAX];

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (acme_authz_load(ctx, &ar, args->arg[0], &a, resp) != 0)
		goto done;
	if ((c = acme_challenge_find(&a, args->arg[1])) == NULL) {
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such challenge");
		goto free_authz;
	}
	/* A payload (the empty object "{}") asks for validation; POST-as-GET
	 * only reads.  Asking again while it runs changes nothing. */
	if (ar.payload != NULL && strcmp(c->status, "pending") == 0) {
		int rc;

		if (acme_challenge_rate(ctx, &ar, resp) != 0)
			goto free_authz;
		rc = store_challenge_start(ctx->store, a.id, c->type);

		if (rc < 0) {
			acme_store_failed(resp);
			goto free_authz;
		}
		if (rc == 0) {
			snprintf(c->status, sizeof(c->status), "processing");
			wakeup_ring();
		}
	}
	acme_url(ctx, req, up, sizeof(up), "/acme/authz/%s", a.id);
	http_header_add(resp, "Link", "<%s>;rel=\"up\"", up);
	/* Validation takes about a second: tell clients to poll that soon
	 * rather than at their default of several seconds. */
	if (strcmp(c->status, "processing") == 0)
		http_header_add(resp, "Retry-After", "1");
	acme_json(resp, 200, acme_challenge_json(ctx, req, &a, c));
free_authz:
	store_authz_free(&a);
done:
	acme_req_free(&ar);
}
