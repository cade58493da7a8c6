/*
 * The RA's own admin list (canonical DNs, see dn.h).  The admins an RA
 * accepts are this list together with the CA's list_admins.
 */
#ifndef UPKI_STORE_ADMIN_H
#define UPKI_STORE_ADMIN_H

#include <stdint.h>

#include "store.h"

/* 0 added (or brought back), 1 already there. */
int store_admin_add(struct store *st, const char *dn, int64_t now);
/* 0 removed, 1 not there.  The row stays as a tombstone (see below). */
int store_admin_remove(struct store *st, const char *dn, int64_t now);

enum store_admin_state {
	STORE_ADMIN_YES = 0,
	STORE_ADMIN_UNKNOWN = 1,  /* not in the RA's list: ask the CA's */
	STORE_ADMIN_REMOVED = 2,  /* removed here: no, whatever the CA says */
};
/* A store_admin_state, or -1 on error. */
int store_admin_has(struct store *st, const char *dn);
int store_admin_each(struct store *st, void (*fn)(const char *dn, int64_t created, void *arg),
    void *arg);

#endif
