/*
 * Unit tests for common/csr_policy.c: each rule on a CSR made here with
 * OpenSSL, including what a client's library would not write (two
 * subjectAltName extensions, two extensionRequest attributes, an empty
 * subjectAltName) and the allowed forms next to the refused ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "csr_policy.h"

static EVP_PKEY *key;

static int
setup(void **state)
{
	(void)state;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return key != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

/* One extension from OpenSSL's config syntax, or (nid 0) an unknown one. */
static X509_EXTENSION *
ext(int nid, const char *value, int critical)
{
	ASN1_OBJECT *obj;
	ASN1_OCTET_STRING *data;
	X509_EXTENSION *e;

	if (nid != 0) {
		e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
		assert_non_null(e);
		X509_EXTENSION_set_critical(e, critical);
		return e;
	}
	obj = OBJ_txt2obj("1.2.3.4.5", 1);
	data = ASN1_OCTET_STRING_new();
	assert_true(ASN1_OCTET_STRING_set(data, (const unsigned char *)"\x05\x00", 2));
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, data);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(data);
	assert_non_null(e);
	return e;
}

/* A signed CSR with the CNs given ("" for none, "a,b" for two) and each
 * group of extensions as an extensionRequest attribute of its own. */
static X509_REQ *
csr(const char *cns, STACK_OF(X509_EXTENSION) *groups[], int ngroups)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", cns);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		    (const unsigned char *)tok, -1, -1, 0));
	assert_true(X509_REQ_set_subject_name(req, name));
	X509_NAME_free(name);
	assert_true(X509_REQ_set_pubkey(req, key));
	for (int i = 0; i < ngroups; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509_EXTENSIONS(groups[i], &der);

		/* OpenSSL 3 adds no attribute twice: the second group goes in
		 * Microsoft's extensionRequest, which OpenSSL reads as well. */
		assert_true(len > 0);
		assert_true(X509_REQ_add1_attr_by_NID(req, i == 0 ? NID_ext_req : NID_ms_ext_req,
		    V_ASN1_SEQUENCE, der, len));
		OPENSSL_free(der);
		sk_X509_EXTENSION_pop_free(groups[i], X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	return req;
}

static STACK_OF(X509_EXTENSION) *
exts(int n, ...)
{
	STACK_OF(X509_EXTENSION) *sk = sk_X509_EXTENSION_new_null();
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		sk_X509_EXTENSION_push(sk, va_arg(ap, X509_EXTENSION *));
	va_end(ap);
	return sk;
}

static const struct cert_names allowed = {
	.names = { { "dns", "a.example.test" }, { "dns", "b.example.test" },
	    { "ip", "192.0.2.7" } },
	.n = 3,
};

static void
expect(X509_REQ *req, const char *rule)
{
	struct cert_names got;
	char why[256] = "";
	int rc = csr_policy_check(req, key, &allowed, &got, why, sizeof(why));

	X509_REQ_free(req);
	if (rule == NULL && rc != 0)
		fail_msg("refused: %s", why);
	if (rule != NULL && (rc == 0 || strstr(why, rule) == NULL ||
	    strncmp(why, "CSR policy: ", 12) != 0))
		fail_msg("want \"%s\", got %d \"%s\"", rule, rc, why);
}

#define SAN_A "DNS:a.example.test"

static void
test_allowed(void **state)
{
	STACK_OF(X509_EXTENSION) *g[1];

	(void)state;
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A ",DNS:b.example.test,IP:192.0.2.7", 0));
	expect(csr("a.example.test", g, 1), NULL);
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A, 0));
	expect(csr("192.0.2.7", g, 1), NULL);
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A, 0));
	expect(csr("", g, 1), NULL);
	g[0] = exts(6, ext(NID_subject_alt_name, SAN_A, 0),
	    ext(NID_basic_constraints, "CA:FALSE", 1),
	    ext(NID_key_usage, "digitalSignature,keyEncipherment", 1),
	    ext(NID_ext_key_usage, "serverAuth", 0),
	    ext(NID_subject_key_identifier, "0102030405", 0),
	    ext(NID_tlsfeature, "status_request", 0));
	expect(csr("a.example.test", g, 1), NULL);
}

static void
test_refused(void **state)
{
	STACK_OF(X509_EXTENSION) *g[2];

	(void)state;
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0),
	    ext(NID_subject_alt_name, "DNS:b.example.test", 0));
	expect(csr("a.example.test", g, 1), "the subjectAltName extension appears twice");
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A, 0));
	g[1] = exts(1, ext(NID_key_usage, "digitalSignature", 0));
	expect(csr("a.example.test", g, 2), "at most one extensionRequest attribute");
	expect(csr("a.example.test", NULL, 0), "exactly one subjectAltName extension");
	g[0] = exts(1, ext(NID_key_usage, "digitalSignature", 0));
	expect(csr("a.example.test", g, 1), "exactly one subjectAltName extension");
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A, 0));
	expect(csr("a.example.test,b.example.test", g, 1), "at most one Common Name");
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A, 0));
	expect(csr("c.example.test", g, 1), "the Common Name 'c.example.test'");
	g[0] = exts(1, ext(NID_subject_alt_name, SAN_A ",DNS:c.example.test", 0));
	expect(csr("a.example.test", g, 1), "'c.example.test' is not a name");
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0),
	    ext(NID_basic_constraints, "critical,CA:TRUE", 1));
	expect(csr("a.example.test", g, 1), "CA:TRUE");
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0),
	    ext(NID_key_usage, "digitalSignature,keyCertSign", 1));
	expect(csr("a.example.test", g, 1), "keyCertSign");
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0),
	    ext(NID_name_constraints, "permitted;DNS:example.test", 1));
	expect(csr("a.example.test", g, 1), "nameConstraints extension is not allowed");
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0), ext(0, NULL, 1));
	expect(csr("a.example.test", g, 1), "1.2.3.4.5 extension is not allowed");
	g[0] = exts(2, ext(NID_subject_alt_name, SAN_A, 0), ext(0, NULL, 0));
	expect(csr("a.example.test", g, 1), "1.2.3.4.5 extension is not allowed");
	g[0] = exts(1, ext(NID_subject_alt_name, "email:a@example.test", 0));
	expect(csr("a.example.test", g, 1), "only DNS names and IP addresses");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
