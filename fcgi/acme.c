/*
 * ACME plumbing: the request checks of RFC 8555 section 6 and the pieces of
 * every response.  The order of the checks follows the RFC and what clients
 * expect: a bad nonce is reported as badNonce (clients retry that), not
 * hidden behind a later failure.
 */
#include "acme.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ident.h"
#include "jsonx.h"
#include "keycache.h"
#include "log.h"
#include "nonce.h"

#define ACME_PAYLOAD_MAX (48 * 1024)

void
acme_base(const struct ra_ctx *ctx, const struct http_request *req, char *out,
    size_t outlen)
{
	const struct config *cfg = ctx->cfg;

	if (cfg->base_url[0] != '\0') {
		size_t n = strlen(cfg->base_url);

		snprintf(out, outlen, "%.*s", (int)(cfg->base_url[n - 1] == '/' ? n - 1 : n),
		    cfg->base_url);
		return;
	}
	/* The Host header is the client's; only a plausible one is echoed. */
	if (req->host != NULL && ident_token_ok(req->host, 255, ".-:[]"))
		snprintf(out, outlen, "%s://%s", req->https ? "https" : "http", req->host);
	else
		snprintf(out, outlen, "%s://%s:%d", cfg->ra_tls ? "https" : "http",
		    cfg->ra_host, cfg->ra_port);
}

void
acme_url(const struct ra_ctx *ctx, const struct http_request *req, char *out,
    size_t outlen, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	acme_base(ctx, req, out, outlen);
	n = strlen(out);
	va_start(ap, fmt);
	vsnprintf(out + n, outlen - n, fmt, ap);
	va_end(ap);
}

static json_object *
acme_problem_vjson(const char *type, const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char detail[512];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	jsonx_utf8_sanitize(detail);    /* it may echo bytes of the request */
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	return o;
}

json_object *
acme_problem_json(const char *type, const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = acme_problem_vjson(type, fmt, ap);
	va_end(ap);
	return o;
}

void
acme_problem(struct http_response *resp, int status, const char *type,
    json_object *subproblems, const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = acme_problem_vjson(type, fmt, ap);
	va_end(ap);
	json_object_object_add(o, "status", json_object_new_int(status));
	if (subproblems != NULL)
		json_object_object_add(o, "subproblems", subproblems);
	http_text(resp, status, "application/problem+json", jsonx_print(o));
	json_object_put(o);
}

void
acme_json(struct http_response *resp, int status, json_object *obj)
{
	http_text(resp, status, "application/json", jsonx_print(obj));
	json_object_put(obj);
}

void
acme_store_failed(struct http_response *resp)
{
	http_header_add(resp, "Retry-After", "5");
	acme_problem(resp, 500, ACME_ERR("serverInternal"), NULL,
	    "the RA's store is unavailable; try again");
}

void
acme_common_headers(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp)
{
	char nonce[NONCE_LEN + 1], dir[ACME_URL_MAX];

	if (nonce_make(nonce, time(NULL)) == 0)
		http_header_add(resp, "Replay-Nonce", "%s", nonce);
	acme_url(ctx, req, dir, sizeof(dir), "/acme/directory");
	http_header_add(resp, "Link", "<%s>;rel=\"index\"", dir);
}

void
acme_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
acme_owner(const struct acme_req *ar, int64_t account_id, struct http_response *resp)
{
	if (ar->has_account && ar->account.id == account_id)
		return true;
	acme_problem(resp, 403, ACME_ERR("unauthorized"), NULL,
	    "this resource belongs to another account");
	return false;
}

void
acme_req_free(struct acme_req *ar)
{
	jws_free(&ar->jws);
	EVP_PKEY_free(ar->key);
	json_object_put(ar->payload);
	if (ar->has_account)
		store_account_free(&ar->account);
	memset(ar, 0, sizeof(*ar));
}

static void
acme_bad_alg(struct http_response *resp, const char *why)
{
	json_object *o = json_object_new_object(), *algs = json_object_new_array();

	for (int i = 0; jws_algorithms[i] != NULL; i++)
		json_object_array_add(algs, json_object_new_string(jws_algorithms[i]));
	json_object_object_add(o, "type",
	    json_object_new_string(ACME_ERR("badSignatureAlgorithm")));
	json_object_object_add(o, "detail", json_object_new_string(why));
	json_object_object_add(o, "status", json_object_new_int(400));
	json_object_object_add(o, "algorithms", algs);
	http_text(resp, 400, "application/problem+json", jsonx_print(o));
	json_object_put(o);
}

/* The problem for a jws_* error. */
static void
acme_jws_failed(struct http_response *resp, enum jws_err e, const char *why)
{
	switch (e) {
	case JWS_BAD_ALG:
		acme_bad_alg(resp, why);
		break;
	case JWS_BAD_KEY:
		acme_problem(resp, 400, ACME_ERR("badPublicKey"), NULL, "%s", why);
		break;
	default:
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "%s", why);
		break;
	}
}

static bool
acme_content_type_ok(const char *ct)
{
	size_t n = strlen("application/jose+json");

	return ct != NULL && strncasecmp(ct, "application/jose+json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The kid is the account URL we gave out: base/acme/account/ID. */
static int
acme_load_account(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, struct acme_req *ar)
{
	char prefix[ACME_URL_MAX], why[256];
	const char *kid = ar->jws.kid;
	json_object *jwk;
	enum jws_err e;
	size_t n;
	int rc;

	acme_url(ctx, req, prefix, sizeof(prefix), "/acme/account/");
	n = strlen(prefix);
	if (strncmp(kid, prefix, n) != 0 || strlen(kid + n) >= STORE_ID_MAX ||
	    strchr(kid + n, '/') != NULL) {
		acme_problem(resp, 400, ACME_ERR("accountDoesNotExist"), NULL,
		    "kid is not an account URL of this server");
		return -1;
	}
	if ((rc = store_account_by_kid(ctx->store, kid + n, &ar->account)) < 0) {
		acme_store_failed(resp);
		return -1;
	}
	if (rc == 1) {
		acme_problem(resp, 400, ACME_ERR("accountDoesNotExist"), NULL,
		    "no account at %s", kid);
		return -1;
	}
	ar->has_account = true;
	if (strcmp(ar->account.status, "valid") != 0) {
		acme_problem(resp, 401, ACME_ERR("unauthorized"), NULL,
		    "account is %s", ar->account.status);
		return -1;
	}
	if ((ar->verifier = keycache_get(ar->account.id, ar->account.jwk)) != NULL) {
		if (EVP_PKEY_up_ref(jws_verifier_key(ar->verifier)) != 1) {
			acme_store_failed(resp);
			return -1;
		}
		ar->key = jws_verifier_key(ar->verifier);
		return 0;
	}
	jwk = jsonx_parse(ar->account.jwk, strlen(ar->account.jwk), ACME_PAYLOAD_MAX, NULL, 0);
	e = jwk != NULL ? jwk_import(jwk, &ar->key, why, sizeof(why)) : JWS_BAD_KEY;

	json_object_put(jwk);
	if (e != JWS_OK) {
		acme_store_failed(resp);
		return -1;
	}
	ar->verifier = keycache_put(ar->account.id, ar->account.jwk, ar->key);
	return 0;
}

static int
acme_check_nonce(struct http_response *resp, struct acme_req *ar)
{
	enum nonce_status st;

	if (ar->jws.nonce == NULL) {
		acme_problem(resp, 400, ACME_ERR("badNonce"), NULL,
		    "the protected header has no nonce");
		return -1;
	}
	if ((st = nonce_use(ar->jws.nonce, ar->now)) != NONCE_OK) {
		acme_problem(resp, 400, ACME_ERR("badNonce"), NULL, "%s", nonce_status_str(st));
		return -1;
	}
	return 0;
}

static int
acme_parse_payload(struct http_response *resp, struct acme_req *ar)
{
	char why[128];

	if (ar->jws.payload_len == 0)
		return 0;       /* POST-as-GET */
	ar->payload = jsonx_parse((const char *)ar->jws.payload, ar->jws.payload_len,
	    ACME_PAYLOAD_MAX, why, sizeof(why));
	if (ar->payload == NULL || !json_object_is_type(ar->payload, json_type_object)) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "the payload is not a JSON object: %s", ar->payload ? "not an object" : why);
		return -1;
	}
	return 0;
}

int
acme_authenticate(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, enum acme_keyref keyref, struct acme_req *ar)
{
	char why[256];
	enum jws_err e;

	memset(ar, 0, sizeof(*ar));
	ar->now = time(NULL);
	if (!acme_content_type_ok(req->content_type)) {
		acme_problem(resp, 415, ACME_ERR("malformed"), NULL,
		    "Content-Type must be application/jose+json");
		return -1;
	}
	if ((e = jws_parse(req->body, req->body_len, &ar->jws, why, sizeof(why))) != JWS_OK) {
		acme_jws_failed(resp, e, why);
		return -1;
	}
	if (acme_check_nonce(resp, ar) != 0)
		return -1;
	acme_url(ctx, req, ar->url, sizeof(ar->url), "%s", req->path);
	if (ar->jws.url == NULL || strcmp(ar->jws.url, ar->url) != 0) {
		acme_problem(resp, 401, ACME_ERR("unauthorized"), NULL,
		    "the protected header's url is not the URL of this request (%s)", ar->url);
		return -1;
	}
	if (ar->jws.kid != NULL && keyref == ACME_BY_JWK) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "this request must carry a jwk, not a kid");
		return -1;
	}
	if (ar->jws.jwk != NULL && keyref == ACME_BY_KID) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL,
		    "this request must carry a kid, not a jwk");
		return -1;
	}
	if (ar->jws.kid != NULL) {
		if (acme_load_account(ctx, req, resp, ar) != 0)
			return -1;
	} else if ((e = jwk_import(ar->jws.jwk, &ar->key, why, sizeof(why))) != JWS_OK) {
		acme_jws_failed(resp, e, why);
		return -1;
	}
	e = ar->verifier != NULL ? jws_verify_with(&ar->jws, ar->verifier, why, sizeof(why)) :
	    jws_verify(&ar->jws, ar->key, why, sizeof(why));
	if (e != JWS_OK) {
		acme_jws_failed(resp, e, why);
		return -1;
	}
	return acme_parse_payload(resp, ar);
}
