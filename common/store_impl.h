/*
 * Private to the store_*.c files: the connection behind struct store and the
 * statement cache.  Nothing outside common/store*.c includes this header.
 */
#ifndef UPKI_STORE_IMPL_H
#define UPKI_STORE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

/* Writers queue behind one another for at most this long before a request
 * gets a "busy" error; a commit takes well under a millisecond. */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_STMT_CACHE 96

struct store_cached {
	const char *sql;        /* the static string: its address is the key */
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	struct store_cached cache[STORE_STMT_CACHE];
	int ncached;
	int wal_restart_at;         /* WAL pages at the last RESTART checkpoint */
	int busy_timeout_ms;        /* how long a lock is waited for */
	int64_t busy_since_ms;      /* when the current wait began */
	uint32_t busy_seen;         /* write ends counted before the last try */
	bool snapshot;              /* store_snapshot_begin's transaction is open */
};

/* A prepared statement for a static SQL string, from the cache, reset and
 * with its bindings cleared.  NULL on error (logged). */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Runs a statement that returns no rows; returns sqlite3_changes or -1. */
int store_exec(sqlite3_stmt *stmt);
/* Runs a statement that changes one row or none: 0 it changed one, 1 it
 * changed none (the row is not in the state the statement wants), -1 error. */
int store_exec_one(sqlite3_stmt *stmt);
/* Runs an INSERT or UPDATE that a UNIQUE constraint may refuse: 0 done,
 * 1 refused by the constraint (a duplicate, often a racing request), -1
 * on any other error (logged). */
int store_exec_unique(sqlite3_stmt *stmt);
/* Steps a query for one row and reads it with fn: 0 read, 1 no row, -1
 * error.  Always resets the statement, so that no read transaction stays
 * open behind the caller's back. */
int store_one(sqlite3_stmt *stmt, int (*fn)(sqlite3_stmt *, void *), void *out);
/* Copies column i as text into out (truncating never: -1 if too long). */
int store_col_text(sqlite3_stmt *stmt, int i, char *out, size_t outlen);
/* Column i as a malloc'd string (NULL column -> NULL). */
char *store_col_dup(sqlite3_stmt *stmt, int i);
void store_bind_text(sqlite3_stmt *stmt, int i, const char *s);

#endif
