/*
 * The admin API (/api/v1/...): nodes and their enrolment tokens, admins,
 * certificates, the CRL, the RA's settings and the CA's profiles.  The
 * router has already checked that the caller is an admin; every action is
 * logged with the admin's DN.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "acme.h"
#include "auth.h"
#include "b64.h"
#include "handlers.h"
#include "ident.h"
#include "jsonx.h"
#include "log.h"
#include "randid.h"
#include "rest.h"
#include "revoke.h"
#include "store_admin.h"
#include "store_eab.h"
#include "store_node.h"

#define ADMIN_MAX_SANS 32
#define ADMIN_PAGE_MAX 500

/* -- nodes -------------------------------------------------------------------- */

static void
admin_node_add(const struct store_node *n, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cn", json_object_new_string(n->cn));
	json_object_object_add(o, "profile", json_object_new_string(n->profile));
	json_object_object_add(o, "sans", json_tokener_parse(n->sans));
	json_object_object_add(o, "enrolled", json_object_new_boolean(n->enrolled_at != 0));
	json_object_object_add(o, "token_expires", json_object_new_int64(n->token_expires));
	json_object_object_add(o, "created_by", json_object_new_string(n->created_by));
	json_object_object_add(o, "created_at", json_object_new_int64(n->created_at));
	json_object_array_add(arg, o);
}

void
admin_nodes(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *list = json_object_new_array();

	(void)req;
	(void)args;
	rest_list(resp, store_node_each(ctx->store, admin_node_add, list), list);
}

/* The SANs of a new node: DNS names or IP addresses, canonical, JSON text. */
static char *
admin_node_sans(json_object *body, const char *cn, struct http_response *resp)
{
	json_object *arr = jsonx_get_array(body, "sans"), *out = json_object_new_array();
	json_object *v;
	struct ident id;
	char why[256], *text = NULL;
	size_t n;

	if (arr == NULL && json_object_object_get_ex(body, "sans", &v)) {
		http_rest_error(resp, 400, "sans must be an array of names");
		goto done;
	}
	if (arr == NULL)
		json_object_array_add(out, json_object_new_string(cn));
	n = arr != NULL ? json_object_array_length(arr) : 0;
	if (n > ADMIN_MAX_SANS) {
		http_rest_error(resp, 400, "at most %d sans", ADMIN_MAX_SANS);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));

		if (!json_object_is_type(json_object_array_get_idx(arr, i), json_type_string) ||
		    (ident_parse("dns", s, &id, why, sizeof(why)) != 0 &&
		    ident_parse("ip", s, &id, why, sizeof(why)) != 0)) {
			http_rest_error(resp, 400, "san '%.64s' is not a DNS name or IP address",
			    s != NULL ? s : "");
			goto done;
		}
		json_object_array_add(out, json_object_new_string(id.value));
	}
	text = strdup(jsonx_print(out));
done:
	json_object_put(out);
	return text;
}

/* A profile a node may get: one the CA knows, never the CA's or the RA's. */
static int
admin_profile_ok(struct ra_ctx *ctx, const char *profile, struct http_response *resp)
{
	json_object *data = NULL;
	char msg[256];
	enum ca_result r;

	if (!rest_name_ok(profile) || strcmp(profile, "ca") == 0 || strcmp(profile, "ra") == 0) {
		http_rest_error(resp, 400, "profile '%.64s' cannot be given to a node", profile);
		return -1;
	}
	r = ca_get_profile(ctx->ca, profile, &data, msg, sizeof(msg));
	json_object_put(data);
	if (r == CA_ERR_NOT_FOUND || r == CA_ERR_REFUSED) {
		http_rest_error(resp, 400, "unknown profile '%s'", profile);
		return -1;
	}
	if (r != CA_OK) {
		rest_ca_failed(resp, r, msg);
		return -1;
	}
	return 0;
}

/* A fresh token: 32 random bytes, base64url; only its SHA-256 is stored. */
static int
admin_new_token(char *token, size_t tokenlen, char *hash, size_t hashlen)
{
	unsigned char raw[32];
	char *enc;

	if (RAND_bytes(raw, sizeof(raw)) != 1 || (enc = b64url_encode(raw, sizeof(raw))) == NULL)
		return -1;
	snprintf(token, tokenlen, "%s", enc);
	free(enc);
	return rest_token_hash(token, hash, hashlen);
}

void
admin_node_create(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = rest_body(req, resp), *data;
	struct store_node n = { 0 };
	const char *cn, *profile;
	char token[64], why[256];
	struct ident id;
	int rc;

	(void)args;
	if (body == NULL)
		return;
	cn = jsonx_get_string(body, "cn");
	profile = jsonx_get_string(body, "profile");
	if (cn == NULL || profile == NULL) {
		http_rest_error(resp, 400, "cn and profile are required");
		goto done;
	}
	if (ident_parse("dns", cn, &id, why, sizeof(why)) != 0) {
		http_rest_error(resp, 400, "cn: %s", why);
		goto done;
	}
	if (id.wildcard) {
		http_rest_error(resp, 400, "cn: a node is one name, not a wildcard");
		goto done;
	}
	if (admin_profile_ok(ctx, profile, resp) != 0 ||
	    (n.sans = admin_node_sans(body, id.value, resp)) == NULL)
		goto done;
	snprintf(n.cn, sizeof(n.cn), "%s", id.value);
	snprintf(n.profile, sizeof(n.profile), "%.63s", profile);
	snprintf(n.created_by, sizeof(n.created_by), "%s", args->who->dn);
	n.created_at = time(NULL);
	n.token_expires = n.created_at + ctx->cfg->token_ttl;
	if (admin_new_token(token, sizeof(token), n.token_hash, sizeof(n.token_hash)) != 0 ||
	    (rc = store_node_create(ctx->store, &n)) < 0) {
		rest_store_failed(resp);
		goto done;
	}
	if (rc == 1) {
		http_rest_error(resp, 409, "a node named '%s' exists already", n.cn);
		goto done;
	}
	log_info("admin %s: registered node %s (profile %s)", args->who->dn, n.cn, n.profile);
	data = json_object_new_object();
	json_object_object_add(data, "cn", json_object_new_string(n.cn));
	json_object_object_add(data, "profile", json_object_new_string(n.profile));
	json_object_object_add(data, "sans", json_tokener_parse(n.sans));
	json_object_object_add(data, "token", json_object_new_string(token));
	json_object_object_add(data, "token_expires", json_object_new_int64(n.token_expires));
	http_rest_data(resp, 201, data);
done:
	OPENSSL_cleanse(token, sizeof(token));
	store_node_free(&n);
	json_object_put(body);
}

/* The node's certificate goes with it (the CA's `delete`).  One the RA
 * cannot revoke any more (another owner's now holds its CN) keeps the
 * node, and the answer says why. */
void
admin_node_delete(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_node n;
	struct store_cert c = { 0 };
	char msg[512], owner[STORE_OWNER_MAX];
	int rc;

	(void)req;
	if (rest_found(resp, store_node_get(ctx->store, args->arg[0], &n),
	    "no node named '%.64s'", args->arg[0]) != 0)
		return;
	store_cert_owner_node(n.cn, owner);
	if ((rc = store_cert_of_owner(ctx->store, owner, &c)) < 0) {
		rest_store_failed(resp);
		goto done;
	}
	if (rc == 0 && strcmp(c.status, "valid") == 0 && c.not_after > time(NULL) &&
	    rest_revoke_result(resp, revoke_node_deletion(ctx, &c, msg, sizeof(msg)), msg) != 0)
		goto done;
	if (store_node_delete(ctx->store, n.cn) < 0) {
		rest_store_failed(resp);
		goto done;
	}
	log_info("admin %s: deleted node %s", args->who->dn, n.cn);
	http_rest_data(resp, 200, json_object_new_string(n.cn));
done:
	store_cert_free(&c);
	store_node_free(&n);
}

/* -- health ------------------------------------------------------------------- */

/* The public health, and for admins what of the RA's own certificates
 * needs them: always 200, the warnings say what is wrong. */
void
admin_health(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *data = json_object_new_object();
	char msg[256], *pem = NULL;
	enum ca_result r = ca_probe(ctx->ca, &pem, msg, sizeof(msg));

	(void)req;
	(void)args;
	free(pem);
	json_object_object_add(data, "store", json_object_new_string(
	    store_ping(ctx->store) == 0 ? "ok" : "error"));
	json_object_object_add(data, "ca", json_object_new_string(
	    r == CA_OK || r == CA_ERR_REFUSED ? "ok" : "unreachable"));
	ra_self_status(ctx->cfg, data);
	http_rest_data(resp, 200, data);
}

/* -- admins ------------------------------------------------------------------- */

static void
admin_admin_add(const char *dn, int64_t created, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "dn", json_object_new_string(dn));
	json_object_object_add(o, "source", json_object_new_string("ra"));
	json_object_object_add(o, "created_at", json_object_new_int64(created));
	json_object_array_add(arg, o);
}

void
admin_admins(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *list = json_object_new_array(), *data = NULL;
	char msg[256], dn[DN_MAX];
	enum ca_result r;

	(void)req;
	(void)args;
	if (store_admin_each(ctx->store, admin_admin_add, list) != 0) {
		json_object_put(list);
		rest_store_failed(resp);
		return;
	}
	/* The CA's own list too: the RA accepts the union. */
	r = ca_list_admins(ctx->ca, &data, msg, sizeof(msg));
	for (size_t i = 0; r == CA_OK && i < json_object_array_length(data); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(data, i));
		json_object *o;

		if (s == NULL || dn_canonical(s, dn, sizeof(dn)) != 0 ||
		    store_admin_has(ctx->store, dn) != STORE_ADMIN_UNKNOWN)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "dn", json_object_new_string(dn));
		json_object_object_add(o, "source", json_object_new_string("ca"));
		json_object_array_add(list, o);
	}
	json_object_put(data);
	/* A CA without the task has no list to miss; one that failed does. */
	if (r == CA_OK || r == CA_ERR_UNSUPPORTED) {
		http_rest_data(resp, 200, list);
		return;
	}
	snprintf(msg, sizeof(msg), "the CA's admins are not included: %s", ca_result_str(r));
	http_rest_partial(resp, 200, list, msg);
}

/* Tells the CA too (adding when add, else removing); a CA without admin
 * tasks is no reason to fail. */
static void
admin_tell_ca(struct ra_ctx *ctx, bool add, const char *dn)
{
	char msg[256];
	enum ca_result r = add ? ca_add_admin(ctx->ca, dn, msg, sizeof(msg)) :
	    ca_remove_admin(ctx->ca, dn, msg, sizeof(msg));

	if (r != CA_OK && r != CA_ERR_UNSUPPORTED)
		log_warn("the CA could not %s admin %s: %s", add ? "add" : "remove", dn, msg);
	auth_admin_cache_clear();
}

void
admin_admin_create(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = rest_body(req, resp);
	const char *given;
	char dn[DN_MAX];
	int rc;

	(void)args;
	if (body == NULL)
		return;
	if ((given = jsonx_get_string(body, "dn")) == NULL || dn_canonical(given, dn, sizeof(dn)) != 0) {
		http_rest_error(resp, 400, "dn must be a distinguished name (CN=x,O=y or /O=y/CN=x)");
		goto done;
	}
	if ((rc = store_admin_add(ctx->store, dn, time(NULL))) < 0) {
		rest_store_failed(resp);
		goto done;
	}
	admin_tell_ca(ctx, true, dn);
	log_info("admin %s: added admin %s", args->who->dn, dn);
	http_rest_data(resp, rc == 0 ? 201 : 200, json_object_new_string(dn));
done:
	json_object_put(body);
}

void
admin_admin_delete(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	char dn[DN_MAX];
	int rc;

	(void)req;
	if (dn_canonical(args->arg[0], dn, sizeof(dn)) != 0) {
		http_rest_error(resp, 400, "not a distinguished name (give it as CN=x,O=y)");
		return;
	}
	if (strcmp(dn, args->who->dn) == 0) {
		http_rest_error(resp, 409, "an admin cannot remove itself");
		return;
	}
	if ((rc = store_admin_remove(ctx->store, dn, time(NULL))) < 0) {
		rest_store_failed(resp);
		return;
	}
	admin_tell_ca(ctx, false, dn);
	log_info("admin %s: removed admin %s", args->who->dn, dn);
	http_rest_data(resp, 200, json_object_new_string(dn));
}

/* -- certificates ---------------------------------------------------------- */

void
admin_certs(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	(void)args;
	rest_cert_page(ctx, req, NULL, resp, true);
}

/* Loads the certificate of the path; answers 404 itself. */
static int
admin_cert_load(struct ra_ctx *ctx, const char *serial, struct store_cert *c,
    struct http_response *resp)
{
	char canon[80];

	if (rest_serial_canonical(serial, canon, sizeof(canon)) != 0) {
		http_rest_error(resp, 400, "a serial is hexadecimal");
		return -1;
	}
	return rest_found(resp, store_cert_by_serial(ctx->store, canon, c),
	    "no certificate with serial %s", canon);
}

void
admin_cert(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c;

	(void)req;
	if (admin_cert_load(ctx, args->arg[0], &c, resp) != 0)
		return;
	http_rest_data(resp, 200, rest_cert_json(&c, true));
	store_cert_free(&c);
}

void
admin_cert_revoke(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = NULL;
	const char *reason;
	struct store_cert c = { 0 };
	char msg[512];

	if ((reason = rest_revoke_reason(req, resp, &body)) == NULL)
		return;
	if (admin_cert_load(ctx, args->arg[0], &c, resp) != 0)
		goto done;
	if (strcmp(c.status, "revoked") == 0) {
		log_warn("admin %s: revocation of %s refused: already revoked", args->who->dn,
		    c.serial);
		http_rest_error(resp, 409, "certificate %s is already revoked", c.serial);
		goto done;
	}
	if (rest_revoke_result(resp, revoke_certificate(ctx, &c, reason, msg, sizeof(msg)), msg) == 0) {
		log_info("admin %s: revoked %s (%s)", args->who->dn, c.serial, reason);
		http_rest_data(resp, 200, json_object_new_string(c.serial));
	}
done:
	store_cert_free(&c);
	json_object_put(body);
}

void
admin_cert_unrevoke(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c;
	char msg[512];

	(void)req;
	if (admin_cert_load(ctx, args->arg[0], &c, resp) != 0)
		return;
	if (strcmp(c.status, "revoked") != 0) {
		http_rest_error(resp, 409, "certificate %s is not revoked", c.serial);
	} else if (rest_revoke_result(resp, revoke_lift(ctx, &c, msg, sizeof(msg)), msg) == 0) {
		log_info("admin %s: unrevoked %s", args->who->dn, c.serial);
		http_rest_data(resp, 200, json_object_new_string(c.serial));
	}
	store_cert_free(&c);
}

/* The CA renews it with the same key, for the same owner. */
void
admin_cert_renew(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c, renewed;
	struct issue_request rq = { 0 };
	char msg[512];
	enum issue_result r;

	(void)req;
	if (admin_cert_load(ctx, args->arg[0], &c, resp) != 0)
		return;
	rq.renew = &c;
	rq.profile = c.profile;
	rq.owner = c.owner;
	rq.source = "admin";
	rq.account_id = c.account_id;
	if ((r = issue_certificate(ctx, &rq, &renewed, msg, sizeof(msg))) != ISSUE_OK) {
		rest_issue_failed(resp, r, msg);
	} else {
		log_info("admin %s: renewed %s as %s", args->who->dn, c.serial, renewed.serial);
		http_rest_data(resp, 201, rest_cert_json(&renewed, true));
	}
	store_cert_free(&renewed);
	store_cert_free(&c);
}

/* -- CRL, settings, profiles ---------------------------------------------------- */

void
admin_crl_generate(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	char msg[256];

	(void)req;
	if (crl_publish(ctx->cfg, ctx->ca, msg, sizeof(msg)) != 0) {
		http_header_add(resp, "Retry-After", "30");
		http_rest_error(resp, 503, "CRL generation failed: %s", msg);
		return;
	}
	log_info("admin %s: generated the CRL", args->who->dn);
	http_rest_data(resp, 200, json_object_new_string("crl.pem updated"));
}

void
admin_config(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	(void)req;
	(void)args;
	http_rest_data(resp, 200, config_to_json(ctx->cfg));
}

void
admin_options(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *names = NULL, *out;
	char msg[256];
	enum ca_result r;

	(void)req;
	(void)args;
	if ((r = ca_list_profiles(ctx->ca, &names, msg, sizeof(msg))) != CA_OK) {
		rest_ca_failed(resp, r, msg);
		return;
	}
	out = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(names) && i < 64; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(names, i));
		json_object *p = NULL;

		if (name == NULL || !rest_name_ok(name))
			continue;
		if (ca_get_profile(ctx->ca, name, &p, msg, sizeof(msg)) == CA_OK)
			json_object_object_add(out, name, p);
	}
	json_object_put(names);
	http_rest_data(resp, 200, out);
}

/* -- external account binding keys -------------------------------------------- */

static void
admin_eab_add(const struct store_eab *e, void *arg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kid", json_object_new_string(e->kid));
	json_object_object_add(o, "created_by", json_object_new_string(e->created_by));
	json_object_object_add(o, "created_at", json_object_new_int64(e->created_at));
	json_object_object_add(o, "used", json_object_new_boolean(e->account_id != 0));
	json_object_array_add(arg, o);
}

void
admin_eab_keys(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *list = json_object_new_array();

	(void)req;
	(void)args;
	rest_list(resp, store_eab_each(ctx->store, admin_eab_add, list), list);
}

/* A key id and a 256-bit HMAC key for one ACME account; the key is shown
 * this once. */
void
admin_eab_create(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_eab e = { 0 };
	unsigned char raw[32];
	json_object *data;
	char *key = NULL;

	(void)req;
	if (randid_new(e.kid, sizeof(e.kid), 12) != 0 || RAND_bytes(raw, sizeof(raw)) != 1 ||
	    (key = b64url_encode(raw, sizeof(raw))) == NULL) {
		http_rest_error(resp, 500, "cannot make a key");
		goto done;
	}
	snprintf(e.hmac_key, sizeof(e.hmac_key), "%s", key);
	snprintf(e.created_by, sizeof(e.created_by), "%s", args->who->dn);
	e.created_at = time(NULL);
	if (store_eab_create(ctx->store, &e) != 0) {
		rest_store_failed(resp);
		goto done;
	}
	log_info("admin %s: made external account binding key %s", args->who->dn, e.kid);
	data = json_object_new_object();
	json_object_object_add(data, "kid", json_object_new_string(e.kid));
	json_object_object_add(data, "hmac_key", json_object_new_string(key));
	http_rest_data(resp, 201, data);
done:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(&e, sizeof(e));
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
}
