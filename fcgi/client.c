/*
 * The client API (/api/client/...): a node acting on the certificate it
 * presented, and on nothing else.  The certificate comes from nginx's
 * params (auth.c); no route here takes a serial or a name from the client.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "auth.h"
#include "cert.h"
#include "handlers.h"
#include "issue.h"
#include "jsonx.h"
#include "log.h"
#include "rest.h"
#include "revoke.h"

#define CLIENT_CSR_MAX (16 * 1024)

/* The RA's record of the presented certificate; a certificate the CA made
 * without the RA (made by `generate`, say) gets a record built from itself,
 * with the profile the CA reports for its CN. */
static int
client_record(struct ra_ctx *ctx, const struct auth_identity *who, struct store_cert *c,
    struct http_response *resp)
{
	BIO *bio;
	int rc;

	if (who->cert == NULL) {
		http_rest_error(resp, 400, "nginx did not pass the client certificate");
		return -1;
	}
	if ((rc = store_cert_by_serial(ctx->store, who->serial, c)) == 0 &&
	    cert_same(who->cert, c->pem))
		return 0;
	if (rc == 0)
		store_cert_free(c);
	if (rc < 0) {
		rest_store_failed(resp);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", who->serial);
	snprintf(c->cn, sizeof(c->cn), "%s", who->cn);
	snprintf(c->dn, sizeof(c->dn), "%s", who->dn);
	snprintf(c->status, sizeof(c->status), "valid");
	snprintf(c->source, sizeof(c->source), "ca");
	store_cert_owner_node(who->cn, c->owner);
	c->not_before = cert_not_before(who->cert);
	c->not_after = cert_not_after(who->cert);
	if ((bio = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_X509(bio, who->cert)) {
		char *data;
		long n = BIO_get_mem_data(bio, &data);

		c->pem = strndup(data, (size_t)n);
	}
	BIO_free(bio);
	if (c->pem == NULL) {
		http_rest_error(resp, 500, "out of memory");
		return -1;
	}
	return 0;
}

void
client_certificate(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c;

	(void)req;
	if (client_record(ctx, args->who, &c, resp) != 0)
		return;
	http_rest_data(resp, 200, rest_cert_json(&c, true));
	store_cert_free(&c);
}

void
client_status(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c;
	json_object *o;

	(void)req;
	if (client_record(ctx, args->who, &c, resp) != 0)
		return;
	o = rest_cert_json(&c, false);
	http_rest_data(resp, 200, o);
	store_cert_free(&c);
}

/* The profile the CA holds for the CN, for a certificate not on record. */
static void
client_profile(struct ra_ctx *ctx, struct store_cert *c)
{
	struct ca_view v;
	char msg[256];

	if (c->profile[0] != '\0')
		return;
	if (ca_view(ctx->ca, c->cn, &v, msg, sizeof(msg)) == CA_OK && rest_name_ok(v.profile))
		snprintf(c->profile, sizeof(c->profile), "%s", v.profile);
	ca_view_free(&v);
}

/* A renewal is for the same names: the CSR's SANs must be the presented
 * certificate's, no more and no fewer. */
static bool
client_same_names(X509_REQ *csr, const struct store_cert *c)
{
	struct cert_names want, got;
	X509 *crt = cert_from_pem(c->pem);
	char why[128];
	bool same;

	same = crt != NULL && cert_names(crt, &want, why, sizeof(why)) == 0 &&
	    cert_csr_names(csr, &got, why, sizeof(why)) == 0 && want.n == got.n;
	for (int i = 0; same && i < got.n; i++) {
		bool found = false;

		for (int k = 0; k < want.n && !found; k++)
			found = strcmp(got.names[i].type, want.names[k].type) == 0 &&
			    strcmp(got.names[i].value, want.names[k].value) == 0;
		same = found;
	}
	X509_free(crt);
	return same;
}

static X509_REQ *
client_csr(const char *pem, const struct store_cert *c, struct http_response *resp)
{
	X509_REQ *csr = NULL;
	char cn[256];

	if (strnlen(pem, CLIENT_CSR_MAX + 1) <= CLIENT_CSR_MAX)
		csr = cert_csr_from_pem_bare(pem);
	if (csr == NULL || !cert_csr_verifies(csr)) {
		http_rest_error(resp, 400, "csr must be a signed PEM certificate request");
		goto bad;
	}
	if (cert_req_common_name(csr, cn, sizeof(cn)) != 0 || strcmp(cn, c->cn) != 0) {
		http_rest_error(resp, 403, "the CSR's CN must be your own ('%s')", c->cn);
		goto bad;
	}
	if (!client_same_names(csr, c)) {
		http_rest_error(resp, 403, "the CSR must name exactly what your certificate names");
		goto bad;
	}
	return csr;
bad:
	X509_REQ_free(csr);
	return NULL;
}

/* Renewal: of the caller's CSR (a new key) under its own CN, or by the CA
 * with the same key; for the same owner, so the older one is superseded. */
static int
client_renew_cert(struct ra_ctx *ctx, const char *pem, struct store_cert *c,
    struct store_cert *out, struct http_response *resp)
{
	struct issue_request rq = { .owner = c->owner, .source = "client" };
	char msg[512];
	enum issue_result r;

	if (pem != NULL && (rq.csr = client_csr(pem, c, resp)) == NULL)
		return -1;
	if (pem == NULL)
		rq.renew = c;
	client_profile(ctx, c);
	rq.profile = c->profile;
	rq.account_id = c->account_id;
	if (c->profile[0] == '\0') {
		http_rest_error(resp, 409, "the CA does not say which profile '%s' has", c->cn);
		r = ISSUE_REFUSED;
	} else if ((r = issue_certificate(ctx, &rq, out, msg, sizeof(msg))) != ISSUE_OK) {
		rest_issue_failed(resp, r, msg);
	}
	X509_REQ_free(rq.csr);
	return r == ISSUE_OK ? 0 : -1;
}

void
client_renew(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = req->body_len > 0 ? rest_body(req, resp) : NULL;
	struct store_cert c, renewed = { 0 };
	const char *csr;

	if (req->body_len > 0 && body == NULL)
		return;
	if (client_record(ctx, args->who, &c, resp) != 0)
		goto done;
	if (strcmp(c.status, "revoked") == 0) {
		http_rest_error(resp, 403, "a revoked certificate cannot be renewed");
		goto free_cert;
	}
	csr = jsonx_get_string(body, "csr");
	if (client_renew_cert(ctx, csr, &c, &renewed, resp) == 0) {
		log_info("client %s: renewed %s as %s", args->who->dn, c.serial, renewed.serial);
		http_rest_data(resp, 201, rest_cert_json(&renewed, true));
	}
	store_cert_free(&renewed);
free_cert:
	store_cert_free(&c);
done:
	json_object_put(body);
}

void
client_revoke(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = NULL;
	const char *reason;
	struct store_cert c;
	char msg[512];

	if ((reason = rest_revoke_reason(req, resp, &body)) == NULL)
		return;
	if (client_record(ctx, args->who, &c, resp) != 0)
		goto done;
	if (strcmp(c.status, "revoked") == 0) {
		log_warn("client %s: revocation of %s refused: already revoked", args->who->dn,
		    c.serial);
		http_rest_error(resp, 409, "certificate %s is already revoked", c.serial);
	} else if (rest_revoke_result(resp, revoke_certificate(ctx, &c, reason, msg,
	    sizeof(msg)), msg) == 0) {
		log_info("client %s: revoked its certificate %s (%s)", args->who->dn, c.serial,
		    reason);
		http_rest_data(resp, 200, json_object_new_string(c.serial));
	}
	store_cert_free(&c);
done:
	json_object_put(body);
}
