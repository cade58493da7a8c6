/*
 * External account binding keys: an admin makes one, an ACME client uses
 * it once to create its account.
 */
#ifndef UPKI_STORE_EAB_H
#define UPKI_STORE_EAB_H

#include <stdint.h>

#include "store.h"

struct store_eab {
	char kid[64];
	char hmac_key[64];          /* base64url */
	char created_by[1024];
	int64_t created_at;
	int64_t account_id;         /* 0 = unused */
};

int store_eab_create(struct store *st, const struct store_eab *e);
/* 0 found (unused or not: see account_id), 1 unknown. */
int store_eab_get(struct store *st, const char *kid, struct store_eab *out);
/* Binds the key to the account: 0 done, 1 it was used meanwhile. */
int store_eab_use(struct store *st, const char *kid, int64_t account_id, int64_t now);
int store_eab_each(struct store *st, void (*fn)(const struct store_eab *e, void *arg),
    void *arg);

#endif
