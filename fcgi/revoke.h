/*
 * Revocation, whichever route asks for it (ACME, admin, client, node
 * deletion, and issuance when it supersedes an owner's older certificate).
 * The CA files certificates by bare CN, one live certificate per CN
 * (docs/CA-PROTOCOL.md), and revoke, unrevoke and delete name the CN: so the
 * CA is asked which serial it holds for that CN first, and the RA refuses
 * rather than act on another certificate.  The RA's record changes only
 * after the CA changed exactly that serial.
 */
#ifndef UPKI_REVOKE_H
#define UPKI_REVOKE_H

#include <stdbool.h>
#include <stddef.h>

#include "ra.h"
#include "store_cert.h"

enum revoke_result {
	REVOKE_OK,
	REVOKE_CA_DOWN,         /* try again later */
	REVOKE_NOT_HELD,        /* the CA files another certificate under its CN */
	REVOKE_REFUSED,         /* the CA said no; msg has its reason */
	REVOKE_STORE,           /* the CA did it; the RA could not record it yet */
};

/* RFC 5280 code (0-10 but 7) -> the CA's reason name, NULL for others. */
const char *revoke_reason_name(int code);
/* A reason name the CA knows -> that name (static), NULL otherwise. */
const char *revoke_reason_parse(const char *name);
/* The names the CA knows, comma-separated, for error messages. */
const char *revoke_reason_list(void);

/* Revokes at the CA, records it, publishes the CRL. */
enum revoke_result revoke_certificate(struct ra_ctx *ctx, const struct store_cert *rec,
    const char *reason, char *msg, size_t msglen);
/* Revokes with `superseded`, for an issuance by the same owner; the caller
 * publishes the CRL once the issuance is settled. */
enum revoke_result revoke_supersede(struct ra_ctx *ctx, const struct store_cert *rec,
    char *msg, size_t msglen);
/* Lifts a revocation at the CA and in the record, publishes the CRL. */
enum revoke_result revoke_lift(struct ra_ctx *ctx, const struct store_cert *rec, char *msg,
    size_t msglen);
/* A node's deletion: the CA's `delete` of its certificate (which revokes
 * it with cessationOfOperation), recorded, the CRL published. */
enum revoke_result revoke_node_deletion(struct ra_ctx *ctx, const struct store_cert *rec,
    char *msg, size_t msglen);

/* Is serial the one the CA files under cn?  0 yes, 1 no (another, or none),
 * -1 the CA did not answer (msg says why).  *revoked: the CA's flag. */
int revoke_ca_files(struct ra_ctx *ctx, const char *cn, const char *serial, bool *revoked,
    char *msg, size_t msglen);

#endif
