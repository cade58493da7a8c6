#include "store_cert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The columns every certificate query reads, in the order of this enum. */
#define CERT_COLUMNS "id, serial, cn, dn, profile, pem, not_before, not_after, status, " \
    "revoked_at, revocation_reason, source, account_id, owner, shadowed_at, created_at"

enum {
	CERT_COL_ID, CERT_COL_SERIAL, CERT_COL_CN, CERT_COL_DN, CERT_COL_PROFILE, CERT_COL_PEM,
	CERT_COL_NOT_BEFORE, CERT_COL_NOT_AFTER, CERT_COL_STATUS, CERT_COL_REVOKED_AT,
	CERT_COL_REASON, CERT_COL_SOURCE, CERT_COL_ACCOUNT_ID, CERT_COL_OWNER,
	CERT_COL_SHADOWED_AT, CERT_COL_CREATED_AT,
};

void
store_cert_free(struct store_cert *c)
{
	free(c->pem);
	c->pem = NULL;
}

static int
store_cert_row(sqlite3_stmt *s, void *p)
{
	struct store_cert *c = p;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(s, CERT_COL_ID);
	if (store_col_text(s, CERT_COL_SERIAL, c->serial, sizeof(c->serial)) != 0 ||
	    store_col_text(s, CERT_COL_CN, c->cn, sizeof(c->cn)) != 0 ||
	    store_col_text(s, CERT_COL_DN, c->dn, sizeof(c->dn)) != 0 ||
	    store_col_text(s, CERT_COL_PROFILE, c->profile, sizeof(c->profile)) != 0 ||
	    store_col_text(s, CERT_COL_STATUS, c->status, sizeof(c->status)) != 0 ||
	    store_col_text(s, CERT_COL_REASON, c->reason, sizeof(c->reason)) != 0 ||
	    store_col_text(s, CERT_COL_SOURCE, c->source, sizeof(c->source)) != 0 ||
	    store_col_text(s, CERT_COL_OWNER, c->owner, sizeof(c->owner)) != 0)
		return -1;
	c->pem = store_col_dup(s, CERT_COL_PEM);
	c->not_before = sqlite3_column_int64(s, CERT_COL_NOT_BEFORE);
	c->not_after = sqlite3_column_int64(s, CERT_COL_NOT_AFTER);
	c->revoked_at = sqlite3_column_int64(s, CERT_COL_REVOKED_AT);
	c->account_id = sqlite3_column_int64(s, CERT_COL_ACCOUNT_ID);
	c->shadowed_at = sqlite3_column_int64(s, CERT_COL_SHADOWED_AT);
	c->created_at = sqlite3_column_int64(s, CERT_COL_CREATED_AT);
	return c->pem != NULL ? 0 : -1;
}

void
store_cert_owner_account(int64_t account_id, char out[STORE_OWNER_MAX])
{
	snprintf(out, STORE_OWNER_MAX, "account:%" PRId64, account_id);
}

void
store_cert_owner_node(const char *cn, char out[STORE_OWNER_MAX])
{
	snprintf(out, STORE_OWNER_MAX, "node:%s", cn);
}

bool
store_cert_live(const struct store_cert *c, int64_t now)
{
	return strcmp(c->status, "valid") == 0 && c->not_after > now && c->shadowed_at == 0;
}

int
store_cert_add(struct store *st, struct store_cert *c)
{
	static const char sql[] = "INSERT INTO certificates (serial, cn, dn, profile, pem, "
	    "not_before, not_after, source, account_id, owner, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, c->serial);
	store_bind_text(s, 2, c->cn);
	store_bind_text(s, 3, c->dn);
	store_bind_text(s, 4, c->profile);
	store_bind_text(s, 5, c->pem);
	sqlite3_bind_int64(s, 6, c->not_before);
	sqlite3_bind_int64(s, 7, c->not_after);
	store_bind_text(s, 8, c->source);
	if (c->account_id != 0)
		sqlite3_bind_int64(s, 9, c->account_id);
	store_bind_text(s, 10, c->owner);
	sqlite3_bind_int64(s, 11, c->created_at);
	if (store_exec(s) != 1)
		return -1;
	c->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
store_cert_by_id(struct store *st, int64_t id, struct store_cert *out)
{
	static const char sql[] = "SELECT " CERT_COLUMNS " FROM certificates WHERE id = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		sqlite3_bind_int64(s, 1, id);
	return store_one(s, store_cert_row, out);
}

int
store_cert_by_serial(struct store *st, const char *serial, struct store_cert *out)
{
	static const char sql[] = "SELECT " CERT_COLUMNS " FROM certificates WHERE serial = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, serial);
	return store_one(s, store_cert_row, out);
}

int
store_cert_revoke(struct store *st, const char *serial, const char *reason, int64_t now)
{
	static const char sql[] = "UPDATE certificates SET status = 'revoked', "
	    "revoked_at = ?, revocation_reason = ? WHERE serial = ? AND status = 'valid'";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, reason);
	store_bind_text(s, 3, serial);
	return store_exec_one(s);
}

int
store_cert_unrevoke(struct store *st, const char *serial)
{
	static const char sql[] = "UPDATE certificates SET status = 'valid', revoked_at = NULL, "
	    "revocation_reason = NULL WHERE serial = ? AND status = 'revoked'";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, serial);
	return store_exec_one(s);
}

int
store_cert_shadow(struct store *st, const char *serial, int64_t now)
{
	static const char sql[] = "UPDATE certificates SET shadowed_at = ? "
	    "WHERE serial = ? AND shadowed_at IS NULL";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, serial);
	return store_exec(s) < 0 ? -1 : 0;
}

/* The newest certificate of a query keyed by one text value. */
static int
store_cert_newest(struct store *st, const char *sql, const char *key,
    struct store_cert *out)
{
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, key);
	return store_one(s, store_cert_row, out);
}

int
store_cert_holder(struct store *st, const char *cn, struct store_cert *out)
{
	return store_cert_newest(st, "SELECT " CERT_COLUMNS " FROM certificates "
	    "WHERE cn = ? ORDER BY id DESC LIMIT 1", cn, out);
}

int
store_cert_of_owner(struct store *st, const char *owner, struct store_cert *out)
{
	return store_cert_newest(st, "SELECT " CERT_COLUMNS " FROM certificates "
	    "WHERE owner = ? ORDER BY id DESC LIMIT 1", owner, out);
}

int
store_cert_page(struct store *st, const char *cn, int offset, int limit,
    void (*fn)(const struct store_cert *c, void *arg), void *arg)
{
	static const char sql[] = "SELECT " CERT_COLUMNS " FROM certificates "
	    "WHERE ?1 IS NULL OR cn = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3";
	sqlite3_stmt *s = store_stmt(st, sql);
	struct store_cert c;
	int rc;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	sqlite3_bind_int(s, 2, limit);
	sqlite3_bind_int(s, 3, offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_cert_row(s, &c) == 0)
			fn(&c, arg);
		store_cert_free(&c);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_cert_count(struct store *st, const char *cn)
{
	static const char sql[] = "SELECT count(*) FROM certificates WHERE ?1 IS NULL OR cn = ?1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int n = -1;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return n;
}
