/*
 * Accounts (RFC 8555 7.3): new-account, the account resource (POST-as-GET,
 * contact update, deactivation), its orders list, and key rollover.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "acme.h"
#include "addrrate.h"
#include "b64.h"
#include "handlers.h"
#include "jsonx.h"
#include "log.h"
#include "randid.h"
#include "store_eab.h"

#define ACME_MAX_CONTACTS 4
#define ACME_CONTACT_MAX 254
#define ACME_ORDERS_PAGE 100

static json_object *
acme_account_json(struct ra_ctx *ctx, const struct http_request *req,
    const struct store_account *a)
{
	json_object *o = json_object_new_object();
	char url[ACME_URL_MAX];

	json_object_object_add(o, "status", json_object_new_string(a->status));
	json_object_object_add(o, "contact", json_tokener_parse(a->contact));
	json_object_object_add(o, "termsOfServiceAgreed", json_object_new_boolean(1));
	acme_url(ctx, req, url, sizeof(url), "/acme/account/%s/orders", a->kid);
	json_object_object_add(o, "orders", json_object_new_string(url));
	return o;
}

static void
acme_account_reply(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, int status, const struct store_account *a)
{
	char url[ACME_URL_MAX];

	acme_url(ctx, req, url, sizeof(url), "/acme/account/%s", a->kid);
	http_header_add(resp, "Location", "%s", url);
	acme_json(resp, status, acme_account_json(ctx, req, a));
}

/* A mailto: URI with one plain address and no header fields (RFC 8555
 * 7.3 lets servers refuse anything they do not support). */
static int
acme_contact_check(const char *c, struct http_response *resp)
{
	const char *addr = c + 7, *at;
	size_t n = strlen(c);

	if (strncasecmp(c, "mailto:", 7) != 0) {
		acme_problem(resp, 400, ACME_ERR("unsupportedContact"), NULL,
		    "only mailto: contacts are supported");
		return -1;
	}
	if (n > ACME_CONTACT_MAX || strchr(addr, '?') != NULL || strchr(addr, ',') != NULL ||
	    (at = strchr(addr, '@')) == NULL || at == addr || strchr(at + 1, '@') != NULL ||
	    strchr(at + 1, '.') == NULL || at[1] == '.' || c[n - 1] == '.') {
		acme_problem(resp, 400, ACME_ERR("invalidContact"), NULL,
		    "'%.64s' is not a single e-mail address", c);
		return -1;
	}
	for (const char *p = addr; *p != '\0'; p++) {
		if (!isgraph((unsigned char)*p) || strchr("<>()[]\\;:\"", *p) != NULL) {
			acme_problem(resp, 400, ACME_ERR("invalidContact"), NULL,
			    "'%.64s' is not a single e-mail address", c);
			return -1;
		}
	}
	return 0;
}

/* The payload's contact array as JSON text to store ("[]" when absent). */
static char *
acme_contacts(json_object *payload, struct http_response *resp)
{
	json_object *arr, *v;
	size_t n;

	if (payload == NULL || !json_object_object_get_ex(payload, "contact", &v))
		return strdup("[]");
	if ((arr = jsonx_get_array(payload, "contact")) == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "contact must be an array");
		return NULL;
	}
	if ((n = json_object_array_length(arr)) > ACME_MAX_CONTACTS) {
		acme_problem(resp, 400, ACME_ERR("invalidContact"), NULL,
		    "at most %d contacts", ACME_MAX_CONTACTS);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string)) {
			acme_problem(resp, 400, ACME_ERR("invalidContact"), NULL,
			    "contacts must be strings");
			return NULL;
		}
		if (acme_contact_check(json_object_get_string(v), resp) != 0)
			return NULL;
	}
	return strdup(jsonx_print(arr));
}

static int
acme_account_existing(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const char *tp)
{
	struct store_account a;
	int rc;

	if ((rc = store_account_by_thumbprint(ctx->store, tp, &a)) < 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (rc == 1)
		return 1;
	acme_account_reply(ctx, req, resp, 200, &a);
	store_account_free(&a);
	return 0;
}

static int
acme_account_insert(struct ra_ctx *ctx, const struct acme_req *ar, const char *tp,
    char *contact, const char *eab_kid, struct store_account *a)
{
	memset(a, 0, sizeof(*a));
	a->contact = contact;
	if (randid_new(a->kid, sizeof(a->kid), 16) != 0)
		return -1;
	snprintf(a->thumbprint, sizeof(a->thumbprint), "%s", tp);
	a->jwk = strdup(jsonx_print(ar->jws.jwk));
	a->created_at = ar->now;
	return a->jwk != NULL ? store_account_create(ctx->store, a, eab_kid) : -1;
}

/*
 * External account binding (RFC 8555 7.3.4): an HS256 JWS over the account
 * key, made with a key an admin handed out.  On success eab_kid names the
 * key, which the account creation then uses up.  Writes the problem and
 * returns -1 otherwise.
 */
static int
acme_eab_check(struct ra_ctx *ctx, const struct acme_req *ar, const char *tp, char *eab_kid,
    size_t kidlen, struct http_response *resp)
{
	json_object *eab = jsonx_get_object(ar->payload, "externalAccountBinding"), *inner;
	struct jws j = { 0 };
	struct store_eab key;
	unsigned char *mac = NULL;
	char why[256], itp[64];
	size_t maclen;
	int rc = -1;

	eab_kid[0] = '\0';
	if (eab == NULL) {
		if (!ctx->cfg->eab_required)
			return 0;
		acme_problem(resp, 400, ACME_ERR("externalAccountRequired"), NULL,
		    "this RA needs an external account binding: ask an admin for a key");
		return -1;
	}
	if (jws_parse_eab(eab, &j, why, sizeof(why)) != JWS_OK ||
	    strcmp(j.url, ar->url) != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "externalAccountBinding: %s",
		    j.url != NULL ? "url must be the new-account URL" : why);
		goto done;
	}
	inner = jsonx_parse((const char *)j.payload, j.payload_len, 8192, NULL, 0);
	rc = inner != NULL ? jwk_thumbprint(inner, itp, sizeof(itp)) : -1;
	json_object_put(inner);
	if (rc != 0 || strcmp(itp, tp) != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "externalAccountBinding must sign the account's own key");
		rc = -1;
		goto done;
	}
	rc = -1;
	if (store_eab_get(ctx->store, j.kid, &key) != 0 || key.account_id != 0 ||
	    (mac = b64url_decode(key.hmac_key, strlen(key.hmac_key), &maclen)) == NULL ||
	    jws_verify_hs256(&j, mac, maclen) != JWS_OK) {
		acme_problem(resp, 401, ACME_ERR("unauthorized"), NULL,
		    "externalAccountBinding: unknown or used key, or a wrong MAC");
		goto done;
	}
	snprintf(eab_kid, kidlen, "%s", key.kid);
	rc = 0;
done:
	if (mac != NULL) {
		OPENSSL_cleanse(mac, maclen);
		free(mac);
	}
	jws_free(&j);
	return rc;
}

/* New accounts are free, and each gets its own per-account limits: at
 * most rate_accounts of them per client address in an hour. */
static int
acme_account_rate(struct ra_ctx *ctx, const struct http_request *req,
    const struct acme_req *ar, struct http_response *resp)
{
	int retry = 0;

	if (ctx->cfg->rate_accounts == 0 || req->remote_addr == NULL ||
	    addrrate_take(req->remote_addr, ctx->cfg->rate_accounts, ar->now, &retry))
		return 0;
	http_header_add(resp, "Retry-After", "%d", retry);
	acme_problem(resp, 429, ACME_ERR("rateLimited"), NULL,
	    "at most %d new accounts per client address per hour", ctx->cfg->rate_accounts);
	return -1;
}

void
acme_new_account(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct store_account a = { 0 };
	char tp[64], eab_kid[64], *contact = NULL;
	bool only_existing = false, agreed = false;
	int rc;

	(void)args;
	if (acme_authenticate(ctx, req, resp, ACME_BY_JWK, &ar) != 0)
		goto done;
	if (ar.payload == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "new-account needs a payload");
		goto done;
	}
	if (jwk_thumbprint(ar.jws.jwk, tp, sizeof(tp)) != 0) {
		acme_problem(resp, 400, ACME_ERR("badPublicKey"), NULL, "cannot hash the jwk");
		goto done;
	}
	if ((rc = acme_account_existing(ctx, req, resp, tp)) <= 0)
		goto done;
	jsonx_get_bool(ar.payload, "onlyReturnExisting", &only_existing);
	if (only_existing) {
		acme_problem(resp, 400, ACME_ERR("accountDoesNotExist"), NULL,
		    "no account has this key");
		goto done;
	}
	jsonx_get_bool(ar.payload, "termsOfServiceAgreed", &agreed);
	if (ctx->cfg->tos_url[0] != '\0' && !agreed) {
		acme_problem(resp, 403, ACME_ERR("userActionRequired"), NULL,
		    "you must agree to the terms of service at %s", ctx->cfg->tos_url);
		goto done;
	}
	if ((contact = acme_contacts(ar.payload, resp)) == NULL ||
	    acme_eab_check(ctx, &ar, tp, eab_kid, sizeof(eab_kid), resp) != 0 ||
	    acme_account_rate(ctx, req, &ar, resp) != 0)
		goto done;
	rc = acme_account_insert(ctx, &ar, tp, contact, eab_kid[0] ? eab_kid : NULL, &a);
	contact = NULL;         /* owned by a now */
	if (rc == 1) {          /* a racing request registered the same key */
		rc = acme_account_existing(ctx, req, resp, tp);
	} else if (rc == 2) {
		acme_problem(resp, 401, ACME_ERR("unauthorized"), NULL,
		    "externalAccountBinding: the key was used meanwhile");
		rc = 0;
	} else if (rc == 0) {
		log_info("acme: new account %s", a.kid);
		acme_account_reply(ctx, req, resp, 201, &a);
	}
	if (rc < 0)
		acme_store_failed(resp);
done:
	store_account_free(&a);
	free(contact);
	acme_req_free(&ar);
}

/* The account named in the path must be the one that signed. */
static bool
acme_account_self(const struct acme_req *ar, const struct route_args *args,
    struct http_response *resp)
{
	if (strcmp(ar->account.kid, args->arg[0]) == 0)
		return true;
	acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL,
	    "an account may only act on itself");
	return false;
}

static int
acme_account_update(struct ra_ctx *ctx, struct acme_req *ar, struct http_response *resp)
{
	const char *status = jsonx_get_string(ar->payload, "status");
	json_object *v;
	char *contact;

	if (status != NULL) {
		if (strcmp(status, "deactivated") != 0) {
			acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
			    "an account's status can only be set to deactivated");
			return -1;
		}
		if (store_account_deactivate(ctx->store, ar->account.id) != 0) {
			acme_store_failed(resp);
			return -1;
		}
		snprintf(ar->account.status, sizeof(ar->account.status), "deactivated");
		log_info("acme: account %s deactivated", ar->account.kid);
	}
	if (!json_object_object_get_ex(ar->payload, "contact", &v))
		return 0;
	if ((contact = acme_contacts(ar->payload, resp)) == NULL)
		return -1;
	if (store_account_set_contact(ctx->store, ar->account.id, contact) != 0) {
		free(contact);
		acme_store_failed(resp);
		return -1;
	}
	free(ar->account.contact);
	ar->account.contact = contact;
	return 0;
}

void
acme_account(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0 ||
	    !acme_account_self(&ar, args, resp))
		goto done;
	if (ar.payload != NULL && acme_account_update(ctx, &ar, resp) != 0)
		goto done;
	acme_json(resp, 200, acme_account_json(ctx, req, &ar.account));
done:
	acme_req_free(&ar);
}

/* ?cursor=N pages through the orders, newest first. */
static int
acme_orders_cursor(const char *query)
{
	const char *p = strstr(query, "cursor=");
	long v;

	if (p == NULL || (p != query && p[-1] != '&'))
		return 0;
	v = strtol(p + 7, NULL, 10);
	return v > 0 && v < 1000000 ? (int)v : 0;
}

void
acme_account_orders(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	static char ids[ACME_ORDERS_PAGE + 1][STORE_ID_MAX];
	struct acme_req ar;
	json_object *o, *list;
	char url[ACME_URL_MAX];
	int n, page;

	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0 ||
	    !acme_account_self(&ar, args, resp))
		goto done;
	page = acme_orders_cursor(req->query);
	if (store_account_orders(ctx->store, ar.account.id, page * ACME_ORDERS_PAGE,
	    ACME_ORDERS_PAGE + 1, ids, &n) != 0) {
		acme_store_failed(resp);
		goto done;
	}
	list = json_object_new_array();
	for (int i = 0; i < n && i < ACME_ORDERS_PAGE; i++) {
		acme_url(ctx, req, url, sizeof(url), "/acme/order/%s", ids[i]);
		json_object_array_add(list, json_object_new_string(url));
	}
	if (n > ACME_ORDERS_PAGE) {
		acme_url(ctx, req, url, sizeof(url), "/acme/account/%s/orders?cursor=%d",
		    ar.account.kid, page + 1);
		http_header_add(resp, "Link", "<%s>;rel=\"next\"", url);
	}
	o = json_object_new_object();
	json_object_object_add(o, "orders", list);
	acme_json(resp, 200, o);
done:
	acme_req_free(&ar);
}

/* RFC 8555 7.3.5: the inner JWS, signed by the new key, names the account
 * and the old key; the outer one is signed by the old key. */
static int
acme_key_change_inner(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, struct acme_req *ar, struct jws *inner, EVP_PKEY **newkey)
{
	const char *payload = jsonx_print(ar->payload), *account;
	char why[256], kid[ACME_URL_MAX], oldtp[64], curtp[64];
	json_object *body = NULL, *oldkey, *curjwk = NULL;
	enum jws_err e;
	int rc = -1;

	if ((e = jws_parse(payload, strlen(payload), inner, why, sizeof(why))) != JWS_OK ||
	    inner->jwk == NULL || inner->nonce != NULL ||
	    inner->url == NULL || strcmp(inner->url, ar->url) != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "inner JWS: %s",
		    e != JWS_OK ? why : "it needs a jwk, no nonce, and the outer url");
		return -1;
	}
	if ((e = jwk_import(inner->jwk, newkey, why, sizeof(why))) != JWS_OK ||
	    (e = jws_verify(inner, *newkey, why, sizeof(why))) != JWS_OK) {
		acme_problem(resp, 400, e == JWS_BAD_KEY ? ACME_ERR("badPublicKey") :
		    ACME_ERR("malformed"), NULL, "inner JWS: %s", why);
		return -1;
	}
	body = jsonx_parse((const char *)inner->payload, inner->payload_len, 8192, NULL, 0);
	account = jsonx_get_string(body, "account");
	oldkey = jsonx_get_object(body, "oldKey");
	acme_url(ctx, req, kid, sizeof(kid), "/acme/account/%s", ar->account.kid);
	curjwk = json_tokener_parse(ar->account.jwk);
	if (account == NULL || strcmp(account, kid) != 0 || oldkey == NULL ||
	    jwk_thumbprint(oldkey, oldtp, sizeof(oldtp)) != 0 || curjwk == NULL ||
	    jwk_thumbprint(curjwk, curtp, sizeof(curtp)) != 0 || strcmp(oldtp, curtp) != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "inner payload must name this account and its current key");
		goto done;
	}
	rc = 0;
done:
	json_object_put(curjwk);
	json_object_put(body);
	return rc;
}

void
acme_key_change(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct acme_req ar;
	struct jws inner = { 0 };
	struct store_account other;
	EVP_PKEY *newkey = NULL;
	char tp[64], url[ACME_URL_MAX];
	int rc;

	(void)args;
	if (acme_authenticate(ctx, req, resp, ACME_BY_KID, &ar) != 0)
		goto done;
	if (ar.payload == NULL) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "key-change needs a payload");
		goto done;
	}
	if (acme_key_change_inner(ctx, req, resp, &ar, &inner, &newkey) != 0)
		goto done;
	if (jwk_thumbprint(inner.jwk, tp, sizeof(tp)) != 0) {
		acme_problem(resp, 400, ACME_ERR("badPublicKey"), NULL, "cannot hash the new key");
		goto done;
	}
	if ((rc = store_account_set_key(ctx->store, ar.account.id, jsonx_print(inner.jwk), tp)) == 1 &&
	    store_account_by_thumbprint(ctx->store, tp, &other) == 0) {
		acme_url(ctx, req, url, sizeof(url), "/acme/account/%s", other.kid);
		http_header_add(resp, "Location", "%s", url);
		store_account_free(&other);
		acme_problem(resp, 409, ACME_ERR("malformed"), NULL,
		    "the new key is already in use by another account");
		goto done;
	}
	if (rc != 0) {
		acme_store_failed(resp);
		goto done;
	}
	log_info("acme: account %s rolled over to a new key", ar.account.kid);
	acme_json(resp, 200, acme_account_json(ctx, req, &ar.account));
done:
	EVP_PKEY_free(newkey);
	jws_free(&inner);
	acme_req_free(&ar);
}
