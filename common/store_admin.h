/*
 * The RA's own admin list (canonical DNs, see dn.h).  The admins an RA
 * accepts are this list together with the CA's list_admins.
 */
#ifndef UPKI_STORE_ADMIN_H
#define UPKI_STORE_ADMIN_H

#include <stdint.h>

#include "store.h"

/* 0 added, 1 already there. */
int store_admin_add(struct store *st, const char *dn, int64_t now);
/* 0 removed, 1 not there. */
int store_admin_remove(struct store *st, const char *dn);
/* 0 is an admin, 1 is not. */
int store_admin_has(struct store *st, const char *dn);
int store_admin_each(struct store *st, void (*fn)(const char *dn, int64_t created, void *arg),
    void *arg);

#endif
