#include "store_claim.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "store_impl.h"

#define CLAIM_COLUMNS "cn, owner, coalesce(superseded, ''), pid, since"

enum { CLAIM_COL_CN, CLAIM_COL_OWNER, CLAIM_COL_SUPERSEDED, CLAIM_COL_PID, CLAIM_COL_SINCE };

static int
store_claim_row(sqlite3_stmt *s, void *p)
{
	struct store_claim *c = p;

	memset(c, 0, sizeof(*c));
	if (store_col_text(s, CLAIM_COL_CN, c->cn, sizeof(c->cn)) != 0 ||
	    store_col_text(s, CLAIM_COL_OWNER, c->owner, sizeof(c->owner)) != 0 ||
	    store_col_text(s, CLAIM_COL_SUPERSEDED, c->superseded, sizeof(c->superseded)) != 0)
		return -1;
	c->pid = sqlite3_column_int64(s, CLAIM_COL_PID);
	c->since = sqlite3_column_int64(s, CLAIM_COL_SINCE);
	return 0;
}

int
store_claim_take(struct store *st, const char *cn, const char *owner, int64_t pid,
    int64_t now)
{
	static const char sql[] = "INSERT INTO cn_claims (cn, owner, pid, since) "
	    "VALUES (?, ?, ?, ?)";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	store_bind_text(s, 2, owner);
	sqlite3_bind_int64(s, 3, pid);
	sqlite3_bind_int64(s, 4, now);
	return store_exec_unique(s);
}

int
store_claim_supersede(struct store *st, const char *cn, int64_t pid, const char *serial)
{
	static const char sql[] = "UPDATE cn_claims SET superseded = ? WHERE cn = ? AND pid = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, serial);
	store_bind_text(s, 2, cn);
	sqlite3_bind_int64(s, 3, pid);
	return store_exec_one(s);
}

int
store_claim_get(struct store *st, const char *cn, struct store_claim *out)
{
	static const char sql[] = "SELECT " CLAIM_COLUMNS " FROM cn_claims WHERE cn = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s != NULL)
		store_bind_text(s, 1, cn);
	return store_one(s, store_claim_row, out);
}

int
store_claim_drop(struct store *st, const char *cn, int64_t pid, int64_t since)
{
	static const char sql[] = "DELETE FROM cn_claims WHERE cn = ? AND pid = ? AND since = ?";
	sqlite3_stmt *s = store_stmt(st, sql);

	if (s == NULL)
		return -1;
	store_bind_text(s, 1, cn);
	sqlite3_bind_int64(s, 2, pid);
	sqlite3_bind_int64(s, 3, since);
	return store_exec(s) < 0 ? -1 : 0;
}

bool
store_claim_orphaned(const struct store_claim *c, int64_t before)
{
	return c->since < before || c->pid <= 0 ||
	    (kill((pid_t)c->pid, 0) != 0 && errno == ESRCH);
}

int
store_claim_orphans(struct store *st, int64_t before, int max,
    void (*fn)(const struct store_claim *c, void *arg), void *arg)
{
	static const char sql[] = "SELECT " CLAIM_COLUMNS " FROM cn_claims ORDER BY since";
	struct store_claim found[16];
	sqlite3_stmt *s = store_stmt(st, sql);
	int n = 0;

	if (s == NULL)
		return -1;
	if (max > (int)(sizeof(found) / sizeof(found[0])))
		max = (int)(sizeof(found) / sizeof(found[0]));
	/* Collected first, called after: fn talks to the CA and writes to the
	 * store, which must not happen with this read still open. */
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		if (store_claim_row(s, &found[n]) == 0 && store_claim_orphaned(&found[n], before))
			n++;
	}
	sqlite3_reset(s);
	for (int i = 0; i < n; i++)
		fn(&found[i], arg);
	return n;
}
