/*
 * Revocation, whichever route asks for it (ACME, admin, client, node
 * deletion).  The CA files certificates by bare CN and a newer certificate
 * with the same CN replaces the older one in its index (ca-protocol.md), so
 * the CA is asked which serial it holds for that CN first, and the RA
 * refuses rather than revoke the wrong certificate.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsonx.h"
#include "log.h"
#include "ra.h"
#include "revoke.h"

static const char *const revoke_reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold",
};

const char *
revoke_reason_name(int code)
{
	return code >= 0 && code <= 6 ? revoke_reasons[code] : NULL;
}

const char *
revoke_reason_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(revoke_reasons) / sizeof(revoke_reasons[0]); i++)
		if (strcmp(name, revoke_reasons[i]) == 0)
			return revoke_reasons[i];
	return NULL;
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

/* Does the CA's entry for the CN hold this serial?  A CA that cannot tell
 * (no view task, no serial in the answer) is trusted. */
static enum revoke_result
revoke_ca_holds(struct ra_ctx *ctx, const struct store_cert *rec, char *msg, size_t msglen)
{
	json_object *params = json_object_new_object(), *data = NULL;
	enum revoke_result rc = REVOKE_OK;
	const char *serial;
	enum ca_result r;

	json_object_object_add(params, "dn", json_object_new_string(rec->cn));
	r = ca_call(ctx->ca, "view", params, &data, msg, msglen);
	json_object_put(params);
	if (r == CA_ERR_UNREACHABLE) {
		rc = REVOKE_CA_DOWN;
	} else if (r == CA_OK && (serial = jsonx_get_string(data, "serial")) != NULL &&
	    !revoke_same_serial(serial, rec->serial)) {
		snprintf(msg, msglen, "the CA now files a newer certificate (serial %.64s) "
		    "under '%.64s'; this one cannot be changed through the CA's index",
		    serial, rec->cn);
		rc = REVOKE_REFUSED;
	}
	json_object_put(data);
	return rc;
}

/* Sends task (revoke, unrevoke, delete) for the certificate's CN. */
static enum revoke_result
revoke_ca_task(struct ra_ctx *ctx, const char *task, const struct store_cert *rec,
    const char *reason, char *msg, size_t msglen)
{
	json_object *params, *data = NULL;
	enum revoke_result held = revoke_ca_holds(ctx, rec, msg, msglen);
	enum ca_result r;

	if (held != REVOKE_OK)
		return held;
	params = json_object_new_object();
	json_object_object_add(params, "dn", json_object_new_string(rec->cn));
	if (reason != NULL)
		json_object_object_add(params, "reason", json_object_new_string(reason));
	r = ca_call(ctx->ca, task, params, &data, msg, msglen);
	json_object_put(params);
	json_object_put(data);
	if (r == CA_OK)
		return REVOKE_OK;
	return r == CA_ERR_UNREACHABLE ? REVOKE_CA_DOWN : REVOKE_REFUSED;
}

/* After the CA changed its CRL: fetch it for nginx, and have nginx load it. */
static void
revoke_publish(struct ra_ctx *ctx)
{
	char msg[256];

	if (ra_crl_refresh(ctx->cfg, ctx->ca, "generate_crl", msg, sizeof(msg)) != 0)
		log_warn("CRL refresh failed: %s", msg);
	else
		ra_nginx_reload(ctx->cfg);
}

enum revoke_result
revoke_certificate(struct ra_ctx *ctx, const struct store_cert *rec, const char *reason,
    char *msg, size_t msglen)
{
	enum revoke_result r = revoke_ca_task(ctx, "revoke", rec, reason, msg, msglen);

	if (r != REVOKE_OK)
		return r;
	if (store_cert_revoke(ctx->store, rec->serial, reason, time(NULL)) < 0) {
		snprintf(msg, msglen, "the CA revoked it, but the RA's store failed to record it");
		return REVOKE_STORE;
	}
	log_info("certificate %s (%s) revoked: %s", rec->serial, rec->cn, reason);
	revoke_publish(ctx);
	return REVOKE_OK;
}

enum revoke_result
revoke_undo(struct ra_ctx *ctx, const struct store_cert *rec, char *msg, size_t msglen)
{
	enum revoke_result r = revoke_ca_task(ctx, "unrevoke", rec, NULL, msg, msglen);

	if (r != REVOKE_OK)
		return r;
	if (store_cert_unrevoke(ctx->store, rec->serial) < 0) {
		snprintf(msg, msglen, "the CA unrevoked it, but the RA's store failed to record it");
		return REVOKE_STORE;
	}
	log_info("certificate %s (%s) unrevoked", rec->serial, rec->cn);
	revoke_publish(ctx);
	return REVOKE_OK;
}
