/*
 * Certificates the RA obtained from the CA, whatever the route (ACME,
 * enrolment, admin, client renewal).  The serial is taken from the
 * certificate itself, never from the CA's reply (docs/CA-PROTOCOL.md).
 */
#ifndef UPKI_STORE_CERT_H
#define UPKI_STORE_CERT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* "account:ID" or "node:CN". */
#define STORE_OWNER_MAX 272

struct store_cert {
	int64_t id;
	char serial[80];            /* upper-case hex */
	char cn[256];
	char dn[1024];
	char profile[64];
	char *pem;
	int64_t not_before, not_after;
	char status[16];            /* valid, revoked */
	int64_t revoked_at;
	char reason[32];
	char source[16];            /* acme, enrol, admin, client */
	int64_t account_id;         /* 0 = none */
	char owner[STORE_OWNER_MAX]; /* store_cert_owner_* */
	int64_t shadowed_at;        /* 0, or since when the CA files another owner's
	                               certificate under its CN */
	int64_t created_at;
};

void store_cert_free(struct store_cert *c);
/* Inserts; sets c->id. */
int store_cert_add(struct store *st, struct store_cert *c);
int store_cert_by_id(struct store *st, int64_t id, struct store_cert *out);
int store_cert_by_serial(struct store *st, const char *serial, struct store_cert *out);
/* valid -> revoked; 1 when it was revoked already. */
int store_cert_revoke(struct store *st, const char *serial, const char *reason, int64_t now);

/* revoked -> valid (certificateHold lifted, or a supersession undone). */
int store_cert_unrevoke(struct store *st, const char *serial);
/* The CA now files another owner's certificate under this one's CN. */
int store_cert_shadow(struct store *st, const char *serial, int64_t now);
/* The newest certificate filed under cn, which the CA holds under it
 * unless it was made outside the RA; 1 when there is none. */
int store_cert_holder(struct store *st, const char *cn, struct store_cert *out);
/* The newest certificate of an owner; 1 when there is none. */
int store_cert_of_owner(struct store *st, const char *owner, struct store_cert *out);

/* Owner names: who may renew a certificate's CN and revoke it. */
void store_cert_owner_account(int64_t account_id, char out[STORE_OWNER_MAX]);
void store_cert_owner_node(const char *cn, char out[STORE_OWNER_MAX]);
/* True when the certificate is valid, unexpired at now, and the one the
 * CA files under its CN. */
bool store_cert_live(const struct store_cert *c, int64_t now);
/* A page of certificates, newest first; cn NULL for all. */
int store_cert_page(struct store *st, const char *cn, int offset, int limit,
    void (*fn)(const struct store_cert *c, void *arg), void *arg);
int store_cert_count(struct store *st, const char *cn);

#endif
