#include "rest.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cert.h"
#include "ident.h"
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

int
rest_found(struct http_response *resp, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (rc == 0)
		return 0;
	if (rc < 0) {
		rest_store_failed(resp);
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	http_rest_error(resp, 404, "%s", what);
	return -1;
}

void
rest_list(struct http_response *resp, int rc, json_object *list)
{
	if (rc != 0) {
		json_object_put(list);
		rest_store_failed(resp);
		return;
	}
	http_rest_data(resp, 200, list);
}

void
rest_ca_failed(struct http_response *resp, enum ca_result r, const char *msg)
{
	http_header_add(resp, "Retry-After", "30");
	if (r == CA_ERR_UNREACHABLE) {
		/* msg names the CA's address: for the log, not the caller. */
		log_warn("the CA does not answer: %s", msg);
		http_rest_error(resp, 503, "CA unavailable; try again");
	} else {
		http_rest_error(resp, 502, "CA error: %s", msg);
	}
}

bool
rest_name_ok(const char *s)
{
	return ident_token_ok(s, 64, "._-");
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
	/* Shadowed: the CA files another owner's certificate under the CN, so
	 * no one can revoke this one any more; every view says so. */
	json_object_object_add(o, "revocable", json_object_new_boolean(
	    strcmp(status, "valid") == 0 && c->shadowed_at == 0));
	if (c->shadowed_at != 0) {
		json_object_object_add(o, "shadowed_at", json_object_new_int64(c->shadowed_at));
		json_object_object_add(o, "note", json_object_new_string("the CA files a newer "
		    "certificate of another owner under this CN: this one can no longer be "
		    "revoked through the CA, and stays valid until it expires"));
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
		http_rest_error(resp, 400, "unknown reason '%.64s': give one of %s",
		    given != NULL ? given : json_object_to_json_string(v), revoke_reason_list());
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
		rest_ca_failed(resp, CA_ERR_UNREACHABLE, msg);
		break;
	case REVOKE_NOT_HELD:
	case REVOKE_REFUSED:
		http_rest_error(resp, 409, "%s", msg);
		break;
	case REVOKE_STORE:
		http_header_add(resp, "Retry-After", "5");
		http_rest_error(resp, 503, "%s", msg);
		break;
	}
	return -1;
}

void
rest_issue_failed(struct http_response *resp, enum issue_result r, const char *msg)
{
	switch (r) {
	case ISSUE_OK:
		return;
	case ISSUE_REFUSED:
		http_rest_error(resp, 400, "issuance refused: %s", msg);
		return;
	case ISSUE_HELD:
		http_rest_error(resp, 409, "%s", msg);
		return;
	case ISSUE_BUSY:
		http_header_add(resp, "Retry-After", "5");
		http_rest_error(resp, 503, "%s", msg);
		return;
	case ISSUE_STORE:
		rest_store_failed(resp);
		return;
	case ISSUE_CA_DOWN:
		rest_ca_failed(resp, CA_ERR_UNREACHABLE, msg);
		return;
	case ISSUE_BAD_ANSWER:
		rest_ca_failed(resp, CA_ERR_PROTOCOL, msg);
		return;
	}
}
