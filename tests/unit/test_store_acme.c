/*
 * Unit tests for common/store_acme.c and common/store_authz.c: accounts
 * (one per key, external account binding used once, key change), orders
 * with new and reused authorizations, the finalize race (exactly one of
 * several processes wins) and what follows it (abort, fail, complete with
 * its certificate in one transaction, release by pid, recovery by time),
 * challenges (start, claim with lease and per-account fairness, finish
 * carried to the authorization and the orders), and the sweep.
 * Times are the store's arguments, never the clock.
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

#include "log.h"
#include "store.h"
#include "store_acme.h"
#include "store_authz.h"
#include "store_cert.h"
#include "store_eab.h"
#include "store_fixture.h"
#include "testutil.h"

#define PROBLEM "{\"type\":\"urn:ietf:params:acme:error:incorrectResponse\"}"

static struct store *
open_ok(const char *path)
{
	struct store *st = NULL;
	char err[256] = "";

	if (store_open(path, &st, err, sizeof(err)) != 0)
		fail_msg("store_open %s: %s", path, err);
	return st;
}

/* --- helpers --- */

static struct store_account
account_make(const char *kid, const char *tp)
{
	struct store_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.kid, sizeof(a.kid), "%s", kid);
	snprintf(a.thumbprint, sizeof(a.thumbprint), "%s", tp);
	a.jwk = "{\"kty\":\"OKP\"}";
	a.contact = "[]";
	a.created_at = 100;
	return a;
}

static int64_t
account_ok(struct store *st, const char *kid, const char *tp)
{
	struct store_account a = account_make(kid, tp);

	assert_int_equal(store_account_create(st, &a, NULL), 0);
	assert_true(a.id > 0);
	return a.id;
}

/* A new authorization for dns:name with an http-01 and a dns-01 challenge,
 * or (reuse) the existing authorization authz_id. */
static struct store_new_authz
authz_make(const char *authz_id, const char *name, int reuse, int64_t expires)
{
	struct store_new_authz az;

	memset(&az, 0, sizeof(az));
	snprintf(az.id, sizeof(az.id), "%s", authz_id);
	snprintf(az.type, sizeof(az.type), "dns");
	snprintf(az.value, sizeof(az.value), "%s", name);
	az.expires = expires;
	az.reuse = reuse;
	az.nchallenges = 2;
	snprintf(az.challenge_types[0], sizeof(az.challenge_types[0]), "http-01");
	snprintf(az.challenge_tokens[0], sizeof(az.challenge_tokens[0]), "tok-h-%s", authz_id);
	snprintf(az.challenge_types[1], sizeof(az.challenge_types[1]), "dns-01");
	snprintf(az.challenge_tokens[1], sizeof(az.challenge_tokens[1]), "tok-d-%s", authz_id);
	return az;
}

static struct store_order
order_make(const char *id, int64_t account_id, int64_t expires)
{
	struct store_order o;

	memset(&o, 0, sizeof(o));
	snprintf(o.id, sizeof(o.id), "%s", id);
	o.account_id = account_id;
	o.expires = expires;
	o.identifiers = "[{\"type\":\"dns\",\"value\":\"x\"}]";
	snprintf(o.profile, sizeof(o.profile), "server");
	o.created_at = 100;
	return o;
}

/* A pending order with one new authorization, authz_id for name. */
static void
order_one(struct store *st, const char *id, int64_t account_id, const char *authz_id,
    const char *name, int64_t expires)
{
	struct store_order o = order_make(id, account_id, expires);
	struct store_new_authz az = authz_make(authz_id, name, 0, expires);

	assert_int_equal(store_order_create(st, &o, &az, 1), 0);
	assert_string_equal(o.status, "pending");
}

static void
order_status_is(struct store *st, const char *id, int64_t now, const char *status)
{
	struct store_order o;

	assert_int_equal(store_order_get(st, id, now, &o), 0);
	assert_string_equal(o.status, status);
	store_order_free(&o);
}

static void
authz_status_is(struct store *st, const char *id, int64_t now, const char *status)
{
	struct store_authz a;

	assert_int_equal(store_authz_get(st, id, now, &a), 0);
	assert_string_equal(a.status, status);
	store_authz_free(&a);
}

/* The id of the authorization's challenge of that type. */
static int64_t
challenge_id(struct store *st, const char *authz_id, const char *type)
{
	struct store_authz a;
	int64_t id = 0;

	assert_int_equal(store_authz_get(st, authz_id, 0, &a), 0);
	for (int i = 0; i < a.nchallenges; i++)
		if (strcmp(a.challenges[i].type, type) == 0)
			id = a.challenges[i].id;
	store_authz_free(&a);
	assert_true(id > 0);
	return id;
}

/* Validates the authorization's http-01 challenge: started, then finished
 * valid (or invalid with problem). */
static void
authz_finish(struct store *st, const char *authz_id, const char *problem, int64_t now)
{
	assert_int_equal(store_challenge_start(st, authz_id, "http-01"), 0);
	assert_int_equal(store_challenge_finish(st, challenge_id(st, authz_id, "http-01"),
	    problem, now), 0);
}

/* When the orders of order_ready expire: after every time the tests use. */
#define FAR 10000000

/* A ready order id of the account, for dns:name (its authorization is
 * az-<id>). */
static void
order_ready(struct store *st, const char *id, int64_t account_id, const char *name)
{
	char authz_id[STORE_ID_MAX];

	snprintf(authz_id, sizeof(authz_id), "az-%s", id);
	order_one(st, id, account_id, authz_id, name, FAR);
	authz_finish(st, authz_id, NULL, 200);
	order_status_is(st, id, 300, "ready");
}

static struct store_cert
cert_make(const char *serial, int64_t account_id)
{
	struct store_cert c;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	snprintf(c.cn, sizeof(c.cn), "a.example");
	snprintf(c.dn, sizeof(c.dn), "/CN=a.example");
	snprintf(c.profile, sizeof(c.profile), "server");
	c.pem = "PEM";
	c.not_before = 100;
	c.not_after = 100000;
	snprintf(c.source, sizeof(c.source), "acme");
	c.account_id = account_id;
	store_cert_owner_account(account_id, c.owner);
	c.created_at = 400;
	return c;
}

/* --- accounts --- */

static void
test_account_create_and_lookup(void **state)
{
	struct store_fixture *f = *state;
	struct store_account a = account_make("kid-1", "tp-1"), got;

	assert_int_equal(store_account_create(f->st, &a, NULL), 0);
	assert_true(a.id > 0);
	assert_string_equal(a.status, "valid");

	assert_int_equal(store_account_by_kid(f->st, "kid-1", &got), 0);
	assert_int_equal(got.id, a.id);
	assert_string_equal(got.thumbprint, "tp-1");
	assert_string_equal(got.jwk, a.jwk);
	assert_string_equal(got.contact, "[]");
	assert_string_equal(got.status, "valid");
	assert_int_equal(got.created_at, 100);
	store_account_free(&got);

	assert_int_equal(store_account_by_thumbprint(f->st, "tp-1", &got), 0);
	assert_int_equal(got.id, a.id);
	store_account_free(&got);

	assert_int_equal(store_account_by_kid(f->st, "kid-2", &got), 1);
	assert_int_equal(store_account_by_thumbprint(f->st, "tp-2", &got), 1);
}

/* One account per key: a second registration with the same key (a racing
 * request) gets 1 and makes no row. */
static void
test_account_same_key_twice(void **state)
{
	struct store_fixture *f = *state;
	struct store_account b = account_make("kid-b", "tp-1"), got;
	int64_t id = account_ok(f->st, "kid-a", "tp-1");

	assert_int_equal(store_account_create(f->st, &b, NULL), 1);
	assert_int_equal(store_account_by_kid(f->st, "kid-b", &got), 1);
	assert_int_equal(store_account_by_thumbprint(f->st, "tp-1", &got), 0);
	assert_int_equal(got.id, id);
	store_account_free(&got);
}

static void
test_account_set_contact(void **state)
{
	struct store_fixture *f = *state;
	struct store_account got;
	int64_t id = account_ok(f->st, "kid-a", "tp-a");

	assert_int_equal(store_account_set_contact(f->st, id,
	    "[\"mailto:a@example.org\"]"), 0);
	assert_int_equal(store_account_by_kid(f->st, "kid-a", &got), 0);
	assert_string_equal(got.contact, "[\"mailto:a@example.org\"]");
	store_account_free(&got);
}

/* Deactivation (RFC 8555 7.3.6) takes the account's pending and valid
 * authorizations with it, and no one else's. */
static void
test_account_deactivate(void **state)
{
	struct store_fixture *f = *state;
	struct store_account got;
	int64_t a = account_ok(f->st, "kid-a", "tp-a"), b = account_ok(f->st, "kid-b", "tp-b");

	order_one(f->st, "o-a1", a, "az-a1", "a1.example", 100000);
	order_one(f->st, "o-a2", a, "az-a2", "a2.example", 100000);
	authz_finish(f->st, "az-a2", NULL, 200);
	order_one(f->st, "o-b", b, "az-b", "b.example", 100000);

	assert_int_equal(store_account_deactivate(f->st, a), 0);
	assert_int_equal(store_account_by_kid(f->st, "kid-a", &got), 0);
	assert_string_equal(got.status, "deactivated");
	store_account_free(&got);
	authz_status_is(f->st, "az-a1", 300, "deactivated");
	authz_status_is(f->st, "az-a2", 300, "deactivated");
	authz_status_is(f->st, "az-b", 300, "pending");
	assert_int_equal(store_account_by_kid(f->st, "kid-b", &got), 0);
	assert_string_equal(got.status, "valid");
	store_account_free(&got);
}

/* Key change (RFC 8555 7.3.5): to a key some account has already, 1 and
 * nothing changes; to a new key, the account is found by it alone. */
static void
test_account_set_key(void **state)
{
	struct store_fixture *f = *state;
	struct store_account got;
	int64_t a = account_ok(f->st, "kid-a", "tp-a");

	account_ok(f->st, "kid-b", "tp-b");
	assert_int_equal(store_account_set_key(f->st, a, "{\"k\":\"b\"}", "tp-b"), 1);
	assert_int_equal(store_account_by_kid(f->st, "kid-a", &got), 0);
	assert_string_equal(got.thumbprint, "tp-a");
	store_account_free(&got);

	assert_int_equal(store_account_set_key(f->st, a, "{\"k\":\"new\"}", "tp-new"), 0);
	assert_int_equal(store_account_by_thumbprint(f->st, "tp-new", &got), 0);
	assert_int_equal(got.id, a);
	assert_string_equal(got.jwk, "{\"k\":\"new\"}");
	store_account_free(&got);
	assert_int_equal(store_account_by_thumbprint(f->st, "tp-a", &got), 1);
}

/* An account made with an external account binding key binds it; the same
 * key for a second account gets 2, and that account is not made. */
static void
test_account_with_eab_used_once(void **state)
{
	struct store_fixture *f = *state;
	struct store_eab e, got;
	struct store_account a = account_make("kid-a", "tp-a"), b = account_make("kid-b", "tp-b"),
	    c = account_make("kid-c", "tp-c"), acc;

	memset(&e, 0, sizeof(e));
	snprintf(e.kid, sizeof(e.kid), "eab-1");
	snprintf(e.hmac_key, sizeof(e.hmac_key), "c2VjcmV0");
	snprintf(e.created_by, sizeof(e.created_by), "/CN=admin");
	e.created_at = 50;
	assert_int_equal(store_eab_create(f->st, &e), 0);

	assert_int_equal(store_account_create(f->st, &a, "eab-1"), 0);
	assert_int_equal(store_eab_get(f->st, "eab-1", &got), 0);
	assert_int_equal(got.account_id, a.id);

	assert_int_equal(store_account_create(f->st, &b, "eab-1"), 2);
	assert_int_equal(store_account_by_kid(f->st, "kid-b", &acc), 1);
	assert_int_equal(store_eab_get(f->st, "eab-1", &got), 0);
	assert_int_equal(got.account_id, a.id);

	/* an unknown binding key makes no account either */
	assert_int_equal(store_account_create(f->st, &c, "eab-none"), 2);
	assert_int_equal(store_account_by_kid(f->st, "kid-c", &acc), 1);
}

static void
test_account_orders_and_counts(void **state)
{
	struct store_fixture *f = *state;
	char ids[4][STORE_ID_MAX];
	int64_t a = account_ok(f->st, "kid-a", "tp-a"), oldest = 0;
	int n = -1;

	for (int i = 0; i < 3; i++) {
		char id[16], az[16];
		struct store_order o;
		struct store_new_authz naz;

		snprintf(id, sizeof(id), "o-%d", i);
		snprintf(az, sizeof(az), "az-%d", i);
		o = order_make(id, a, 100000);
		o.created_at = 1000 + i;
		naz = authz_make(az, "a.example", 0, i == 0 ? 500 : 100000);
		assert_int_equal(store_order_create(f->st, &o, &naz, 1), 0);
	}
	assert_int_equal(store_account_orders(f->st, a, 0, 2, ids, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "o-2");
	assert_string_equal(ids[1], "o-1");
	assert_int_equal(store_account_orders(f->st, a, 2, 2, ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "o-0");

	assert_int_equal(store_account_orders_since(f->st, a, 1000, &oldest), 2);
	assert_int_equal(oldest, 1001);
	/* the first authorization expired at 500 */
	assert_int_equal(store_account_pending_authzs(f->st, a, 600), 2);
	assert_int_equal(store_account_pending_authzs(f->st, a, 400), 3);
}

/* --- orders --- */

static void
test_order_create_new_authz(void **state)
{
	struct store_fixture *f = *state;
	struct store_order o = order_make("o-1", 0, 100000), got;
	struct store_new_authz az[2];
	char ids[4][STORE_ID_MAX];
	struct store_authz a;
	int n = -1;

	o.account_id = account_ok(f->st, "kid-a", "tp-a");
	snprintf(o.replaces, sizeof(o.replaces), "aKi.0A");
	az[0] = authz_make("az-2", "b.example", 0, 90000);
	az[1] = authz_make("az-1", "a.example", 0, 90000);
	assert_int_equal(store_order_create(f->st, &o, az, 2), 0);
	assert_string_equal(o.status, "pending");

	assert_int_equal(store_order_get(f->st, "o-1", 200, &got), 0);
	assert_string_equal(got.status, "pending");
	assert_int_equal(got.account_id, o.account_id);
	assert_int_equal(got.expires, 100000);
	assert_string_equal(got.identifiers, o.identifiers);
	assert_string_equal(got.profile, "server");
	assert_string_equal(got.replaces, "aKi.0A");
	assert_null(got.error);
	assert_int_equal(got.certificate_id, 0);
	store_order_free(&got);

	/* ordered by identifier */
	assert_int_equal(store_order_authz_ids(f->st, "o-1", ids, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "az-1");
	assert_string_equal(ids[1], "az-2");

	assert_int_equal(store_authz_get(f->st, "az-1", 200, &a), 0);
	assert_string_equal(a.status, "pending");
	assert_int_equal(a.account_id, o.account_id);
	assert_string_equal(a.value, "a.example");
	assert_int_equal(a.nchallenges, 2);
	assert_string_equal(a.challenges[0].type, "http-01");
	assert_string_equal(a.challenges[0].token, "tok-h-az-1");
	assert_string_equal(a.challenges[0].status, "pending");
	assert_string_equal(a.challenges[1].type, "dns-01");
	store_authz_free(&a);

	assert_int_equal(store_order_get(f->st, "o-none", 200, &got), 1);
	assert_int_equal(store_authz_get(f->st, "az-none", 200, &a), 1);
}

/* A valid authorization is reused: an order of reused ones only is ready at
 * once; mixed with a new one it waits for that one. */
static void
test_order_create_reused_authz(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a"), other = account_ok(f->st, "kid-b", "tp-b");
	char reuse[STORE_ID_MAX] = "", ids[4][STORE_ID_MAX];
	struct store_new_authz az[2];
	struct store_order o;
	int n = -1;

	order_ready(f->st, "o-1", acc, "a.example");
	assert_int_equal(store_authz_reusable(f->st, acc, "dns", "a.example", 0, 300, reuse), 0);
	assert_string_equal(reuse, "az-o-1");
	/* not another account's, not a wildcard, not another name, not expired */
	assert_int_equal(store_authz_reusable(f->st, other, "dns", "a.example", 0, 300, reuse), 1);
	assert_int_equal(store_authz_reusable(f->st, acc, "dns", "a.example", 1, 300, reuse), 1);
	assert_int_equal(store_authz_reusable(f->st, acc, "dns", "b.example", 0, 300, reuse), 1);
	assert_int_equal(store_authz_reusable(f->st, acc, "dns", "a.example", 0, FAR, reuse), 1);

	o = order_make("o-2", acc, 100000);
	az[0] = authz_make("az-o-1", "a.example", 1, 100000);
	assert_int_equal(store_order_create(f->st, &o, az, 1), 0);
	assert_string_equal(o.status, "ready");
	order_status_is(f->st, "o-2", 300, "ready");

	o = order_make("o-3", acc, 100000);
	az[0] = authz_make("az-o-1", "a.example", 1, 100000);
	az[1] = authz_make("az-new", "b.example", 0, 100000);
	assert_int_equal(store_order_create(f->st, &o, az, 2), 0);
	assert_string_equal(o.status, "pending");
	assert_int_equal(store_order_authz_ids(f->st, "o-3", ids, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "az-o-1");
	assert_string_equal(ids[1], "az-new");
	/* the new one valid: the order is ready */
	authz_finish(f->st, "az-new", NULL, 400);
	order_status_is(f->st, "o-3", 500, "ready");
}

/* An order id is unique; a failed create leaves neither order nor its
 * authorizations behind. */
static void
test_order_create_is_one_transaction(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_order o = order_make("o-1", acc, 100000);
	struct store_new_authz az = authz_make("az-2", "b.example", 0, 100000);
	struct store_authz a;

	order_one(f->st, "o-1", acc, "az-1", "a.example", 100000);
	assert_int_equal(store_order_create(f->st, &o, &az, 1), -1);
	assert_int_equal(store_authz_get(f->st, "az-2", 200, &a), 1);
}

/* Reading an order past its expiry makes it invalid (RFC 8555 7.1.6);
 * one that is valid stays valid. */
static void
test_order_get_expires(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_order o;

	order_one(f->st, "o-1", acc, "az-1", "a.example", 1000);
	order_status_is(f->st, "o-1", 999, "pending");
	assert_int_equal(store_order_get(f->st, "o-1", 1000, &o), 0);
	assert_string_equal(o.status, "invalid");
	assert_non_null(o.error);
	assert_non_null(strstr(o.error, "expired"));
	store_order_free(&o);
	/* and it stays so */
	order_status_is(f->st, "o-1", 10, "invalid");
}

/* Two workers, each with its own connection: the first to finalize wins,
 * the second gets 1 and the order stays the winner's. */
static void
test_finalize_two_handles(void **state)
{
	struct store_fixture *f = *state;
	struct store *other = open_ok(f->db);
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier = -1, earlier2 = -1;

	order_ready(f->st, "o-1", acc, "a.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 500, 111, &earlier), 0);
	assert_int_equal(earlier, 0);
	assert_int_equal(store_order_begin_finalize(other, "o-1", 500, 222, &earlier2), 1);
	assert_int_equal(earlier2, -1);
	order_status_is(other, "o-1", 500, "processing");
	/* the loser's pid holds nothing */
	assert_int_equal(store_order_release(other, 222), 0);
	order_status_is(f->st, "o-1", 500, "processing");
	store_close(other);
}

/* Not ready, unknown or expired: nobody wins. */
static void
test_finalize_needs_ready_unexpired(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier = -1;

	order_one(f->st, "o-p", acc, "az-p", "p.example", 100000);
	assert_int_equal(store_order_begin_finalize(f->st, "o-p", 500, 1, &earlier), 1);
	assert_int_equal(store_order_begin_finalize(f->st, "o-none", 500, 1, &earlier), 1);
	order_ready(f->st, "o-r", acc, "r.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-r", FAR, 1, &earlier), 1);
	assert_int_equal(earlier, -1);
}

/*
 * Processes racing to finalize one ready order, each through its own
 * connection, released together: exactly one wins.  Several rounds, each
 * on its own order, since one round may happen not to overlap.
 */
static void
test_finalize_race_between_processes(void **state)
{
	enum { ROUNDS = 8, NPROC = 4 };
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");

	for (int r = 0; r < ROUNDS; r++) {
		char id[16], name[32];
		pid_t pids[NPROC];
		int go[2], winners = 0, losers = 0;

		snprintf(id, sizeof(id), "o-%d", r);
		snprintf(name, sizeof(name), "r%d.example", r);
		order_ready(f->st, id, acc, name);
		assert_int_equal(pipe(go), 0);
		fflush(NULL);
		for (int i = 0; i < NPROC; i++) {
			assert_true((pids[i] = fork()) >= 0);
			if (pids[i] == 0) {
				struct store *st = NULL;
				char err[256], c;
				int earlier = -1, rc;

				close(go[1]);
				if (store_open(f->db, &st, err, sizeof(err)) != 0)
					_exit(3);
				while (read(go[0], &c, 1) > 0)
					;
				rc = store_order_begin_finalize(st, id, 500, (int)getpid(),
				    &earlier);
				store_close(st);
				/* 0 won (first attempt), 1 lost, anything else: wrong */
				_exit(rc == 0 && earlier == 0 ? 0 : rc == 1 ? 1 : 2);
			}
		}
		close(go[0]);
		close(go[1]);
		for (int i = 0; i < NPROC; i++) {
			int status = -1;

			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			if (WEXITSTATUS(status) == 0)
				winners++;
			else if (WEXITSTATUS(status) == 1)
				losers++;
		}
		assert_int_equal(winners, 1);
		assert_int_equal(losers, NPROC - 1);
		order_status_is(f->st, id, 500, "processing");
	}
}

/* Each begin counts a sign attempt: after an abort (a retryable failure)
 * the next winner learns that one was sent before. */
static void
test_finalize_abort_counts_attempts(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier = -1;

	order_ready(f->st, "o-1", acc, "a.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 500, 1, &earlier), 0);
	assert_int_equal(earlier, 0);
	assert_int_equal(store_order_abort_finalize(f->st, "o-1"), 0);
	order_status_is(f->st, "o-1", 500, "ready");
	/* not processing any more: 1 */
	assert_int_equal(store_order_abort_finalize(f->st, "o-1"), 1);

	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 600, 2, &earlier), 0);
	assert_int_equal(earlier, 1);
	assert_int_equal(store_order_release(f->st, 2), 1);
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 700, 3, &earlier), 0);
	assert_int_equal(earlier, 2);
}

static void
test_finalize_fail(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_order o;
	int earlier;

	order_ready(f->st, "o-1", acc, "a.example");
	/* only a processing order fails */
	assert_int_equal(store_order_fail(f->st, "o-1", PROBLEM), 1);
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 500, 1, &earlier), 0);
	assert_int_equal(store_order_fail(f->st, "o-1", PROBLEM), 0);
	assert_int_equal(store_order_get(f->st, "o-1", 500, &o), 0);
	assert_string_equal(o.status, "invalid");
	assert_string_equal(o.error, PROBLEM);
	store_order_free(&o);
}

/* An order is valid only with its certificate: complete records both, and
 * when the order is not processing, neither. */
static void
test_complete_records_order_and_cert_together(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_cert c = cert_make("0ABC", acc), d = cert_make("0DEF", acc), got;
	struct store_order o;
	int earlier;

	order_ready(f->st, "o-1", acc, "a.example");
	/* ready, not processing: refused, and no certificate is left behind */
	assert_int_equal(store_order_complete(f->st, "o-1", &d), -1);
	assert_int_equal(store_cert_by_serial(f->st, "0DEF", &got), 1);
	assert_int_equal(store_cert_count(f->st, NULL), 0);
	order_status_is(f->st, "o-1", 500, "ready");

	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 500, 1, &earlier), 0);
	assert_int_equal(store_order_complete(f->st, "o-1", &c), 0);
	assert_true(c.id > 0);
	assert_int_equal(store_order_get(f->st, "o-1", 500, &o), 0);
	assert_string_equal(o.status, "valid");
	assert_int_equal(o.certificate_id, c.id);
	assert_string_equal(o.certificate_serial, "0ABC");
	store_order_free(&o);
	assert_int_equal(store_cert_by_id(f->st, c.id, &got), 0);
	assert_string_equal(got.serial, "0ABC");
	store_cert_free(&got);

	/* a second completion of the same order records nothing */
	assert_int_equal(store_order_complete(f->st, "o-1", &d), -1);
	assert_int_equal(store_cert_count(f->st, NULL), 1);
	/* a valid order does not expire */
	order_status_is(f->st, "o-1", FAR + 1, "valid");
}

/* A dead worker's orders go back to ready, and only its own. */
static void
test_release_by_pid(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier;

	order_ready(f->st, "o-1", acc, "a.example");
	order_ready(f->st, "o-2", acc, "b.example");
	order_ready(f->st, "o-3", acc, "c.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 500, 101, &earlier), 0);
	assert_int_equal(store_order_begin_finalize(f->st, "o-2", 500, 101, &earlier), 0);
	assert_int_equal(store_order_begin_finalize(f->st, "o-3", 500, 202, &earlier), 0);

	assert_int_equal(store_order_release(f->st, 101), 2);
	order_status_is(f->st, "o-1", 500, "ready");
	order_status_is(f->st, "o-2", 500, "ready");
	order_status_is(f->st, "o-3", 500, "processing");
	assert_int_equal(store_order_release(f->st, 101), 0);
}

/* Orders processing since before the given time go back to ready. */
static void
test_recover_by_time(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier;

	order_ready(f->st, "o-1", acc, "a.example");
	order_ready(f->st, "o-2", acc, "b.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-1", 1000, 1, &earlier), 0);
	assert_int_equal(store_order_begin_finalize(f->st, "o-2", 2000, 1, &earlier), 0);

	assert_int_equal(store_order_recover(f->st, 1000), 0);
	assert_int_equal(store_order_recover(f->st, 1500), 1);
	order_status_is(f->st, "o-1", 2000, "ready");
	order_status_is(f->st, "o-2", 2000, "processing");
}

/* --- authorizations and challenges --- */

static void
test_challenge_start(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_authz a;

	order_one(f->st, "o-1", acc, "az-1", "a.example", 100000);
	assert_int_equal(store_challenge_start(f->st, "az-1", "http-01"), 0);
	/* already processing */
	assert_int_equal(store_challenge_start(f->st, "az-1", "http-01"), 1);
	assert_int_equal(store_challenge_start(f->st, "az-1", "tls-alpn-01"), 1);
	assert_int_equal(store_challenge_start(f->st, "az-none", "http-01"), 1);
	assert_int_equal(store_authz_get(f->st, "az-1", 200, &a), 0);
	assert_string_equal(a.challenges[0].status, "processing");
	assert_string_equal(a.challenges[1].status, "pending");
	store_authz_free(&a);

	/* the authorization no longer pending: no challenge of it starts */
	assert_int_equal(store_authz_deactivate(f->st, "az-1"), 0);
	assert_int_equal(store_challenge_start(f->st, "az-1", "dns-01"), 1);
}

/* A claim leases the challenge: nobody else gets it until the lease runs
 * out, then it is claimed again with its attempts counted. */
static void
test_challenge_claim_lease(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store *other = open_ok(f->db);
	struct store_challenge_lease w, w2;

	assert_int_equal(store_challenge_claim(f->st, 1000, 30, 10, &w), 1);
	order_one(f->st, "o-1", acc, "az-1", "a.example", 100000);
	assert_int_equal(store_challenge_claim(f->st, 1000, 30, 10, &w), 1);
	assert_int_equal(store_challenge_start(f->st, "az-1", "http-01"), 0);

	assert_int_equal(store_challenge_claim(f->st, 1000, 30, 10, &w), 0);
	assert_int_equal(w.challenge_id, challenge_id(f->st, "az-1", "http-01"));
	assert_string_equal(w.type, "http-01");
	assert_string_equal(w.token, "tok-h-az-1");
	assert_string_equal(w.authz_id, "az-1");
	assert_string_equal(w.ident_type, "dns");
	assert_string_equal(w.ident_value, "a.example");
	assert_string_equal(w.thumbprint, "tp-a");
	assert_int_equal(w.attempts, 1);

	/* leased until 1030, through another connection too */
	assert_int_equal(store_challenge_claim(other, 1000, 30, 10, &w2), 1);
	assert_int_equal(store_challenge_claim(other, 1030, 30, 10, &w2), 1);
	assert_int_equal(store_challenge_claim(other, 1031, 30, 10, &w2), 0);
	assert_int_equal(w2.challenge_id, w.challenge_id);
	assert_int_equal(w2.attempts, 2);
	store_close(other);
}

/* Fair across accounts: the account with the fewest checks running goes
 * first, and one with per_account running gets no more. */
static void
test_challenge_claim_fair(void **state)
{
	struct store_fixture *f = *state;
	int64_t a = account_ok(f->st, "kid-a", "tp-a"), b = account_ok(f->st, "kid-b", "tp-b");
	struct store_challenge_lease w;

	/* account a's three challenges are older than b's one */
	order_one(f->st, "o-a1", a, "az-a1", "a1.example", 100000);
	order_one(f->st, "o-a2", a, "az-a2", "a2.example", 100000);
	order_one(f->st, "o-a3", a, "az-a3", "a3.example", 100000);
	order_one(f->st, "o-b1", b, "az-b1", "b1.example", 100000);
	assert_int_equal(store_challenge_start(f->st, "az-a1", "http-01"), 0);
	assert_int_equal(store_challenge_start(f->st, "az-a2", "http-01"), 0);
	assert_int_equal(store_challenge_start(f->st, "az-a3", "http-01"), 0);
	assert_int_equal(store_challenge_start(f->st, "az-b1", "http-01"), 0);

	assert_int_equal(store_challenge_claim(f->st, 1000, 60, 2, &w), 0);
	assert_string_equal(w.authz_id, "az-a1");
	/* a has one running, b none: b goes before a's older challenges */
	assert_int_equal(store_challenge_claim(f->st, 1000, 60, 2, &w), 0);
	assert_string_equal(w.authz_id, "az-b1");
	assert_int_equal(store_challenge_claim(f->st, 1000, 60, 2, &w), 0);
	assert_string_equal(w.authz_id, "az-a2");
	/* a has two running: its third waits, though a validator is free */
	assert_int_equal(store_challenge_claim(f->st, 1000, 60, 2, &w), 1);

	/* one of a's checks ends: the third is claimed */
	assert_int_equal(store_challenge_finish(f->st, challenge_id(f->st, "az-a1", "http-01"),
	    NULL, 1010), 0);
	assert_int_equal(store_challenge_claim(f->st, 1010, 60, 2, &w), 0);
	assert_string_equal(w.authz_id, "az-a3");
}

/* A valid challenge makes its authorization valid and an order whose
 * authorizations are all valid ready; an invalid one makes both invalid,
 * with the problem, in every order that uses the authorization. */
static void
test_challenge_finish_carries_outcome(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	struct store_new_authz az[2];
	struct store_order o;
	struct store_authz a;
	int64_t cid;
	int inflight = -1, failed = -1;
	int64_t oldest = -1;

	o = order_make("o-2", acc, 100000);
	az[0] = authz_make("az-1", "a.example", 0, 100000);
	az[1] = authz_make("az-2", "b.example", 0, 100000);
	assert_int_equal(store_order_create(f->st, &o, az, 2), 0);

	authz_finish(f->st, "az-1", NULL, 200);
	authz_status_is(f->st, "az-1", 300, "valid");
	/* one of two authorizations valid: still pending */
	order_status_is(f->st, "o-2", 300, "pending");
	assert_int_equal(store_authz_get(f->st, "az-1", 300, &a), 0);
	assert_string_equal(a.challenges[0].status, "valid");
	assert_int_equal(a.challenges[0].validated, 200);
	assert_null(a.challenges[0].error);
	store_authz_free(&a);

	/* a second order shares az-2 */
	o = order_make("o-3", acc, 100000);
	az[0] = authz_make("az-2", "b.example", 1, 100000);
	assert_int_equal(store_order_create(f->st, &o, az, 1), 0);

	assert_int_equal(store_challenge_start(f->st, "az-2", "dns-01"), 0);
	assert_int_equal(store_account_challenges(f->st, acc, 0, &inflight, &failed, &oldest), 0);
	assert_int_equal(inflight, 1);
	assert_int_equal(failed, 0);
	cid = challenge_id(f->st, "az-2", "dns-01");
	assert_int_equal(store_challenge_finish(f->st, cid, PROBLEM, 400), 0);
	/* finished already: 1 */
	assert_int_equal(store_challenge_finish(f->st, cid, NULL, 500), 1);

	assert_int_equal(store_authz_get(f->st, "az-2", 500, &a), 0);
	assert_string_equal(a.status, "invalid");
	assert_string_equal(a.challenges[1].status, "invalid");
	assert_string_equal(a.challenges[1].error, PROBLEM);
	store_authz_free(&a);
	assert_int_equal(store_order_get(f->st, "o-2", 500, &o), 0);
	assert_string_equal(o.status, "invalid");
	assert_string_equal(o.error, PROBLEM);
	store_order_free(&o);
	order_status_is(f->st, "o-3", 500, "invalid");

	assert_int_equal(store_account_challenges(f->st, acc, 0, &inflight, &failed, &oldest), 0);
	assert_int_equal(inflight, 0);
	assert_int_equal(failed, 1);
	assert_int_equal(oldest, 400);
	/* failures before `since` do not count */
	assert_int_equal(store_account_challenges(f->st, acc, 400, &inflight, &failed, &oldest),
	    0);
	assert_int_equal(failed, 0);
	assert_int_equal(store_challenge_finish(f->st, 999999, NULL, 500), 1);
}

/* Two challenges of one authorization answered at once: once one made it
 * valid, the other failing changes neither the authorization nor the
 * orders that use it (RFC 8555 7.1.6: only a pending authorization turns
 * invalid). */
static void
test_challenge_fail_after_valid(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");

	order_one(f->st, "o-1", acc, "az-1", "a.example", 100000);
	assert_int_equal(store_challenge_start(f->st, "az-1", "http-01"), 0);
	assert_int_equal(store_challenge_start(f->st, "az-1", "dns-01"), 0);
	assert_int_equal(store_challenge_finish(f->st, challenge_id(f->st, "az-1", "http-01"),
	    NULL, 200), 0);
	order_status_is(f->st, "o-1", 300, "ready");
	assert_int_equal(store_challenge_finish(f->st, challenge_id(f->st, "az-1", "dns-01"),
	    PROBLEM, 300), 0);
	authz_status_is(f->st, "az-1", 400, "valid");
	order_status_is(f->st, "o-1", 400, "ready");
}

/* Deactivating an authorization invalidates the orders that use it. */
static void
test_authz_deactivate(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");

	order_one(f->st, "o-1", acc, "az-1", "a.example", 100000);
	assert_int_equal(store_authz_deactivate(f->st, "az-1"), 0);
	authz_status_is(f->st, "az-1", 200, "deactivated");
	order_status_is(f->st, "o-1", 200, "invalid");
	assert_int_equal(store_authz_deactivate(f->st, "az-1"), 1);
	assert_int_equal(store_authz_deactivate(f->st, "az-none"), 1);
}

/* Reading an authorization past its expiry makes it expired. */
static void
test_authz_get_expires(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");

	order_one(f->st, "o-1", acc, "az-1", "a.example", 1000);
	authz_status_is(f->st, "az-1", 999, "pending");
	authz_status_is(f->st, "az-1", 1000, "expired");
	authz_status_is(f->st, "az-1", 10, "expired");
}

/* --- sweep --- */

static void
test_sweep(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	const int64_t week = 604800;
	struct store_order o;
	struct store_authz a;
	int earlier;

	/* expires at 1000: swept to expired / invalid at 1000, gone a week on */
	order_one(f->st, "o-old", acc, "az-old", "old.example", 1000);
	/* expires later */
	order_one(f->st, "o-new", acc, "az-new", "new.example", 10 * week);
	/* processing since 500: recovered once 300 s have gone by */
	order_ready(f->st, "o-proc", acc, "proc.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-proc", 500, 1, &earlier), 0);

	/* authorization az-old and order o-old */
	assert_int_equal(store_acme_sweep(f->st, 1000), 2);
	/* processing since 500, before 1000 - 300: back to ready */
	order_status_is(f->st, "o-proc", 1000, "ready");

	/* the sweep wrote it: read at an earlier time, it is still expired */
	assert_int_equal(store_order_get(f->st, "o-old", 10, &o), 0);
	assert_string_equal(o.status, "invalid");
	store_order_free(&o);
	authz_status_is(f->st, "az-old", 10, "expired");

	/* a week after expiry: the invalid order and its orphaned
	 * authorization (with its challenges) are deleted */
	assert_int_equal(store_acme_sweep(f->st, 1000 + week), 0);
	assert_int_equal(store_acme_sweep(f->st, 1001 + week), 2);
	assert_int_equal(store_order_get(f->st, "o-old", 1001 + week, &o), 1);
	assert_int_equal(store_authz_get(f->st, "az-old", 1001 + week, &a), 1);
	order_status_is(f->st, "o-new", 1001 + week, "pending");
	authz_status_is(f->st, "az-new", 1001 + week, "pending");
}

/* Processing orders are recovered by the sweep only after the grace. */
static void
test_sweep_recovers_after_grace(void **state)
{
	struct store_fixture *f = *state;
	int64_t acc = account_ok(f->st, "kid-a", "tp-a");
	int earlier;

	order_ready(f->st, "o-proc", acc, "proc.example");
	assert_int_equal(store_order_begin_finalize(f->st, "o-proc", 500, 1, &earlier), 0);
	assert_true(store_acme_sweep(f->st, 800) >= 0);
	order_status_is(f->st, "o-proc", 800, "processing");
	assert_true(store_acme_sweep(f->st, 801) >= 0);
	order_status_is(f->st, "o-proc", 801, "ready");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fixture_setup, store_fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_account_create_and_lookup),
		T(test_account_same_key_twice),
		T(test_account_set_contact),
		T(test_account_deactivate),
		T(test_account_set_key),
		T(test_account_with_eab_used_once),
		T(test_account_orders_and_counts),
		T(test_order_create_new_authz),
		T(test_order_create_reused_authz),
		T(test_order_create_is_one_transaction),
		T(test_order_get_expires),
		T(test_finalize_two_handles),
		T(test_finalize_needs_ready_unexpired),
		T(test_finalize_race_between_processes),
		T(test_finalize_abort_counts_attempts),
		T(test_finalize_fail),
		T(test_complete_records_order_and_cert_together),
		T(test_release_by_pid),
		T(test_recover_by_time),
		T(test_challenge_start),
		T(test_challenge_claim_lease),
		T(test_challenge_claim_fair),
		T(test_challenge_finish_carries_outcome),
		T(test_challenge_fail_after_valid),
		T(test_authz_deactivate),
		T(test_authz_get_expires),
		T(test_sweep),
		T(test_sweep_recovers_after_grace),
	};

	log_init("test_store_acme", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
