#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "ra.h"
#include "revoke.h"

/* Indexed by RFC 5280 code; 7 is unused there. */
static const char *const revoke_reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

#define REVOKE_NREASONS ((int)(sizeof(revoke_reasons) / sizeof(revoke_reasons[0])))

enum revoke_task { REVOKE_TASK_REVOKE, REVOKE_TASK_UNREVOKE, REVOKE_TASK_DELETE };

const char *
revoke_reason_name(int code)
{
	return code >= 0 && code < REVOKE_NREASONS ? revoke_reasons[code] : NULL;
}

const char *
revoke_reason_parse(const char *name)
{
	for (int i = 0; i < REVOKE_NREASONS; i++)
		if (revoke_reasons[i] != NULL && strcmp(name, revoke_reasons[i]) == 0)
			return revoke_reasons[i];
	return NULL;
}

const char *
revoke_reason_list(void)
{
	return "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
	    "cessationOfOperation, certificateHold, removeFromCRL, privilegeWithdrawn, "
	    "aACompromise";
}

/* Strips leading zeros so "0A1B" and "a1b" compare equal. */
static bool
revoke_same_serial(const char *a, const char *b)
{
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	return strcasecmp(a, b) == 0;
}

int
revoke_ca_files(struct ra_ctx *ctx, const char *cn, const char *serial, bool *revoked,
    char *msg, size_t msglen)
{
	struct ca_view v;
	enum ca_result r = ca_view(ctx->ca, cn, &v, msg, msglen);
	int rc;

	*revoked = false;
	if (r == CA_ERR_NOT_FOUND) {
		snprintf(msg, msglen, "the CA files no certificate under '%.64s'", cn);
		return 1;
	}
	if (r != CA_OK)
		return -1;
	/* A CA whose view names no serial cannot tell: it is trusted, as it
	 * is for the reference CA's own renewals. */
	rc = v.serial[0] == '\0' || revoke_same_serial(v.serial, serial) ? 0 : 1;
	*revoked = v.revoked;
	if (rc == 1)
		snprintf(msg, msglen, "the CA now files another certificate (serial %.64s) under "
		    "'%.64s'; certificate %.64s can no longer be changed through the CA",
		    v.serial, cn, serial);
	ca_view_free(&v);
	return rc;
}

static enum ca_result
revoke_ca_send(struct ra_ctx *ctx, enum revoke_task task, const char *cn, const char *reason,
    char *msg, size_t msglen)
{
	switch (task) {
	case REVOKE_TASK_REVOKE:
		return ca_revoke(ctx->ca, cn, reason, msg, msglen);
	case REVOKE_TASK_UNREVOKE:
		return ca_unrevoke(ctx->ca, cn, msg, msglen);
	case REVOKE_TASK_DELETE:
		break;
	}
	return ca_delete(ctx->ca, cn, msg, msglen);
}

/* The CA's side: the serial checked, then the task for the CN. */
static enum revoke_result
revoke_at_ca(struct ra_ctx *ctx, enum revoke_task task, const struct store_cert *rec,
    const char *reason, char *msg, size_t msglen)
{
	bool revoked;
	enum ca_result r;
	int held;

	if (rec->shadowed_at != 0) {
		snprintf(msg, msglen, "the CA files another owner's certificate under '%.64s' "
		    "since %lld; certificate %s can no longer be changed through the CA",
		    rec->cn, (long long)rec->shadowed_at, rec->serial);
		return REVOKE_NOT_HELD;
	}
	if ((held = revoke_ca_files(ctx, rec->cn, rec->serial, &revoked, msg, msglen)) < 0)
		return REVOKE_CA_DOWN;
	if (held == 1)
		return REVOKE_NOT_HELD;
	r = revoke_ca_send(ctx, task, rec->cn, reason, msg, msglen);
	if (r == CA_OK)
		return REVOKE_OK;
	return r == CA_ERR_UNREACHABLE ? REVOKE_CA_DOWN : REVOKE_REFUSED;
}

/* Records what the CA did; the CRL follows when publish is set. */
static enum revoke_result
revoke_record(struct ra_ctx *ctx, const struct store_cert *rec, const char *reason,
    bool publish, char *msg, size_t msglen)
{
	char crlmsg[256];
	int rc = reason != NULL ? store_cert_revoke(ctx->store, rec->serial, reason, time(NULL)) :
	    store_cert_unrevoke(ctx->store, rec->serial);

	if (rc < 0) {
		snprintf(msg, msglen, "the CA %s certificate %s, but the RA's store failed to "
		    "record it; it will be recorded when asked again", reason != NULL ?
		    "revoked" : "unrevoked", rec->serial);
		log_error("%s", msg);
		return REVOKE_STORE;
	}
	if (reason != NULL)
		log_info("certificate %s (%s) revoked: %s", rec->serial, rec->cn, reason);
	else
		log_info("certificate %s (%s) unrevoked", rec->serial, rec->cn);
	if (publish)
		crl_publish(ctx->cfg, ctx->ca, crlmsg, sizeof(crlmsg));
	return REVOKE_OK;
}

static enum revoke_result
revoke_do(struct ra_ctx *ctx, enum revoke_task task, const struct store_cert *rec,
    const char *reason, bool publish, char *msg, size_t msglen)
{
	enum revoke_result r;

	msg[0] = '\0';
	if ((r = revoke_at_ca(ctx, task, rec, reason, msg, msglen)) != REVOKE_OK) {
		log_warn("certificate %s (%s): %s refused: %s", rec->serial, rec->cn,
		    task == REVOKE_TASK_UNREVOKE ? "unrevocation" : "revocation", msg);
		return r;
	}
	return revoke_record(ctx, rec, task == REVOKE_TASK_UNREVOKE ? NULL : reason, publish,
	    msg, msglen);
}

enum revoke_result
revoke_certificate(struct ra_ctx *ctx, const struct store_cert *rec, const char *reason,
    char *msg, size_t msglen)
{
	return revoke_do(ctx, REVOKE_TASK_REVOKE, rec, reason, true, msg, msglen);
}

enum revoke_result
revoke_supersede(struct ra_ctx *ctx, const struct store_cert *rec, char *msg, size_t msglen)
{
	return revoke_do(ctx, REVOKE_TASK_REVOKE, rec, revoke_reason_name(4), false, msg,
	    msglen);
}

enum revoke_result
revoke_lift(struct ra_ctx *ctx, const struct store_cert *rec, char *msg, size_t msglen)
{
	return revoke_do(ctx, REVOKE_TASK_UNREVOKE, rec, NULL, true, msg, msglen);
}

enum revoke_result
revoke_node_deletion(struct ra_ctx *ctx, const struct store_cert *rec, char *msg,
    size_t msglen)
{
	return revoke_do(ctx, REVOKE_TASK_DELETE, rec, revoke_reason_name(5), true, msg, msglen);
}
