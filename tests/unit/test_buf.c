/*
 * Unit tests for common/buf.c: appends up to the ceiling and not one byte
 * past it (also for sizes that would overflow), the sticky failure, the
 * NUL terminator, reset, and handing the data over.
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

#include "buf.h"

static void
test_init_empty(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	assert_false(b.failed);
	buf_free(&b);
}

/* Growth past the first allocation keeps what was there. */
static void
test_add_grows_and_terminates(void **state)
{
	struct buf b;
	char expect[3000];

	(void)state;
	buf_init(&b, sizeof(expect));
	for (int i = 0; i < 300; i++) {
		char chunk[10];

		memset(chunk, 'a' + i % 26, sizeof(chunk));
		memcpy(expect + i * 10, chunk, sizeof(chunk));
		assert_true(buf_add(&b, chunk, sizeof(chunk)));
		assert_int_equal(b.data[b.len], '\0');
	}
	assert_int_equal(b.len, 3000);
	assert_memory_equal(b.data, expect, 3000);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 3000);
}

/* Exactly max fits; one byte more fails and changes nothing. */
static void
test_ceiling(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_true(buf_adds(&b, "1234"));
	assert_true(buf_adds(&b, "5678"));
	assert_int_equal(b.len, 8);
	assert_false(buf_adds(&b, "9"));
	assert_true(b.failed);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	buf_free(&b);

	buf_init(&b, 8);
	assert_false(buf_add(&b, "123456789", 9));
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* A size near SIZE_MAX must fail, not wrap around into a small one. */
static void
test_huge_sizes_fail(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, SIZE_MAX);
	assert_true(buf_adds(&b, "x"));
	assert_false(buf_add(&b, "y", SIZE_MAX));
	assert_false(buf_add(&b, "y", SIZE_MAX - 1));
	assert_int_equal(b.len, 1);
	buf_free(&b);

	buf_init(&b, 16);
	assert_true(buf_adds(&b, "abc"));
	assert_false(buf_add(&b, "y", SIZE_MAX - 1));
	assert_int_equal(b.len, 3);
	buf_free(&b);
}

/* After the first failure nothing more is appended, even what would fit:
 * the caller checks once, at the end. */
static void
test_failure_sticky_until_reset(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_true(buf_adds(&b, "abc"));
	assert_false(buf_adds(&b, "0123456789"));
	assert_false(buf_adds(&b, "d"));
	assert_false(buf_printf(&b, "%d", 1));
	assert_string_equal(b.data, "abc");

	buf_reset(&b);
	assert_false(b.failed);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_true(buf_adds(&b, "ok"));
	assert_string_equal(b.data, "ok");
	buf_free(&b);
}

static void
test_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 20);
	assert_true(buf_printf(&b, "%s=%d", "n", 42));
	assert_true(buf_printf(&b, ";%05x", 0xabc));
	assert_string_equal(b.data, "n=42;00abc");
	assert_int_equal(b.len, 10);
	/* 11 more would make 21 */
	assert_false(buf_printf(&b, "%011d", 1));
	assert_string_equal(b.data, "n=42;00abc");
	buf_free(&b);

	buf_init(&b, 20);
	assert_true(buf_printf(&b, "%020d", 7));
	assert_int_equal(b.len, 20);
	buf_free(&b);
}

/* A format vsnprintf cannot render (a wide character the C locale has no
 * byte for) is a failed append like any other: sticky. */
static void
test_printf_encoding_error_is_sticky(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_true(buf_adds(&b, "abc"));
	assert_false(buf_printf(&b, "%ls", L"\u00e9"));
	assert_true(b.failed);
	assert_false(buf_adds(&b, "d"));
	assert_string_equal(b.data, "abc");
	buf_free(&b);
}

static void
test_steal(void **state)
{
	struct buf b;
	size_t len = 99;
	char *p;

	(void)state;
	buf_init(&b, 100);
	/* nothing added: an empty string, not NULL */
	p = buf_steal(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);

	assert_true(buf_adds(&b, "hello"));
	p = buf_steal(&b, &len);
	assert_string_equal(p, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* the buffer is usable again, and the stolen data is the caller's */
	assert_true(buf_adds(&b, "again"));
	assert_string_equal(b.data, "again");
	assert_string_equal(p, "hello");
	free(p);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_add_grows_and_terminates),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_huge_sizes_fail),
		cmocka_unit_test(test_failure_sticky_until_reset),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_printf_encoding_error_is_sticky),
		cmocka_unit_test(test_steal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
