/*
 * The RA's store: one SQLite database (WAL mode) shared by every worker
 * process.  Each process opens its own connection after fork.  The schema
 * carries a version number (PRAGMA user_version) and is brought up to date
 * by the migrations in store.c, each in its own transaction, when the store
 * is opened.  Every statement is prepared; nothing from a request is ever
 * pasted into SQL text.
 */
#ifndef UPKI_STORE_H
#define UPKI_STORE_H

#include <stddef.h>

struct store;

/* Lets the processes forked after it wake each other's writers as soon as
 * the write lock is free (store.c); the master calls it before fork. */
int store_share_init(void);
/* Opens (creating when absent) and migrates to STORE_SCHEMA_VERSION. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);

/* One read transaction for the reads of a request until the first write
 * or store_snapshot_end (store.c). */
void store_snapshot_begin(struct store *st);
void store_snapshot_end(struct store *st);

/* The schema version of an open store. */
int store_schema_version(struct store *st);
/* The version this build migrates to. */
int store_schema_latest(void);
/* A cheap read that proves the database answers (for /health). */
int store_ping(struct store *st);
/* Copies the WAL back into the database: the validators call it a few
 * times a second, so that requests do not (store.c). */
void store_checkpoint(struct store *st);

#endif
