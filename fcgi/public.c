/*
 * /api/v1/public/...: what anyone may ask without credentials.
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cert.h"
#include "fsutil.h"
#include "handlers.h"
#include "jsonx.h"
#include "rest.h"

#define PEM_TYPE "application/x-pem-file"

void
public_health(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *data = json_object_new_object();
	char msg[256], *pem = NULL;
	bool store_ok = store_ping(ctx->store) == 0;
	/* Once: health answers within the CA timeout, not twice it. */
	enum ca_result r = ca_probe(ctx->ca, &pem, msg, sizeof(msg));
	bool ca_ok = r == CA_OK || r == CA_ERR_REFUSED;  /* it answered */
	json_object *o;

	(void)req;
	(void)args;
	free(pem);
	json_object_object_add(data, "service", json_object_new_string("upki-ra"));
	json_object_object_add(data, "version", json_object_new_string(RA_VERSION));
	json_object_object_add(data, "store", json_object_new_string(store_ok ? "ok" : "error"));
	json_object_object_add(data, "ca", json_object_new_string(ca_ok ? "ok" : "unreachable"));
	if (store_ok && ca_ok) {
		http_rest_data(resp, 200, data);
		return;
	}
	/* The CA's address and the reason stay in the log (the CA client
	 * writes it once per outage): anyone may ask. */
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(!store_ok ?
	    "store unavailable" : "CA unreachable"));
	json_object_object_add(o, "data", data);
	http_text(resp, 503, "application/json", jsonx_print(o));
	json_object_put(o);
}

/* Serves a PEM file of the data directory. */
static bool
public_serve_file(const struct config *cfg, const char *name, struct http_response *resp)
{
	char path[PATH_MAX], *pem;

	if (config_path(cfg, name, path, sizeof(path)) != 0 ||
	    (pem = fs_read(path, CERT_PEM_MAX * 16, NULL)) == NULL)
		return false;
	http_text(resp, 200, PEM_TYPE, pem);
	free(pem);
	return true;
}

void
public_ca(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	char msg[256], *pem;
	enum ca_result r;

	(void)req;
	(void)args;
	if (public_serve_file(ctx->cfg, "ca.crt", resp))
		return;
	if ((r = ca_get_ca_pem(ctx->ca, &pem, msg, sizeof(msg))) != CA_OK) {
		rest_ca_failed(resp, r, msg);
		return;
	}
	http_text(resp, 200, PEM_TYPE, pem);
	free(pem);
}

/* crl.pem as it is, or fetched first when there is none yet. */
static bool
public_crl_pem(struct ra_ctx *ctx, struct http_response *resp)
{
	char msg[256];

	if (public_serve_file(ctx->cfg, "crl.pem", resp))
		return true;
	if (ra_crl_refresh(ctx->cfg, ctx->ca, false, msg, sizeof(msg)) != 0) {
		http_header_add(resp, "Retry-After", "30");
		http_rest_error(resp, 503, "CRL unavailable: %s", msg);
		return false;
	}
	if (!public_serve_file(ctx->cfg, "crl.pem", resp)) {
		http_rest_error(resp, 500, "cannot read crl.pem");
		return false;
	}
	return true;
}

void
public_crl(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	(void)req;
	(void)args;
	public_crl_pem(ctx, resp);
}

/* The same CRL in DER (RFC 5280 section 4.2.1.13's form), which most software
 * other than nginx's ssl_crl reads. */
void
public_crl_der(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	unsigned char *der;
	size_t len;

	(void)req;
	(void)args;
	if (!public_crl_pem(ctx, resp))
		return;
	if ((der = cert_crl_pem_to_der(resp->body.data, &len)) == NULL) {
		http_rest_error(resp, 500, "crl.pem holds no CRL");
		return;
	}
	http_bytes(resp, 200, "application/pkix-crl", der, len);
	OPENSSL_free(der);
}

void
public_profiles(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *data;
	char msg[256];
	enum ca_result r;

	(void)req;
	(void)args;
	if ((r = ca_list_profiles(ctx->ca, &data, msg, sizeof(msg))) != CA_OK) {
		rest_ca_failed(resp, r, msg);
		return;
	}
	http_rest_data(resp, 200, data);
}

/* get_profile for a checked name; answers the client itself on failure. */
static json_object *
public_get_profile(struct ra_ctx *ctx, const char *name, struct http_response *resp)
{
	json_object *data;
	char msg[256];
	enum ca_result r;

	if (!rest_name_ok(name)) {
		http_rest_error(resp, 400, "invalid profile name");
		return NULL;
	}
	if ((r = ca_get_profile(ctx->ca, name, &data, msg, sizeof(msg))) == CA_ERR_NOT_FOUND) {
		http_rest_error(resp, 404, "unknown profile '%s'", name);
		return NULL;
	}
	if (r != CA_OK) {
		rest_ca_failed(resp, r, msg);
		return NULL;
	}
	return data;
}

void
public_profile(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *data = public_get_profile(ctx, args->arg[0], resp);

	(void)req;
	if (data != NULL)
		http_rest_data(resp, 200, data);
}

/* The value of ?name= in a query string, when it is a plausible host name. */
static bool
public_query_cn(const char *query, char *out, size_t outlen)
{
	const char *p = strstr(query, "cn=");
	size_t n;

	if (p == NULL || (p != query && p[-1] != '&'))
		return false;
	p += 3;
	n = strcspn(p, "&");
	if (n == 0 || n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && strchr(".-_*", p[i]) == NULL)
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static const char *
public_curve(int64_t bits)
{
	switch (bits) {
	case 384:
		return "P-384";
	case 521:
		return "P-521";
	default:
		return "P-256";
	}
}

void
public_magic(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *profile = public_get_profile(ctx, args->arg[0], resp);
	json_object *data, *cmds;
	const char *ktype, *digest;
	char cn[256] = "node.example.com", line[2048];
	int64_t klen = 0;
	bool ec;

	if (profile == NULL)
		return;
	public_query_cn(req->query, cn, sizeof(cn));
	ktype = jsonx_get_string(profile, "keyType");
	digest = jsonx_get_string(profile, "digest");
	jsonx_get_int64(profile, "keyLen", &klen);
	ec = ktype != NULL && (strcasecmp(ktype, "ec") == 0 || strcasecmp(ktype, "ecdsa") == 0);
	if (digest == NULL || !rest_name_ok(digest))
		digest = "sha256";
	if (!ec && (klen < 2048 || klen > 8192))
		klen = 2048;

	cmds = json_object_new_array();
	if (ec)
		snprintf(line, sizeof(line), "openssl genpkey -algorithm EC -pkeyopt "
		    "ec_paramgen_curve:%s -out %s.key", public_curve(klen), cn);
	else
		snprintf(line, sizeof(line), "openssl genpkey -algorithm RSA -pkeyopt "
		    "rsa_keygen_bits:%d -out %s.key", (int)klen, cn);
	json_object_array_add(cmds, json_object_new_string(line));
	snprintf(line, sizeof(line), "openssl req -new -key %s.key -%s -subj '/CN=%s' "
	    "-addext 'subjectAltName=DNS:%s' -out %s.csr", cn, digest, cn, cn, cn);
	json_object_array_add(cmds, json_object_new_string(line));

	data = json_object_new_object();
	json_object_object_add(data, "profile", json_object_new_string(args->arg[0]));
	json_object_object_add(data, "cn", json_object_new_string(cn));
	json_object_object_add(data, "keyType", json_object_new_string(ec ? "ec" : "rsa"));
	json_object_object_add(data, "keyLen", json_object_new_int64(ec ? (klen ? klen : 256) : klen));
	json_object_object_add(data, "digest", json_object_new_string(digest));
	json_object_object_add(data, "commands", cmds);
	json_object_put(profile);
	http_rest_data(resp, 200, data);
}

/* -- issued certificates and their status -------------------------------------- */

void
public_certs(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	(void)args;
	rest_cert_page(ctx, req, NULL, resp, false);
}

void
public_certs_cn(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	rest_cert_page(ctx, req, args->arg[0], resp, true);
}

/* The CA's opinion, where it has one; the reference CA's ocsp_check can
 * fail, so it is only a second opinion (docs/CA-PROTOCOL.md). */
static void
public_ca_opinion(struct ra_ctx *ctx, const char *pem, json_object *data)
{
	char status[16], msg[256];

	if (ca_ocsp_check(ctx->ca, pem, status, sizeof(status), msg, sizeof(msg)) == CA_OK)
		json_object_object_add(data, "ca_status", json_object_new_string(status));
}

void
public_ocsp(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = rest_body(req, resp), *data;
	const char *pem, *serial;
	struct store_cert c;
	char canon[80];
	X509 *crt = NULL;

	(void)args;
	if (body == NULL)
		return;
	pem = jsonx_get_string(body, "cert");
	serial = jsonx_get_string(body, "serial");
	if (pem != NULL && ((crt = cert_from_pem(pem)) == NULL ||
	    cert_serial_hex(crt, canon, sizeof(canon)) != 0)) {
		http_rest_error(resp, 400, "cert must be a PEM certificate");
		goto done;
	}
	if (pem == NULL && (serial == NULL || rest_serial_canonical(serial, canon,
	    sizeof(canon)) != 0)) {
		http_rest_error(resp, 400, "give cert (PEM) or serial (hex)");
		goto done;
	}
	if (rest_found(resp, store_cert_by_serial(ctx->store, canon, &c),
	    "this RA did not issue serial %s", canon) != 0)
		goto done;
	/* A PEM must be the very certificate on record, not one with its serial. */
	if (pem != NULL && !cert_same(crt, c.pem)) {
		store_cert_free(&c);
		http_rest_error(resp, 404, "this RA did not issue that certificate");
		goto done;
	}
	data = rest_cert_json(&c, false);
	public_ca_opinion(ctx, c.pem, data);
	http_rest_data(resp, 200, data);
	store_cert_free(&c);
done:
	X509_free(crt);
	json_object_put(body);
}
