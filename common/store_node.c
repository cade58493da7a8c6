#include "store_node.h"

#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The columns every node query reads (and an insert writes), in the order
 * of this enum. */
#define NODE_COLUMNS "cn, profile, sans, token_hash, token_expires, enrolled_at, " \
    "created_by, created_at"

enum {
	NODE_COL_CN, NODE_COL_PROFILE, NODE_COL_SANS, NODE_COL_TOKEN_HASH,
	NODE_COL_TOKEN_EXPIRES, NODE_COL_ENROLLED_AT, NODE_COL_CREATED_BY, NODE_COL_CREATED_AT,
};

void
store_node_free(struct store_node *n)
{
	free(n->sans);
	n->sans = NULL;
}

static int
store_node_row(sqlite3_stmt *s, void *p)
{
	struct store_node *n = p;

	memset(n, 0, sizeof(*n));
	if (store_col_text(s, NODE_COL_CN, n->cn, sizeof(n->cn)) != 0 ||
	    store_col_text(s, NODE_COL_PROFILE, n->profile, sizeof(n->profile)) != 0 ||
	    store_col_text(s, NODE_COL_TOKEN_HASH, n->token_hash, sizeof(n->token_hash)) != 0 ||
	    store_col_text(s, NODE_COL_CREATED_BY, n->created_by, sizeof(n->created_by)) != 0)
		return -1;
	n->sans = store_col_dup(s, NODE_COL_SANS);
	n->token_expires = sqlite3_column_int64(s, NODE_COL_TOKEN_EXPIRES);
	n->enrolled_at = sqlite3_column_int64(s, NODE_COL_ENROLLED_AT);
	n->created_at = sqlite3_column_int64(s, NODE_COL_CREATED_AT);
	return n->sans != NULL ? 0 : -1;
}

int
store_node_create(struct store *st, const struct store_node *n)
{
	static const char sql[] = "INSERT INTO nodes (" NODE_COLUMNS ") "
	    "VALUES (?, ?, ?, ?, ?, NULL, ?, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, n->cn);
	store_bind_text(s, 2, n->profile);
	store_bind_text(s, 3, n->sans);
	store_bind_text(s, 4, n->token_hash);
	sqlite3_bind_int64(s, 5, n->token_expires);
	store_bind_text(s, 6, n->created_by);
	sqlite3_bind_int64(s, 7, n->created_at);
	return store_exec_unique(s);
}

int
store_node_get(struct store *st, const char *cn, struct store_node *out)
{
	static const char sql[] = "SELECT " NODE_COLUMNS " FROM nodes WHERE cn = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, cn);
	return store_one(s, store_node_row, out);
}

int
store_node_each(struct store *st, void (*fn)(const struct store_node *n, void *arg),
    void *arg)
{
	static const char sql[] = "SELECT " NODE_COLUMNS " FROM nodes ORDER BY cn";
	sqlite3_stmt *s = store_stmt(st, sql);
	struct store_node n;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_node_row(s, &n) == 0)
			fn(&n, arg);
		store_node_free(&n);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_node_delete(struct store *st, const char *cn)
{
	static const char sql[] = "DELETE FROM nodes WHERE cn = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	return store_exec_one(s);
}

int
store_node_use_token(struct store *st, const char *cn, const char *token_hash, int64_t now)
{
	static const char sql[] = "UPDATE nodes SET token_hash = NULL, enrolled_at = ?3 "
	    "WHERE cn = ?1 AND token_hash = ?2 AND token_expires > ?3";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	store_bind_text(s, 2, token_hash);
	sqlite3_bind_int64(s, 3, now);
	return store_exec_one(s);
}

int
store_node_restore_token(struct store *st, const char *cn, const char *token_hash)
{
	static const char sql[] = "UPDATE nodes SET token_hash = ?2, enrolled_at = NULL "
	    "WHERE cn = ?1 AND token_hash IS NULL";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	store_bind_text(s, 2, token_hash);
	return store_exec(s) >= 0 ? 0 : -1;
}
