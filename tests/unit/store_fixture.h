/*
 * The fixture of the store modules' unit tests: a store of its own in a
 * temporary directory for each test, closed and removed after it.  Used as
 * cmocka_unit_test_setup_teardown(fn, store_fixture_setup,
 * store_fixture_teardown); the test's state is a struct store_fixture.
 */
#ifndef UPKI_TEST_STORE_FIXTURE_H
#define UPKI_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store.h"
#include "testutil.h"

struct store_fixture {
	char dir[TU_PATH];
	char db[TU_PATH];
	struct store *st;
};

static inline int
store_fixture_setup(void **state)
{
	struct store_fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL || tu_mkdtemp(f->dir, sizeof(f->dir)) != 0) {
		free(f);
		return -1;
	}
	tu_join(f->db, sizeof(f->db), f->dir, "ra.db");
	if (store_open(f->db, &f->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		tu_rmtree(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int
store_fixture_teardown(void **state)
{
	struct store_fixture *f = *state;

	if (f != NULL) {
		store_close(f->st);
		tu_rmtree(f->dir);
		free(f);
	}
	return 0;
}

#endif
