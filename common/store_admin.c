#include "store_admin.h"

#include "log.h"
#include "store_impl.h"

int
store_admin_add(struct store *st, const char *dn, int64_t now)
{
	static const char sql[] = "INSERT INTO admins (dn, created_at) VALUES (?1, ?2) "
	    "ON CONFLICT (dn) DO UPDATE SET removed_at = NULL, created_at = ?2 "
	    "WHERE removed_at IS NOT NULL";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, dn);
	sqlite3_bind_int64(s, 2, now);
	return store_exec_one(s);
}

int
store_admin_remove(struct store *st, const char *dn, int64_t now)
{
	static const char sql[] = "INSERT INTO admins (dn, created_at, removed_at) "
	    "VALUES (?1, ?2, ?2) ON CONFLICT (dn) DO UPDATE SET removed_at = ?2 "
	    "WHERE removed_at IS NULL";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, dn);
	sqlite3_bind_int64(s, 2, now);
	return store_exec_one(s);
}

int
store_admin_has(struct store *st, const char *dn)
{
	static const char sql[] = "SELECT removed_at IS NOT NULL FROM admins WHERE dn = ?";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc, removed = 0;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, dn);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		removed = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return removed ? STORE_ADMIN_REMOVED : STORE_ADMIN_YES;
	return rc == SQLITE_DONE ? STORE_ADMIN_UNKNOWN : -1;
}

int
store_admin_each(struct store *st, void (*fn)(const char *dn, int64_t created, void *arg),
    void *arg)
{
	static const char sql[] = "SELECT dn, created_at FROM admins WHERE removed_at IS NULL "
	    "ORDER BY dn";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}
