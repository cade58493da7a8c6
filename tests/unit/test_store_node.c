/*
 * Unit tests for common/store_node.c: nodes registered for enrolment, and
 * their one-time token: used once (also when processes race with it), not
 * after it expires, and put back when the CA failed to sign.
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
#include "store_node.h"
#include "store_fixture.h"
#include "testutil.h"

#define HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HASH2 "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

/* A node cn with token hash HASH, good until 2000. */
static void
node_ok(struct store *st, const char *cn)
{
	struct store_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.cn, sizeof(n.cn), "%s", cn);
	snprintf(n.profile, sizeof(n.profile), "server");
	n.sans = "[\"alt.example\"]";
	snprintf(n.token_hash, sizeof(n.token_hash), "%s", HASH);
	n.token_expires = 2000;
	snprintf(n.created_by, sizeof(n.created_by), "/CN=admin");
	n.created_at = 100;
	assert_int_equal(store_node_create(st, &n), 0);
}

/* --- tests --- */

static void
test_create_get_delete(void **state)
{
	struct store_fixture *f = *state;
	struct store_node n;

	assert_int_equal(store_node_get(f->st, "a.example", &n), 1);
	node_ok(f->st, "a.example");
	assert_int_equal(store_node_get(f->st, "a.example", &n), 0);
	assert_string_equal(n.cn, "a.example");
	assert_string_equal(n.profile, "server");
	assert_string_equal(n.sans, "[\"alt.example\"]");
	assert_string_equal(n.token_hash, HASH);
	assert_int_equal(n.token_expires, 2000);
	assert_int_equal(n.enrolled_at, 0);
	assert_string_equal(n.created_by, "/CN=admin");
	assert_int_equal(n.created_at, 100);
	store_node_free(&n);
	assert_null(n.sans);

	assert_int_equal(store_node_delete(f->st, "a.example"), 0);
	assert_int_equal(store_node_get(f->st, "a.example", &n), 1);
	assert_int_equal(store_node_delete(f->st, "a.example"), 1);
}

static void
test_create_twice(void **state)
{
	struct store_fixture *f = *state;
	struct store_node n;

	node_ok(f->st, "a.example");
	memset(&n, 0, sizeof(n));
	snprintf(n.cn, sizeof(n.cn), "a.example");
	snprintf(n.profile, sizeof(n.profile), "client");
	n.sans = "[]";
	snprintf(n.created_by, sizeof(n.created_by), "/CN=other");
	assert_int_equal(store_node_create(f->st, &n), 1);
	assert_int_equal(store_node_get(f->st, "a.example", &n), 0);
	assert_string_equal(n.profile, "server");
	store_node_free(&n);
}

struct names {
	int n;
	char cn[8][256];
};

static void
names_add(const struct store_node *n, void *arg)
{
	struct names *s = arg;

	if (s->n < 8)
		snprintf(s->cn[s->n], sizeof(s->cn[0]), "%s", n->cn);
	s->n++;
}

static void
test_each_in_cn_order(void **state)
{
	struct store_fixture *f = *state;
	struct names s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_node_each(f->st, names_add, &s), 0);
	assert_int_equal(s.n, 0);
	node_ok(f->st, "c.example");
	node_ok(f->st, "a.example");
	node_ok(f->st, "b.example");
	assert_int_equal(store_node_each(f->st, names_add, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.cn[0], "a.example");
	assert_string_equal(s.cn[1], "b.example");
	assert_string_equal(s.cn[2], "c.example");
}

static void
test_token_used_once(void **state)
{
	struct store_fixture *f = *state;
	struct store_node n;

	node_ok(f->st, "a.example");
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH2, 1000), 1);
	assert_int_equal(store_node_use_token(f->st, "b.example", HASH, 1000), 1);
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 1000), 0);
	assert_int_equal(store_node_get(f->st, "a.example", &n), 0);
	assert_string_equal(n.token_hash, "");
	assert_int_equal(n.enrolled_at, 1000);
	store_node_free(&n);
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 1001), 1);
}

/* token_expires is the first second the token no longer works. */
static void
test_token_expires(void **state)
{
	struct store_fixture *f = *state;

	node_ok(f->st, "a.example");
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 2000), 1);
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 1999), 0);
}

/* A token put back works again; restoring a token that was not used
 * changes nothing. */
static void
test_token_restore(void **state)
{
	struct store_fixture *f = *state;
	struct store_node n;

	node_ok(f->st, "a.example");
	assert_int_equal(store_node_restore_token(f->st, "a.example", HASH2), 0);
	assert_int_equal(store_node_get(f->st, "a.example", &n), 0);
	assert_string_equal(n.token_hash, HASH);
	store_node_free(&n);

	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 1000), 0);
	assert_int_equal(store_node_restore_token(f->st, "a.example", HASH), 0);
	assert_int_equal(store_node_get(f->st, "a.example", &n), 0);
	assert_string_equal(n.token_hash, HASH);
	assert_int_equal(n.enrolled_at, 0);
	store_node_free(&n);
	assert_int_equal(store_node_use_token(f->st, "a.example", HASH, 1100), 0);
}

/* Processes racing with one token, each through its own connection:
 * exactly one enrols. */
static void
test_token_race_between_processes(void **state)
{
	enum { ROUNDS = 6, NPROC = 4 };
	struct store_fixture *f = *state;

	for (int r = 0; r < ROUNDS; r++) {
		char cn[32];
		pid_t pids[NPROC];
		int go[2], winners = 0, losers = 0;

		snprintf(cn, sizeof(cn), "r%d.example", r);
		node_ok(f->st, cn);
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
				rc = store_node_use_token(st, cn, HASH, 1000);
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
			winners += WEXITSTATUS(status) == 0;
			losers += WEXITSTATUS(status) == 1;
		}
		assert_int_equal(winners, 1);
		assert_int_equal(losers, NPROC - 1);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fixture_setup, store_fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_get_delete),
		T(test_create_twice),
		T(test_each_in_cn_order),
		T(test_token_used_once),
		T(test_token_expires),
		T(test_token_restore),
		T(test_token_race_between_processes),
	};

	log_init("test_store_node", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
