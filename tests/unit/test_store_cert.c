/*
 * Unit tests for common/store_cert.c: recording certificates and reading
 * them back by id and serial, the revoke / unrevoke state changes and their
 * return codes, shadowing, which certificate holds a CN, owners, liveness,
 * and paging.  The PEM is a placeholder: the store never parses it.
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
#include "store_cert.h"
#include "store_fixture.h"
#include "testutil.h"

/* A certificate for cn with the given serial, owned by an ACME account
 * (account_id > 0) or by the node cn, valid until not_after. */
static struct store_cert
cert_make(const char *serial, const char *cn, int64_t account_id, int64_t not_after)
{
	struct store_cert c;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	snprintf(c.cn, sizeof(c.cn), "%s", cn);
	snprintf(c.dn, sizeof(c.dn), "/CN=%s", cn);
	snprintf(c.profile, sizeof(c.profile), "server");
	c.pem = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";
	c.not_before = 1000;
	c.not_after = not_after;
	snprintf(c.source, sizeof(c.source), "%s", account_id != 0 ? "acme" : "enrol");
	c.account_id = account_id;
	if (account_id != 0)
		store_cert_owner_account(account_id, c.owner);
	else
		store_cert_owner_node(cn, c.owner);
	c.created_at = 1000;
	return c;
}

static int64_t
add_ok(struct store *st, const char *serial, const char *cn, int64_t account_id)
{
	struct store_cert c = cert_make(serial, cn, account_id, 100000);

	assert_int_equal(store_cert_add(st, &c), 0);
	assert_true(c.id > 0);
	return c.id;
}

/* --- tests --- */

static void
test_add_then_read_by_id_and_serial(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert c = cert_make("0A1B", "www.example.org", 7, 5000), got;

	assert_int_equal(store_cert_add(f->st, &c), 0);
	assert_true(c.id > 0);

	assert_int_equal(store_cert_by_id(f->st, c.id, &got), 0);
	assert_int_equal(got.id, c.id);
	assert_string_equal(got.serial, "0A1B");
	assert_string_equal(got.cn, "www.example.org");
	assert_string_equal(got.dn, "/CN=www.example.org");
	assert_string_equal(got.profile, "server");
	assert_string_equal(got.pem, c.pem);
	assert_int_equal(got.not_before, 1000);
	assert_int_equal(got.not_after, 5000);
	assert_string_equal(got.status, "valid");
	assert_int_equal(got.revoked_at, 0);
	assert_string_equal(got.reason, "");
	assert_string_equal(got.source, "acme");
	assert_int_equal(got.account_id, 7);
	assert_string_equal(got.owner, "account:7");
	assert_int_equal(got.shadowed_at, 0);
	store_cert_free(&got);
	assert_null(got.pem);

	assert_int_equal(store_cert_by_serial(f->st, "0A1B", &got), 0);
	assert_int_equal(got.id, c.id);
	store_cert_free(&got);
}

static void
test_unknown_id_and_serial_are_not_found(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert got;

	add_ok(f->st, "01", "a.example", 1);
	assert_int_equal(store_cert_by_id(f->st, 9999, &got), 1);
	assert_int_equal(store_cert_by_serial(f->st, "02", &got), 1);
	/* serials are compared exactly: the store keeps them upper-case */
	assert_int_equal(store_cert_by_serial(f->st, "0a", &got), 1);
}

/* The serial is unique: the same certificate recorded twice is an error,
 * not a second row. */
static void
test_duplicate_serial_refused(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert c = cert_make("77", "b.example", 0, 100000);

	add_ok(f->st, "77", "a.example", 0);
	assert_int_equal(store_cert_add(f->st, &c), -1);
	assert_int_equal(store_cert_count(f->st, NULL), 1);
}

static void
test_revoke_and_unrevoke_return_codes(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert got;

	add_ok(f->st, "10", "a.example", 1);

	assert_int_equal(store_cert_revoke(f->st, "10", "keyCompromise", 2000), 0);
	assert_int_equal(store_cert_by_serial(f->st, "10", &got), 0);
	assert_string_equal(got.status, "revoked");
	assert_int_equal(got.revoked_at, 2000);
	assert_string_equal(got.reason, "keyCompromise");
	store_cert_free(&got);

	/* revoked already: 1, and the first revocation's time and reason stay */
	assert_int_equal(store_cert_revoke(f->st, "10", "superseded", 3000), 1);
	assert_int_equal(store_cert_by_serial(f->st, "10", &got), 0);
	assert_int_equal(got.revoked_at, 2000);
	assert_string_equal(got.reason, "keyCompromise");
	store_cert_free(&got);

	assert_int_equal(store_cert_unrevoke(f->st, "10"), 0);
	assert_int_equal(store_cert_by_serial(f->st, "10", &got), 0);
	assert_string_equal(got.status, "valid");
	assert_int_equal(got.revoked_at, 0);
	assert_string_equal(got.reason, "");
	store_cert_free(&got);

	/* valid already: 1 */
	assert_int_equal(store_cert_unrevoke(f->st, "10"), 1);
	/* unknown serials: 1 both ways */
	assert_int_equal(store_cert_revoke(f->st, "FF", "unspecified", 2000), 1);
	assert_int_equal(store_cert_unrevoke(f->st, "FF"), 1);
}

/* Shadowing records the first time only; a later call keeps that time. */
static void
test_shadow_keeps_the_first_time(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert got;

	add_ok(f->st, "20", "a.example", 1);
	assert_int_equal(store_cert_shadow(f->st, "20", 4000), 0);
	assert_int_equal(store_cert_shadow(f->st, "20", 5000), 0);
	assert_int_equal(store_cert_by_serial(f->st, "20", &got), 0);
	assert_int_equal(got.shadowed_at, 4000);
	assert_false(store_cert_live(&got, 2000));
	store_cert_free(&got);
}

/* The holder of a CN is the newest certificate filed under it, whoever
 * owns it and whatever its status. */
static void
test_holder_is_the_newest_under_the_cn(void **state)
{
	struct store_fixture *f = *state;
	struct store_cert got;
	int64_t first, second;

	assert_int_equal(store_cert_holder(f->st, "a.example", &got), 1);
	first = add_ok(f->st, "30", "a.example", 1);
	add_ok(f->st, "31", "b.example", 1);
	assert_int_equal(store_cert_holder(f->st, "a.example", &got), 0);
	assert_int_equal(got.id, first);
	store_cert_free(&got);

	second = add_ok(f->st, "32", "a.example", 2);
	assert_int_equal(store_cert_revoke(f->st, "32", "unspecified", 3000), 0);
	assert_int_equal(store_cert_holder(f->st, "a.example", &got), 0);
	assert_int_equal(got.id, second);
	assert_string_equal(got.serial, "32");
	assert_string_equal(got.owner, "account:2");
	store_cert_free(&got);
}

static void
test_of_owner_is_the_owners_newest(void **state)
{
	struct store_fixture *f = *state;
	char owner[STORE_OWNER_MAX];
	struct store_cert got;
	int64_t newest;

	store_cert_owner_account(5, owner);
	assert_int_equal(store_cert_of_owner(f->st, owner, &got), 1);
	add_ok(f->st, "40", "a.example", 5);
	newest = add_ok(f->st, "41", "b.example", 5);
	add_ok(f->st, "42", "c.example", 6);
	add_ok(f->st, "43", "d.example", 0);
	assert_int_equal(store_cert_of_owner(f->st, owner, &got), 0);
	assert_int_equal(got.id, newest);
	store_cert_free(&got);

	store_cert_owner_node("d.example", owner);
	assert_int_equal(store_cert_of_owner(f->st, owner, &got), 0);
	assert_string_equal(got.serial, "43");
	store_cert_free(&got);
}

static void
test_owner_strings(void **state)
{
	char out[STORE_OWNER_MAX];
	char cn[300];

	(void)state;
	store_cert_owner_account(42, out);
	assert_string_equal(out, "account:42");
	store_cert_owner_account(INT64_MAX, out);
	assert_string_equal(out, "account:9223372036854775807");
	store_cert_owner_node("host.example", out);
	assert_string_equal(out, "node:host.example");
	/* the longest CN a certificate row holds (255) still fits whole */
	memset(cn, 'x', 255);
	cn[255] = '\0';
	store_cert_owner_node(cn, out);
	assert_int_equal(strlen(out), 5 + 255);
	assert_memory_equal(out, "node:", 5);
}

static void
test_live_needs_valid_unexpired_unshadowed(void **state)
{
	struct store_cert c = cert_make("50", "a.example", 1, 5000);

	(void)state;
	snprintf(c.status, sizeof(c.status), "valid");
	assert_true(store_cert_live(&c, 4999));
	/* not_after is the first second it is no longer live */
	assert_false(store_cert_live(&c, 5000));
	assert_false(store_cert_live(&c, 6000));
	snprintf(c.status, sizeof(c.status), "revoked");
	assert_false(store_cert_live(&c, 1000));
	snprintf(c.status, sizeof(c.status), "valid");
	c.shadowed_at = 2000;
	assert_false(store_cert_live(&c, 1000));
}

struct page {
	int n;
	char serials[16][80];
};

static void
page_collect(const struct store_cert *c, void *arg)
{
	struct page *p = arg;

	if (p->n < 16)
		snprintf(p->serials[p->n], sizeof(p->serials[0]), "%s", c->serial);
	p->n++;
}

static void
test_page_and_count(void **state)
{
	struct store_fixture *f = *state;
	struct page p;
	char serial[16];

	for (int i = 0; i < 7; i++) {
		snprintf(serial, sizeof(serial), "6%d", i);
		add_ok(f->st, serial, i % 2 == 0 ? "even.example" : "odd.example", 1);
	}
	assert_int_equal(store_cert_count(f->st, NULL), 7);
	assert_int_equal(store_cert_count(f->st, "even.example"), 4);
	assert_int_equal(store_cert_count(f->st, "odd.example"), 3);
	assert_int_equal(store_cert_count(f->st, "none.example"), 0);

	/* newest first, limit and offset */
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_cert_page(f->st, NULL, 0, 3, page_collect, &p), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.serials[0], "66");
	assert_string_equal(p.serials[1], "65");
	assert_string_equal(p.serials[2], "64");
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_cert_page(f->st, NULL, 6, 3, page_collect, &p), 0);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.serials[0], "60");
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_cert_page(f->st, NULL, 7, 3, page_collect, &p), 0);
	assert_int_equal(p.n, 0);

	/* filtered by CN */
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_cert_page(f->st, "even.example", 1, 10, page_collect, &p), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.serials[0], "64");
	assert_string_equal(p.serials[1], "62");
	assert_string_equal(p.serials[2], "60");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fixture_setup, store_fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_add_then_read_by_id_and_serial),
		T(test_unknown_id_and_serial_are_not_found),
		T(test_duplicate_serial_refused),
		T(test_revoke_and_unrevoke_return_codes),
		T(test_shadow_keeps_the_first_time),
		T(test_holder_is_the_newest_under_the_cn),
		T(test_of_owner_is_the_owners_newest),
		cmocka_unit_test(test_owner_strings),
		cmocka_unit_test(test_live_needs_valid_unexpired_unshadowed),
		T(test_page_and_count),
	};

	log_init("test_store_cert", LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
