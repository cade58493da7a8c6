/*
 * Unit tests for common/store.c: creating a store, WAL mode, migrations
 * from an older schema, refusing databases this build cannot use,
 * writers of several processes waiting for one another, and a request's
 * snapshot.
 * The databases are inspected with sqlite3 directly, not through the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log.h"
#include "store_admin.h"
#include "store.h"
#include "testutil.h"

/*
 * The version 1 fixture: exactly the tables that migration 0 -> 1 in
 * common/store.c creates.  A store in the field may be at version 1, so
 * this copy must stay as it is even when later migrations change these
 * tables.
 */
static const char schema_v1[] =
    "CREATE TABLE certificates ("
    "  id INTEGER PRIMARY KEY,"
    "  serial TEXT NOT NULL UNIQUE,"
    "  cn TEXT NOT NULL,"
    "  dn TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  pem TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),"
    "  revoked_at INTEGER,"
    "  revocation_reason TEXT,"
    "  source TEXT NOT NULL,"
    "  account_id INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX certificates_cn ON certificates(cn);"
    "CREATE TABLE admins ("
    "  dn TEXT PRIMARY KEY,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE nodes ("
    "  cn TEXT PRIMARY KEY,"
    "  profile TEXT NOT NULL,"
    "  sans TEXT NOT NULL,"
    "  token_hash TEXT,"
    "  token_expires INTEGER,"
    "  enrolled_at INTEGER,"
    "  created_by TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);";

static const char *const tables_v1[] = { "certificates", "admins", "nodes" };
static const char *const tables_v2[] = {
	"accounts", "orders", "authorizations", "order_authorizations",
	"challenges",
};

struct fixture {
	char dir[TU_PATH];
	char db[TU_PATH];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tu_mkdtemp(f->dir, sizeof(f->dir)) != 0) {
		free(f);
		return -1;
	}
	tu_join(f->db, sizeof(f->db), f->dir, "acme.db");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f != NULL) {
		tu_rmtree(f->dir);
		free(f);
	}
	return 0;
}

/* --- sqlite3 helpers, independent of the store --- */

static sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		const char *m = db != NULL ? sqlite3_errmsg(db) : "out of memory";

		sqlite3_close(db);
		fail_msg("sqlite3_open %s: %s", path, m);
	}
	return db;
}

static void
db_exec(sqlite3 *db, const char *sql)
{
	char *m = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &m) != SQLITE_OK) {
		char copy[256];

		snprintf(copy, sizeof(copy), "%s", m != NULL ? m : "?");
		sqlite3_free(m);
		fail_msg("%.80s: %s", sql, copy);
	}
}

/* First column of the first row as text (malloc'd), or NULL for no row. */
static char *
db_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		out = strdup(t != NULL ? (const char *)t : "(null)");
	}
	sqlite3_finalize(st);
	return out;
}

static long long
db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		fail_msg("%s: no row", sql);
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool
db_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	bool found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
	    "AND name = ?", -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* The whole schema as one string, to compare before and after. */
static char *
db_schema(sqlite3 *db)
{
	return db_text(db, "SELECT group_concat(type || ' ' || name || ': ' || "
	    "coalesce(sql, ''), char(10)) FROM (SELECT * FROM sqlite_master ORDER BY name)");
}

static struct store *
open_ok(const char *path)
{
	struct store *st = NULL;
	char err[256] = "";

	if (store_open(path, &st, err, sizeof(err)) != 0)
		fail_msg("store_open %s: %s", path, err);
	assert_non_null(st);
	return st;
}

/* --- tests --- */

static void
test_new_store(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	sqlite3 *db;
	char *mode;

	assert_false(access(f->db, F_OK) == 0);
	st = open_ok(f->db);
	assert_true(store_schema_latest() >= 2);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_int_equal(store_ping(st), 0);
	store_close(st);

	db = db_open(f->db);
	mode = db_text(db, "PRAGMA journal_mode");
	assert_non_null(mode);
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(db_int(db, "PRAGMA user_version"), store_schema_latest());
	for (size_t i = 0; i < sizeof(tables_v1) / sizeof(tables_v1[0]); i++)
		if (!db_has_table(db, tables_v1[i]))
			fail_msg("table %s missing in a new store", tables_v1[i]);
	for (size_t i = 0; i < sizeof(tables_v2) / sizeof(tables_v2[0]); i++)
		if (!db_has_table(db, tables_v2[i]))
			fail_msg("table %s missing in a new store", tables_v2[i]);
	/* used nonces live in shared memory since version 6 */
	assert_false(db_has_table(db, "used_nonces"));
	sqlite3_close(db);
}

static void
test_reopen_idempotent(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	sqlite3 *db;
	char *schema1, *schema2;

	st = open_ok(f->db);
	store_close(st);

	db = db_open(f->db);
	schema1 = db_schema(db);
	assert_non_null(schema1);
	db_exec(db, "INSERT INTO admins (dn, created_at) VALUES ('/CN=admin', 1)");
	sqlite3_close(db);

	for (int i = 0; i < 3; i++) {
		st = open_ok(f->db);
		assert_int_equal(store_schema_version(st), store_schema_latest());
		store_close(st);
	}

	db = db_open(f->db);
	schema2 = db_schema(db);
	assert_non_null(schema2);
	assert_string_equal(schema1, schema2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM admins WHERE dn = '/CN=admin'"), 1);
	assert_int_equal(db_int(db, "PRAGMA user_version"), store_schema_latest());
	sqlite3_close(db);
	free(schema1);
	free(schema2);
}

/* Two handles on the same store at once (as two workers have). */
static void
test_two_handles(void **state)
{
	struct fixture *f = *state;
	struct store *a, *b;

	a = open_ok(f->db);
	b = open_ok(f->db);
	assert_int_equal(store_ping(a), 0);
	assert_int_equal(store_ping(b), 0);
	assert_int_equal(store_schema_version(b), store_schema_latest());
	store_close(a);
	store_close(b);
}

static void
test_migrate_from_v1(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	sqlite3 *db;
	char *v;

	/* a store as a version 1 build left it */
	db = db_open(f->db);
	db_exec(db, schema_v1);
	db_exec(db, "PRAGMA user_version = 1");
	db_exec(db, "INSERT INTO certificates (serial, cn, dn, profile, pem, not_before, "
	    "not_after, source, created_at) VALUES ('1A2B', 'www.example.test', "
	    "'/CN=www.example.test', 'server', '-----BEGIN CERTIFICATE-----', 100, 200, "
	    "'admin', 50)");
	db_exec(db, "INSERT INTO admins (dn, created_at) VALUES ('/CN=admin/O=test', 42)");
	for (size_t i = 0; i < sizeof(tables_v2) / sizeof(tables_v2[0]); i++)
		assert_false(db_has_table(db, tables_v2[i]));
	sqlite3_close(db);

	st = open_ok(f->db);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_int_equal(store_ping(st), 0);
	store_close(st);

	db = db_open(f->db);
	assert_int_equal(db_int(db, "PRAGMA user_version"), store_schema_latest());
	/* the old rows survived, unchanged */
	assert_int_equal(db_int(db, "SELECT count(*) FROM certificates"), 1);
	v = db_text(db, "SELECT serial || '|' || cn || '|' || status || '|' || not_after "
	    "FROM certificates");
	assert_non_null(v);
	assert_string_equal(v, "1A2B|www.example.test|valid|200");
	free(v);
	assert_int_equal(db_int(db, "SELECT count(*) FROM admins"), 1);
	assert_int_equal(db_int(db, "SELECT created_at FROM admins WHERE dn = "
	    "'/CN=admin/O=test'"), 42);
	/* the version 2 tables are there and usable */
	for (size_t i = 0; i < sizeof(tables_v2) / sizeof(tables_v2[0]); i++)
		if (!db_has_table(db, tables_v2[i]))
			fail_msg("table %s missing after migrating from version 1", tables_v2[i]);
	assert_false(db_has_table(db, "used_nonces"));
	db_exec(db, "INSERT INTO accounts (kid, thumbprint, jwk, status, created_at) "
	    "VALUES ('k1', 't1', '{}', 'valid', 1)");
	assert_int_equal(db_int(db, "SELECT count(*) FROM accounts"), 1);
	v = db_text(db, "PRAGMA journal_mode");
	assert_non_null(v);
	assert_string_equal(v, "wal");
	free(v);
	sqlite3_close(db);
}

static void
test_refuses_newer_version(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)f;   /* must be reset to NULL */
	sqlite3 *db;
	char err[256] = "", want[64];
	int future = store_schema_latest() + 1;

	db = db_open(f->db);
	db_exec(db, "CREATE TABLE from_the_future (x INTEGER)");
	snprintf(want, sizeof(want), "PRAGMA user_version = %d", future);
	db_exec(db, want);
	sqlite3_close(db);

	assert_int_equal(store_open(f->db, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, "version"));
	snprintf(want, sizeof(want), "%d", future);
	if (strstr(err, want) == NULL)
		fail_msg("message does not give the version %d: %s", future, err);

	/* and the database was left as it was */
	db = db_open(f->db);
	assert_int_equal(db_int(db, "PRAGMA user_version"), future);
	assert_false(db_has_table(db, "certificates"));
	assert_true(db_has_table(db, "from_the_future"));
	sqlite3_close(db);
}

static void
test_refuses_non_database(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)f;
	char err[256] = "", junk[4096], *after;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)('a' + i % 26);
	memcpy(junk, "not a database\n", 15);
	assert_int_equal(tu_write_file(f->db, junk, sizeof(junk)), 0);

	assert_int_equal(store_open(f->db, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_true(strlen(err) > 0);
	/* the file is untouched */
	after = tu_read_file(f->db, &len);
	assert_non_null(after);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(after, junk, sizeof(junk));
	free(after);
}

static void
test_refuses_unusable_path(void **state)
{
	struct fixture *f = *state;
	struct store *st = (struct store *)f;
	char path[TU_PATH + 32], err[256] = "";

	/* a directory that does not exist */
	tu_join(path, sizeof(path), f->dir, "missing/acme.db");
	assert_int_equal(store_open(path, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_true(strlen(err) > 0);
	/* a directory where the file should be */
	st = (struct store *)f;
	err[0] = '\0';
	assert_int_equal(store_open(f->dir, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_true(strlen(err) > 0);
}

/*
 * Several processes opening one new store at the same moment (the workers
 * of a fresh install): every one must succeed, and the store must end up
 * at the latest version.  The race is narrow, so it is run several rounds,
 * each on a new file.
 */
static void
race_round(const char *path, int round)
{
	enum { NPROC = 8 };
	pid_t pids[NPROC];
	int pipefd[2], failed = 0, nproc = NPROC, fork_errno = 0;
	struct store *st;

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	for (int i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) < 0) {
			nproc = i;      /* reap the ones started, then fail */
			fork_errno = errno;
			break;
		}
		if (pids[i] == 0) {
			struct store *cst = NULL;
			char err[256], c;
			int rc;

			close(pipefd[1]);
			/* wait for the start signal (the pipe closing) */
			while (read(pipefd[0], &c, 1) > 0)
				;
			rc = store_open(path, &cst, err, sizeof(err));
			if (rc != 0)
				fprintf(stderr, "round %d, process %d: %s\n", round, i, err);
			else if (store_schema_version(cst) != store_schema_latest())
				rc = 1;
			store_close(cst);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	close(pipefd[0]);
	close(pipefd[1]);     /* go */
	/* reap them all before judging, so none outlives the test */
	for (int i = 0; i < nproc; i++) {
		int status = 0;

		if (waitpid(pids[i], &status, 0) != pids[i])
			status = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = i + 1;
	}
	if (fork_errno != 0)
		fail_msg("round %d: fork: %s", round, strerror(fork_errno));
	if (failed != 0)
		fail_msg("round %d: process %d failed to open the new store", round,
		    failed - 1);
	st = open_ok(path);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	store_close(st);
}

static void
test_concurrent_first_open(void **state)
{
	struct fixture *f = *state;
	char path[TU_PATH + 32];

	for (int round = 0; round < 60; round++) {
		snprintf(path, sizeof(path), "%s/race-%d.db", f->dir, round);
		race_round(path, round);
	}
}

/* Forks a process that holds the write lock through its own connection, as
 * a writer outside the RA would, until a byte arrives on release[0] (or
 * for hold_ms when release is NULL), then commits one admin row. */
static pid_t
outside_writer(const char *path, int *release, int hold_ms)
{
	int locked[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(locked), 0);
	if ((pid = fork()) == 0) {
		sqlite3 *db = db_open(path);

		if (release != NULL)
			close(release[1]);      /* the test's end gone: let go */
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    write(locked[1], "x", 1) != 1)
			_exit(1);
		if (release != NULL && read(release[0], &c, 1) != 1)
			_exit(1);
		if (release == NULL)
			usleep(hold_ms * 1000);
		_exit(sqlite3_exec(db, "INSERT INTO admins (dn, created_at) "
		    "VALUES ('/CN=outside', 1); COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(read(locked[0], &c, 1), 1);
	close(locked[0]);
	close(locked[1]);
	return pid;
}

static void
wait_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static long long
admins_in(const char *path)
{
	sqlite3 *db = db_open(path);
	long long n = db_int(db, "SELECT count(*) FROM admins");

	sqlite3_close(db);
	return n;
}

#define WAL_WRITERS 2
#define WAL_READERS 2
#define WAL_WRITES 8000

/* A writer process: its own connection, one commit per row. */
static void
wal_writer(const char *path, int n)
{
	struct store *st;
	char err[256], dn[64];

	if (store_open(path, &st, err, sizeof(err)) != 0)
		_exit(1);
	for (int i = 0; i < WAL_WRITES; i++) {
		snprintf(dn, sizeof(dn), "/CN=admin-%d-%d", n, i);
		if (store_admin_add(st, dn, 1) != 0)
			_exit(2);
	}
	store_close(st);
	_exit(0);
}

/* A reader process: read transactions of 2 ms one after the other, as a
 * busy worker's requests are; with two of them one is always reading. */
static void
wal_reader(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		_exit(1);
	sqlite3_busy_timeout(db, 5000);
	for (;;) {
		sqlite3_exec(db, "BEGIN; SELECT count(*) FROM admins;", NULL, NULL, NULL);
		usleep(2000);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
}

/* What a validator does besides validating: store_checkpoint() every
 * 200 ms. */
static void
wal_checkpointer(const char *path)
{
	struct store *st;
	char err[256];

	if (store_open(path, &st, err, sizeof(err)) != 0)
		_exit(1);
	for (;;) {
		store_checkpoint(st);
		usleep(200000);
	}
}

/* Runs WAL_WRITERS writers to the end, with WAL_READERS readers and a
 * checkpointer beside them; returns the largest size the WAL reached. */
static off_t
wal_largest(const char *path)
{
	char wal[TU_PATH + 8];
	pid_t helpers[WAL_READERS + 1];
	int nhelpers = 0, running = WAL_WRITERS, status;
	struct stat sb;
	off_t most = 0;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	for (int n = 0; n < WAL_READERS + 1; n++) {
		if ((helpers[nhelpers] = fork()) == 0) {
			if (n < WAL_READERS)
				wal_reader(path);
			wal_checkpointer(path);
		}
		assert_true(helpers[nhelpers++] > 0);
		usleep(1000);
	}
	for (int n = 0; n < WAL_WRITERS; n++) {
		pid_t pid = fork();

		if (pid == 0)
			wal_writer(path, n);
		assert_true(pid > 0);
	}
	while (running > 0) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (int n = 0; n < nhelpers; n++)
				assert_true(pid != helpers[n]);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			running--;
		}
		if (stat(wal, &sb) == 0 && sb.st_size > most)
			most = sb.st_size;
		usleep(2000);
	}
	for (int n = 0; n < nhelpers; n++) {
		kill(helpers[n], SIGKILL);
		waitpid(helpers[n], NULL, 0);
	}
	print_message("largest WAL: %lld KiB\n", (long long)most / 1024);
	return most;
}

/*
 * Processes committing while others read, as busy workers do, and one
 * checkpointing as validators do: there is always a reader whose snapshot
 * is older than the last commit, so a checkpoint never starts the WAL
 * over, and without the commits' RESTART checkpoints it grew to 147 MiB
 * here.  The processes share the store's wake-up counter, as the RA's do,
 * and every commit of every writer must land.
 */
static void
test_wal_bounded_under_steady_load(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_share_init(), 0);
	store_close(open_ok(f->db));
	/* the RESTART threshold (32 MiB) and what commits add while one
	 * waits */
	assert_true(wal_largest(f->db) < 64 << 20);
	assert_int_equal(admins_in(f->db), WAL_WRITERS * WAL_WRITES);
}

/*
 * A writer that does not share the wake-up counter (the admin command, a
 * backup tool) never announces that it let go of the write lock: a store
 * writer waiting behind it must still notice, and get the lock.
 */
static void
test_waits_for_a_writer_outside_the_ra(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	pid_t pid;

	assert_int_equal(store_share_init(), 0);
	st = open_ok(f->db);
	pid = outside_writer(f->db, NULL, 300);
	assert_int_equal(store_admin_add(st, "/CN=inside", 2), 0);
	store_close(st);
	wait_ok(pid);
	assert_int_equal(admins_in(f->db), 2);
}

/* ... but not for ever: after the busy timeout (5 s) the write fails with
 * an error, the store unchanged, and the next one succeeds. */
static void
test_gives_up_on_a_lock_held_too_long(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	int release[2];
	pid_t pid;

	assert_int_equal(store_share_init(), 0);
	st = open_ok(f->db);
	assert_int_equal(pipe(release), 0);
	pid = outside_writer(f->db, release, 0);
	assert_int_equal(store_admin_add(st, "/CN=inside", 2), -1);
	assert_int_equal(write(release[1], "x", 1), 1);
	wait_ok(pid);
	assert_int_equal(admins_in(f->db), 1);
	assert_int_equal(store_admin_add(st, "/CN=inside", 2), 0);
	assert_int_equal(admins_in(f->db), 2);
	store_close(st);
	close(release[0]);
	close(release[1]);
}

/* Reads in a snapshot see the store as it was at the first of them, even
 * after another connection commits; the snapshot's end shows the commit. */
static void
test_snapshot_reads_agree(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_ok(f->db);
	sqlite3 *other = db_open(f->db);

	store_snapshot_begin(st);
	assert_int_equal(store_admin_has(st, "/CN=late"), STORE_ADMIN_UNKNOWN);
	db_exec(other, "INSERT INTO admins (dn, created_at) VALUES ('/CN=late', 1)");
	assert_int_equal(store_admin_has(st, "/CN=late"), STORE_ADMIN_UNKNOWN);
	store_snapshot_end(st);
	assert_int_equal(store_admin_has(st, "/CN=late"), STORE_ADMIN_YES);
	sqlite3_close(other);
	store_close(st);
}

/* A write in a snapshot that another commit made old must not fail (a
 * write transaction cannot start from an old snapshot): the write ends the
 * snapshot first, and reads after it see the latest store. */
static void
test_snapshot_ends_at_the_first_write(void **state)
{
	struct fixture *f = *state;
	struct store *st = open_ok(f->db);
	sqlite3 *other = db_open(f->db);

	store_snapshot_begin(st);
	assert_int_equal(store_admin_has(st, "/CN=mine"), STORE_ADMIN_UNKNOWN);
	db_exec(other, "INSERT INTO admins (dn, created_at) VALUES ('/CN=other', 1)");
	assert_int_equal(store_admin_add(st, "/CN=mine", 2), 0);
	assert_int_equal(store_admin_has(st, "/CN=other"), STORE_ADMIN_YES);
	store_snapshot_end(st);
	assert_int_equal(store_admin_remove(st, "/CN=other", 3), 0);
	assert_int_equal(db_int(other, "SELECT count(*) FROM admins WHERE removed_at IS NULL"),
	    1);
	sqlite3_close(other);
	store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_new_store),
		T(test_reopen_idempotent),
		T(test_two_handles),
		T(test_migrate_from_v1),
		T(test_refuses_newer_version),
		T(test_refuses_non_database),
		T(test_refuses_unusable_path),
		T(test_concurrent_first_open),
		T(test_wal_bounded_under_steady_load),
		T(test_waits_for_a_writer_outside_the_ra),
		T(test_gives_up_on_a_lock_held_too_long),
		T(test_snapshot_reads_agree),
		T(test_snapshot_ends_at_the_first_write),
	};

	log_init("test_store", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
