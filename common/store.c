#include "store.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "mono.h"
#include "store_impl.h"

/*
 * Migrations, oldest first: migration i takes a store from version i to
 * version i + 1.  A released migration is never edited, only followed by a
 * new one, because stores in the field are at every version in between.
 */
static const char *const store_migrations[] = {
	/* 0 -> 1: what the RA issued, its admins, and nodes awaiting enrolment. */
	"CREATE TABLE certificates ("
	"  id INTEGER PRIMARY KEY,"
	"  serial TEXT NOT NULL UNIQUE,"        /* upper-case hex, no leading 0 */
	"  cn TEXT NOT NULL,"
	"  dn TEXT NOT NULL,"
	"  profile TEXT NOT NULL,"
	"  pem TEXT NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),"
	"  revoked_at INTEGER,"
	"  revocation_reason TEXT,"
	"  source TEXT NOT NULL,"               /* acme, enrol, admin, client */
	"  account_id INTEGER,"                 /* the ACME owner, if any */
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX certificates_cn ON certificates(cn);"
	"CREATE TABLE admins ("
	"  dn TEXT PRIMARY KEY,"                /* canonical form, see dn.h */
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE nodes ("
	"  cn TEXT PRIMARY KEY,"
	"  profile TEXT NOT NULL,"
	"  sans TEXT NOT NULL,"                 /* JSON array of names */
	"  token_hash TEXT,"                    /* SHA-256 of the token, hex */
	"  token_expires INTEGER,"
	"  enrolled_at INTEGER,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);",

	/* 1 -> 2: ACME (RFC 8555) accounts, orders and their authorizations. */
	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  kid TEXT NOT NULL UNIQUE,"           /* the random part of the URL */
	"  thumbprint TEXT NOT NULL UNIQUE,"    /* RFC 7638, base64url */
	"  jwk TEXT NOT NULL,"
	"  contact TEXT NOT NULL DEFAULT '[]',"
	"  status TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),"
	"  tos_agreed INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	/* Nonces are stateless until used (an HMAC over a timestamp); a used
	 * one is remembered here until it would have expired anyway. */
	"CREATE TABLE used_nonces ("
	"  nonce TEXT PRIMARY KEY,"
	"  expires INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX used_nonces_expires ON used_nonces(expires);"
	"CREATE TABLE orders ("
	"  id TEXT PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('pending', 'ready', 'processing', 'valid', 'invalid')),"
	"  expires INTEGER NOT NULL,"
	"  identifiers TEXT NOT NULL,"          /* JSON, as the client sent them */
	"  not_before INTEGER,"
	"  not_after INTEGER,"
	"  profile TEXT NOT NULL,"
	"  error TEXT,"                         /* JSON problem document */
	"  certificate_id INTEGER REFERENCES certificates(id),"
	"  processing_since INTEGER,"
	"  replaces TEXT,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX orders_account ON orders(account_id, created_at);"
	"CREATE INDEX orders_expires ON orders(expires);"
	"CREATE TABLE authorizations ("
	"  id TEXT PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  type TEXT NOT NULL CHECK (type IN ('dns', 'ip')),"
	"  value TEXT NOT NULL,"
	"  wildcard INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),"
	"  expires INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX authorizations_reuse ON authorizations(account_id, type, value, wildcard, status);"
	"CREATE INDEX authorizations_expires ON authorizations(expires);"
	"CREATE TABLE order_authorizations ("
	"  order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,"
	"  authz_id TEXT NOT NULL REFERENCES authorizations(id),"
	"  PRIMARY KEY (order_id, authz_id)) WITHOUT ROWID;"
	"CREATE INDEX order_authorizations_authz ON order_authorizations(authz_id);"
	"CREATE TABLE challenges ("
	"  id INTEGER PRIMARY KEY,"
	"  authz_id TEXT NOT NULL REFERENCES authorizations(id) ON DELETE CASCADE,"
	"  type TEXT NOT NULL,"
	"  token TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('pending', 'processing', 'valid', 'invalid')),"
	"  validated INTEGER,"
	"  error TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  lease_until INTEGER,"                /* a validator holds it until then */
	"  UNIQUE (authz_id, type));"
	"CREATE INDEX challenges_work ON challenges(status, lease_until);",

	/* 2 -> 3: an admin removed at the RA stays as a tombstone, so that the
	 * CA's admin list, which workers cache, cannot bring it back. */
	"ALTER TABLE admins ADD COLUMN removed_at INTEGER;",

	/* 3 -> 4: external account binding keys (RFC 8555 7.3.4), each good
	 * for one ACME account. */
	"CREATE TABLE eab_keys ("
	"  kid TEXT PRIMARY KEY,"
	"  hmac_key TEXT NOT NULL,"             /* base64url; the MAC needs it */
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  account_id INTEGER REFERENCES accounts(id),"
	"  used_at INTEGER);",

	/* 4 -> 5: who is finalizing an order, and whether a sign was ever sent
	 * for it: a worker that dies mid-finalize is known by its pid, and a
	 * retry after a lost answer looks for the certificate at the CA first. */
	("ALTER TABLE orders ADD COLUMN processing_pid INTEGER;"
	 "ALTER TABLE orders ADD COLUMN sign_attempts INTEGER NOT NULL DEFAULT 0;"),

	/* 5 -> 6: used nonces are kept in memory the workers share (nonce.h):
	 * a write transaction on every JWS request was the cost of every
	 * POST-as-GET. */
	"DROP TABLE used_nonces;",

	/* 6 -> 7: the CA files one live certificate per CN (docs/CA-PROTOCOL.md).
	 * Each certificate has an owner (an ACME account or a node), so that
	 * no one can take another's CN; a certificate whose CN the CA now files
	 * for another owner (the operator allowed sharing) is "shadowed": it can
	 * no longer be revoked through the CA.  A claim on a CN is held while a
	 * certificate is made for it, with the serial that issuance superseded,
	 * so that a crash between the two steps can be undone. */
	("ALTER TABLE certificates ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
	 "ALTER TABLE certificates ADD COLUMN shadowed_at INTEGER;"
	 "UPDATE certificates SET owner = CASE WHEN account_id IS NOT NULL"
	 "  THEN 'account:' || account_id ELSE 'node:' || cn END;"
	 "UPDATE certificates SET shadowed_at = (SELECT min(n.created_at) FROM certificates n"
	 "  WHERE n.cn = certificates.cn AND n.id > certificates.id)"
	 "  WHERE status = 'valid' AND EXISTS (SELECT 1 FROM certificates n"
	 "  WHERE n.cn = certificates.cn AND n.id > certificates.id);"
	 "CREATE INDEX certificates_owner ON certificates(owner);"
	 "CREATE TABLE cn_claims ("
	 "  cn TEXT PRIMARY KEY,"
	 "  owner TEXT NOT NULL,"
	 "  superseded TEXT,"                   /* serial revoked for this issuance */
	 "  pid INTEGER NOT NULL,"
	 "  since INTEGER NOT NULL);"),
};

#define STORE_NMIGRATIONS ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

int
store_schema_latest(void)
{
	return STORE_NMIGRATIONS;
}

int
store_schema_version(struct store *st)
{
	sqlite3_stmt *stmt;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* PRAGMA takes no bound parameters; the version is our own integer. */
static int
store_set_version(struct store *st, int v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	return sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

static int
store_migrate(struct store *st, char *err, size_t errlen)
{
	int v;

	/* IMMEDIATE: two processes opening a new store at once must not both
	 * run migration 0 -> 1; the second waits, then sees version 1. */
	for (;;) {
		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		v = store_schema_version(st);
		if (v < 0 || v > STORE_NMIGRATIONS) {
			snprintf(err, errlen, "store schema version %d is not one this "
			    "build knows (latest %d)", v, STORE_NMIGRATIONS);
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (v == STORE_NMIGRATIONS)
			break;
		if (sqlite3_exec(st->db, store_migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
		    store_set_version(st, v + 1) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		log_info("store migrated from schema version %d to %d", v, v + 1);
	}
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return 0;
fail:
	snprintf(err, errlen, "store migration failed: %s", sqlite3_errmsg(st->db));
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Checkpoints.  SQLite's own, a passive checkpoint by every commit once the
 * WAL holds 1,000 pages, put the copying and two syncs inside one request
 * in many (new-order's tail latency), and could not bound the WAL: it
 * starts the WAL over only when no reader still uses it, and with several
 * workers serving requests one always does (206 MB of WAL in ten seconds of
 * new-order, kept on disk afterwards).
 *
 * So the validators, off the request path, call store_checkpoint() a few
 * times a second: a passive checkpoint (it waits for no one) and, once the
 * WAL is past STORE_WAL_SOON_PAGES, a RESTART checkpoint right after
 * it, which blocks writers only while it copies the few pages written
 * since and waits a moment (STORE_WAL_RESTART_WAIT_MS at most) for the
 * readers of the moment, so that the next write starts the WAL over.  The
 * file keeps its size for reuse; journal_size_limit trims it after a larger
 * excursion (a long reader held the restart back).
 *
 * Validators can be held up, checking a slow challenge for seconds; then a
 * commit that finds the WAL past STORE_WAL_RESTART_PAGES runs the RESTART
 * itself.  It pays for the whole copy and both syncs, and so does every
 * request queued on its worker: that is the fallback, not the rule.  A
 * failed attempt is tried again only STORE_WAL_RESTART_EVERY pages later,
 * so that a long reader (a backup) costs writers little while it lasts.
 */
#define STORE_WAL_SOON_PAGES 2048           /* 8 MiB of 4 KiB pages */
#define STORE_WAL_RESTART_PAGES 8192        /* 32 MiB */
#define STORE_WAL_RESTART_EVERY 512
#define STORE_WAL_RESTART_WAIT_MS 200

/*
 * Waiting for the write lock.  SQLite's own busy timeout polls, sleeping 1,
 * 2, 5 ... up to 100 ms between tries: a writer queued behind another
 * sleeps on long after the lock is free, and with kept FastCGI connections
 * every request queued on that worker sleeps with it.
 *
 * So the RA's processes share a counter (store_share_init, in the master
 * before fork) that every write transaction bumps when it ends, and a
 * waiting writer sleeps on it (a futex) until it moves.  To lose no wake-up
 * the handler first notes the counter and has SQLite try once more; only
 * if that fails too does it sleep, and any end since the note wakes it.
 * Ends that nobody announces (a writer outside the RA, such as the admin
 * command; readers that a RESTART checkpoint waits for) are caught by
 * sleeping STORE_BUSY_SLICE_MS at most.
 */
#define STORE_BUSY_SLICE_MS 2

struct store_shared {
	_Atomic uint32_t write_ends;
	_Atomic uint32_t waiters;
};

static struct store_shared *store_shared;

int
store_share_init(void)
{
	void *p;

	if (store_shared != NULL)
		return 0;
	p = mmap(NULL, sizeof(*store_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	store_shared = p;
	return 0;
}

static void
store_write_ended(void)
{
	if (store_shared == NULL)
		return;
	atomic_fetch_add(&store_shared->write_ends, 1);
	if (atomic_load(&store_shared->waiters) > 0)
		syscall(SYS_futex, &store_shared->write_ends, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int
store_busy_wait(void *arg, int count)
{
	struct store *st = arg;
	struct timespec slice = { 0, STORE_BUSY_SLICE_MS * 1000000L };
	int64_t now = mono_ms();

	if (count == 0)
		st->busy_since_ms = now;
	if (now - st->busy_since_ms >= st->busy_timeout_ms)
		return 0;
	if (store_shared == NULL) {
		nanosleep(&slice, NULL);
		return 1;
	}
	if (count % 2 == 0) {
		st->busy_seen = atomic_load(&store_shared->write_ends);
		return 1;
	}
	atomic_fetch_add(&store_shared->waiters, 1);
	syscall(SYS_futex, &store_shared->write_ends, FUTEX_WAIT, st->busy_seen, &slice,
	    NULL, 0);
	atomic_fetch_sub(&store_shared->waiters, 1);
	return 1;
}

/* A RESTART checkpoint, waiting STORE_WAL_RESTART_WAIT_MS at most for the
 * writer and the readers of the moment. */
static void
store_wal_restart(struct store *st, const char *name)
{
	st->busy_timeout_ms = STORE_WAL_RESTART_WAIT_MS;
	sqlite3_wal_checkpoint_v2(st->db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	st->busy_timeout_ms = STORE_BUSY_TIMEOUT_MS;
}

static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;

	(void)db;               /* st->db */

	/* pages < wal_restart_at: the WAL was started over since */
	if (pages >= STORE_WAL_RESTART_PAGES && (pages < st->wal_restart_at ||
	    pages - st->wal_restart_at >= STORE_WAL_RESTART_EVERY)) {
		st->wal_restart_at = pages;
		store_wal_restart(st, name);
	}
	/* After the checkpoint, which blocks writers while it lasts. */
	store_write_ended();
	return SQLITE_OK;
}

void
store_checkpoint(struct store *st)
{
	int pages = 0;

	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &pages,
	    NULL) != SQLITE_OK || pages < STORE_WAL_SOON_PAGES)
		return;
	store_wal_restart(st, NULL);
	store_write_ended();
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st;
	int rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open store %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	st->busy_timeout_ms = STORE_BUSY_TIMEOUT_MS;
	sqlite3_busy_handler(st->db, store_busy_wait, st);
	/* Switching a new database to WAL needs an exclusive lock, and SQLite
	 * answers SQLITE_BUSY at once, without the busy handler, while another
	 * process does the same (workers starting together on a fresh store):
	 * wait for it as the busy timeout would. */
	for (int waited = 0; (rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL,
	    NULL, NULL)) == SQLITE_BUSY && waited < STORE_BUSY_TIMEOUT_MS; waited += 10)
		sqlite3_sleep(10);
	if (rc != SQLITE_OK || sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA journal_size_limit = 67108864;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up store %s: %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_migrate(st, err, errlen) != 0)
		goto fail;
	sqlite3_wal_hook(st->db, store_wal_hook, st);
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < st->ncached; i++)
		sqlite3_finalize(st->cache[i].stmt);
	sqlite3_close_v2(st->db);
	free(st);
}

int
store_ping(struct store *st)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &stmt,
	    NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(stmt) == SQLITE_ROW ? 0 : -1;
	sqlite3_finalize(stmt);
	return rc;
}

/* A statement that writes ends the request's snapshot (below) first. */
static sqlite3_stmt *
store_stmt_ready(struct store *st, sqlite3_stmt *stmt)
{
	if (st->snapshot && !sqlite3_stmt_readonly(stmt))
		store_snapshot_end(st);
	return stmt;
}

sqlite3_stmt *
store_stmt(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt;

	for (int i = 0; i < st->ncached; i++) {
		if (st->cache[i].sql == sql) {
			stmt = st->cache[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return store_stmt_ready(st, stmt);
		}
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
	    NULL) != SQLITE_OK) {
		log_error("store: cannot prepare statement: %s", sqlite3_errmsg(st->db));
		return NULL;
	}
	if (st->ncached < STORE_STMT_CACHE) {
		st->cache[st->ncached].sql = sql;
		st->cache[st->ncached++].stmt = stmt;
	} else {
		/* Only static SQL reaches here, so the cache cannot overflow
		 * unless it is sized too small: make that loud. */
		log_error("store: statement cache full");
		sqlite3_finalize(stmt);
		return NULL;
	}
	return store_stmt_ready(st, stmt);
}

/* Steps a cached transaction statement (BEGIN, COMMIT): they read
 * nothing, so store_stmt_ready leaves them be. */
static int
store_step_once(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt = store_stmt(st, sql);
	int rc;

	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * A request's snapshot.  A read outside a transaction is a transaction of
 * its own, and in WAL mode each one takes and drops a read lock on the -shm
 * file with fcntl(): a POST-as-GET of an authorization (the account, the
 * authorization, its challenges) made six such calls, most of the worker's
 * system time.  store_snapshot_begin() has a request's reads share one read
 * transaction, so that they also agree with one another.  The first write
 * ends it (store_stmt_ready, store_begin): a write inside a snapshot older
 * than the last commit would fail at once instead of waiting for the lock.
 */
void
store_snapshot_begin(struct store *st)
{
	static const char sql[] = "BEGIN";

	if (!st->snapshot && sqlite3_get_autocommit(st->db) && store_step_once(st, sql) == 0)
		st->snapshot = true;
}

void
store_snapshot_end(struct store *st)
{
	static const char sql[] = "COMMIT";

	if (!st->snapshot)
		return;
	st->snapshot = false;
	if (store_step_once(st, sql) != 0)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_begin(struct store *st)
{
	store_snapshot_end(st);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("store: cannot begin: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_error("store: cannot commit: %s", sqlite3_errmsg(st->db));
		store_rollback(st);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	store_write_ended();
}

int
store_exec(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE) {
		log_error("store: %s", sqlite3_errmsg(sqlite3_db_handle(stmt)));
		sqlite3_reset(stmt);
		return -1;
	}
	rc = sqlite3_changes(sqlite3_db_handle(stmt));
	sqlite3_reset(stmt);
	return rc;
}

int
store_exec_one(sqlite3_stmt *stmt)
{
	int n = store_exec(stmt);

	if (n < 0)
		return -1;
	return n == 1 ? 0 : 1;
}

int
store_exec_unique(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	if (rc == SQLITE_CONSTRAINT)
		return 1;
	if (rc != SQLITE_DONE) {
		log_error("store: %s", sqlite3_errmsg(sqlite3_db_handle(stmt)));
		return -1;
	}
	return 0;
}

int
store_one(sqlite3_stmt *stmt, int (*fn)(sqlite3_stmt *, void *), void *out)
{
	int rc;

	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		rc = fn(stmt, out) == 0 ? 0 : -1;
	else if (rc == SQLITE_DONE)
		rc = 1;
	else {
		log_error("store: %s", sqlite3_errmsg(sqlite3_db_handle(stmt)));
		rc = -1;
	}
	sqlite3_reset(stmt);
	return rc;
}

int
store_col_text(sqlite3_stmt *stmt, int i, char *out, size_t outlen)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);
	size_t n = (size_t)sqlite3_column_bytes(stmt, i);

	if (t == NULL) {
		out[0] = '\0';
		return 0;
	}
	if (n >= outlen)
		return -1;
	memcpy(out, t, n + 1);
	return 0;
}

char *
store_col_dup(sqlite3_stmt *stmt, int i)
{
	const unsigned char *t = sqlite3_column_text(stmt, i);

	return t != NULL ? strdup((const char *)t) : NULL;
}

void
store_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
}
