#include "store_cert.h"

#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define CERT_COLUMNS "id, serial, cn, dn, profile, pem, not_before, not_after, status, " \
    "revoked_at, revocation_reason, source, account_id, created_at"

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
	c->id = sqlite3_column_int64(s, 0);
	if (store_col_text(s, 1, c->serial, sizeof(c->serial)) != 0 ||
	    store_col_text(s, 2, c->cn, sizeof(c->cn)) != 0 ||
	    store_col_text(s, 3, c->dn, sizeof(c->dn)) != 0 ||
	    store_col_text(s, 4, c->profile, sizeof(c->profile)) != 0 ||
	    store_col_text(s, 8, c->status, sizeof(c->status)) != 0 ||
	    store_col_text(s, 10, c->reason, sizeof(c->reason)) != 0 ||
	    store_col_text(s, 11, c->source, sizeof(c->source)) != 0)
		return -1;
	c->pem = store_col_dup(s, 5);
	c->not_before = sqlite3_column_int64(s, 6);
	c->not_after = sqlite3_column_int64(s, 7);
	c->revoked_at = sqlite3_column_int64(s, 9);
	c->account_id = sqlite3_column_int64(s, 12);
	c->created_at = sqlite3_column_int64(s, 13);
	return c->pem != NULL ? 0 : -1;
}

int
store_cert_add(struct store *st, struct store_cert *c)
{
	static const char sql[] = "INSERT INTO certificates (serial, cn, dn, profile, pem, "
	    "not_before, not_after, source, account_id, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
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
	sqlite3_bind_int64(s, 10, c->created_at);
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
	int n;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, reason);
	store_bind_text(s, 3, serial);
	if ((n = store_exec(s)) < 0)
		return -1;
	return n == 1 ? 0 : 1;
}

int
store_cert_unrevoke(struct store *st, const char *serial)
{
	static const char sql[] = "UPDATE certificates SET status = 'valid', revoked_at = NULL, "
	    "revocation_reason = NULL WHERE serial = ? AND status = 'revoked'";
	sqlite3_stmt *s = store_stmt(st, sql);
	int n;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, serial);
	if ((n = store_exec(s)) < 0)
		return -1;
	return n == 1 ? 0 : 1;
}

int
store_cert_revoke_cn(struct store *st, const char *cn, const char *reason, int64_t now)
{
	static const char sql[] = "UPDATE certificates SET status = 'revoked', "
	    "revoked_at = ?, revocation_reason = ? WHERE cn = ? AND status = 'valid'";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, reason);
	store_bind_text(s, 3, cn);
	return store_exec(s);
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
