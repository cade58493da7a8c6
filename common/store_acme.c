#include "store_acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_eab.h"
#include "store_impl.h"

/* How long an order may stay "processing" before it is taken back to
 * "ready": far longer than any CA call (whose timeout is seconds), so only
 * an order whose worker died mid-finalize is ever recovered. */
#define STORE_PROCESSING_GRACE 300

void
store_account_free(struct store_account *a)
{
	free(a->jwk);
	free(a->contact);
	a->jwk = a->contact = NULL;
}

void
store_order_free(struct store_order *o)
{
	free(o->identifiers);
	free(o->error);
	o->identifiers = o->error = NULL;
}

/* -- accounts -------------------------------------------------------------- */

/* The columns every account query reads, in the order of this enum. */
#define ACCOUNT_COLUMNS "id, kid, thumbprint, jwk, contact, status, created_at"

enum {
	ACCOUNT_COL_ID, ACCOUNT_COL_KID, ACCOUNT_COL_THUMBPRINT, ACCOUNT_COL_JWK,
	ACCOUNT_COL_CONTACT, ACCOUNT_COL_STATUS, ACCOUNT_COL_CREATED_AT,
};

static int
store_account_row(sqlite3_stmt *s, void *p)
{
	struct store_account *a = p;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, ACCOUNT_COL_ID);
	if (store_col_text(s, ACCOUNT_COL_KID, a->kid, sizeof(a->kid)) != 0 ||
	    store_col_text(s, ACCOUNT_COL_THUMBPRINT, a->thumbprint, sizeof(a->thumbprint)) != 0 ||
	    store_col_text(s, ACCOUNT_COL_STATUS, a->status, sizeof(a->status)) != 0)
		return -1;
	a->jwk = store_col_dup(s, ACCOUNT_COL_JWK);
	a->contact = store_col_dup(s, ACCOUNT_COL_CONTACT);
	a->created_at = sqlite3_column_int64(s, ACCOUNT_COL_CREATED_AT);
	if (a->jwk == NULL || a->contact == NULL) {
		store_account_free(a);
		return -1;
	}
	return 0;
}

int
store_account_by_thumbprint(struct store *st, const char *tp, struct store_account *out)
{
	static const char sql[] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE thumbprint = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, tp);
	return store_one(s, store_account_row, out);
}

int
store_account_by_kid(struct store *st, const char *kid, struct store_account *out)
{
	static const char sql[] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE kid = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, kid);
	return store_one(s, store_account_row, out);
}

static int
store_account_insert(struct store *st, struct store_account *a)
{
	static const char sql[] = "INSERT INTO accounts (kid, thumbprint, jwk, contact, "
	    "status, tos_agreed, created_at) VALUES (?, ?, ?, ?, 'valid', 1, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, a->kid);
	store_bind_text(s, 2, a->thumbprint);
	store_bind_text(s, 3, a->jwk);
	store_bind_text(s, 4, a->contact);
	sqlite3_bind_int64(s, 5, a->created_at);
	/* 1: the same key, registered by a racing request */
	if ((rc = store_exec_unique(s)) != 0)
		return rc;
	a->id = sqlite3_last_insert_rowid(st->db);
	snprintf(a->status, sizeof(a->status), "valid");
	return 0;
}

int
store_account_create(struct store *st, struct store_account *a, const char *eab_kid)
{
	int rc;

	if (eab_kid == NULL)
		return store_account_insert(st, a);
	/* The account and the use of its binding key stand or fall together. */
	if (store_begin(st) != 0)
		return -1;
	if ((rc = store_account_insert(st, a)) == 0 &&
	    (rc = store_eab_use(st, eab_kid, a->id, a->created_at)) == 1)
		rc = 2;
	if (rc != 0) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int
store_account_set_contact(struct store *st, int64_t id, const char *contact)
{
	static const char sql[] = "UPDATE accounts SET contact = ? WHERE id = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, contact);
	sqlite3_bind_int64(s, 2, id);
	return store_exec(s) == 1 ? 0 : -1;
}

int
store_account_deactivate(struct store *st, int64_t id)
{
	static const char sql[] = "UPDATE accounts SET status = 'deactivated' WHERE id = ?";
	static const char sql_authz[] = "UPDATE authorizations SET status = 'deactivated' "
	    "WHERE account_id = ? AND status IN ('pending', 'valid')";
	sqlite3_stmt *s;

	if (store_begin(st) != 0)
		return -1;
	/* RFC 8555 7.3.6: the server SHOULD cancel pending authorizations. */
	if ((s = store_stmt(st, sql)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if (store_exec(s) != 1 || (s = store_stmt(st, sql_authz)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if (store_exec(s) < 0)
		goto fail;
	return store_commit(st);
fail:
	store_rollback(st);
	return -1;
}

int
store_account_set_key(struct store *st, int64_t id, const char *jwk, const char *tp)
{
	static const char sql[] = "UPDATE accounts SET jwk = ?, thumbprint = ? WHERE id = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, jwk);
	store_bind_text(s, 2, tp);
	sqlite3_bind_int64(s, 3, id);
	return store_exec_unique(s);
}

int
store_account_orders(struct store *st, int64_t account_id, int offset, int max,
    char ids[][STORE_ID_MAX], int *n)
{
	static const char sql[] = "SELECT id FROM orders WHERE account_id = ? "
	    "ORDER BY created_at DESC, id LIMIT ? OFFSET ?";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int(s, 2, max);
	sqlite3_bind_int(s, 3, offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		if (store_col_text(s, 0, ids[*n], STORE_ID_MAX) == 0)
			(*n)++;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_account_orders_since(struct store *st, int64_t account_id, int64_t since,
    int64_t *oldest)
{
	static const char sql[] = "SELECT count(*), min(created_at) FROM orders "
	    "WHERE account_id = ? AND created_at > ?";
	sqlite3_stmt *s = store_stmt(st, sql);
	int n = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, since);
	if (sqlite3_step(s) == SQLITE_ROW) {
		n = sqlite3_column_int(s, 0);
		*oldest = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return n;
}

int
store_account_pending_authzs(struct store *st, int64_t account_id, int64_t now)
{
	static const char sql[] = "SELECT count(*) FROM authorizations "
	    "WHERE account_id = ? AND status = 'pending' AND expires > ?";
	sqlite3_stmt *s = store_stmt(st, sql);
	int n = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return n;
}

/* -- orders -------------------------------------------------------------------- */

static int
store_insert_authz(struct store *st, int64_t account_id, const struct store_new_authz *a,
    int64_t now)
{
	static const char sql[] = "INSERT INTO authorizations (id, account_id, type, value, "
	    "wildcard, status, expires, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)";
	static const char sql_chall[] = "INSERT INTO challenges (authz_id, type, token, status) "
	    "VALUES (?, ?, ?, 'pending')";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, a->id);
	sqlite3_bind_int64(s, 2, account_id);
	store_bind_text(s, 3, a->type);
	store_bind_text(s, 4, a->value);
	sqlite3_bind_int(s, 5, a->wildcard);
	sqlite3_bind_int64(s, 6, a->expires);
	sqlite3_bind_int64(s, 7, now);
	if (store_exec(s) != 1)
		return -1;
	for (int i = 0; i < a->nchallenges; i++) {
		if ((s = store_stmt(st, sql_chall)) == NULL)
			return -1;
		store_bind_text(s, 1, a->id);
		store_bind_text(s, 2, a->challenge_types[i]);
		store_bind_text(s, 3, a->challenge_tokens[i]);
		if (store_exec(s) != 1)
			return -1;
	}
	return 0;
}

static int
store_link_authz(struct store *st, const char *order_id, const char *authz_id)
{
	static const char sql[] = "INSERT OR IGNORE INTO order_authorizations "
	    "(order_id, authz_id) VALUES (?, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, order_id);
	store_bind_text(s, 2, authz_id);
	return store_exec(s) >= 0 ? 0 : -1;
}

int
store_order_create(struct store *st, struct store_order *o, struct store_new_authz *az,
    int naz)
{
	static const char sql[] = "INSERT INTO orders (id, account_id, status, expires, "
	    "identifiers, not_before, not_after, profile, created_at, replaces) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *s;
	int all_valid = 1;

	for (int i = 0; i < naz; i++)
		all_valid &= az[i].reuse;
	snprintf(o->status, sizeof(o->status), "%s", all_valid ? "ready" : "pending");
	if (store_begin(st) != 0)
		return -1;
	if ((s = store_stmt(st, sql)) == NULL)
		goto fail;
	store_bind_text(s, 1, o->id);
	sqlite3_bind_int64(s, 2, o->account_id);
	store_bind_text(s, 3, o->status);
	sqlite3_bind_int64(s, 4, o->expires);
	store_bind_text(s, 5, o->identifiers);
	if (o->not_before != 0)
		sqlite3_bind_int64(s, 6, o->not_before);
	if (o->not_after != 0)
		sqlite3_bind_int64(s, 7, o->not_after);
	store_bind_text(s, 8, o->profile);
	sqlite3_bind_int64(s, 9, o->created_at);
	store_bind_text(s, 10, o->replaces[0] != '\0' ? o->replaces : NULL);
	if (store_exec(s) != 1)
		goto fail;
	for (int i = 0; i < naz; i++) {
		if (!az[i].reuse && store_insert_authz(st, o->account_id, &az[i],
		    o->created_at) != 0)
			goto fail;
		if (store_link_authz(st, o->id, az[i].id) != 0)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return -1;
}

int
store_authz_reusable(struct store *st, int64_t account_id, const char *type,
    const char *value, int wildcard, int64_t now, char *id_out)
{
	static const char sql[] = "SELECT id FROM authorizations WHERE account_id = ? "
	    "AND type = ? AND value = ? AND wildcard = ? AND status = 'valid' "
	    "AND expires > ? ORDER BY expires DESC LIMIT 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	store_bind_text(s, 2, type);
	store_bind_text(s, 3, value);
	sqlite3_bind_int(s, 4, wildcard);
	sqlite3_bind_int64(s, 5, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = store_col_text(s, 0, id_out, STORE_ID_MAX);
	else
		rc = rc == SQLITE_DONE ? 1 : -1;
	sqlite3_reset(s);
	return rc;
}

/* The columns every order query reads, in the order of this enum. */
#define ORDER_COLUMNS "o.id, o.account_id, o.status, o.expires, o.identifiers, " \
    "o.not_before, o.not_after, o.profile, o.error, o.certificate_id, o.created_at, " \
    "c.serial, o.replaces"

enum {
	ORDER_COL_ID, ORDER_COL_ACCOUNT_ID, ORDER_COL_STATUS, ORDER_COL_EXPIRES,
	ORDER_COL_IDENTIFIERS, ORDER_COL_NOT_BEFORE, ORDER_COL_NOT_AFTER, ORDER_COL_PROFILE,
	ORDER_COL_ERROR, ORDER_COL_CERTIFICATE_ID, ORDER_COL_CREATED_AT,
	ORDER_COL_CERTIFICATE_SERIAL, ORDER_COL_REPLACES,
};

static int
store_order_row(sqlite3_stmt *s, void *p)
{
	struct store_order *o = p;

	memset(o, 0, sizeof(*o));
	if (store_col_text(s, ORDER_COL_ID, o->id, sizeof(o->id)) != 0 ||
	    store_col_text(s, ORDER_COL_STATUS, o->status, sizeof(o->status)) != 0 ||
	    store_col_text(s, ORDER_COL_PROFILE, o->profile, sizeof(o->profile)) != 0 ||
	    store_col_text(s, ORDER_COL_CERTIFICATE_SERIAL, o->certificate_serial,
	    sizeof(o->certificate_serial)) != 0 ||
	    store_col_text(s, ORDER_COL_REPLACES, o->replaces, sizeof(o->replaces)) != 0)
		return -1;
	o->account_id = sqlite3_column_int64(s, ORDER_COL_ACCOUNT_ID);
	o->expires = sqlite3_column_int64(s, ORDER_COL_EXPIRES);
	o->identifiers = store_col_dup(s, ORDER_COL_IDENTIFIERS);
	o->not_before = sqlite3_column_int64(s, ORDER_COL_NOT_BEFORE);
	o->not_after = sqlite3_column_int64(s, ORDER_COL_NOT_AFTER);
	o->error = store_col_dup(s, ORDER_COL_ERROR);
	o->certificate_id = sqlite3_column_int64(s, ORDER_COL_CERTIFICATE_ID);
	o->created_at = sqlite3_column_int64(s, ORDER_COL_CREATED_AT);
	return o->identifiers != NULL ? 0 : -1;
}

/* An order past its expiry that never reached "valid" is "invalid"
 * (RFC 8555 7.1.6); so is an authorization past its own. */
static int
store_order_expire(struct store *st, const char *id, int64_t now)
{
	static const char sql[] = "UPDATE orders SET status = 'invalid', "
	    "error = '{\"type\":\"urn:ietf:params:acme:error:malformed\","
	    "\"detail\":\"order expired\"}' "
	    "WHERE id = ? AND expires <= ? AND status IN ('pending', 'ready')";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	return store_exec(s) >= 0 ? 0 : -1;
}

int
store_order_get(struct store *st, const char *id, int64_t now, struct store_order *out)
{
	static const char sql[] = "SELECT " ORDER_COLUMNS " FROM orders o "
	    "LEFT JOIN certificates c ON c.id = o.certificate_id WHERE o.id = ?";
	sqlite3_stmt *s;

	int rc;

	/* Reads first and writes only for an order that has just expired:
	 * polling an order must not cost a commit each time. */
	for (int pass = 0; pass < 2; pass++) {
		if ((s = store_stmt(st, sql)) == NULL)
			return -1;
		store_bind_text(s, 1, id);
		if ((rc = store_one(s, store_order_row, out)) != 0)
			return rc;
		if (out->expires > now || (strcmp(out->status, "pending") != 0 &&
		    strcmp(out->status, "ready") != 0))
			return 0;
		store_order_free(out);
		if (pass == 0 && store_order_expire(st, id, now) != 0)
			return -1;
	}
	return -1;
}

int
store_order_authz_ids(struct store *st, const char *order_id, char ids[][STORE_ID_MAX],
    int max, int *n)
{
	static const char sql[] = "SELECT oa.authz_id FROM order_authorizations oa "
	    "JOIN authorizations a ON a.id = oa.authz_id WHERE oa.order_id = ? "
	    "ORDER BY a.type, a.value, a.wildcard";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	*n = 0;
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, order_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		if (store_col_text(s, 0, ids[*n], STORE_ID_MAX) == 0)
			(*n)++;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Runs an UPDATE keyed by an order id (?1), with ?2 an integer and ?3 a
 * text when the statement has them; 1 when no row changed. */
static int
store_order_update(struct store *st, const char *sql, const char *id, int64_t extra,
    const char *text)
{
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, id);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, extra);
	if (sqlite3_bind_parameter_count(s) >= 3)
		store_bind_text(s, 3, text);
	return store_exec_one(s);
}

int
store_order_begin_finalize(struct store *st, const char *id, int64_t now, int pid,
    int *earlier)
{
	static const char sql[] = "UPDATE orders SET status = 'processing', "
	    "processing_since = ?2, processing_pid = ?3, sign_attempts = sign_attempts + 1 "
	    "WHERE id = ?1 AND status = 'ready' AND expires > ?2 RETURNING sign_attempts - 1";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	/* One UPDATE is atomic in SQLite: of racing finalizers exactly one
	 * sees a changed row, and only that one goes on to the CA.  The
	 * attempt is counted before the CA is asked, so that not even a crash
	 * in between can hide that a sign may have been sent. */
	if (s == NULL)
		return -1;
	store_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int(s, 3, pid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*earlier = sqlite3_column_int(s, 0);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	} else {
		rc = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite3_reset(s);
	return rc;
}

int
store_order_release(struct store *st, int pid)
{
	static const char sql[] = "UPDATE orders SET status = 'ready', processing_since = NULL, "
	    "processing_pid = NULL WHERE status = 'processing' AND processing_pid = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int(s, 1, pid);
	return store_exec(s);
}

int
store_order_abort_finalize(struct store *st, const char *id)
{
	static const char sql[] = "UPDATE orders SET status = 'ready', processing_since = NULL, "
	    "processing_pid = NULL WHERE id = ? AND status = 'processing'";

	return store_order_update(st, sql, id, 0, NULL);
}

int
store_order_fail(struct store *st, const char *id, const char *problem)
{
	static const char sql[] = "UPDATE orders SET status = 'invalid', error = ?3, "
	    "processing_since = NULL WHERE id = ?1 AND status = 'processing'";

	return store_order_update(st, sql, id, 0, problem);
}

int
store_order_complete(struct store *st, const char *id, struct store_cert *c)
{
	static const char sql[] = "UPDATE orders SET status = 'valid', certificate_id = ?2, "
	    "processing_since = NULL WHERE id = ?1 AND status = 'processing'";

	if (store_begin(st) != 0)
		return -1;
	if (store_cert_add(st, c) != 0 || store_order_update(st, sql, id, c->id, NULL) != 0) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_order_recover(struct store *st, int64_t before)
{
	static const char sql[] = "UPDATE orders SET status = 'ready', processing_since = NULL, "
	    "processing_pid = NULL WHERE status = 'processing' AND processing_since < ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, before);
	return store_exec(s);
}

/* -- housekeeping -------------------------------------------------------------- */

int
store_acme_sweep(struct store *st, int64_t now)
{
	static const char *const sqls[] = {
		"UPDATE authorizations SET status = 'expired' WHERE expires <= ?1 "
		"AND status IN ('pending', 'valid')",
		"UPDATE orders SET status = 'invalid', error = '{\"type\":"
		"\"urn:ietf:params:acme:error:malformed\",\"detail\":\"order expired\"}' "
		"WHERE expires <= ?1 AND status IN ('pending', 'ready')",
		/* Orders nobody finished, a week past their expiry, are gone
		 * for good; their authorizations go with the last order. */
		"DELETE FROM orders WHERE status = 'invalid' AND expires < ?1 - 604800",
		"DELETE FROM authorizations WHERE status != 'valid' AND expires < ?1 - 604800 "
		"AND NOT EXISTS (SELECT 1 FROM order_authorizations oa WHERE oa.authz_id = id)",
	};
	int total = 0, n;

	if (store_begin(st) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
		sqlite3_stmt *s = store_stmt(st, sqls[i]);

		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, now);
		if ((n = store_exec(s)) < 0)
			goto fail;
		total += n;
	}
	if (store_order_recover(st, now - STORE_PROCESSING_GRACE) < 0)
		goto fail;
	if (store_commit(st) != 0)
		return -1;
	return total;
fail:
	store_rollback(st);
	return -1;
}
