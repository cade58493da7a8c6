/*
 * Orders (RFC 8555 7.4): new-order, the order resource, finalize, and the
 * certificate download.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "addrpolicy.h"
#include "handlers.h"
#include "ident.h"
#include "issue.h"
#include "jsonx.h"
#include "log.h"
#include "randid.h"

#define ACME_MAX_IDENTIFIERS 100
#define ACME_ORDER_LIFETIME (7 * 24 * 3600)
#define ACME_TOKEN_BYTES 32

static json_object *
acme_order_json(struct ra_ctx *ctx, const struct http_request *req,
    const struct store_order *o, struct http_response *resp)
{
	static char ids[ACME_MAX_IDENTIFIERS][STORE_ID_MAX];
	json_object *obj = json_object_new_object(), *authzs = json_object_new_array();
	char url[ACME_URL_MAX], t[32];
	int n = 0;

	json_object_object_add(obj, "status", json_object_new_string(o->status));
	acme_time(o->expires, t, sizeof(t));
	json_object_object_add(obj, "expires", json_object_new_string(t));
	json_object_object_add(obj, "identifiers", json_tokener_parse(o->identifiers));
	if (store_order_authz_ids(ctx->store, o->id, ids, ACME_MAX_IDENTIFIERS, &n) != 0)
		n = 0;
	for (int i = 0; i < n; i++) {
		acme_url(ctx, req, url, sizeof(url), "/acme/authz/%s", ids[i]);
		json_object_array_add(authzs, json_object_new_string(url));
	}
	json_object_object_add(obj, "authorizations", authzs);
	acme_url(ctx, req, url, sizeof(url), "/acme/order/%s/finalize", o->id);
	json_object_object_add(obj, "finalize", json_object_new_string(url));
	if (o->certificate_serial[0] != '\0') {
		acme_url(ctx, req, url, sizeof(url), "/acme/cert/%s", o->certificate_serial);
		json_object_object_add(obj, "certificate", json_object_new_string(url));
	}
	if (o->error != NULL)
		json_object_object_add(obj, "error", json_tokener_parse(o->error));
	if (o->profile[0] != '\0')
		json_object_object_add(obj, "profile", json_object_new_string(o->profile));
	if (o->replaces[0] != '\0')
		json_object_object_add(obj, "replaces", json_object_new_string(o->replaces));
	if (strcmp(o->status, "processing") == 0)
		http_header_add(resp, "Retry-After", "2");
	return obj;
}

static void
acme_order_reply(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, int status, const struct store_order *o)
{
	char url[ACME_URL_MAX];

	acme_url(ctx, req, url, sizeof(url), "/acme/order/%s", o->id);
	http_header_add(resp, "Location", "%s", url);
	acme_json(resp, status, acme_order_json(ctx, req, o, resp));
}

/* An address validation would refuse to connect to cannot be proven. */
static bool
acme_order_reachable(struct ra_ctx *ctx, const struct ident *id, char *why, size_t whylen)
{
	struct addrpolicy policy;
	const char *range;

	if (strcmp(id->type, "ip") != 0)
		return true;
	if (addrpolicy_parse(&policy, ctx->cfg->validation_allow, why, whylen) != 0)
		return false;
	if ((range = addrpolicy_refuses_text(&policy, id->value)) == NULL)
		return true;
	snprintf(why, whylen, "'%.64s' is %s: the validation address policy refuses it "
	    "(UPKI_RA_VALIDATION_ALLOW)", id->value, range);
	return false;
}

/* One identifier of the payload -> a checked, canonical ident.  A refusal
 * becomes a subproblem naming the identifier (RFC 8555 6.7.1). */
static int
acme_order_ident(struct ra_ctx *ctx, json_object *item, struct ident *id,
    json_object *subproblems)
{
	const char *type = jsonx_get_string(item, "type");
	const char *value = jsonx_get_string(item, "value");
	json_object *sub, *ident;
	char why[256];

	if (type != NULL && value != NULL && ident_parse(type, value, id, why, sizeof(why)) == 0 &&
	    ident_allowed(id, ctx->cfg->allowed_names, why, sizeof(why)) &&
	    acme_order_reachable(ctx, id, why, sizeof(why)))
		return 0;
	if (type == NULL || value == NULL)
		snprintf(why, sizeof(why), "identifiers need a string type and value");
	sub = acme_problem_json(ACME_ERR("rejectedIdentifier"), "%s", why);
	ident = json_object_new_object();
	json_object_object_add(ident, "type", json_object_new_string(type ? type : ""));
	json_object_object_add(ident, "value", json_object_new_string(value ? value : ""));
	json_object_object_add(sub, "identifier", ident);
	json_object_array_add(subproblems, sub);
	return -1;
}

/* The challenges offered for an identifier: a wildcard can only be proven
 * in DNS; an IP address has no DNS name to hold a TXT record. */
static void
acme_order_challenges(const struct ident *id, struct store_new_authz *a)
{
	static const char *const all[] = { "http-01", "dns-01", "tls-alpn-01" };
	static const char *const ip[] = { "http-01", "tls-alpn-01" };
	static const char *const wild[] = { "dns-01" };
	const char *const *types = id->wildcard ? wild : strcmp(id->type, "ip") == 0 ? ip : all;
	int n = id->wildcard ? 1 : strcmp(id->type, "ip") == 0 ? 2 : 3;

	a->nchallenges = 0;
	for (int i = 0; i < n; i++) {
		snprintf(a->challenge_types[i], sizeof(a->challenge_types[i]), "%s", types[i]);
		if (randid_new(a->challenge_tokens[i], sizeof(a->challenge_tokens[i]),
		    ACME_TOKEN_BYTES) == 0)
			a->nchallenges++;
	}
}

/* Builds the authorizations of a new order: reused where the account
 * already proved the name, new otherwise.  Returns how many, or -1. */
static int
acme_order_authzs(struct ra_ctx *ctx, const struct acme_req *ar, const struct ident *ids,
    int n, struct store_new_authz *az)
{
	for (int i = 0; i < n; i++) {
		struct store_new_authz *a = &az[i];
		const char *value = ids[i].wildcard ? ids[i].value + 2 : ids[i].value;
		int rc;

		memset(a, 0, sizeof(*a));
		snprintf(a->type, sizeof(a->type), "%.3s", ids[i].type);
		snprintf(a->value, sizeof(a->value), "%.255s", value);
		a->wildcard = ids[i].wildcard;
		rc = store_authz_reusable(ctx->store, ar->account.id, a->type, a->value,
		    a->wildcard, ar->now + 60, a->id);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			a->reuse = 1;
			continue;
		}
		if (randid_timed(a->id, sizeof(a->id)) != 0)
			return -1;
		a->expires = ar->now + ACME_ORDER_LIFETIME;
		acme_order_challenges(&ids[i], a);
	}
	return n;
}

/* Is the profile one ACME may use? NULL picks the deployment's default. */
static bool
acme_order_profile(struct ra_ctx *ctx, const char *want, char *out, size_t outlen)
{
	const char *list = ctx->cfg->acme_profiles;
	size_t n;

	if (want == NULL) {
		snprintf(out, outlen, "%.63s", ctx->cfg->acme_profile);
		return true;
	}
	n = strlen(want);
	for (const char *p = list; *p != '\0';) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, want, n) == 0) {
			snprintf(out, outlen, "%s", want);
			return true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Parses the identifiers of a new-order payload; writes the problem. */
static int
acme_order_identifiers(struct ra_ctx *ctx, json_object *payload, struct ident *ids,
    struct http_response *resp)
{
	json_object *arr = jsonx_get_array(payload, "identifiers");
	json_object *subproblems;
	size_t len;
	int n = 0;

	if (arr == NULL || (len = json_object_array_length(arr)) == 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "identifiers must be a non-empty array");
		return -1;
	}
	if (len > ACME_MAX_IDENTIFIERS) {
		acme_problem(resp, 400, ACME_ERR("rejectedIdentifier"), NULL,
		    "at most %d identifiers per order", ACME_MAX_IDENTIFIERS);
		return -1;
	}
	subproblems = json_object_new_array();
	for (size_t i = 0; i < len; i++) {
		struct ident id;
		bool dup = false;

		if (acme_order_ident(ctx, json_object_array_get_idx(arr, i), &id, subproblems) != 0)
			continue;
		for (int k = 0; k < n; k++)
			dup |= strcmp(ids[k].type, id.type) == 0 && strcmp(ids[k].value, id.value) == 0;
		if (!dup)
			ids[n++] = id;
	}
	if (json_object_array_length(subproblems) > 0) {
		acme_problem(resp, 400, ACME_ERR("rejectedIdentifier"), subproblems,
		    "%zu of the identifiers cannot be issued for",
		    json_object_array_length(subproblems));
		return -1;
	}
	json_object_put(subproblems);
	return n;
}

static json_object *
acme_identifiers_json(const struct ident *ids, int n)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string(ids[i].type));
		json_object_object_add(o, "value", json_object_new_string(ids[i].value));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* One broken client must not starve the CA: at most rate_orders new
 * orders per account in any hour. */
static int
acme_order_rate(struct ra_ctx *ctx, const struct acme_req *ar, struct http_response *resp)
{
	int64_t oldest = 0;
	int n;

	if (ctx->cfg->rate_orders == 0)
		return 0;
	n = store_account_orders_since(ctx->store, ar->account.id, ar->now - 3600, &oldest);
	if (n < 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (n < ctx->cfg->rate_orders)
		return 0;
	http_header_add(resp, "Retry-After", "%lld",
	    (long long)(oldest + 3600 - ar->now > 1 ? oldest + 3600 - ar->now : 1));
	acme_problem(resp, 429, ACME_ERR("rateLimited"), NULL,
	    "at most %d new orders per account per hour", ctx->cfg->rate_orders);
	return -1;
}

/* Pending authorizations cost the RA validations to come: at most
 * rate_pending_authz per account, those this order adds included. */
static int
acme_order_pending(struct ra_ctx *ctx, const struct acme_req *ar,
    const struct store_new_authz *az, int n, struct http_response *resp)
{
	int pending, adds = 0;

	if (ctx->cfg->rate_pending_authz == 0)
		return 0;
	if ((pending = store_account_pending_authzs(ctx->store, ar->account.id, ar->now)) < 0) {
		acme_store_failed(resp);
		return -1;
	}
	for (int i = 0; i < n; i++)
		adds += !az[i].reuse;
	if (pending + adds <= ctx->cfg->rate_pending_authz)
		return 0;
	http_header_add(resp, "Retry-After", "60");
	acme_problem(resp, 429, ACME_ERR("rateLimited"), NULL,
	    "at most %d pending authorizations per account (%d pending): validate or "
	    "deactivate some first", ctx->cfg->rate_pending_authz, pending);
	return -1;
}

/* RFC 9773 "replaces": the certificate this order renews, one of the
 * account's own. */
static int
acme_order_replaces(struct ra_ctx *ctx, const struct acme_req *ar, struct store_order *o,
    struct http_response *resp)
{
	const char *certid = jsonx_get_string(ar->payload, "replaces");
	struct store_cert c;
	char serial[48];
	json_object *v;
	int rc;

	if (certid == NULL) {
		if (!json_object_object_get_ex(ar->payload, "replaces", &v))
			return 0;
	} else if (strlen(certid) < sizeof(o->replaces) &&
	    acme_ari_serial(certid, serial, sizeof(serial)) == 0 &&
	    (rc = store_cert_by_serial(ctx->store, serial, &c)) == 0) {
		rc = c.account_id == ar->account.id ? 0 : -1;
		store_cert_free(&c);
		if (rc == 0) {
			snprintf(o->replaces, sizeof(o->replaces), "%s", certid);
			return 0;
		}
	}
	acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
	    "replaces must be the CertID of one of this account's certificates");
	return -1;
}

void
acme_new_order(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	static struct ident ids[ACME_MAX_IDENTIFIERS];
	static struct store_new_authz az[ACME_MAX_IDENTIFIERS];
	struct store_order o = { 0 };
	struct acme_req ar;
	json_object *v, *idjson = NULL;
	int n;

	(void)args;
	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (ar.payload == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "new-order needs a payload");
		goto done;
	}
	if (acme_order_rate(ctx, &ar, resp) != 0 || acme_order_replaces(ctx, &ar, &o, resp) != 0)
		goto done;
	/* The CA's profile fixes the validity; an order cannot choose it. */
	if (json_object_object_get_ex(ar.payload, "notBefore", &v) ||
	    json_object_object_get_ex(ar.payload, "notAfter", &v)) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "notBefore and notAfter are not supported: the CA profile sets the validity");
		goto done;
	}
	if (!acme_order_profile(ctx, jsonx_get_string(ar.payload, "profile"), o.profile,
	    sizeof(o.profile))) {
		acme_problem(resp, 400, ACME_ERR("invalidProfile"), NULL,
		    "profile must be one of: %s", ctx->cfg->acme_profiles);
		goto done;
	}
	if ((n = acme_order_identifiers(ctx, ar.payload, ids, resp)) < 0)
		goto done;
	if (acme_order_authzs(ctx, &ar, ids, n, az) < 0 ||
	    randid_timed(o.id, sizeof(o.id)) != 0) {
		acme_store_failed(resp);
		goto done;
	}
	if (acme_order_pending(ctx, &ar, az, n, resp) != 0)
		goto done;
	idjson = acme_identifiers_json(ids, n);
	o.account_id = ar.account.id;
	o.created_at = ar.now;
	o.expires = ar.now + ACME_ORDER_LIFETIME;
	o.identifiers = (char *)jsonx_print(idjson);
	if (store_order_create(ctx->store, &o, az, n) != 0) {
		acme_store_failed(resp);
		goto done;
	}
	log_info("acme: account %s: new order %s for %d identifier(s)", ar.account.kid, o.id, n);
	acme_order_reply(ctx, req, resp, 201, &o);
done:
	json_object_put(idjson);
	acme_req_free(&ar);
}

/* Loads the order of the path for its owner; writes the problem otherwise. */
static int
acme_order_load(struct ra_ctx *ctx, const struct acme_req *ar, const char *id,
    struct store_order *o, struct http_response *resp)
{
	int rc = store_order_get(ctx->store, id, ar->now, o);

	if (rc < 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (rc == 1) {
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such order");
		return -1;
	}
	if (!acme_owner(ar, o->account_id, resp)) {
		store_order_free(o);
		return -1;
	}
	return 0;
}

void
acme_order(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_order o;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (acme_order_load(ctx, &ar, args->arg[0], &o, resp) != 0)
		goto done;
	acme_json(resp, 200, acme_order_json(ctx, req, &o, resp));
	store_order_free(&o);
done:
	acme_req_free(&ar);
}

void
acme_finalize(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_order o;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (acme_order_load(ctx, &ar, args->arg[0], &o, resp) != 0)
		goto done;
	if (acme_issue(ctx, &ar, &o, resp) == 0) {
		struct store_order done;

		if (store_order_get(ctx->store, o.id, ar.now, &done) == 0) {
			acme_order_reply(ctx, req, resp, 200, &done);
			store_order_free(&done);
		} else {
			acme_store_failed(resp);
		}
	}
	store_order_free(&o);
done:
	acme_req_free(&ar);
}

void
acme_certificate(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_cert c;
	char *chain = NULL;
	int rc;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if ((rc = store_cert_by_serial(ctx->store, args->arg[0], &c)) != 0) {
		if (rc < 0)
			acme_store_failed(resp);
		else
			acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such certificate");
		goto done;
	}
	if (acme_owner(&ar, c.account_id, resp) && (chain = issue_chain(ctx, c.pem)) != NULL)
		http_text(resp, 200, "application/pem-certificate-chain", chain);
	else if (resp->status == 200)
		acme_store_failed(resp);
	free(chain);
	store_cert_free(&c);
done:
	acme_req_free(&ar);
}
