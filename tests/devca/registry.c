/*
 * The registry: an SQLite database of every certificate the CA issued, the
 * current CRL, the admin list and the RA enrolments.
 *
 * Certificates are filed under a name (the CN, like the reference CA).  The
 * newest certificate under a name is that name's current one; older ones
 * stay, and a revoked old one stays on the CRL.
 */
#include "devca.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

struct registry {
	sqlite3 *db;
};

static const char registry_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "CREATE TABLE IF NOT EXISTS certs ("
    " seq INTEGER PRIMARY KEY,"
    " serial TEXT NOT NULL UNIQUE,"
    " cn TEXT NOT NULL,"
    " profile TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT '',"
    " pem TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS certs_cn ON certs (cn, seq);"
    "CREATE TABLE IF NOT EXISTS admins (dn TEXT PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS enrolments ("
    " cn TEXT PRIMARY KEY,"
    " serial TEXT NOT NULL,"
    " enrolled_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS crl ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " number INTEGER NOT NULL,"
    " der BLOB NOT NULL);";

#define REGISTRY_CERT_COLUMNS \
	"serial, cn, profile, not_before, not_after, revoked_at, reason, pem"

struct registry *
registry_open(const char *path)
{
	struct registry *reg;
	char *err = NULL;

	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return NULL;
	if (sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    NULL) != SQLITE_OK) {
		log_error("registry %s: %s", path, sqlite3_errmsg(reg->db));
		goto fail;
	}
	/* A constant schema with no parameters: nothing to bind. */
	if (sqlite3_busy_timeout(reg->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(reg->db, registry_schema, NULL, NULL, &err) != SQLITE_OK) {
		log_error("registry %s: %s", path, err != NULL ? err : sqlite3_errmsg(reg->db));
		sqlite3_free(err);
		goto fail;
	}
	return reg;
fail:
	registry_close(reg);
	return NULL;
}

void
registry_close(struct registry *reg)
{
	if (reg == NULL)
		return;
	sqlite3_close(reg->db);
	free(reg);
}

void
registry_cert_free(struct reg_cert *c)
{
	free(c->pem);
	c->pem = NULL;
}

static sqlite3_stmt *
registry_prepare(struct registry *reg, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("registry: %s", sqlite3_errmsg(reg->db));
		return NULL;
	}
	return st;
}

/* Steps a statement that returns no rows and finalizes it. */
static int
registry_done(struct registry *reg, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		log_error("registry: %s", sqlite3_errmsg(reg->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
registry_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int
registry_copy(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if (s == NULL || n >= len)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

static int
registry_row(sqlite3_stmt *st, struct reg_cert *out)
{
	const unsigned char *pem;

	memset(out, 0, sizeof(*out));
	if (registry_copy(st, 0, out->serial, sizeof(out->serial)) != 0 ||
	    registry_copy(st, 1, out->cn, sizeof(out->cn)) != 0 ||
	    registry_copy(st, 2, out->profile, sizeof(out->profile)) != 0 ||
	    registry_copy(st, 6, out->reason, sizeof(out->reason)) != 0 ||
	    (pem = sqlite3_column_text(st, 7)) == NULL ||
	    (out->pem = strdup((const char *)pem)) == NULL)
		return -1;
	out->not_before = (time_t)sqlite3_column_int64(st, 3);
	out->not_after = (time_t)sqlite3_column_int64(st, 4);
	out->revoked_at = (time_t)sqlite3_column_int64(st, 5);
	return 0;
}

/* 1 with *out filled, 0 when no row, -1 on error. */
static int
registry_one(struct registry *reg, sqlite3_stmt *st, struct reg_cert *out)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		rc = registry_row(st, out) == 0 ? 1 : -1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = -1;
	if (rc < 0)
		log_error("registry: cannot read a certificate: %s", sqlite3_errmsg(reg->db));
	sqlite3_finalize(st);
	return rc;
}

int
registry_add(struct registry *reg, const struct reg_cert *c)
{
	sqlite3_stmt *st = registry_prepare(reg, "INSERT INTO certs (" REGISTRY_CERT_COLUMNS
	    ") VALUES (?, ?, ?, ?, ?, 0, '', ?)");

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, c->serial) != 0 ||
	    registry_bind_text(st, 2, c->cn) != 0 ||
	    registry_bind_text(st, 3, c->profile) != 0 ||
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)c->not_before) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, (sqlite3_int64)c->not_after) != SQLITE_OK ||
	    registry_bind_text(st, 6, c->pem) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

int
registry_current(struct registry *reg, const char *cn, struct reg_cert *out)
{
	sqlite3_stmt *st = registry_prepare(reg, "SELECT " REGISTRY_CERT_COLUMNS
	    " FROM certs WHERE cn = ? ORDER BY seq DESC LIMIT 1");

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, cn) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_one(reg, st, out);
}

int
registry_by_serial(struct registry *reg, const char *serial, struct reg_cert *out)
{
	sqlite3_stmt *st = registry_prepare(reg, "SELECT " REGISTRY_CERT_COLUMNS
	    " FROM certs WHERE serial = ?");

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, serial) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_one(reg, st, out);
}

int
registry_revoke(struct registry *reg, const char *serial, time_t at, const char *reason)
{
	sqlite3_stmt *st = registry_prepare(reg,
	    "UPDATE certs SET revoked_at = ?, reason = ? WHERE serial = ?");

	if (st == NULL)
		return -1;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)at) != SQLITE_OK ||
	    registry_bind_text(st, 2, reason) != 0 ||
	    registry_bind_text(st, 3, serial) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

int
registry_unrevoke(struct registry *reg, const char *serial)
{
	sqlite3_stmt *st = registry_prepare(reg,
	    "UPDATE certs SET revoked_at = 0, reason = '' WHERE serial = ?");

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, serial) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

/* Calls fn for each revoked certificate; stops at the first non-zero. */
int
registry_revoked(struct registry *reg, registry_revoked_fn fn, void *arg)
{
	sqlite3_stmt *st = registry_prepare(reg,
	    "SELECT serial, revoked_at FROM certs WHERE revoked_at != 0 ORDER BY seq");
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *serial = sqlite3_column_text(st, 0);

		if (serial == NULL ||
		    fn(arg, (const char *)serial, (time_t)sqlite3_column_int64(st, 1)) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* 1 with a malloc'd copy of the stored CRL, 0 when there is none yet. */
int
registry_crl_load(struct registry *reg, unsigned char **der, size_t *len, long *number)
{
	sqlite3_stmt *st = registry_prepare(reg, "SELECT number, der FROM crl WHERE id = 1");
	const void *blob;
	int rc, n;

	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	blob = sqlite3_column_blob(st, 1);
	n = sqlite3_column_bytes(st, 1);
	if (blob == NULL || n <= 0 || (*der = malloc((size_t)n)) == NULL) {
		sqlite3_finalize(st);
		return -1;
	}
	memcpy(*der, blob, (size_t)n);
	*len = (size_t)n;
	*number = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 1;
}

int
registry_crl_store(struct registry *reg, long number, const unsigned char *der, size_t len)
{
	sqlite3_stmt *st = registry_prepare(reg,
	    "INSERT OR REPLACE INTO crl (id, number, der) VALUES (1, ?, ?)");

	if (st == NULL)
		return -1;
	if (sqlite3_bind_int64(st, 1, number) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 2, der, (int)len, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

static int
registry_dn(struct registry *reg, const char *sql, const char *dn)
{
	sqlite3_stmt *st = registry_prepare(reg, sql);

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, dn) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

int
registry_admin_add(struct registry *reg, const char *dn)
{
	return registry_dn(reg, "INSERT OR IGNORE INTO admins (dn) VALUES (?)", dn);
}

int
registry_admin_remove(struct registry *reg, const char *dn)
{
	return registry_dn(reg, "DELETE FROM admins WHERE dn = ?", dn);
}

int
registry_admins(struct registry *reg, registry_admin_fn fn, void *arg)
{
	sqlite3_stmt *st = registry_prepare(reg, "SELECT dn FROM admins ORDER BY dn");
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *dn = sqlite3_column_text(st, 0);

		if (dn == NULL || fn(arg, (const char *)dn) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Records that an RA registered under cn with the certificate serial. */
int
registry_enrol(struct registry *reg, const char *cn, const char *serial, time_t at)
{
	sqlite3_stmt *st = registry_prepare(reg, "INSERT OR REPLACE INTO enrolments"
	    " (cn, serial, enrolled_at) VALUES (?, ?, ?)");

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, cn) != 0 || registry_bind_text(st, 2, serial) != 0 ||
	    sqlite3_bind_int64(st, 3, (sqlite3_int64)at) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	return registry_done(reg, st);
}

/* 1 with the serial and time of cn's registration, 0 when it has none. */
int
registry_enrolment(struct registry *reg, const char *cn, char *serial, size_t len,
    time_t *at)
{
	sqlite3_stmt *st = registry_prepare(reg,
	    "SELECT serial, enrolled_at FROM enrolments WHERE cn = ?");
	int rc;

	if (st == NULL)
		return -1;
	if (registry_bind_text(st, 1, cn) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = registry_copy(st, 0, serial, len) == 0 ? 1 : -1;
	else
		rc = rc == SQLITE_DONE ? 0 : -1;
	if (rc == 1)
		*at = (time_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc;
}
