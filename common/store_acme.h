/*
 * The ACME part of the store: accounts and orders (authorizations and
 * challenges: store_authz.h).  Each function that changes state is one transaction, and the
 * ones that decide a race (finalize, claiming a challenge) do it with a
 * conditional UPDATE inside BEGIN IMMEDIATE, so that of two workers exactly
 * one wins.
 *
 * Return convention: 0 done / found, 1 not found or lost the race, -1 error.
 */
#ifndef UPKI_STORE_ACME_H
#define UPKI_STORE_ACME_H

#include <stdint.h>
#include <time.h>

#include "store.h"
#include "store_cert.h"

#define STORE_ID_MAX 48         /* random ids: base64url of 16..24 bytes */
#define STORE_NAME_MAX 256      /* identifier values */
#define STORE_MAX_CHALLENGES 3  /* one of each type */

struct store_account {
	int64_t id;
	char kid[STORE_ID_MAX];
	char thumbprint[64];         /* RFC 7638, base64url: 43 chars */
	char *jwk;                  /* JSON text */
	char *contact;              /* JSON array text */
	char status[16];
	int64_t created_at;
};

struct store_order {
	char id[STORE_ID_MAX];
	int64_t account_id;
	char status[16];
	int64_t expires;
	char *identifiers;          /* JSON array text */
	int64_t not_before, not_after;      /* 0 = not given */
	char profile[64];
	char *error;                /* JSON problem text or NULL */
	int64_t certificate_id;     /* 0 = none yet */
	char certificate_serial[80];
	char replaces[128];         /* ARI CertID of the certificate it renews */
	int64_t created_at;
};

void store_account_free(struct store_account *a);
void store_order_free(struct store_order *o);

/* Accounts */
int store_account_by_thumbprint(struct store *st, const char *tp, struct store_account *out);
int store_account_by_kid(struct store *st, const char *kid, struct store_account *out);
/* 1 when the key has an account already; with eab_kid (NULL for none), 2
 * when that external account binding key was used meanwhile. */
int store_account_create(struct store *st, struct store_account *a, const char *eab_kid);
int store_account_set_contact(struct store *st, int64_t id, const char *contact);
int store_account_deactivate(struct store *st, int64_t id);
/* 1 when the new key is already some account's (RFC 8555 7.3.5: 409). */
int store_account_set_key(struct store *st, int64_t id, const char *jwk, const char *tp);
/* Up to max order ids of the account, newest first, after the cursor (a
 * created_at/id pair encoded by the caller as "" for the first page). */
int store_account_orders(struct store *st, int64_t account_id, int offset, int max,
    char ids[][STORE_ID_MAX], int *n);

/* How many orders the account made since then; *oldest gets the time of
 * the oldest of them (for Retry-After).  -1 on error. */
int store_account_orders_since(struct store *st, int64_t account_id, int64_t since,
    int64_t *oldest);
/* The account's pending authorizations that have not expired; -1 on error. */
int store_account_pending_authzs(struct store *st, int64_t account_id, int64_t now);

/* Orders.  authz_ids[i] empty means "create a new authorization for
 * identifier i" (its id is then written back); otherwise it is reused. */
struct store_new_authz {
	char id[STORE_ID_MAX];
	char type[8];
	char value[STORE_NAME_MAX];
	int wildcard;
	int64_t expires;
	int reuse;                  /* id names an existing valid authorization */
	int nchallenges;
	char challenge_types[STORE_MAX_CHALLENGES][16];
	char challenge_tokens[STORE_MAX_CHALLENGES][STORE_ID_MAX];
};
int store_order_create(struct store *st, struct store_order *o, struct store_new_authz *az,
    int naz);
/* The id of a valid, unexpired authorization of the account for the name. */
int store_authz_reusable(struct store *st, int64_t account_id, const char *type,
    const char *value, int wildcard, int64_t now, char *id_out);
/* Reads the order, first bringing its status up to date (expiry). */
int store_order_get(struct store *st, const char *id, int64_t now, struct store_order *out);
int store_order_authz_ids(struct store *st, const char *order_id, char ids[][STORE_ID_MAX],
    int max, int *n);
/* ready -> processing, on behalf of process pid; 1 if the order was not
 * ready (someone else won).  *earlier is how many signs were sent for it
 * before: their answers were lost, so the CA may hold its certificate. */
int store_order_begin_finalize(struct store *st, const char *id, int64_t now, int pid,
    int *earlier);
/* Orders a dead process was finalizing go back to ready; returns how many. */
int store_order_release(struct store *st, int pid);
/* processing -> ready, for a finalize that failed in a retryable way. */
int store_order_abort_finalize(struct store *st, const char *id);
/* processing -> invalid with a problem document. */
int store_order_fail(struct store *st, const char *id, const char *problem);
/* processing -> valid, and the certificate recorded (sets c->id), in one
 * transaction: an order is never valid without its certificate. */
int store_order_complete(struct store *st, const char *id, struct store_cert *c);
/* Orders stuck in processing since before `before` go back to ready. */
int store_order_recover(struct store *st, int64_t before);

/* Housekeeping: expire authorizations and orders, delete long-dead
 * pending objects.  Returns rows touched. */
int store_acme_sweep(struct store *st, int64_t now);

#endif
