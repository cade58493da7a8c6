#include "issue.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cert.h"
#include "log.h"
#include "revoke.h"
#include "store_claim.h"

/* One issuance's hold on its CN, and what it found there. */
struct issue_claim {
	char cn[256];
	int64_t pid, since;
	struct store_cert holder;       /* the CN's newest certificate, if any */
	bool has_holder;                /* ... and it is live */
	bool supersedes;                /* the holder is the owner's: revoke it */
	bool shadows;                   /* the holder is another's, sharing is on */
	bool unsettled;                 /* the CA's state is unknown: keep the claim */
};

/* The CA's certificate, from ca.crt, parsed again only when the file changes. */
static const struct cert_file *
issue_ca(struct ra_ctx *ctx)
{
	char path[PATH_MAX];

	if (config_path(ctx->cfg, "ca.crt", path, sizeof(path)) != 0 ||
	    cert_file_load(&ctx->ca_crt, path) != 0)
		return NULL;
	return &ctx->ca_crt;
}

/* Checks a CA answer: our CA's signature, and the key of spki.  *crt is
 * parsed bare (cert.h). */
static int
issue_check(struct ra_ctx *ctx, const char *pem, const X509_PUBKEY *spki, X509 **crt,
    char *why, size_t whylen)
{
	const struct cert_file *ca;

	if ((*crt = cert_from_pem_bare(pem)) == NULL) {
		snprintf(why, whylen, "the CA's answer is not a certificate");
		return -1;
	}
	if ((ca = issue_ca(ctx)) == NULL || !cert_signed_by(*crt, ca->crt)) {
		snprintf(why, whylen, "the certificate is not signed by the CA");
		goto bad;
	}
	if (!cert_spki_same(X509_get_X509_PUBKEY(*crt), spki)) {
		snprintf(why, whylen, "the certificate's key is not the CSR's");
		goto bad;
	}
	return 0;
bad:
	X509_free(*crt);
	*crt = NULL;
	return -1;
}

/* The seconds an issuance may hold its claim: a sign that times out, the
 * attempt to restore what it superseded, and the store's own waits. */
static int64_t
issue_lease(const struct ra_ctx *ctx)
{
	return 3 * (int64_t)ctx->cfg->ca_timeout_ms / 1000 + 10;
}

/*
 * The name the CA files the certificate under: the CSR's CN or, for a
 * CN-less CSR (which the development CA accepts), its first SAN.  The
 * RA's records use the same name (issue_record_fill).
 */
static int
issue_filing_name(const struct issue_request *rq, char *out, size_t outlen)
{
	struct cert_names names;
	char why[128];

	if (rq->csr == NULL) {
		snprintf(out, outlen, "%s", rq->renew->cn);
		return 0;
	}
	if (cert_csr_names(rq->csr, &names, why, sizeof(why)) != 0 ||
	    (names.cn[0] == '\0' && names.n == 0))
		return -1;
	snprintf(out, outlen, "%s", names.cn[0] != '\0' ? names.cn : names.names[0].value);
	return 0;
}

/* -- undoing a supersession -------------------------------------------------- */

/*
 * The CA's state after an issuance that superseded `serial` under cn did
 * not finish: if the CA still files that serial, revoked, it never signed
 * the new certificate: the older one is restored.  If it files another,
 * it signed: the older one stays revoked.  -1 when the CA cannot tell now.
 */
static int
issue_restore(struct ra_ctx *ctx, const char *cn, const char *serial)
{
	struct store_cert rec;
	char msg[512];
	bool revoked;
	int files, rc;

	if ((files = revoke_ca_files(ctx, cn, serial, &revoked, msg, sizeof(msg))) < 0) {
		log_warn("issuance for '%s': cannot tell yet whether %s was superseded: %s", cn,
		    serial, msg);
		return -1;
	}
	if ((rc = store_cert_by_serial(ctx->store, serial, &rec)) != 0)
		return rc < 0 ? -1 : 0;
	rc = 0;
	if (files == 0 && revoked) {
		if (revoke_lift(ctx, &rec, msg, sizeof(msg)) != REVOKE_OK)
			rc = -1;
		else
			log_warn("issuance for '%s' did not finish: certificate %s restored", cn,
			    serial);
	} else if (files == 1) {
		if (store_cert_revoke(ctx->store, serial, revoke_reason_name(4), time(NULL)) < 0) {
			rc = -1;
		} else {
			log_warn("issuance for '%s': the CA signed before the RA could record it; "
			    "certificate %s stays superseded", cn, serial);
			crl_publish(ctx->cfg, ctx->ca, msg, sizeof(msg));
		}
	}
	store_cert_free(&rec);
	return rc;
}

/* 0 settled (the claim is gone), -1 the CA cannot tell yet (it stays). */
static int
issue_settle(struct ra_ctx *ctx, const struct store_claim *c)
{
	if (c->superseded[0] != '\0' && issue_restore(ctx, c->cn, c->superseded) != 0)
		return -1;
	if (store_claim_drop(ctx->store, c->cn, c->pid, c->since) != 0)
		return -1;
	log_info("issuance for '%s' by process %lld settled", c->cn, (long long)c->pid);
	return 0;
}

struct issue_recovery {
	struct ra_ctx *ctx;
	bool stalled;           /* the CA could not tell: the rest waits too */
};

static void
issue_recover_one(const struct store_claim *c, void *arg)
{
	struct issue_recovery *rec = arg;

	if (!rec->stalled && issue_settle(rec->ctx, c) != 0)
		rec->stalled = true;
}

void
issue_recover(struct ra_ctx *ctx)
{
	struct issue_recovery rec = { ctx, false };

	if (store_claim_orphans(ctx->store, time(NULL) - issue_lease(ctx), 16,
	    issue_recover_one, &rec) < 0)
		log_warn("cannot read the CN claims to recover");
}

/* -- the claim ------------------------------------------------------------------ */

/* Takes the claim on the CN; an orphaned claim in the way is settled first. */
static enum issue_result
issue_take(struct ra_ctx *ctx, const struct issue_request *rq, struct issue_claim *cl,
    char *msg, size_t msglen)
{
	struct store_claim other;
	int rc;

	for (int tries = 0; tries < 2; tries++) {
		cl->since = time(NULL);
		if ((rc = store_claim_take(ctx->store, cl->cn, rq->owner, cl->pid, cl->since)) == 0)
			return ISSUE_OK;
		if (rc < 0)
			break;
		if ((rc = store_claim_get(ctx->store, cl->cn, &other)) < 0)
			break;
		if (rc == 0 && !store_claim_orphaned(&other, cl->since - issue_lease(ctx))) {
			snprintf(msg, msglen, "another certificate for '%.64s' is being issued "
			    "right now; try again in a few seconds", cl->cn);
			return ISSUE_BUSY;
		}
		if (rc == 0 && issue_settle(ctx, &other) != 0)
			break;
	}
	snprintf(msg, msglen, "the RA's store is unavailable");
	return ISSUE_STORE;
}

/* Whose certificate the CA files under the CN now, and what this issuance
 * must do about it. */
static enum issue_result
issue_judge(struct ra_ctx *ctx, const struct issue_request *rq, struct issue_claim *cl,
    char *msg, size_t msglen)
{
	int rc = store_cert_holder(ctx->store, cl->cn, &cl->holder);

	if (rc < 0) {
		snprintf(msg, msglen, "the RA's store is unavailable");
		return ISSUE_STORE;
	}
	cl->has_holder = rc == 0 && store_cert_live(&cl->holder, time(NULL));
	if (!cl->has_holder)
		return ISSUE_OK;
	if (strcmp(cl->holder.owner, rq->owner) == 0) {
		cl->supersedes = true;
		return ISSUE_OK;
	}
	if (!ctx->cfg->share_cn) {
		snprintf(msg, msglen, "another subscriber holds a valid certificate (serial %s) "
		    "for the CN '%.64s', and the CA files one live certificate per CN; ask "
		    "for a certificate whose CN is another of your names, or have the "
		    "holder revoke theirs", cl->holder.serial, cl->cn);
		return ISSUE_HELD;
	}
	cl->shadows = true;
	return ISSUE_OK;
}

/* A renewal by the CA renews whatever it files under the CN: it must be
 * the certificate asked for. */
static enum issue_result
issue_judge_renewal(const struct issue_request *rq, const struct issue_claim *cl,
    char *msg, size_t msglen)
{
	if (rq->renew == NULL || (cl->has_holder && cl->supersedes &&
	    strcmp(cl->holder.serial, rq->renew->serial) == 0))
		return ISSUE_OK;
	snprintf(msg, msglen, "certificate %s is not the one the CA files under '%.64s'; "
	    "the CA cannot renew it", rq->renew->serial, cl->cn);
	return ISSUE_REFUSED;
}

static enum issue_result
issue_claim(struct ra_ctx *ctx, const struct issue_request *rq, struct issue_claim *cl,
    char *msg, size_t msglen)
{
	enum issue_result r;

	if (issue_filing_name(rq, cl->cn, sizeof(cl->cn)) != 0) {
		snprintf(msg, msglen, "the CSR names nothing: no CN and no subjectAltName");
		return ISSUE_REFUSED;
	}
	cl->pid = getpid();
	if ((r = issue_take(ctx, rq, cl, msg, msglen)) != ISSUE_OK)
		return r;
	if ((r = issue_judge(ctx, rq, cl, msg, msglen)) == ISSUE_OK)
		r = issue_judge_renewal(rq, cl, msg, msglen);
	if (r != ISSUE_OK)
		store_claim_drop(ctx->store, cl->cn, cl->pid, cl->since);
	return r;
}

/* -- the CA's side ------------------------------------------------------------ */

/* `sign` with the CSR and profile; *crt and *pem after checking that the
 * certificate is our CA's and for the CSR's key. */
static enum issue_result
issue_sign(struct ra_ctx *ctx, X509_REQ *csr, const char *profile, X509 **crt, char **pem,
    char *msg, size_t msglen)
{
	char *csrpem = cert_csr_to_pem(csr);
	enum ca_result r;

	*crt = NULL;
	if (csrpem == NULL) {
		snprintf(msg, msglen, "out of memory");
		return ISSUE_STORE;
	}
	r = ca_sign(ctx->ca, csrpem, profile, pem, msg, msglen);
	free(csrpem);
	if (r == CA_ERR_REFUSED || r == CA_ERR_NOT_FOUND)
		return ISSUE_REFUSED;
	if (r != CA_OK)
		return ISSUE_CA_DOWN;
	if (issue_check(ctx, *pem, X509_REQ_get_X509_PUBKEY(csr), crt, msg, msglen) != 0) {
		log_error("the CA returned a wrong certificate: %s", msg);
		return ISSUE_BAD_ANSWER;
	}
	return ISSUE_OK;
}

/* `renew` of the certificate the CA files under its CN, same key. */
static enum issue_result
issue_renew(struct ra_ctx *ctx, const struct store_cert *old, X509 **crt, char **pem,
    char *msg, size_t msglen)
{
	X509 *oldcrt = cert_from_pem_bare(old->pem);
	enum ca_result r;
	int rc;

	*crt = NULL;
	if (oldcrt == NULL) {
		snprintf(msg, msglen, "the RA's record of %s is not a certificate", old->serial);
		return ISSUE_REFUSED;
	}
	r = ca_renew(ctx->ca, old->cn, pem, msg, msglen);
	if (r == CA_OK) {
		rc = issue_check(ctx, *pem, X509_get_X509_PUBKEY(oldcrt), crt, msg, msglen);
		X509_free(oldcrt);
		return rc == 0 ? ISSUE_OK : ISSUE_BAD_ANSWER;
	}
	X509_free(oldcrt);
	return r == CA_ERR_REFUSED || r == CA_ERR_NOT_FOUND ? ISSUE_REFUSED : ISSUE_CA_DOWN;
}

/* When an earlier sign for this CSR lost its answer, the CA may hold the
 * certificate already: under the CSR's filing name, for its key and not
 * revoked.  Adopting it means asking again does not issue a twin. */
static bool
issue_adopt(struct ra_ctx *ctx, X509_REQ *csr, const char *cn, X509 **crt, char **pem)
{
	struct ca_view v;
	char msg[256];

	*crt = NULL;
	*pem = NULL;
	if (ca_view(ctx->ca, cn, &v, msg, sizeof(msg)) == CA_OK && v.pem != NULL && !v.revoked &&
	    issue_check(ctx, v.pem, X509_REQ_get_X509_PUBKEY(csr), crt, msg, sizeof(msg)) == 0) {
		*pem = v.pem;
		log_info("the CA already held a certificate for '%s' and this key: adopted", cn);
		return true;
	}
	ca_view_free(&v);
	return false;
}

/* Revokes the owner's older certificate before the CA files the new one,
 * recording first that this issuance supersedes it. */
static enum issue_result
issue_supersede(struct ra_ctx *ctx, struct issue_claim *cl, char *msg, size_t msglen)
{
	if (store_claim_supersede(ctx->store, cl->cn, cl->pid, cl->holder.serial) != 0) {
		snprintf(msg, msglen, "the RA's store is unavailable");
		return ISSUE_STORE;
	}
	switch (revoke_supersede(ctx, &cl->holder, msg, msglen)) {
	case REVOKE_OK:
		return ISSUE_OK;
	case REVOKE_NOT_HELD:
		/* The CA files a certificate made outside the RA under the CN: the
		 * holder is shadowed already, and nothing was revoked that a
		 * failure would have to restore. */
		log_warn("issuance for '%s': %s", cl->cn, msg);
		cl->supersedes = false;
		if (store_cert_shadow(ctx->store, cl->holder.serial, time(NULL)) != 0 ||
		    store_claim_supersede(ctx->store, cl->cn, cl->pid, NULL) != 0) {
			snprintf(msg, msglen, "the RA's store is unavailable");
			return ISSUE_STORE;
		}
		return ISSUE_OK;
	case REVOKE_CA_DOWN:
		return ISSUE_CA_DOWN;
	case REVOKE_STORE:
		cl->unsettled = true;
		return ISSUE_STORE;
	case REVOKE_REFUSED:
		break;
	}
	return ISSUE_REFUSED;
}

static enum issue_result
issue_make(struct ra_ctx *ctx, const struct issue_request *rq, struct issue_claim *cl,
    X509 **crt, char **pem, char *msg, size_t msglen)
{
	enum issue_result r;

	if (rq->adopt && rq->csr != NULL && issue_adopt(ctx, rq->csr, cl->cn, crt, pem)) {
		/* The earlier attempt superseded the holder, or shadowed it. */
		cl->shadows = cl->shadows || cl->supersedes;
		cl->supersedes = false;
		return ISSUE_OK;
	}
	if (cl->supersedes && rq->renew != NULL &&
	    store_claim_supersede(ctx->store, cl->cn, cl->pid, cl->holder.serial) != 0) {
		snprintf(msg, msglen, "the RA's store is unavailable");
		return ISSUE_STORE;
	}
	if (rq->renew != NULL)          /* the CA supersedes the old one itself */
		return issue_renew(ctx, rq->renew, crt, pem, msg, msglen);
	if (cl->supersedes && (r = issue_supersede(ctx, cl, msg, msglen)) != ISSUE_OK)
		return r;
	return issue_sign(ctx, rq->csr, rq->profile, crt, pem, msg, msglen);
}

/* -- recording ------------------------------------------------------------------ */

/* Fills a certificate record from what the CA returned (pem is borrowed). */
static int
issue_record_fill(struct store_cert *c, X509 *crt, char *pem, const struct issue_request *rq)
{
	memset(c, 0, sizeof(*c));
	if (cert_serial_hex(crt, c->serial, sizeof(c->serial)) != 0 ||
	    cert_subject_oneline(crt, c->dn, sizeof(c->dn)) != 0)
		return -1;
	/* Filed under the CN, or the first SAN: as the CA does. */
	if (cert_common_name(crt, c->cn, sizeof(c->cn)) != 0) {
		struct cert_names names;
		char why[128];

		if (cert_names(crt, &names, why, sizeof(why)) != 0 || names.n == 0)
			return -1;
		snprintf(c->cn, sizeof(c->cn), "%s", names.names[0].value);
	}
	snprintf(c->profile, sizeof(c->profile), "%.63s", rq->profile);
	snprintf(c->source, sizeof(c->source), "%.15s", rq->source);
	snprintf(c->owner, sizeof(c->owner), "%s", rq->owner);
	snprintf(c->status, sizeof(c->status), "valid");
	c->pem = pem;
	c->not_before = cert_not_before(crt);
	c->not_after = cert_not_after(crt);
	c->account_id = rq->account_id;
	c->created_at = time(NULL);
	return 0;
}

/* After a renewal by the CA: the reference CA revokes the old certificate
 * as superseded itself; the RA records that only when the CA says so. */
static void
issue_settle_renewed(struct ra_ctx *ctx, const struct store_cert *old)
{
	char status[16], msg[256];
	int64_t now = time(NULL);

	if (ca_ocsp_check(ctx->ca, old->pem, status, sizeof(status), msg, sizeof(msg)) == CA_OK &&
	    strcmp(status, "revoked") == 0)
		store_cert_revoke(ctx->store, old->serial, revoke_reason_name(4), now);
	else
		store_cert_shadow(ctx->store, old->serial, now);
}

static enum issue_result
issue_keep(struct ra_ctx *ctx, const struct issue_request *rq, struct issue_claim *cl,
    X509 *crt, char *pem, struct store_cert *out, char *msg, size_t msglen)
{
	int rc;

	if (issue_record_fill(out, crt, pem, rq) != 0) {
		snprintf(msg, msglen, "the CA's certificate has no name to file it under");
		return ISSUE_BAD_ANSWER;
	}
	rc = rq->record != NULL ? rq->record(ctx, crt, out, rq->record_arg, msg, msglen) :
	    store_cert_add(ctx->store, out);
	if (rc != 0) {
		out->pem = NULL;
		if (rc < 0)
			snprintf(msg, msglen, "the RA's store is unavailable");
		return rc < 0 ? ISSUE_STORE : ISSUE_BAD_ANSWER;
	}
	if (cl->supersedes && rq->renew != NULL)
		issue_settle_renewed(ctx, &cl->holder);
	if (cl->shadows) {
		store_cert_shadow(ctx->store, cl->holder.serial, time(NULL));
		log_warn("certificate %s (%s, %s) is shadowed by %s of %s: the CA files the "
		    "newer one under the CN", cl->holder.serial, cl->cn, cl->holder.owner,
		    out->serial, rq->owner);
	}
	return ISSUE_OK;
}

/* The issuance failed: undo its supersession, unless the CA cannot tell
 * yet whether it signed (then the claim stays for issue_recover). */
static void
issue_undo(struct ra_ctx *ctx, struct issue_claim *cl)
{
	struct store_claim c;

	if (store_claim_get(ctx->store, cl->cn, &c) != 0 || c.pid != cl->pid ||
	    c.superseded[0] == '\0')
		return;
	if (issue_restore(ctx, cl->cn, c.superseded) != 0)
		cl->unsettled = true;
}

enum issue_result
issue_certificate(struct ra_ctx *ctx, const struct issue_request *rq, struct store_cert *out,
    char *msg, size_t msglen)
{
	struct issue_claim cl = { 0 };
	X509 *crt = NULL;
	char *pem = NULL, crlmsg[256];
	enum issue_result r;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	if ((r = issue_claim(ctx, rq, &cl, msg, msglen)) != ISSUE_OK)
		goto done;
	if ((r = issue_make(ctx, rq, &cl, &crt, &pem, msg, msglen)) == ISSUE_OK &&
	    (r = issue_keep(ctx, rq, &cl, crt, pem, out, msg, msglen)) == ISSUE_OK)
		pem = NULL;     /* out holds it */
	if (r != ISSUE_OK && r != ISSUE_BAD_ANSWER)
		issue_undo(ctx, &cl);
	if (!cl.unsettled)
		store_claim_drop(ctx->store, cl.cn, cl.pid, cl.since);
	if (r == ISSUE_OK && cl.supersedes)
		crl_publish(ctx->cfg, ctx->ca, crlmsg, sizeof(crlmsg));
done:
	if (r != ISSUE_OK)
		log_warn("issuance for '%s' (%s, %s) refused: %s", cl.cn[0] ? cl.cn : "?",
		    rq->source, rq->owner, msg);
	store_cert_free(&cl.holder);
	X509_free(crt);
	free(pem);
	return r;
}

char *
issue_chain(struct ra_ctx *ctx, const char *leaf_pem)
{
	const struct cert_file *ca;
	size_t n = strlen(leaf_pem);
	char *out;

	if (n == 0 || (ca = issue_ca(ctx)) == NULL)
		return NULL;
	if (asprintf(&out, "%s%s%s", leaf_pem, leaf_pem[n - 1] == '\n' ? "" : "\n", ca->pem) < 0)
		return NULL;
	return out;
}
