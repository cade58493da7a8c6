#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "acme.h"
#include "auth.h"
#include "handlers.h"
#include "log.h"

enum route_method { M_GET = 1, M_HEAD = 2, M_POST = 4, M_DELETE = 8 };

enum route_auth {
	AUTH_PUBLIC,    /* anyone */
	AUTH_ACME,      /* anyone; the handler checks the JWS (RFC 8555 6) */
	AUTH_CLIENT,    /* a client certificate nginx verified */
	AUTH_ADMIN,     /* that, and its DN in the admin list */
};

struct route {
	unsigned methods;
	const char *pattern;    /* '*' matches one path segment */
	enum route_auth auth;
	route_fn *fn;
};

static const struct route router_table[] = {
	{ M_GET | M_HEAD, "/api/v1/public/health", AUTH_PUBLIC, public_health },
	{ M_GET | M_HEAD, "/api/v1/public/ca", AUTH_PUBLIC, public_ca },
	{ M_GET | M_HEAD, "/api/v1/public/crl", AUTH_PUBLIC, public_crl },
	{ M_GET | M_HEAD, "/api/v1/public/crl.der", AUTH_PUBLIC, public_crl_der },
	{ M_GET | M_HEAD, "/api/v1/public/profiles", AUTH_PUBLIC, public_profiles },
	{ M_GET | M_HEAD, "/api/v1/public/profiles/*", AUTH_PUBLIC, public_profile },
	{ M_GET | M_HEAD, "/api/v1/public/magic/*", AUTH_PUBLIC, public_magic },
	{ M_POST, "/api/v1/public/certify", AUTH_PUBLIC, enrol_certify },
	{ M_GET | M_HEAD, "/api/v1/public/certs", AUTH_PUBLIC, public_certs },
	{ M_GET | M_HEAD, "/api/v1/public/certs/*", AUTH_PUBLIC, public_certs_cn },
	{ M_POST, "/api/v1/public/ocsp", AUTH_PUBLIC, public_ocsp },
	{ M_GET | M_HEAD, "/api/v1/public/openapi", AUTH_PUBLIC, public_openapi },
	/* Public aliases that existing uPKI tools fetch (DESIGN.md). */
	{ M_GET | M_HEAD, "/api/v1/ca", AUTH_PUBLIC, public_ca },
	{ M_GET | M_HEAD, "/api/v1/crl", AUTH_PUBLIC, public_crl },

	{ M_GET | M_HEAD, "/api/v1/health", AUTH_ADMIN, admin_health },
	{ M_GET | M_HEAD, "/api/v1/nodes", AUTH_ADMIN, admin_nodes },
	{ M_POST, "/api/v1/nodes", AUTH_ADMIN, admin_node_create },
	{ M_DELETE, "/api/v1/nodes/*", AUTH_ADMIN, admin_node_delete },
	{ M_GET | M_HEAD, "/api/v1/admins", AUTH_ADMIN, admin_admins },
	{ M_POST, "/api/v1/admins", AUTH_ADMIN, admin_admin_create },
	{ M_DELETE, "/api/v1/admins/*", AUTH_ADMIN, admin_admin_delete },
	{ M_GET | M_HEAD, "/api/v1/certs", AUTH_ADMIN, admin_certs },
	{ M_GET | M_HEAD, "/api/v1/certs/*", AUTH_ADMIN, admin_cert },
	{ M_POST, "/api/v1/certs/*/revoke", AUTH_ADMIN, admin_cert_revoke },
	{ M_POST, "/api/v1/certs/*/unrevoke", AUTH_ADMIN, admin_cert_unrevoke },
	{ M_POST, "/api/v1/certs/*/renew", AUTH_ADMIN, admin_cert_renew },
	{ M_POST, "/api/v1/crl/generate", AUTH_ADMIN, admin_crl_generate },
	{ M_GET | M_HEAD, "/api/v1/config", AUTH_ADMIN, admin_config },
	{ M_GET | M_HEAD, "/api/v1/options", AUTH_ADMIN, admin_options },
	{ M_GET | M_HEAD, "/api/v1/eab", AUTH_ADMIN, admin_eab_keys },
	{ M_POST, "/api/v1/eab", AUTH_ADMIN, admin_eab_create },

	{ M_GET | M_HEAD, "/api/client/certificate", AUTH_CLIENT, client_certificate },
	{ M_GET | M_HEAD, "/api/client/status", AUTH_CLIENT, client_status },
	{ M_POST, "/api/client/renew", AUTH_CLIENT, client_renew },
	{ M_POST, "/api/client/revoke", AUTH_CLIENT, client_revoke },

	{ M_GET | M_HEAD, "/acme/directory", AUTH_ACME, acme_directory },
	{ M_GET | M_HEAD, "/acme/new-nonce", AUTH_ACME, acme_new_nonce },
	{ M_POST, "/acme/new-account", AUTH_ACME, acme_new_account },
	{ M_POST, "/acme/account/*", AUTH_ACME, acme_account },
	{ M_POST, "/acme/account/*/orders", AUTH_ACME, acme_account_orders },
	{ M_POST, "/acme/key-change", AUTH_ACME, acme_key_change },
	{ M_POST, "/acme/new-order", AUTH_ACME, acme_new_order },
	{ M_POST, "/acme/order/*", AUTH_ACME, acme_order },
	{ M_POST, "/acme/order/*/finalize", AUTH_ACME, acme_finalize },
	{ M_POST, "/acme/authz/*", AUTH_ACME, acme_authz },
	{ M_POST, "/acme/challenge/*/*", AUTH_ACME, acme_challenge },
	{ M_POST, "/acme/cert/*", AUTH_ACME, acme_certificate },
	{ M_POST, "/acme/revoke-cert", AUTH_ACME, acme_revoke },
	{ M_GET | M_HEAD, "/acme/renewal-info/*", AUTH_ACME, acme_renewal_info },
};

#define ROUTER_NROUTES (sizeof(router_table) / sizeof(router_table[0]))

static int
router_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes one segment; refuses what would decode to '/' or NUL. */
static bool
router_decode(const char *seg, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)seg[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			if ((hi = router_hex(seg[i + 1])) < 0 || (lo = router_hex(seg[i + 2])) < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == '\0' || c == '/' || o + 1 >= outlen)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

/* Matches path against pattern segment by segment, capturing '*'. */
static bool
router_match(const char *pattern, const char *path, struct route_args *args)
{
	args->n = 0;
	while (*pattern != '\0' && *path != '\0') {
		const char *pe = strchr(pattern, '/'), *se;
		size_t plen, slen;

		if (*pattern == '/' && *path == '/') {
			pattern++;
			path++;
			continue;
		}
		pe = pe != NULL ? pe : pattern + strlen(pattern);
		se = strchr(path, '/');
		se = se != NULL ? se : path + strlen(path);
		plen = (size_t)(pe - pattern);
		slen = (size_t)(se - path);
		if (plen == 1 && *pattern == '*') {
			if (args->n == ROUTER_MAX_ARGS ||
			    !router_decode(path, slen, args->arg[args->n], ROUTER_ARG_MAX))
				return false;
			args->n++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern = pe;
		path = se;
	}
	return *pattern == '\0' && *path == '\0';
}

static unsigned
router_method(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = { { "GET", M_GET }, { "HEAD", M_HEAD }, { "POST", M_POST },
	    { "DELETE", M_DELETE } };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

/* The worker's own check of what nginx already checked (DESIGN.md: every
 * request to a protected prefix is checked twice; auth.h). */
static bool
router_authorized(struct ra_ctx *ctx, const struct route *r, const struct http_request *req,
    struct http_response *resp, struct auth_identity *who)
{
	bool admin = false;

	if (r->auth == AUTH_PUBLIC || r->auth == AUTH_ACME)
		return true;
	if (auth_client(ctx, req, who, resp) != 0)
		return false;
	if (r->auth == AUTH_CLIENT)
		return true;
	if (auth_is_admin(ctx, who->dn, &admin) != 0) {
		http_rest_error(resp, 503, "the admin list cannot be read; try again");
		return false;
	}
	if (!admin) {
		log_warn("refused %s %s to %s: not an admin", req->method, req->path, who->dn);
		http_rest_error(resp, 403, "%s is not an admin of this RA", who->dn);
		return false;
	}
	log_info("admin %s: %s %s", who->dn, req->method, req->path);
	return true;
}

static void
router_allow(struct http_response *resp, unsigned methods)
{
	char allow[32] = "";

	if (methods & M_GET)
		strcat(allow, "GET, HEAD");
	if (methods & M_POST)
		strcat(allow, *allow ? ", POST" : "POST");
	if (methods & M_DELETE)
		strcat(allow, *allow ? ", DELETE" : "DELETE");
	http_header_add(resp, "Allow", "%s", allow);
}

static bool
router_is_acme(const char *path)
{
	return strncmp(path, "/acme/", 6) == 0;
}

/* No route matched: 405 when another method would have, else 404; under
 * /acme/ as problem documents (RFC 8555: every GET but the directory and
 * new-nonce is 405 malformed). */
static void
router_unmatched(const struct http_request *req, struct http_response *resp,
    unsigned allowed)
{
	bool acme = router_is_acme(req->path);

	if (acme && (allowed != 0 || strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0)) {
		acme_problem(resp, 405, ACME_ERR("malformed"), NULL,
		    "%s is not allowed here: use POST-as-GET", req->method);
		http_header_add(resp, "Allow", "POST");
	} else if (acme) {
		acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such resource");
	} else if (allowed != 0) {
		http_rest_error(resp, 405, "method %s not allowed here", req->method);
		router_allow(resp, allowed);
	} else {
		http_rest_error(resp, 404, "no such resource");
	}
}

void
router_dispatch(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp)
{
	unsigned method = router_method(req->method), allowed = 0;
	struct auth_identity who = { 0 };
	struct route_args args;
	bool too_long = strlen(req->path) > ROUTER_PATH_MAX;
	size_t i;

	for (i = 0; !too_long && i < ROUTER_NROUTES; i++) {
		const struct route *r = &router_table[i];

		if (!router_match(r->pattern, req->path, &args))
			continue;
		if ((r->methods & method) == 0) {
			allowed |= r->methods;
			continue;
		}
		args.who = r->auth == AUTH_CLIENT || r->auth == AUTH_ADMIN ? &who : NULL;
		if (router_authorized(ctx, r, req, resp, &who))
			r->fn(ctx, req, resp, &args);
		break;
	}
	if (i == ROUTER_NROUTES || too_long)
		router_unmatched(req, resp, allowed);
	if (router_is_acme(req->path))
		acme_common_headers(ctx, req, resp);
	auth_identity_free(&who);
}
