/*
 * The ACME store's authorizations and challenges (store_acme.h has the
 * accounts and orders), with the same conventions: each change one
 * transaction; 0 done / found, 1 not found or lost the race, -1 error.
 */
#ifndef UPKI_STORE_AUTHZ_H
#define UPKI_STORE_AUTHZ_H

#include <stdint.h>

#include "store.h"
#include "store_acme.h"

struct store_challenge {
	int64_t id;
	char type[16];
	char token[STORE_ID_MAX];
	char status[16];
	int64_t validated;          /* when the check ended, valid or not; 0 = not yet */
	char *error;                /* JSON problem text or NULL */
};

struct store_authz {
	char id[STORE_ID_MAX];
	int64_t account_id;
	char type[8];               /* dns, ip */
	char value[STORE_NAME_MAX];
	int wildcard;
	char status[16];
	int64_t expires;
	struct store_challenge challenges[STORE_MAX_CHALLENGES];
	int nchallenges;
};

/* A challenge a validator holds for a while (store_challenge_claim), with
 * what it needs to check it. */
struct store_challenge_lease {
	int64_t challenge_id;
	char type[16];
	char token[STORE_ID_MAX];
	char authz_id[STORE_ID_MAX];
	char ident_type[8];
	char ident_value[STORE_NAME_MAX];
	char thumbprint[64];         /* RFC 7638, base64url: 43 chars */
	int attempts;
};

void store_authz_free(struct store_authz *a);

/* Authorizations and challenges */
int store_authz_get(struct store *st, const char *id, int64_t now, struct store_authz *out);
int store_authz_deactivate(struct store *st, const char *id);
/* pending -> processing for the challenge (authz must be pending). 1 if
 * the challenge or its authorization is not pending. */
int store_challenge_start(struct store *st, const char *authz_id, const char *type);
/*
 * Claims one challenge to validate for lease_s seconds; 1 when none.  Fair
 * across accounts: the challenge of the account with the fewest checks
 * running goes first, and an account that already has per_account checks
 * running gets no more, so that one account's slow targets cannot hold
 * every validator.
 */
int store_challenge_claim(struct store *st, int64_t now, int lease_s, int per_account,
    struct store_challenge_lease *w);
/* The account's challenges being validated, and those that failed since
 * then with the time of the oldest of them (for Retry-After).  -1 on
 * error. */
int store_account_challenges(struct store *st, int64_t account_id, int64_t since,
    int *inflight, int *failed, int64_t *oldest_failed);
/* Records the outcome: valid (problem NULL) or invalid (problem JSON), and
 * carries it to the authorization and to every order that uses it. */
int store_challenge_finish(struct store *st, int64_t challenge_id, const char *problem,
    int64_t now);

#endif
