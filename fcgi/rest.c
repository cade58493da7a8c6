#include "rest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cert.h"
#include "issue.h"
#include "jsonx.h"
#include "log.h"

#define REST_PER_PAGE 50
#define REST_PER_PAGE_MAX 500

json_object *
rest_body(const struct http_request *req, struct http_response *resp)
{
	json_object *o;
	char why[128];

	if (req->content_type == NULL ||
	    strncasecmp(req->content_type, "application/json", 16) != 0) {
		http_rest_error(resp, 415, "the body must be application/json");
		return NULL;
	}
	o = jsonx_parse(req->body, req->body_len, HTTP_BODY_MAX, why, sizeof(why));
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		http_rest_error(resp, 400, "the body must be a JSON object%s%s",
		    o == NULL ? ": " : "", o == NULL ? why : "");
		return NULL;
	}
	return o;
}

void
rest_store_failed(struct http_response *resp)
{
	http_header_add(resp, "Retry-After", "5");
	http_rest_error(resp, 503, "the RA's store is unavailable; try again");
}

void
rest_ca_failed(struct http_response *resp, enum ca_result r, const char *msg)
{
	if (r == CA_ERR_UNREACHABLE) {
		/* Why names the CA's address: for the log, not the caller. */
		log_warn("the CA does not answer: %s", msg);
		http_header_add(resp, "Retry-After", "30");
		http_rest_error(resp, 503, "CA unavailable; try again");
	} else {
		http_rest_error(resp, 502, "CA error: %s", msg);
	}
}

bool
rest_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return false;
	return true;
}

int
rest_token_hash(const char *token, char *out, size_t outlen)
{
	unsigned char md[32];
	unsigned int n = 0;

	if (outlen < 65 || EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) != 1)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int
rest_serial_canonical(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	while (*in == '0' && in[1] != '\0')
		in++;
	for (; *in != '\0'; in++) {
		if (!isxdigit((unsigned char)*in) || n + 1 >= outlen)
			return -1;
		out[n++] = (char)toupper((unsigned char)*in);
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

json_object *
rest_cert_json(const struct store_cert *c, bool with_pem)
{
	json_object *o = json_object_new_object();
	time_t now = time(NULL);
	const char *status = strcmp(c->status, "revoked") == 0 ? "revoked" :
	    c->not_after <= now ? "expired" : "valid";

	json_object_object_add(o, "serial", json_object_new_string(c->serial));
	json_object_object_add(o, "cn", json_object_new_string(c->cn));
	json_object_object_add(o, "dn", json_object_new_string(c->dn));
	json_object_object_add(o, "profile", json_object_new_string(c->profile));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "not_before", json_object_new_int64(c->not_before));
	json_object_object_add(o, "not_after", json_object_new_int64(c->not_after));
	json_object_object_add(o, "days_left", json_object_new_int64(
	    c->not_after > now ? (c->not_after - now) / 86400 : 0));
	json_object_object_add(o, "source", json_object_new_string(c->source));
	if (c->revoked_at != 0) {
		json_object_object_add(o, "revoked_at", json_object_new_int64(c->revoked_at));
		json_object_object_add(o, "revocation_reason", json_object_new_string(c->reason));
	}
	if (with_pem)
		json_object_object_add(o, "certificate", json_object_new_string(c->pem));
	return o;
}

struct rest_page {
	json_object *list;
	bool with_pem;
};

static void
rest_page_add(const struct store_cert *c, void *arg)
{
	struct rest_page *p = arg;

	json_object_array_add(p->list, rest_cert_json(c, p->with_pem));
}

/* ?name=N with 0 < N <= max, else def. */
static int
rest_query_int(const char *query, const char *name, int def, int max)
{
	size_t n = strlen(name);
	long v;

	for (const char *p = query; p != NULL && *p != '\0'; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			v = strtol(p + n + 1, NULL, 10);
			return v > 0 && v <= max ? (int)v : def;
		}
	}
	return def;
}

void
rest_cert_page(struct ra_ctx *ctx, const struct http_request *req, const char *cn,
    struct http_response *resp, bool with_pem)
{
	int page = rest_query_int(req->query, "page", 1, 1000000);
	int per = rest_query_int(req->query, "per_page", REST_PER_PAGE, REST_PER_PAGE_MAX);
	struct rest_page p = { json_object_new_array(), with_pem };
	json_object *data;
	int total;

	if ((total = store_cert_count(ctx->store, cn)) < 0 ||
	    store_cert_page(ctx->store, cn, (page - 1) * per, per, rest_page_add, &p) != 0) {
		json_object_put(p.list);
		rest_store_failed(resp);
		return;
	}
	if (cn != NULL && total == 0) {
		json_object_put(p.list);
		http_rest_error(resp, 404, "no certificate for '%.64s'", cn);
		return;
	}
	data = json_object_new_object();
	json_object_object_add(data, "certificates", p.list);
	json_object_object_add(data, "page", json_object_new_int(page));
	json_object_object_add(data, "per_page", json_object_new_int(per));
	json_object_object_add(data, "total", json_object_new_int(total));
	http_rest_data(resp, 200, data);
}

const char *
rest_revoke_reason(const struct http_request *req, struct http_response *resp,
    json_object **body)
{
	const char *given, *reason;
	json_object *v;

	*body = NULL;
	if (req->body_len == 0)
		return revoke_reason_name(0);
	if ((*body = rest_body(req, resp)) == NULL)
		return NULL;
	if (!json_object_object_get_ex(*body, "reason", &v))
		return revoke_reason_name(0);
	if ((given = jsonx_get_string(*body, "reason")) == NULL ||
	    (reason = revoke_reason_parse(given)) == NULL) {
		http_rest_error(resp, 400, "unknown reason '%.64s': give one of unspecified, "
		    "keyCompromise, cACompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, certificateHold", given != NULL ? given :
		    json_object_to_json_string(v));
		json_object_put(*body);
		*body = NULL;
		return NULL;
	}
	return reason;
}

int
rest_revoke_result(struct http_response *resp, enum revoke_result r, const char *msg)
{
	switch (r) {
	case REVOKE_OK:
		return 0;
	case REVOKE_CA_DOWN:
		http_header_add(resp, "Retry-After", "30");
		http_rest_error(resp, 503, "CA unavailable: %s", msg);
		break;
	case REVOKE_REFUSED:
		http_rest_error(resp, 409, "%s", msg);
		break;
	case REVOKE_STORE:
		http_rest_error(resp, 500, "%s", msg);
		break;
	}
	return -1;
}

void
rest_crl_publish(struct ra_ctx *ctx)
{
	char msg[256];

	if (ra_crl_refresh(ctx->cfg, ctx->ca, "generate_crl", msg, sizeof(msg)) != 0)
		log_warn("CRL refresh failed: %s", msg);
	else
		ra_nginx_reload(ctx->cfg);
}

int
rest_ca_renew(struct ra_ctx *ctx, const struct store_cert *c, const char *source,
    struct store_cert *out, struct http_response *resp)
{
	json_object *params = json_object_new_object(), *data = NULL;
	X509 *old = cert_from_pem_bare(c->pem), *crt = NULL;
	const char *pem;
	char msg[512], *copy = NULL;
	enum ca_result r;
	int rc = -1;

	json_object_object_add(params, "dn", json_object_new_string(c->cn));
	r = ca_call(ctx->ca, "renew", params, &data, msg, sizeof(msg));
	json_object_put(params);
	if (r != CA_OK || (pem = jsonx_get_string(data, "certificate")) == NULL) {
		rest_ca_failed(resp, r == CA_OK ? CA_ERR_PROTOCOL : r,
		    r == CA_OK ? "no certificate in the answer" : msg);
		goto done;
	}
	/* A renewal keeps the key: the new certificate must be for it. */
	if (old == NULL || issue_check(ctx, pem, X509_get_X509_PUBKEY(old), &crt, msg,
	    sizeof(msg)) != 0) {
		http_rest_error(resp, 502, "CA error: %s", msg);
		goto done;
	}
	if ((copy = strdup(pem)) == NULL ||
	    issue_record_fill(out, crt, copy, c->profile, source, c->account_id) != 0 ||
	    store_cert_add(ctx->store, out) != 0) {
		free(copy);
		rest_store_failed(resp);
		goto done;
	}
	rc = 0;
done:
	X509_free(crt);
	X509_free(old);
	json_object_put(data);
	return rc;
}
