/*
 * Claims on a CN while a certificate is made for it.  The CA files one live
 * certificate per CN, so issuing for a CN may first revoke the owner's
 * older certificate ("superseded"), then ask the CA to sign.  A claim makes
 * that pair of steps one at a time per CN, and records the superseded
 * serial before the CA revokes it: whoever finds a claim its process left
 * behind (crashed, or killed) can tell from the CA which of the two steps
 * happened, and finish or undo it (fcgi/issue.c).
 *
 * Return convention: 0 done / found, 1 not found or lost the race, -1 error.
 */
#ifndef UPKI_STORE_CLAIM_H
#define UPKI_STORE_CLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "store_cert.h"

struct store_claim {
	char cn[256];
	char owner[STORE_OWNER_MAX];
	char superseded[80];        /* "" when the issuance supersedes nothing */
	int64_t pid;
	int64_t since;
};

/* Takes the claim on cn for pid; 1 when someone holds it already. */
int store_claim_take(struct store *st, const char *cn, const char *owner, int64_t pid,
    int64_t now);
/* Records the serial the claim's issuance is about to supersede (NULL: none
 * after all). */
int store_claim_supersede(struct store *st, const char *cn, int64_t pid, const char *serial);
int store_claim_get(struct store *st, const char *cn, struct store_claim *out);
/* Drops the claim that pid took at since (a newer claim stays). */
int store_claim_drop(struct store *st, const char *cn, int64_t pid, int64_t since);
/* A claim is orphaned when it was taken before `before` (its process has
 * had all the time an issuance may take) or by a process of this host that
 * no longer runs. */
bool store_claim_orphaned(const struct store_claim *c, int64_t before);
/* Calls fn for up to max orphaned claims. */
int store_claim_orphans(struct store *st, int64_t before, int max,
    void (*fn)(const struct store_claim *c, void *arg), void *arg);

#endif
