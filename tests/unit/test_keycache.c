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
ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	assert_non_null(k);
	return k;
}

static void
test_hit_needs_same_id_and_text(void **state)
{
	EVP_PKEY *k = ec_key("P-256");
	struct jws_verifier *v;

	(void)state;
	assert_null(keycache_get(7, "{\"kty\":\"EC\"}"));
	assert_non_null(v = keycache_put(7, "{\"kty\":\"EC\"}", k));
	assert_ptr_equal(keycache_get(7, "{\"kty\":\"EC\"}"), v);
	assert_ptr_equal(jws_verifier_key(v), k);
	/* the account's key was changed: its stored JWK text differs */
	assert_null(keycache_get(7, "{\"kty\":\"EC\",\"x\":\"new\"}"));
	/* another account in the same slot, or the same text elsewhere */
	assert_null(keycache_get(7 + 128, "{\"kty\":\"EC\"}"));
	assert_null(keycache_get(8, "{\"kty\":\"EC\"}"));
	EVP_PKEY_free(k);
	/* the cache kept its own reference */
	assert_non_null(v = keycache_get(7, "{\"kty\":\"EC\"}"));
	assert_int_equal(EVP_PKEY_get_bits(jws_verifier_key(v)), 256);
}

static void
test_replaced_in_slot(void **state)
{
	EVP_PKEY *a = ec_key("P-256"), *b = ec_key("P-256");
	struct jws_verifier *v;

	(void)state;
	keycache_put(3, "a", a);
	v = keycache_put(3 + 128, "b", b);
	assert_null(keycache_get(3, "a"));
	assert_ptr_equal(keycache_get(3 + 128, "b"), v);
	assert_ptr_equal(jws_verifier_key(v), b);
	/* a key change of the same account replaces its entry */
	v = keycache_put(3 + 128, "a", a);
	assert_null(keycache_get(3 + 128, "b"));
	assert_ptr_equal(keycache_get(3 + 128, "a"), v);
	assert_ptr_equal(jws_verifier_key(v), a);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* A key no JWS alg takes is not cached, and the slot keeps what it had. */
static void
test_a_key_that_fits_no_alg_is_not_cached(void **state)
{
	EVP_PKEY *good = ec_key("P-256"), *p224 = ec_key("P-224");
	struct jws_verifier *v;

	(void)state;
	v = keycache_put(5, "good", good);
	assert_null(keycache_put(5, "p224", p224));
	assert_null(keycache_get(5, "p224"));
	assert_ptr_equal(keycache_get(5, "good"), v);
	EVP_PKEY_free(good);
	EVP_PKEY_free(p224);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_needs_same_id_and_text),
		cmocka_unit_test(test_replaced_in_slot),
		cmocka_unit_test(test_a_key_that_fits_no_alg_is_not_cached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
