/*
 * Certificates the RA obtained from the CA, whatever the route (ACME,
 * enrolment, admin, client renewal).  The serial is taken from the
 * certificate itself, never from the CA's reply (ca-protocol.md).
 */
#ifndef UPKI_STORE_CERT_H
#define UPKI_STORE_CERT_H

#include <stdint.h>

#include "store.h"

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
	int64_t created_at;
};

void store_cert_free(struct store_cert *c);
/* Inserts; sets c->id. */
int store_cert_add(struct store *st, struct store_cert *c);
int store_cert_by_id(struct store *st, int64_t id, struct store_cert *out);
int store_cert_by_serial(struct store *st, const char *serial, struct store_cert *out);
/* valid -> revoked; 1 when it was revoked already. */
int store_cert_revoke(struct store *st, const char *serial, const char *reason, int64_t now);

/* revoked -> valid (certificateHold lifted). */
int store_cert_unrevoke(struct store *st, const char *serial);
/* Every valid certificate with this CN -> revoked; returns how many. */
int store_cert_revoke_cn(struct store *st, const char *cn, const char *reason, int64_t now);
/* A page of certificates, newest first; cn NULL for all. */
int store_cert_page(struct store *st, const char *cn, int offset, int limit,
    void (*fn)(const struct store_cert *c, void *arg), void *arg);
int store_cert_count(struct store *st, const char *cn);

#endif
