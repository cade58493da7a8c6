/*
 * Unit tests for common/store_claim.c: one claim per CN, the superseded
 * serial recorded only by the claim's holder, a drop that removes only the
 * claim it names, and which claims are orphaned (too old, or their process
 * gone) and handed to the recovery callback.
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
#include "store_claim.h"
#include "store_fixture.h"
#include "testutil.h"

/* The pid of a process that ran and is gone (reaped, so not even a
 * zombie).  The kernel hands pids out in order, so it is not reused
 * within a test. */
static int64_t
dead_pid(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

/* --- tests --- */

static void
test_one_claim_per_cn(void **state)
{
	struct store_fixture *f = *state;
	struct store_claim c;
	int64_t me = getpid();

	assert_int_equal(store_claim_get(f->st, "a.example", &c), 1);
	assert_int_equal(store_claim_take(f->st, "a.example", "account:1", me, 1000), 0);
	/* a second claim on the CN loses, whoever asks */
	assert_int_equal(store_claim_take(f->st, "a.example", "account:2", me + 1, 1001), 1);
	assert_int_equal(store_claim_take(f->st, "a.example", "account:1", me, 1002), 1);
	/* another CN is free */
	assert_int_equal(store_claim_take(f->st, "b.example", "account:2", me, 1003), 0);

	assert_int_equal(store_claim_get(f->st, "a.example", &c), 0);
	assert_string_equal(c.cn, "a.example");
	assert_string_equal(c.owner, "account:1");
	assert_string_equal(c.superseded, "");
	assert_int_equal(c.pid, me);
	assert_int_equal(c.since, 1000);
}

static void
test_supersede_only_by_the_holder(void **state)
{
	struct store_fixture *f = *state;
	struct store_claim c;
	int64_t me = getpid();

	assert_int_equal(store_claim_take(f->st, "a.example", "node:a.example", me, 1000), 0);
	assert_int_equal(store_claim_supersede(f->st, "a.example", me + 1, "0BAD"), 1);
	assert_int_equal(store_claim_get(f->st, "a.example", &c), 0);
	assert_string_equal(c.superseded, "");

	assert_int_equal(store_claim_supersede(f->st, "a.example", me, "0A0B"), 0);
	assert_int_equal(store_claim_get(f->st, "a.example", &c), 0);
	assert_string_equal(c.superseded, "0A0B");
	/* no claim on the CN at all */
	assert_int_equal(store_claim_supersede(f->st, "b.example", me, "0C"), 1);
}

/* A drop names the claim by pid and time: a claim taken again since (its
 * holder's was recovered and someone else took the CN) stays. */
static void
test_drop_only_the_named_claim(void **state)
{
	struct store_fixture *f = *state;
	struct store_claim c;
	int64_t me = getpid();

	assert_int_equal(store_claim_take(f->st, "a.example", "account:1", me, 1000), 0);
	assert_int_equal(store_claim_drop(f->st, "a.example", me, 999), 0);
	assert_int_equal(store_claim_drop(f->st, "a.example", me + 1, 1000), 0);
	assert_int_equal(store_claim_get(f->st, "a.example", &c), 0);
	assert_int_equal(c.since, 1000);

	assert_int_equal(store_claim_drop(f->st, "a.example", me, 1000), 0);
	assert_int_equal(store_claim_get(f->st, "a.example", &c), 1);

	/* the old holder's late drop leaves the newer claim */
	assert_int_equal(store_claim_take(f->st, "a.example", "account:2", me, 2000), 0);
	assert_int_equal(store_claim_drop(f->st, "a.example", me, 1000), 0);
	assert_int_equal(store_claim_get(f->st, "a.example", &c), 0);
	assert_string_equal(c.owner, "account:2");
	assert_int_equal(c.since, 2000);
}

static void
test_orphaned(void **state)
{
	struct store_claim c;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* a running process, within the lease: not orphaned */
	c.pid = getpid();
	c.since = 1000;
	assert_false(store_claim_orphaned(&c, 1000));
	assert_false(store_claim_orphaned(&c, 500));
	/* older than `before`: orphaned though the process runs */
	assert_true(store_claim_orphaned(&c, 1001));
	/* a process that no longer runs: orphaned at once */
	c.pid = dead_pid();
	assert_true(store_claim_orphaned(&c, 500));
	/* no pid a process can have */
	c.pid = 0;
	assert_true(store_claim_orphaned(&c, 500));
	c.pid = -1;
	assert_true(store_claim_orphaned(&c, 500));
}

struct seen {
	int n;
	char cns[16][256];
};

static void
seen_add(const struct store_claim *c, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16)
		snprintf(s->cns[s->n], sizeof(s->cns[0]), "%s", c->cn);
	s->n++;
}

static bool
seen_has(const struct seen *s, const char *cn)
{
	for (int i = 0; i < s->n && i < 16; i++)
		if (strcmp(s->cns[i], cn) == 0)
			return true;
	return false;
}

static void
test_orphans_calls_fn_for_orphans_only(void **state)
{
	struct store_fixture *f = *state;
	int64_t me = getpid(), gone = dead_pid();
	struct seen s;

	assert_int_equal(store_claim_take(f->st, "live.example", "account:1", me, 5000), 0);
	assert_int_equal(store_claim_take(f->st, "old.example", "account:1", me, 100), 0);
	assert_int_equal(store_claim_take(f->st, "dead.example", "account:1", gone, 5000), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_claim_orphans(f->st, 1000, 10, seen_add, &s), 2);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, "old.example"));
	assert_true(seen_has(&s, "dead.example"));
	assert_false(seen_has(&s, "live.example"));

	/* no orphans: fn is not called */
	assert_int_equal(store_claim_drop(f->st, "old.example", me, 100), 0);
	assert_int_equal(store_claim_drop(f->st, "dead.example", gone, 5000), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_claim_orphans(f->st, 1000, 10, seen_add, &s), 0);
	assert_int_equal(s.n, 0);
}

/* At most max, oldest first, even when more are orphaned and max is larger
 * than what one call collects. */
static void
test_orphans_at_most_max(void **state)
{
	struct store_fixture *f = *state;
	int64_t me = getpid();
	char cn[32];
	struct seen s;

	for (int i = 0; i < 20; i++) {
		snprintf(cn, sizeof(cn), "h%02d.example", i);
		assert_int_equal(store_claim_take(f->st, cn, "account:1", me, 100 + i), 0);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_claim_orphans(f->st, 1000, 3, seen_add, &s), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.cns[0], "h00.example");
	assert_string_equal(s.cns[2], "h02.example");

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_claim_orphans(f->st, 1000, 0, seen_add, &s), 0);
	assert_int_equal(s.n, 0);

	/* a max beyond what one call gathers is bounded, never overrun */
	memset(&s, 0, sizeof(s));
	assert_in_range(store_claim_orphans(f->st, 1000, 1000, seen_add, &s), 1, 20);
	assert_in_range(s.n, 1, 20);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fixture_setup, store_fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_one_claim_per_cn),
		T(test_supersede_only_by_the_holder),
		T(test_drop_only_the_named_claim),
		cmocka_unit_test(test_orphaned),
		T(test_orphans_calls_fn_for_orphans_only),
		T(test_orphans_at_most_max),
	};

	log_init("test_store_claim", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
