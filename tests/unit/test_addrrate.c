/*
 * Unit tests for common/addrrate.c: the limit per address and hour, the
 * Retry-After to the end of the hour, a new hour starting afresh, an IPv6
 * /64 counted as one client, and text that is no address never limited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "addrrate.h"

#define HOUR(n) ((time_t)(1800000000 / 3600 + (n)) * 3600)

static int
setup(void **state)
{
	(void)state;
	return addrrate_init();
}

static void
test_limit_per_hour(void **state)
{
	int retry = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(addrrate_take("192.0.2.1", 3, HOUR(0) + 10, &retry));
	assert_false(addrrate_take("192.0.2.1", 3, HOUR(0) + 600, &retry));
	assert_int_equal(retry, 3000);
	/* Refusals count nothing; another address has its own count. */
	assert_false(addrrate_take("192.0.2.1", 3, HOUR(0) + 3599, &retry));
	assert_int_equal(retry, 1);
	assert_true(addrrate_take("192.0.2.2", 3, HOUR(0) + 600, &retry));
	/* The next hour starts afresh. */
	assert_true(addrrate_take("192.0.2.1", 3, HOUR(1), &retry));
}

static void
test_ipv6_by_64(void **state)
{
	int retry = 0;

	(void)state;
	assert_true(addrrate_take("2001:db8:1:2::1", 2, HOUR(5), &retry));
	assert_true(addrrate_take("2001:db8:1:2:ffff::9", 2, HOUR(5), &retry));
	assert_false(addrrate_take("2001:db8:1:2::abcd", 2, HOUR(5), &retry));
	assert_true(addrrate_take("2001:db8:1:3::1", 2, HOUR(5), &retry));
}

static void
test_not_an_address(void **state)
{
	int retry = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_true(addrrate_take("unix:", 1, HOUR(7), &retry));
}

/* More addresses than slots in their probes: none is ever let past its
 * limit for sharing a slot. */
static void
test_many_addresses(void **state)
{
	char addr[32];
	int retry = 0, refused = 0;

	(void)state;
	for (int i = 0; i < 3 * ADDRRATE_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16 & 0xff, i >> 8 & 0xff,
		    i & 0xff);
		refused += !addrrate_take(addr, 1, HOUR(9), &retry);
	}
	assert_true(refused >= 2 * ADDRRATE_SLOTS);
	snprintf(addr, sizeof(addr), "10.0.0.1");
	assert_false(addrrate_take(addr, 1, HOUR(9), &retry));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_per_hour),
		cmocka_unit_test(test_ipv6_by_64),
		cmocka_unit_test(test_not_an_address),
		cmocka_unit_test(test_many_addresses),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
