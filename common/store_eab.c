#include "store_eab.h"

#include <string.h>

#include "store_impl.h"

/* The columns every key query reads, in the order of this enum. */
#define EAB_COLUMNS "kid, hmac_key, created_by, created_at, account_id"

enum {
	EAB_COL_KID, EAB_COL_HMAC_KEY, EAB_COL_CREATED_BY, EAB_COL_CREATED_AT,
	EAB_COL_ACCOUNT_ID,
};

static int
store_eab_row(sqlite3_stmt *s, void *p)
{
	struct store_eab *e = p;

	memset(e, 0, sizeof(*e));
	if (store_col_text(s, EAB_COL_KID, e->kid, sizeof(e->kid)) != 0 ||
	    store_col_text(s, EAB_COL_HMAC_KEY, e->hmac_key, sizeof(e->hmac_key)) != 0 ||
	    store_col_text(s, EAB_COL_CREATED_BY, e->created_by, sizeof(e->created_by)) != 0)
		return -1;
	e->created_at = sqlite3_column_int64(s, EAB_COL_CREATED_AT);
	e->account_id = sqlite3_column_int64(s, EAB_COL_ACCOUNT_ID);
	return 0;
}

int
store_eab_create(struct store *st, const struct store_eab *e)
{
	static const char sql[] = "INSERT INTO eab_keys (kid, hmac_key, created_by, created_at) "
	    "VALUES (?, ?, ?, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, e->kid);
	store_bind_text(s, 2, e->hmac_key);
	store_bind_text(s, 3, e->created_by);
	sqlite3_bind_int64(s, 4, e->created_at);
	return store_exec(s) == 1 ? 0 : -1;
}

int
store_eab_get(struct store *st, const char *kid, struct store_eab *out)
{
	static const char sql[] = "SELECT " EAB_COLUMNS " FROM eab_keys WHERE kid = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, kid);
	return store_one(s, store_eab_row, out);
}

int
store_eab_use(struct store *st, const char *kid, int64_t account_id, int64_t now)
{
	static const char sql[] = "UPDATE eab_keys SET account_id = ?, used_at = ? "
	    "WHERE kid = ? AND account_id IS NULL";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, now);
	store_bind_text(s, 3, kid);
	return store_exec_one(s);
}

int
store_eab_each(struct store *st, void (*fn)(const struct store_eab *e, void *arg), void *arg)
{
	static const char sql[] = "SELECT " EAB_COLUMNS " FROM eab_keys ORDER BY created_at";
	sqlite3_stmt *s = store_stmt(st, sql);
	struct store_eab e;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (store_eab_row(s, &e) == 0)
			fn(&e, arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}
