/*
 * http-01 (RFC 8555 section 8.3): one GET and the redirects it leads to.
 */
#include "validate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "validate_impl.h"

/* One response of an http-01 redirect chain. */
struct validate_resp {
	long status;
	struct buf body;
	char *location;         /* where a redirect points, else NULL */
};

/*
 * Where a URL of the http-01 chain connects: http or https, port 80, 443 or
 * the configured one, and a host that is an address or a well-formed name,
 * else the redirect is refused.  *hostp is for curl_free().
 */
static enum validate_result
validate_http_target(struct validate_check *v, const char *url, char **hostp,
    long *portp)
{
	enum validate_result r = VALIDATE_UNAUTHORIZED;
	char *scheme = NULL, *port = NULL;
	CURLU *u;

	*hostp = NULL;
	if ((u = curl_url()) == NULL)
		return validate_fail(v, VALIDATE_CONNECTION, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, hostp, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		validate_fail(v, r, "%.128s: not a valid URL", url);
		goto done;
	}
	*portp = strtol(port, NULL, 10);
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		validate_fail(v, r, "%.128s: scheme %.16s is not allowed", url, scheme);
	else if (*portp != 80 && *portp != 443 && *portp != v->http_port &&
	    *portp != v->tlsalpn_port)
		validate_fail(v, r, "%.128s: port %ld is not allowed", url, *portp);
	else if (!validate_is_literal(*hostp) && !validate_hostname_ok(*hostp))
		validate_fail(v, r, "%.128s: host %.64s is not allowed", url, *hostp);
	else
		r = VALIDATE_OK;
done:
	if (r != VALIDATE_OK) {
		curl_free(*hostp);
		*hostp = NULL;
	}
	curl_free(scheme);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

static size_t
validate_http_write(char *data, size_t size, size_t n, void *arg)
{
	/* Taking less than offered stops libcurl with CURLE_WRITE_ERROR: past
	 * VALIDATE_BODY_MAX the body cannot match anyway. */
	return buf_add(arg, data, size * n) ? size * n : 0;
}

static bool
validate_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	    status == 308;
}

/* One GET of the chain: its status, the start of its body, and where it
 * redirects to. */
static enum validate_result
validate_http_get(struct validate_check *v, const char *url,
    struct validate_resp *resp)
{
	struct validate_conn cn;
	enum validate_result r;
	char *host, *loc;
	long port = 0;
	CURLcode rc;

	memset(&cn, 0, sizeof(cn));
	if ((r = validate_http_target(v, url, &host, &port)) != VALIDATE_OK)
		return r;
	if ((r = validate_conn_open(v, &cn, url, host, port)) != VALIDATE_OK)
		goto done;
	if (curl_easy_setopt(cn.curl, CURLOPT_WRITEFUNCTION,
	    validate_http_write) != CURLE_OK ||
	    curl_easy_setopt(cn.curl, CURLOPT_WRITEDATA, &resp->body) != CURLE_OK) {
		r = validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
		goto done;
	}
	rc = curl_easy_perform(cn.curl);
	/* An oversized body still came with a status worth reporting. */
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && resp->body.failed)) {
		r = validate_curl_fail(v, &cn, rc, url);
		goto done;
	}
	curl_easy_getinfo(cn.curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (validate_is_redirect(resp->status) &&
	    curl_easy_getinfo(cn.curl, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc != NULL && (resp->location = strdup(loc)) == NULL)
		r = validate_fail(v, VALIDATE_CONNECTION, "out of memory");
done:
	validate_conn_close(&cn);
	curl_free(host);
	return r;
}

static bool
validate_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The last response of the chain must be 200 with the key authorization,
 * whitespace at the end ignored (RFC 8555 section 8.3). */
static enum validate_result
validate_http_body(struct validate_check *v, const char *url,
    const struct validate_resp *resp, const char *key_authz)
{
	size_t len = resp->body.len, want = strlen(key_authz);
	char got[VALIDATE_EXCERPT + 4];

	if (resp->status != 200)
		return validate_fail(v, VALIDATE_INCORRECT, "%.128s: HTTP %ld", url,
		    resp->status);
	if (resp->body.failed)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "%.128s: body longer than %d bytes", url, VALIDATE_BODY_MAX);
	while (len > 0 && validate_is_space(resp->body.data[len - 1]))
		len--;
	if (len == want && len > 0 && memcmp(resp->body.data, key_authz, len) == 0)
		return VALIDATE_OK;
	validate_excerpt(got, resp->body.data, len);
	return validate_fail(v, VALIDATE_INCORRECT,
	    "%.128s: got \"%s\", not the key authorization", url, got);
}

enum validate_result
validate_http01(const struct validate_opts *o, const char *ident_type,
    const char *name, const char *token, const char *key_authz, char *detail,
    size_t detlen)
{
	struct validate_check v;
	struct validate_resp resp;
	char host[VALIDATE_HOST_MAX], *url;
	enum validate_result r;

	validate_begin(&v, o, detail, detlen);
	if (!validate_ident_ok(ident_type, name) || !validate_token_ok(token) ||
	    key_authz == NULL)
		return validate_fail(&v, VALIDATE_CONNECTION,
		    "malformed identifier or token");
	validate_url_host(ident_type, name, host);
	if (asprintf(&url, "http://%s:%d/.well-known/acme-challenge/%s", host,
	    v.http_port, token) < 0)
		return validate_fail(&v, VALIDATE_CONNECTION, "out of memory");
	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, VALIDATE_BODY_MAX);
	for (int redirects = 0;; redirects++) {
		if ((r = validate_http_get(&v, url, &resp)) != VALIDATE_OK ||
		    resp.location == NULL)
			break;
		if (redirects == VALIDATE_REDIRECTS_MAX) {
			r = validate_fail(&v, VALIDATE_CONNECTION,
			    "%.128s: more than %d redirects", url, VALIDATE_REDIRECTS_MAX);
			break;
		}
		free(url);
		url = resp.location;
		resp.location = NULL;
		buf_reset(&resp.body);
	}
	if (r == VALIDATE_OK)
		r = validate_http_body(&v, url, &resp, key_authz);
	free(resp.location);
	buf_free(&resp.body);
	free(url);
	return r;
}
