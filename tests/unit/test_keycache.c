/*
 * Unit tests for common/keycache.c: a cached account key is returned only
 * for the account id and the exact JWK text it was made from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "keycache.h"

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

static void
test_hit_needs_same_id_and_text(void **state)
{
	EVP_PKEY *k = ec_key(), *got;

	(void)state;
	assert_null(keycache_get(7, "{\"kty\":\"EC\"}"));
	keycache_put(7, "{\"kty\":\"EC\"}", k);
	got = keycache_get(7, "{\"kty\":\"EC\"}");
	assert_ptr_equal(got, k);
	EVP_PKEY_free(got);
	/* the account's key was changed: its stored JWK text differs */
	assert_null(keycache_get(7, "{\"kty\":\"EC\",\"x\":\"new\"}"));
	/* another account in the same slot, or the same text elsewhere */
	assert_null(keycache_get(7 + 128, "{\"kty\":\"EC\"}"));
	assert_null(keycache_get(8, "{\"kty\":\"EC\"}"));
	EVP_PKEY_free(k);
	/* the cache kept its own reference */
	got = keycache_get(7, "{\"kty\":\"EC\"}");
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_get_bits(got), 256);
	EVP_PKEY_free(got);
}

static void
test_replaced_in_slot(void **state)
{
	EVP_PKEY *a = ec_key(), *b = ec_key(), *got;

	(void)state;
	keycache_put(3, "a", a);
	keycache_put(3 + 128, "b", b);
	assert_null(keycache_get(3, "a"));
	got = keycache_get(3 + 128, "b");
	assert_ptr_equal(got, b);
	EVP_PKEY_free(got);
	/* a key change of the same account replaces its entry */
	keycache_put(3 + 128, "a", a);
	assert_null(keycache_get(3 + 128, "b"));
	got = keycache_get(3 + 128, "a");
	assert_ptr_equal(got, a);
	EVP_PKEY_free(got);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_needs_same_id_and_text),
		cmocka_unit_test(test_replaced_in_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
