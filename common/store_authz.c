/*
 * Authorizations and their challenges: what a client reads and answers,
 * and what the validators claim, check and record.
 */
#include "store_authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

void
store_authz_free(struct store_authz *a)
{
	for (int i = 0; i < a->nchallenges; i++) {
		free(a->challenges[i].error);
		a->challenges[i].error = NULL;
	}
}

int
store_account_challenges(struct store *st, int64_t account_id, int64_t since,
    int *inflight, int *failed, int64_t *oldest_failed)
{
	static const char sql[] = "SELECT count(*) FILTER (WHERE c.status = 'processing'), "
	    "count(*) FILTER (WHERE c.status = 'invalid'), "
	    "min(c.validated) FILTER (WHERE c.status = 'invalid') "
	    "FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
	    "WHERE a.account_id = ?1 AND (c.status = 'processing' OR "
	    "(c.status = 'invalid' AND c.validated > ?2))";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, since);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*inflight = sqlite3_column_int(s, 0);
		*failed = sqlite3_column_int(s, 1);
		*oldest_failed = sqlite3_column_int64(s, 2);
		rc = 0;
	}
	sqlite3_reset(s);
	return rc;
}

/* The columns every authorization query reads, in the order of this enum. */
#define AUTHZ_COLUMNS "id, account_id, type, value, wildcard, status, expires"

enum {
	AUTHZ_COL_ID, AUTHZ_COL_ACCOUNT_ID, AUTHZ_COL_TYPE, AUTHZ_COL_VALUE, AUTHZ_COL_WILDCARD,
	AUTHZ_COL_STATUS, AUTHZ_COL_EXPIRES,
};

static int
store_authz_row(sqlite3_stmt *s, void *p)
{
	struct store_authz *a = p;

	memset(a, 0, sizeof(*a));
	if (store_col_text(s, AUTHZ_COL_ID, a->id, sizeof(a->id)) != 0 ||
	    store_col_text(s, AUTHZ_COL_TYPE, a->type, sizeof(a->type)) != 0 ||
	    store_col_text(s, AUTHZ_COL_VALUE, a->value, sizeof(a->value)) != 0 ||
	    store_col_text(s, AUTHZ_COL_STATUS, a->status, sizeof(a->status)) != 0)
		return -1;
	a->account_id = sqlite3_column_int64(s, AUTHZ_COL_ACCOUNT_ID);
	a->wildcard = sqlite3_column_int(s, AUTHZ_COL_WILDCARD);
	a->expires = sqlite3_column_int64(s, AUTHZ_COL_EXPIRES);
	return 0;
}

/* The columns of a challenge as an authorization shows it. */
enum {
	CHALLENGE_COL_ID, CHALLENGE_COL_TYPE, CHALLENGE_COL_TOKEN, CHALLENGE_COL_STATUS,
	CHALLENGE_COL_VALIDATED, CHALLENGE_COL_ERROR,
};

static int
store_challenges_read(struct store *st, struct store_authz *a)
{
	static const char sql[] = "SELECT id, type, token, status, validated, error "
	    "FROM challenges WHERE authz_id = ? ORDER BY id";
	sqlite3_stmt *s = store_stmt(st, sql);
	int rc;

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, a->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && a->nchallenges < STORE_MAX_CHALLENGES) {
		struct store_challenge *c = &a->challenges[a->nchallenges];

		memset(c, 0, sizeof(*c));
		c->id = sqlite3_column_int64(s, CHALLENGE_COL_ID);
		if (store_col_text(s, CHALLENGE_COL_TYPE, c->type, sizeof(c->type)) != 0 ||
		    store_col_text(s, CHALLENGE_COL_TOKEN, c->token, sizeof(c->token)) != 0 ||
		    store_col_text(s, CHALLENGE_COL_STATUS, c->status, sizeof(c->status)) != 0)
			continue;
		c->validated = sqlite3_column_int64(s, CHALLENGE_COL_VALIDATED);
		c->error = store_col_dup(s, CHALLENGE_COL_ERROR);
		a->nchallenges++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
store_authz_expire(struct store *st, const char *id, int64_t now)
{
	static const char sql[] = "UPDATE authorizations SET status = 'expired' "
	    "WHERE id = ? AND expires <= ? AND status IN ('pending', 'valid')";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	return store_exec(s) >= 0 ? 0 : -1;
}

int
store_authz_get(struct store *st, const char *id, int64_t now, struct store_authz *out)
{
	static const char sql[] = "SELECT " AUTHZ_COLUMNS " FROM authorizations WHERE id = ?";
	sqlite3_stmt *s;
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		if ((s = store_stmt(st, sql)) == NULL)
			return -1;
		store_bind_text(s, 1, id);
		if ((rc = store_one(s, store_authz_row, out)) != 0)
			return rc;
		if (out->expires > now || (strcmp(out->status, "pending") != 0 &&
		    strcmp(out->status, "valid") != 0))
			break;
		if (pass == 1 || store_authz_expire(st, id, now) != 0)
			return -1;
	}
	if (store_challenges_read(st, out) != 0) {
		store_authz_free(out);
		return -1;
	}
	return 0;
}

/* Orders that use an authorization follow it: all of their authorizations
 * valid -> ready; any of them invalid -> invalid. */
static int
store_orders_follow(struct store *st, const char *authz_id, const char *problem)
{
	static const char sql_ready[] = "UPDATE orders SET status = 'ready' "
	    "WHERE status = 'pending' AND id IN (SELECT order_id FROM order_authorizations "
	    "WHERE authz_id = ?1) AND NOT EXISTS (SELECT 1 FROM order_authorizations oa "
	    "JOIN authorizations a ON a.id = oa.authz_id WHERE oa.order_id = orders.id "
	    "AND a.status != 'valid')";
	static const char sql_invalid[] = "UPDATE orders SET status = 'invalid', error = ?2 "
	    "WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id "
	    "FROM order_authorizations WHERE authz_id = ?1)";
	sqlite3_stmt *s = store_stmt(st, problem == NULL ? sql_ready : sql_invalid);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, authz_id);
	if (problem != NULL)
		store_bind_text(s, 2, problem);
	return store_exec(s) >= 0 ? 0 : -1;
}

int
store_authz_deactivate(struct store *st, const char *id)
{
	static const char sql[] = "UPDATE authorizations SET status = 'deactivated' "
	    "WHERE id = ? AND status IN ('pending', 'valid')";
	static const char problem[] = "{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
	    "\"detail\":\"an authorization of this order was deactivated\"}";
	sqlite3_stmt *s;
	int n;

	if (store_begin(st) != 0)
		return -1;
	if ((s = store_stmt(st, sql)) == NULL)
		goto fail;
	store_bind_text(s, 1, id);
	if ((n = store_exec(s)) < 0 || store_orders_follow(st, id, problem) != 0)
		goto fail;
	if (store_commit(st) != 0)
		return -1;
	return n == 1 ? 0 : 1;
fail:
	store_rollback(st);
	return -1;
}

int
store_challenge_start(struct store *st, const char *authz_id, const char *type)
{
	static const char sql[] = "UPDATE challenges SET status = 'processing', "
	    "lease_until = NULL WHERE authz_id = ? AND type = ? AND status = 'pending' "
	    "AND (SELECT status FROM authorizations WHERE id = authz_id) = 'pending'";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, authz_id);
	store_bind_text(s, 2, type);
	return store_exec_one(s);
}

/* The columns of a leased challenge, as store_challenge_claim picks it. */
enum {
	LEASE_COL_CHALLENGE_ID, LEASE_COL_TYPE, LEASE_COL_TOKEN, LEASE_COL_AUTHZ_ID,
	LEASE_COL_IDENT_TYPE, LEASE_COL_IDENT_VALUE, LEASE_COL_THUMBPRINT, LEASE_COL_ATTEMPTS,
};

static int
store_challenge_lease_row(sqlite3_stmt *s, void *p)
{
	struct store_challenge_lease *w = p;

	memset(w, 0, sizeof(*w));
	w->challenge_id = sqlite3_column_int64(s, LEASE_COL_CHALLENGE_ID);
	w->attempts = sqlite3_column_int(s, LEASE_COL_ATTEMPTS);
	if (store_col_text(s, LEASE_COL_TYPE, w->type, sizeof(w->type)) != 0 ||
	    store_col_text(s, LEASE_COL_TOKEN, w->token, sizeof(w->token)) != 0 ||
	    store_col_text(s, LEASE_COL_AUTHZ_ID, w->authz_id, sizeof(w->authz_id)) != 0 ||
	    store_col_text(s, LEASE_COL_IDENT_TYPE, w->ident_type, sizeof(w->ident_type)) != 0 ||
	    store_col_text(s, LEASE_COL_IDENT_VALUE, w->ident_value, sizeof(w->ident_value)) != 0 ||
	    store_col_text(s, LEASE_COL_THUMBPRINT, w->thumbprint, sizeof(w->thumbprint)) != 0)
		return -1;
	return 0;
}

int
store_challenge_claim(struct store *st, int64_t now, int lease_s, int per_account,
    struct store_challenge_lease *w)
{
	/* running: the account's checks whose lease still holds. */
	static const char sql_pick[] = "SELECT c.id, c.type, c.token, a.id, a.type, a.value, "
	    "acc.thumbprint, c.attempts, (SELECT count(*) FROM challenges c2 "
	    "JOIN authorizations a2 ON a2.id = c2.authz_id WHERE a2.account_id = a.account_id "
	    "AND c2.status = 'processing' AND c2.lease_until >= ?1) AS running "
	    "FROM challenges c "
	    "JOIN authorizations a ON a.id = c.authz_id "
	    "JOIN accounts acc ON acc.id = a.account_id "
	    "WHERE c.status = 'processing' AND (c.lease_until IS NULL OR c.lease_until < ?1) "
	    "AND running < ?2 "
	    "ORDER BY running, c.lease_until IS NOT NULL, c.id LIMIT 1";
	static const char sql_lease[] = "UPDATE challenges SET lease_until = ?, "
	    "attempts = attempts + 1 WHERE id = ?";
	static const char sql_any[] = "SELECT 1 FROM challenges WHERE status = 'processing' "
	    "AND (lease_until IS NULL OR lease_until < ?) LIMIT 1";
	sqlite3_stmt *s;
	int rc;

	/* Idle validators look often: a read first, so that looking takes the
	 * write lock only when there is something to take. */
	if ((s = store_stmt(st, sql_any)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 1 : -1;
	/* The pick and the lease are one transaction: two validators never
	 * hold the same challenge.  A validator that dies leaves a lease that
	 * runs out, and the next one picks the challenge up again. */
	if (store_begin(st) != 0)
		return -1;
	if ((s = store_stmt(st, sql_pick)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, per_account);
	if ((rc = store_one(s, store_challenge_lease_row, w)) != 0) {
		store_rollback(st);
		return rc;
	}
	if ((s = store_stmt(st, sql_lease)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, now + lease_s);
	sqlite3_bind_int64(s, 2, w->challenge_id);
	if (store_exec(s) != 1)
		goto fail;
	w->attempts++;
	return store_commit(st);
fail:
	store_rollback(st);
	return -1;
}

int
store_challenge_finish(struct store *st, int64_t challenge_id, const char *problem,
    int64_t now)
{
	static const char sql_chall[] = "UPDATE challenges SET status = ?2, validated = ?3, "
	    "error = ?4, lease_until = NULL WHERE id = ?1 AND status = 'processing' "
	    "RETURNING authz_id";
	static const char sql_authz[] = "UPDATE authorizations SET status = ?2 "
	    "WHERE id = ?1 AND status = 'pending'";
	char authz_id[STORE_ID_MAX];
	const char *status = problem == NULL ? "valid" : "invalid";
	sqlite3_stmt *s;
	int rc;

	if (store_begin(st) != 0)
		return -1;
	if ((s = store_stmt(st, sql_chall)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, challenge_id);
	store_bind_text(s, 2, status);
	/* Failed checks keep their time too: they count against the account. */
	sqlite3_bind_int64(s, 3, now);
	store_bind_text(s, 4, problem);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = store_col_text(s, 0, authz_id, sizeof(authz_id));
	else
		rc = rc == SQLITE_DONE ? 1 : -1;
	sqlite3_reset(s);
	if (rc != 0) {
		store_rollback(st);
		return rc;
	}
	if ((s = store_stmt(st, sql_authz)) == NULL)
		goto fail;
	store_bind_text(s, 1, authz_id);
	store_bind_text(s, 2, status);
	/* Only an authorization that changed moves its orders: a check that
	 * fails after another made it valid changes neither (RFC 8555 7.1.6). */
	if ((rc = store_exec(s)) < 0 || (rc == 1 && store_orders_follow(st, authz_id, problem) != 0))
		goto fail;
	return store_commit(st);
fail:
	store_rollback(st);
	return -1;
}
