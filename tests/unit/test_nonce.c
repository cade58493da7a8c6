/*
 * Unit tests for common/nonce.c: nonces are unforgeable, expire, and are
 * accepted exactly once across every process forked after nonce_init(),
 * even when several processes race to use the same one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nonce.h"

#define NOW ((time_t)1800000000)

static char *
fresh(time_t now)
{
	static char n[NONCE_LEN + 1];

	assert_int_equal(nonce_make(n, now), 0);
	assert_int_equal(strlen(n), NONCE_LEN);
	return n;
}

/* Runs first, in a process where nonce_init() has not been called. */
static void
test_refuses_before_init(void **state)
{
	char n[NONCE_LEN + 1];

	(void)state;
	assert_int_equal(nonce_make(n, NOW), -1);
	assert_int_equal(nonce_use("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NOW),
	    NONCE_UNKNOWN);
	assert_int_equal(nonce_init(), 0);
}

static void
test_used_once(void **state)
{
	char a[NONCE_LEN + 1], b[NONCE_LEN + 1];

	(void)state;
	strcpy(a, fresh(NOW));
	strcpy(b, fresh(NOW));
	assert_string_not_equal(a, b);
	assert_int_equal(nonce_use(a, NOW), NONCE_OK);
	assert_int_equal(nonce_use(a, NOW), NONCE_USED);
	assert_int_equal(nonce_use(a, NOW + 1), NONCE_USED);
	/* using one does not use another */
	assert_int_equal(nonce_use(b, NOW), NONCE_OK);
	assert_int_equal(nonce_use(b, NOW), NONCE_USED);
}

static void
test_forged_refused(void **state)
{
	char n[NONCE_LEN + 1];

	(void)state;
	for (size_t i = 0; i < NONCE_LEN; i++) {
		strcpy(n, fresh(NOW));
		n[i] = n[i] == 'A' ? 'B' : 'A';
		/* a flip in the last character may only touch its 2 unused
		 * bits, which the strict base64url decoder refuses */
		assert_int_equal(nonce_use(n, NOW), NONCE_UNKNOWN);
	}
	assert_int_equal(nonce_use("", NOW), NONCE_UNKNOWN);
	assert_int_equal(nonce_use("not a nonce", NOW), NONCE_UNKNOWN);
	strcpy(n, fresh(NOW));
	n[NONCE_LEN - 1] = '\0';
	assert_int_equal(nonce_use(n, NOW), NONCE_UNKNOWN);
	assert_int_equal(nonce_use("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NOW),
	    NONCE_UNKNOWN);
}

static void
test_lifetime(void **state)
{
	char n[NONCE_LEN + 1];

	(void)state;
	strcpy(n, fresh(NOW - NONCE_LIFETIME - 1));
	assert_int_equal(nonce_use(n, NOW), NONCE_EXPIRED);
	strcpy(n, fresh(NOW - NONCE_LIFETIME));
	assert_int_equal(nonce_use(n, NOW), NONCE_OK);
	/* made by a clock far ahead: refused; a little ahead: a clock step */
	strcpy(n, fresh(NOW + 61));
	assert_int_equal(nonce_use(n, NOW), NONCE_EXPIRED);
	strcpy(n, fresh(NOW + 60));
	assert_int_equal(nonce_use(n, NOW), NONCE_OK);
}

/* A nonce stays usable while fewer than NONCE_WINDOW newer ones were
 * handed out, and not after: that bounds the memory for used ones. */
static void
test_window(void **state)
{
	char oldest[NONCE_LEN + 1], kept[NONCE_LEN + 1], n[NONCE_LEN + 1];

	(void)state;
	strcpy(oldest, fresh(NOW));
	strcpy(kept, fresh(NOW));
	for (unsigned i = 0; i < NONCE_WINDOW - 2; i++)
		assert_int_equal(nonce_make(n, NOW), 0);
	/* kept is the oldest of the last NONCE_WINDOW */
	assert_int_equal(nonce_use(oldest, NOW), NONCE_EXPIRED);
	assert_int_equal(nonce_use(kept, NOW), NONCE_OK);
	assert_int_equal(nonce_use(n, NOW), NONCE_OK);
	assert_int_equal(nonce_make(n, NOW), 0);
	assert_int_equal(nonce_use(kept, NOW), NONCE_EXPIRED);
	/* the recycled slot starts clean for its new nonce */
	assert_int_equal(nonce_use(n, NOW), NONCE_OK);
	assert_int_equal(nonce_use(n, NOW), NONCE_USED);
}

static int
child_status(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Workers are forked after nonce_init(): each accepts the others' nonces,
 * and a nonce one has used is used for all. */
static void
test_shared_by_forked_processes(void **state)
{
	char mine[NONCE_LEN + 1], theirs[NONCE_LEN + 1];
	int fds[2];
	pid_t pid;

	(void)state;
	strcpy(mine, fresh(NOW));
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		char n[NONCE_LEN + 1];

		close(fds[0]);
		if (nonce_use(mine, NOW) != NONCE_OK || nonce_make(n, NOW) != 0 ||
		    write(fds[1], n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], theirs, sizeof(theirs)), (ssize_t)sizeof(theirs));
	close(fds[0]);
	assert_int_equal(child_status(pid), 0);
	assert_int_equal(nonce_use(mine, NOW), NONCE_USED);
	assert_int_equal(nonce_use(theirs, NOW), NONCE_OK);
	assert_int_equal(nonce_use(theirs, NOW), NONCE_USED);
}

#define RACE_PROCS 4
#define RACE_NONCES 3000

/* Processes racing over the same nonces: each is accepted exactly once. */
static void
test_race_accepts_each_once(void **state)
{
	static char nonces[RACE_NONCES][NONCE_LEN + 1];
	pid_t pids[RACE_PROCS];
	int fds[2], total = 0;

	(void)state;
	for (int i = 0; i < RACE_NONCES; i++)
		assert_int_equal(nonce_make(nonces[i], NOW), 0);
	assert_int_equal(pipe(fds), 0);
	for (int p = 0; p < RACE_PROCS; p++) {
		if ((pids[p] = fork()) == 0) {
			int ok = 0;

			close(fds[0]);
			for (int i = 0; i < RACE_NONCES; i++)
				ok += nonce_use(nonces[(i + p * 997) % RACE_NONCES], NOW) ==
				    NONCE_OK;
			_exit(write(fds[1], &ok, sizeof(ok)) == (ssize_t)sizeof(ok) ? 0 : 1);
		}
		assert_true(pids[p] > 0);
	}
	close(fds[1]);
	for (int p = 0; p < RACE_PROCS; p++) {
		int ok = 0;

		assert_int_equal(read(fds[0], &ok, sizeof(ok)), (ssize_t)sizeof(ok));
		total += ok;
	}
	close(fds[0]);
	for (int p = 0; p < RACE_PROCS; p++)
		assert_int_equal(child_status(pids[p]), 0);
	assert_int_equal(total, RACE_NONCES);
	for (int i = 0; i < RACE_NONCES; i++)
		assert_int_equal(nonce_use(nonces[i], NOW), NONCE_USED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_before_init),
		cmocka_unit_test(test_used_once),
		cmocka_unit_test(test_forged_refused),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_shared_by_forked_processes),
		cmocka_unit_test(test_race_accepts_each_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
