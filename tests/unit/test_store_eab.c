/*
 * Unit tests for common/store_eab.c: external account binding keys, each
 * bound to one account at most, also when processes race to use one.
 * (Binding as part of creating an account: test_store_acme.c.)
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
#include "store_eab.h"
#include "store_fixture.h"
#include "testutil.h"

static void
eab_ok(struct store *st, const char *kid, int64_t created_at)
{
	struct store_eab e;

	memset(&e, 0, sizeof(e));
	snprintf(e.kid, sizeof(e.kid), "%s", kid);
	snprintf(e.hmac_key, sizeof(e.hmac_key), "a2V5LW9mLSVz");
	snprintf(e.created_by, sizeof(e.created_by), "/CN=admin");
	e.created_at = created_at;
	assert_int_equal(store_eab_create(st, &e), 0);
}

/* The key is bound to an account, which must exist. */
static int64_t
account_ok(struct store *st, const char *kid)
{
	struct store_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.kid, sizeof(a.kid), "%s", kid);
	snprintf(a.thumbprint, sizeof(a.thumbprint), "tp-%s", kid);
	a.jwk = "{}";
	a.contact = "[]";
	a.created_at = 10;
	assert_int_equal(store_account_create(st, &a, NULL), 0);
	return a.id;
}

/* --- tests --- */

static void
test_create_and_get(void **state)
{
	struct store_fixture *f = *state;
	struct store_eab e;

	assert_int_equal(store_eab_get(f->st, "k1", &e), 1);
	eab_ok(f->st, "k1", 50);
	assert_int_equal(store_eab_get(f->st, "k1", &e), 0);
	assert_string_equal(e.kid, "k1");
	assert_string_equal(e.hmac_key, "a2V5LW9mLSVz");
	assert_string_equal(e.created_by, "/CN=admin");
	assert_int_equal(e.created_at, 50);
	assert_int_equal(e.account_id, 0);
}

static void
test_create_twice_refused(void **state)
{
	struct store_fixture *f = *state;
	struct store_eab e;

	eab_ok(f->st, "k1", 50);
	memset(&e, 0, sizeof(e));
	snprintf(e.kid, sizeof(e.kid), "k1");
	snprintf(e.hmac_key, sizeof(e.hmac_key), "b3RoZXI");
	snprintf(e.created_by, sizeof(e.created_by), "/CN=other");
	assert_int_equal(store_eab_create(f->st, &e), -1);
	assert_int_equal(store_eab_get(f->st, "k1", &e), 0);
	assert_string_equal(e.hmac_key, "a2V5LW9mLSVz");
}

static void
test_used_once(void **state)
{
	struct store_fixture *f = *state;
	int64_t a = account_ok(f->st, "a"), b = account_ok(f->st, "b");
	struct store_eab e;

	eab_ok(f->st, "k1", 50);
	assert_int_equal(store_eab_use(f->st, "k1", a, 100), 0);
	assert_int_equal(store_eab_use(f->st, "k1", b, 101), 1);
	assert_int_equal(store_eab_use(f->st, "k1", a, 102), 1);
	assert_int_equal(store_eab_get(f->st, "k1", &e), 0);
	assert_int_equal(e.account_id, a);
	assert_int_equal(store_eab_use(f->st, "unknown", a, 100), 1);
}

struct kids {
	int n;
	char kid[8][64];
	int64_t account[8];
};

static void
kids_add(const struct store_eab *e, void *arg)
{
	struct kids *k = arg;

	if (k->n < 8) {
		snprintf(k->kid[k->n], sizeof(k->kid[0]), "%s", e->kid);
		k->account[k->n] = e->account_id;
	}
	k->n++;
}

static void
test_each_oldest_first(void **state)
{
	struct store_fixture *f = *state;
	int64_t a = account_ok(f->st, "a");
	struct kids k;

	memset(&k, 0, sizeof(k));
	assert_int_equal(store_eab_each(f->st, kids_add, &k), 0);
	assert_int_equal(k.n, 0);
	eab_ok(f->st, "k-late", 300);
	eab_ok(f->st, "k-early", 100);
	eab_ok(f->st, "k-mid", 200);
	assert_int_equal(store_eab_use(f->st, "k-mid", a, 400), 0);
	assert_int_equal(store_eab_each(f->st, kids_add, &k), 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.kid[0], "k-early");
	assert_string_equal(k.kid[1], "k-mid");
	assert_string_equal(k.kid[2], "k-late");
	assert_int_equal(k.account[0], 0);
	assert_int_equal(k.account[1], a);
}

/* Processes racing to bind one key to their own accounts, each through
 * its own connection: exactly one binds it. */
static void
test_use_race_between_processes(void **state)
{
	enum { NPROC = 4 };
	struct store_fixture *f = *state;
	int64_t accounts[NPROC];
	struct store_eab e;
	pid_t pids[NPROC];
	int go[2], winners = 0, losers = 0, winner = -1;

	for (int i = 0; i < NPROC; i++) {
		char kid[16];

		snprintf(kid, sizeof(kid), "acc%d", i);
		accounts[i] = account_ok(f->st, kid);
	}
	eab_ok(f->st, "k1", 50);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (int i = 0; i < NPROC; i++) {
		assert_true((pids[i] = fork()) >= 0);
		if (pids[i] == 0) {
			struct store *st = NULL;
			char err[256], c;
			int rc;

			close(go[1]);
			if (store_open(f->db, &st, err, sizeof(err)) != 0)
				_exit(3);
			while (read(go[0], &c, 1) > 0)
				;
			rc = store_eab_use(st, "k1", accounts[i], 100);
			store_close(st);
			_exit(rc == 0 ? 0 : rc == 1 ? 1 : 2);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < NPROC; i++) {
		int status = -1;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 0) {
			winners++;
			winner = i;
		}
		losers += WEXITSTATUS(status) == 1;
	}
	assert_int_equal(winners, 1);
	assert_int_equal(losers, NPROC - 1);
	/* bound to the winner's account */
	assert_int_equal(store_eab_get(f->st, "k1", &e), 0);
	assert_int_equal(e.account_id, accounts[winner]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fixture_setup, store_fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_and_get),
		T(test_create_twice_refused),
		T(test_used_once),
		T(test_each_oldest_first),
		T(test_use_race_between_processes),
	};

	log_init("test_store_eab", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
