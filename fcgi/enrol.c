/*
 * Token enrolment (POST /api/v1/public/certify): a registered node spends
 * its one-time token on its certificate.
 *
 * certify issues only what an admin registered: the token is used in one
 * atomic step (store_node_use_token), the CSR must name exactly the node's
 * CN and SANs, and the node's profile is used whatever the CSR asks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cert.h"
#include "handlers.h"
#include "issue.h"
#include "jsonx.h"
#include "log.h"
#include "rest.h"
#include "store_node.h"

#define ENROL_CSR_MAX (16 * 1024)

static X509_REQ *
enrol_csr(const char *pem, char *why, size_t whylen)
{
	X509_REQ *req;

	if (strnlen(pem, ENROL_CSR_MAX + 1) > ENROL_CSR_MAX ||
	    (req = cert_csr_from_pem_bare(pem)) == NULL) {
		snprintf(why, whylen, "csr must be a PEM certificate request");
		return NULL;
	}
	if (!cert_csr_verifies(req)) {
		snprintf(why, whylen, "the CSR's signature does not verify");
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* The CSR's names against the node's: same CN, same set of SANs. */
static int
enrol_names_match(X509_REQ *csr, const struct store_node *n, char *why, size_t whylen)
{
	struct cert_names got;
	json_object *want = json_tokener_parse(n->sans);
	size_t nwant = want != NULL ? json_object_array_length(want) : 0;
	int rc = -1;

	if (cert_csr_names(csr, &got, why, whylen) != 0)
		goto done;
	if (strcmp(got.cn, n->cn) != 0) {
		snprintf(why, whylen, "the CSR's CN must be '%.128s'", n->cn);
		goto done;
	}
	if ((size_t)got.n != nwant) {
		snprintf(why, whylen, "the CSR must name exactly the %zu SANs registered", nwant);
		goto done;
	}
	for (int i = 0; i < got.n; i++) {
		bool found = false;

		for (size_t k = 0; k < nwant && !found; k++)
			found = strcmp(got.names[i].value,
			    json_object_get_string(json_object_array_get_idx(want, k))) == 0;
		if (!found) {
			snprintf(why, whylen, "SAN '%.64s' was not registered for this node",
			    got.names[i].value);
			goto done;
		}
	}
	rc = 0;
done:
	json_object_put(want);
	return rc;
}

/* The node's token, checked before anything about the node is told: its
 * names are compared only for a caller who holds it.  Using it stays the
 * atomic store_node_use_token below. */
static bool
enrol_token_ok(const struct store_node *n, const char *hash, int64_t now)
{
	size_t len = strlen(hash);

	return strlen(n->token_hash) == len && n->token_expires > now &&
	    CRYPTO_memcmp(n->token_hash, hash, len) == 0;
}

static json_object *
enrol_answer(const struct store_cert *c, struct ra_ctx *ctx)
{
	json_object *o = rest_cert_json(c, true);
	char *chain = issue_chain(ctx, c->pem);

	if (chain != NULL)
		json_object_object_add(o, "chain", json_object_new_string(chain));
	free(chain);
	return o;
}

/* Signs for an enrolling node whose token was just used; gives the token
 * back when the CA did not issue, so the node may try again. */
static void
enrol_issue(struct ra_ctx *ctx, X509_REQ *csr, const struct store_node *n, const char *hash,
    struct http_response *resp)
{
	struct issue_request rq = { .csr = csr, .profile = n->profile, .source = "enrol" };
	struct store_cert c;
	char msg[512], owner[STORE_OWNER_MAX];
	enum issue_result r;

	store_cert_owner_node(n->cn, owner);
	rq.owner = owner;
	if ((r = issue_certificate(ctx, &rq, &c, msg, sizeof(msg))) != ISSUE_OK) {
		store_node_restore_token(ctx->store, n->cn, hash);
		rest_issue_failed(resp, r, msg);
		return;
	}
	log_info("enrolment: node %s got certificate %s", n->cn, c.serial);
	http_rest_data(resp, 201, enrol_answer(&c, ctx));
	store_cert_free(&c);
}

void
enrol_certify(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	json_object *body = rest_body(req, resp);
	const char *csrpem, *token;
	struct store_node n = { 0 };
	X509_REQ *csr = NULL;
	char hash[72], why[256], cn[256];
	int rc;

	(void)args;
	if (body == NULL)
		return;
	if ((csrpem = jsonx_get_string(body, "csr")) == NULL ||
	    (token = jsonx_get_string(body, "token")) == NULL || strlen(token) > 128) {
		http_rest_error(resp, 400, "csr and token are required");
		goto done;
	}
	if ((csr = enrol_csr(csrpem, why, sizeof(why))) == NULL) {
		http_rest_error(resp, 400, "%s", why);
		goto done;
	}
	/* Which node: the CSR's CN.  One answer for every refusal below, so
	 * that a guesser learns nothing about which nodes exist. */
	if (cert_req_common_name(csr, cn, sizeof(cn)) != 0 ||
	    rest_token_hash(token, hash, sizeof(hash)) != 0 ||
	    (rc = store_node_get(ctx->store, cn, &n)) == 1) {
		http_rest_error(resp, 403, "no valid enrolment token for this CSR");
		goto done;
	}
	if (rc < 0) {
		rest_store_failed(resp);
		goto done;
	}
	if (!enrol_token_ok(&n, hash, time(NULL))) {
		http_rest_error(resp, 403, "no valid enrolment token for this CSR");
		goto done;
	}
	if (enrol_names_match(csr, &n, why, sizeof(why)) != 0) {
		http_rest_error(resp, 400, "%s", why);
		goto done;
	}
	if ((rc = store_node_use_token(ctx->store, n.cn, hash, time(NULL))) != 0) {
		if (rc < 0)
			rest_store_failed(resp);
		else
			http_rest_error(resp, 403, "no valid enrolment token for this CSR");
		goto done;
	}
	enrol_issue(ctx, csr, &n, hash, resp);
done:
	OPENSSL_cleanse(hash, sizeof(hash));
	X509_REQ_free(csr);
	store_node_free(&n);
	json_object_put(body);
}
