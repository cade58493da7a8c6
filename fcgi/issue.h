/*
 * Issuance, whichever route asks for it (ACME finalize, token enrolment,
 * client renewal, admin renewal): the CA signs, the RA checks what it got
 * and records it.
 *
 * The CA files one live certificate per CN (docs/CA-PROTOCOL.md), so every
 * issuance keeps this invariant: the RA knows, for each CN, which
 * certificate the CA files under it and who owns it, and
 *  - a CN held by a live certificate of another owner is refused before the
 *    CA is called (unless the operator allows sharing: UPKI_RA_SHARE_CN;
 *    then the older certificate is recorded as shadowed, no longer
 *    revocable through the CA);
 *  - a CN held by a live certificate of the same owner is a renewal: the
 *    older certificate is revoked as superseded first, and restored if the
 *    CA then does not sign.
 * A claim on the CN (store_claim.h) makes this one issuance at a time per
 * CN, and lets a crash between the two steps be settled later
 * (issue_recover).
 */
#ifndef UPKI_ISSUE_H
#define UPKI_ISSUE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ra.h"
#include "store_cert.h"

enum issue_result {
	ISSUE_OK,
	ISSUE_REFUSED,          /* the CA refused; msg has its reason */
	ISSUE_HELD,             /* another owner's live certificate holds the CN */
	ISSUE_BUSY,             /* another issuance for the CN is under way */
	ISSUE_CA_DOWN,          /* no usable answer: try again later */
	ISSUE_STORE,            /* the RA's store failed: try again later */
	ISSUE_BAD_ANSWER,       /* the CA answered with a wrong certificate */
};

struct issue_request {
	X509_REQ *csr;                  /* what the CA signs, or NULL to have */
	const struct store_cert *renew; /* this certificate renewed by the CA (same key) */
	const char *profile;
	const char *owner;              /* store_cert_owner_* */
	const char *source;             /* acme, enrol, client, admin */
	int64_t account_id;             /* 0 = none */
	bool adopt;                     /* an earlier sign lost its answer (issue_adopt) */
	/*
	 * Checks and records the new certificate (c is filled, c->pem owned by
	 * the caller of issue_certificate): 0 recorded, 1 it is not what was
	 * asked for (why says so), -1 the store failed.  NULL: store_cert_add.
	 */
	int (*record)(struct ra_ctx *ctx, X509 *crt, struct store_cert *c, void *arg,
	    char *why, size_t whylen);
	void *record_arg;
};

/* Has the CA make the certificate and records it in *out (free it with
 * store_cert_free).  Anything but ISSUE_OK leaves no certificate of the
 * owner's revoked that the CA still files, and msg says why. */
enum issue_result issue_certificate(struct ra_ctx *ctx, const struct issue_request *rq,
    struct store_cert *out, char *msg, size_t msglen);

/* Settles the issuances whose process died between superseding the older
 * certificate and recording the new one: the older one is restored when
 * the CA never signed, recorded as revoked when it did.  Run at a worker's
 * start and by the validators' upkeep. */
void issue_recover(struct ra_ctx *ctx);

/* Leaf PEM followed by the CA certificate: a new malloc'd string. */
char *issue_chain(struct ra_ctx *ctx, const char *leaf_pem);

#endif
