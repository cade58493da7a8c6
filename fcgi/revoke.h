#ifndef UPKI_REVOKE_H
#define UPKI_REVOKE_H

#include <stddef.h>

#include "ra.h"
#include "store_cert.h"

enum revoke_result {
	REVOKE_OK,
	REVOKE_CA_DOWN,         /* try again later */
	REVOKE_REFUSED,         /* the CA said no, or holds another serial */
	REVOKE_STORE,           /* the CA did it; the RA could not record it */
};

/* RFC 5280 code (0-6) -> the CA's reason name, NULL for others. */
const char *revoke_reason_name(int code);
/* A reason name the CA knows -> that name (static), NULL otherwise. */
const char *revoke_reason_parse(const char *name);

/* Revokes at the CA, records it, refreshes crl.pem and reloads nginx. */
enum revoke_result revoke_certificate(struct ra_ctx *ctx, const struct store_cert *rec,
    const char *reason, char *msg, size_t msglen);
enum revoke_result revoke_undo(struct ra_ctx *ctx, const struct store_cert *rec, char *msg,
    size_t msglen);

#endif
