/*
 * Unit tests for the bare parses of common/cert.c: certificates and CSRs
 * read without OpenSSL decoding their key, and the keys made from their
 * SubjectPublicKeyInfo instead.  What they accept and refuse must be what
 * OpenSSL's own parse accepts and refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"

/* A signed CSR for CN=bare.test with key, as DER in *der. */
static int
make_csr(EVP_PKEY *key, unsigned char **der)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	int len;

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"bare.test",
	    -1, -1, 0);
	X509_REQ_set_subject_name(req, name);
	X509_REQ_set_pubkey(req, key);
	/* Ed25519 signs without a separate digest. */
	assert_true(X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ? NULL :
	    EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509_REQ(req, der);
	assert_true(len > 0);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return len;
}

/* key's SubjectPublicKeyInfo, its EC point compressed when asked. */
static X509_PUBKEY *
make_spki(EVP_PKEY *key, bool compressed)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_PUBKEY *spki;
	int len;

	if (compressed)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(key,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
	len = i2d_PUBKEY(key, &der);
	if (compressed)
		assert_int_equal(EVP_PKEY_set_utf8_string_param(key,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed"), 1);
	assert_true(len > 0);
	p = der;
	assert_non_null(spki = d2i_X509_PUBKEY(NULL, &p, len));
	OPENSSL_free(der);
	return spki;
}

static void
check_csr_key(EVP_PKEY *key)
{
	unsigned char *der;
	int len = make_csr(key, &der);
	EVP_PKEY *got = NULL;
	X509_REQ *req;
	char why[128];

	assert_non_null(req = cert_csr_from_der(der, (size_t)len, &got, why, sizeof(why)));
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	/* Bare: OpenSSL did not decode the key itself. */
	assert_null(X509_REQ_get0_pubkey(req));
	ERR_clear_error();
	EVP_PKEY_free(got);
	X509_REQ_free(req);
	OPENSSL_free(der);
}

static void
test_csr_keys_of_every_kind(void **state)
{
	EVP_PKEY *keys[] = {
		EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
		EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"),
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
		EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),  /* through OpenSSL's decoders */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_non_null(keys[i]);
		check_csr_key(keys[i]);
		EVP_PKEY_free(keys[i]);
	}
}

/* der as a PEM text of type name. */
static char *
pem_of(const char *name, const unsigned char *der, int len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_true(PEM_write_bio(bio, name, "", der, len) > 0);
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	BIO_free(bio);
	return out;
}

static void
test_csr_refused(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *got = NULL;
	unsigned char *der, *longer;
	int len = make_csr(key, &der);
	X509_REQ *req;
	char why[128], *pem;

	(void)state;
	der[len - 1] ^= 1;                      /* the signature */
	assert_null(cert_csr_from_der(der, (size_t)len, &got, why, sizeof(why)));
	assert_string_equal(why, "the CSR's signature does not verify");
	assert_null(got);
	pem = pem_of("CERTIFICATE REQUEST", der, len);
	assert_non_null(req = cert_csr_from_pem_bare(pem));
	assert_false(cert_csr_verifies(req));
	X509_REQ_free(req);
	free(pem);
	der[len - 1] ^= 1;
	/* The older spelling of the PEM type is still a CSR. */
	pem = pem_of("NEW CERTIFICATE REQUEST", der, len);
	assert_non_null(req = cert_csr_from_pem_bare(pem));
	assert_true(cert_csr_verifies(req));
	X509_REQ_free(req);
	free(pem);
	assert_non_null(longer = malloc((size_t)len + 1));
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	assert_null(cert_csr_from_der(longer, (size_t)len + 1, &got, why, sizeof(why)));
	assert_string_equal(why, "the CSR is not a DER PKCS#10 request");
	assert_null(cert_csr_from_der(der, (size_t)len - 1, &got, why, sizeof(why)));
	assert_null(got);
	ERR_clear_error();
	free(longer);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
}

/* key's EC point as a SubjectPublicKeyInfo holds it, its last byte flipped
 * when asked: nothing decoded, as in a bare parse. */
static X509_PUBKEY *
ec_spki(EVP_PKEY *key, bool flip)
{
	unsigned char point[65];
	size_t len;
	X509_PUBKEY *spki = X509_PUBKEY_new();
	unsigned char *pub;

	assert_int_equal(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point), &len), 1);
	if (flip)
		point[len - 1] ^= 1;
	assert_non_null(pub = OPENSSL_memdup(point, len));
	assert_int_equal(X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), pub, (int)len), 1);
	return spki;
}

/* A point off the curve is refused by the key made from parameters, as by
 * OpenSSL's decoder. */
static void
test_spki_point_off_the_curve(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *got;
	X509_PUBKEY *on = ec_spki(key, false), *off = ec_spki(key, true);

	(void)state;
	assert_non_null(got = cert_spki_key(on));
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	assert_null(cert_spki_key(off));
	assert_false(cert_spki_same(on, off));
	ERR_clear_error();
	EVP_PKEY_free(got);
	X509_PUBKEY_free(on);
	X509_PUBKEY_free(off);
	EVP_PKEY_free(key);
}

static void
test_spki_same_however_written(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	X509_PUBKEY *plain = make_spki(key, false), *compressed = make_spki(key, true);
	X509_PUBKEY *another = make_spki(other, false), *rsa1 = make_spki(rsa, false);
	X509_PUBKEY *rsa2 = make_spki(rsa, false);

	(void)state;
	assert_true(cert_spki_same(plain, plain));
	assert_true(cert_spki_same(plain, compressed));
	assert_true(cert_spki_same(compressed, plain));
	assert_false(cert_spki_same(plain, another));
	assert_false(cert_spki_same(compressed, another));
	assert_true(cert_spki_same(rsa1, rsa2));
	assert_false(cert_spki_same(rsa1, plain));
	assert_false(cert_spki_same(plain, NULL));
	X509_PUBKEY_free(plain);
	X509_PUBKEY_free(compressed);
	X509_PUBKEY_free(another);
	X509_PUBKEY_free(rsa1);
	X509_PUBKEY_free(rsa2);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	EVP_PKEY_free(rsa);
}

static char *
pem_of_cert(X509 *crt)
{
	unsigned char *der = NULL;
	int len = i2d_X509(crt, &der);
	char *pem;

	assert_true(len > 0);
	pem = pem_of("CERTIFICATE", der, len);
	OPENSSL_free(der);
	return pem;
}

/* What the RA asks of a certificate from the CA works on a bare one. */
static void
test_bare_certificate(void **state)
{
	EVP_PKEY *cakey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca = X509_new(), *crt = X509_new(), *bare;
	X509_NAME *name = X509_NAME_new();
	char *pem, serial[64], cn[64];

	(void)state;
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"ca", -1,
	    -1, 0);
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_set_pubkey(ca, cakey);
	X509_sign(ca, cakey, EVP_sha256());
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 4242);
	X509_set_issuer_name(crt, name);
	X509_set_subject_name(crt, name);
	X509_gmtime_adj(X509_getm_notBefore(crt), 0);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, key);
	X509_sign(crt, cakey, EVP_sha256());
	pem = pem_of_cert(crt);

	assert_non_null(bare = cert_from_pem_bare(pem));
	assert_null(X509_get0_pubkey(bare));
	ERR_clear_error();
	assert_true(cert_signed_by(bare, ca));
	assert_true(cert_same(bare, pem));
	assert_int_equal(cert_serial_hex(bare, serial, sizeof(serial)), 0);
	assert_string_equal(serial, "1092");
	assert_int_equal(cert_common_name(bare, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "ca");
	assert_true(cert_spki_same(X509_get_X509_PUBKEY(bare), X509_get_X509_PUBKEY(crt)));
	assert_false(cert_spki_same(X509_get_X509_PUBKEY(bare), X509_get_X509_PUBKEY(ca)));
	/* Signed by another key: the bare parse does not take it for the CA's. */
	X509_sign(crt, key, EVP_sha256());
	free(pem);
	pem = pem_of_cert(crt);
	X509_free(bare);
	assert_non_null(bare = cert_from_pem_bare(pem));
	assert_false(cert_signed_by(bare, ca));
	assert_null(cert_from_pem_bare("-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n"));
	ERR_clear_error();
	X509_free(bare);
	free(pem);
	X509_NAME_free(name);
	X509_free(crt);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

/* The CA is sent the very bytes the client signed. */
static void
test_bare_csr_written_as_it_came(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *got = NULL;
	unsigned char *der, *again = NULL;
	int len = make_csr(key, &der);
	X509_REQ *req, *fromtext;
	char why[128], *pem;

	(void)state;
	assert_non_null(req = cert_csr_from_der(der, (size_t)len, &got, why, sizeof(why)));
	assert_int_equal(i2d_X509_REQ(req, &again), len);
	assert_memory_equal(again, der, (size_t)len);
	assert_non_null(pem = cert_csr_to_pem(req));
	assert_non_null(fromtext = cert_csr_from_pem_bare(pem));
	EVP_PKEY_free(got);
	assert_non_null(got = cert_csr_key(fromtext));
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	free(pem);
	X509_REQ_free(fromtext);
	OPENSSL_free(again);
	EVP_PKEY_free(got);
	X509_REQ_free(req);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_keys_of_every_kind),
		cmocka_unit_test(test_csr_refused),
		cmocka_unit_test(test_spki_point_off_the_curve),
		cmocka_unit_test(test_spki_same_however_written),
		cmocka_unit_test(test_bare_certificate),
		cmocka_unit_test(test_bare_csr_written_as_it_came),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
