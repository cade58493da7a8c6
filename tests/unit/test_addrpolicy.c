/*
 * Unit tests for common/addrpolicy.c: the ranges refused by default, RFC
 * 1918 and ULA allowed, IPv4 carried in IPv6 judged as IPv4, the allow
 * list's CIDR edges, and the list's parse errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "addrpolicy.h"

static void
expect_refused(const struct addrpolicy *p, const char *ip, const char *range)
{
	const char *got = addrpolicy_refuses_text(p, ip);

	if (got == NULL || (range != NULL && strcmp(got, range) != 0))
		fail_msg("%s: refused as %s, not %s", ip, got ? got : "(allowed)",
		    range ? range : "(any)");
}

static void
expect_allowed(const struct addrpolicy *p, const char *ip)
{
	const char *got = addrpolicy_refuses_text(p, ip);

	if (got != NULL)
		fail_msg("%s: refused as %s", ip, got);
}

static void
test_defaults(void **state)
{
	static const char *const refused[][2] = {
		{ "0.0.0.0", NULL }, { "127.0.0.1", "loopback" },
		{ "127.255.255.254", "loopback" }, { "169.254.169.254", "link-local" },
		{ "100.64.0.1", NULL }, { "192.0.0.170", NULL },
		{ "192.0.2.1", "documentation" }, { "198.18.255.255", "benchmarking" },
		{ "198.51.100.1", "documentation" }, { "203.0.113.1", "documentation" },
		{ "224.0.0.251", "multicast" }, { "239.255.255.255", "multicast" },
		{ "255.255.255.255", "broadcast" }, { "240.0.0.1", "reserved" },
		{ "::", "unspecified" }, { "::1", "loopback" },
		{ "::ffff:127.0.0.1", "loopback" }, { "::ffff:169.254.169.254", "link-local" },
		{ "64:ff9b::7f00:1", "loopback" }, { "64:ff9b:1::1", NULL },
		{ "::127.0.0.1", NULL }, { "100::1", NULL }, { "2001::1", NULL },
		{ "2001:db8::1", "documentation" }, { "2002::1", NULL },
		{ "3fff::1", "documentation" }, { "fe80::1", "link-local" },
		{ "febf::1", "link-local" }, { "fec0::1", NULL }, { "ff02::1", "multicast" },
		{ "not an address", NULL },
	};
	static const char *const allowed[] = {
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "8.8.8.8",
		"1.1.1.1", "100.63.255.255", "100.128.0.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "fc00::1", "fdff::1", "2606:4700::1",
		"::ffff:10.0.0.1", "64:ff9b::808:808", "2001:200::1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_refused(NULL, refused[i][0], refused[i][1]);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		expect_allowed(NULL, allowed[i]);
}

static void
test_allow_list(void **state)
{
	struct addrpolicy p;
	char err[128];

	(void)state;
	assert_int_equal(addrpolicy_parse(&p, " 127.0.0.0/8 , ::1, 169.254.169.0/25,"
	    "fe80::/9", err, sizeof(err)), 0);
	assert_int_equal(p.n, 4);
	expect_allowed(&p, "127.0.0.2");
	expect_allowed(&p, "::ffff:127.0.0.2");
	expect_allowed(&p, "::1");
	expect_allowed(&p, "169.254.169.127");
	expect_refused(&p, "169.254.169.128", "link-local");
	expect_allowed(&p, "fe80::1");
	expect_refused(&p, "ff02::1", "multicast");
	expect_refused(&p, "::2", NULL);

	/* An IPv4 range spelt as IPv6 is that IPv4 range. */
	assert_int_equal(addrpolicy_parse(&p, "::ffff:127.0.0.0/120", err, sizeof(err)), 0);
	expect_allowed(&p, "127.0.0.9");
	expect_allowed(&p, "::ffff:127.0.0.9");
	expect_refused(&p, "127.0.1.1", "loopback");

	assert_int_equal(addrpolicy_parse(&p, "127.0.0.1", err, sizeof(err)), 0);
	expect_allowed(&p, "127.0.0.1");
	expect_refused(&p, "127.0.0.2", "loopback");
	assert_int_equal(addrpolicy_parse(&p, "0.0.0.0/0", err, sizeof(err)), 0);
	expect_allowed(&p, "127.0.0.2");
	expect_refused(&p, "::1", "loopback");
	assert_int_equal(addrpolicy_parse(&p, "", err, sizeof(err)), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(addrpolicy_parse(&p, NULL, err, sizeof(err)), 0);
	assert_int_equal(addrpolicy_parse(&p, ",,", err, sizeof(err)), 0);
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"127.0.0.0/33", "::1/129", "127.0.0.0/", "127.0.0.0/-1", "127.0.0.0/8x",
		"localhost", "127.0.0", "1.2.3.4/8/8", "::1::2", "127.0.0.1 10.0.0.1",
	};
	struct addrpolicy p;
	char err[128], list[1024] = "";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (addrpolicy_parse(&p, bad[i], err, sizeof(err)) != -1)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(strstr(err, "not an address"));
	}
	for (int i = 0; i <= ADDRPOLICY_ALLOW_MAX; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "10.0.0.%d,", i);
	assert_int_equal(addrpolicy_parse(&p, list, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
