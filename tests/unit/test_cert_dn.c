/*
 * Unit tests for common/dn.c (one canonical form of a DN, whoever wrote it)
 * and the parts of common/cert.c and common/ident.c that decide who gets
 * which name: serial spelling, CSR names, key policy, identifiers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "dn.h"
#include "ident.h"
#include "testutil.h"

static void
test_dn_rfc2253_and_slash_forms_agree(void **state)
{
	char a[DN_MAX], b[DN_MAX];

	(void)state;
	assert_int_equal(dn_canonical("CN=admin,O=uPKI,C=FR", a, sizeof(a)), 0);
	assert_string_equal(a, "/C=FR/O=uPKI/CN=admin");
	assert_int_equal(dn_canonical("/C=FR/O=uPKI/CN=admin", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	/* Attribute names in any case, spaces after commas. */
	assert_int_equal(dn_canonical("cn=admin, o=uPKI, c=FR", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_int_equal(dn_canonical("E=a@b.test,CN=x", b, sizeof(b)), 0);
	assert_string_equal(b, "/CN=x/emailAddress=a@b.test");
}

static void
test_dn_escapes(void **state)
{
	char out[DN_MAX];

	(void)state;
	assert_int_equal(dn_canonical("CN=Doe\\, John,O=uPKI", out, sizeof(out)), 0);
	assert_string_equal(out, "/O=uPKI/CN=Doe, John");
	assert_int_equal(dn_canonical("CN=caf\\C3\\A9,O=x", out, sizeof(out)), 0);
	assert_string_equal(out, "/O=x/CN=caf\xc3\xa9");
}

/* A '/' inside a value would let "CN=x/O=evil" pass for two attributes. */
static void
test_dn_refuses_what_could_forge_an_attribute(void **state)
{
	char out[DN_MAX];

	(void)state;
	assert_int_equal(dn_canonical("CN=x\\/O=evil", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("CN=x\\2FO=evil", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("CN=a\\00b", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("no equals sign", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("CN=", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("/CN", out, sizeof(out)), -1);
	assert_int_equal(dn_canonical("C N=x", out, sizeof(out)), -1);
}

static EVP_PKEY *
make_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A certificate with the given serial, subject CN and DNS SANs. */
static X509 *
make_cert(EVP_PKEY *key, long serial, const char *cn, const char *sans)
{
	X509 *crt = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	ASN1_INTEGER_set(X509_get_serialNumber(crt), serial);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"uPKI", -1,
	    -1, 0);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
		    -1, -1, 0);
	X509_set_subject_name(crt, name);
	X509_set_issuer_name(crt, name);
	X509_gmtime_adj(X509_getm_notBefore(crt), 0);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, key);
	if (sans != NULL) {
		X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sans);
		X509_add_ext(crt, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(crt, key, EVP_sha256());
	X509_NAME_free(name);
	return crt;
}

static void
test_serial_has_one_spelling(void **state)
{
	EVP_PKEY *key = make_key();
	X509 *crt = make_cert(key, 0x0A1B, "x.test", NULL);
	char hex[80];

	(void)state;
	assert_int_equal(cert_serial_hex(crt, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "A1B");        /* not BN_bn2hex's "0A1B" */
	X509_free(crt);
	crt = make_cert(key, 0, "x.test", NULL);
	assert_int_equal(cert_serial_hex(crt, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "0");
	X509_free(crt);
	EVP_PKEY_free(key);
}

/* CA and issued certificate: the issuer's name and the signature both count. */
static void
test_cert_signed_by(void **state)
{
	EVP_PKEY *cakey = make_key(), *other = make_key();
	X509 *ca = make_cert(cakey, 1, "ca", NULL);
	X509 *forged = make_cert(other, 2, "ca", NULL);
	X509 *renamed = make_cert(cakey, 3, "not-the-ca", NULL);

	(void)state;
	assert_true(cert_signed_by(ca, ca));
	assert_false(cert_signed_by(forged, ca));       /* the CA's name, another key */
	assert_false(cert_signed_by(renamed, ca));      /* the CA's key, another issuer */
	X509_free(renamed);
	X509_free(forged);
	X509_free(ca);
	EVP_PKEY_free(other);
	EVP_PKEY_free(cakey);
}

/* Writes crt (or text) to path through a rename, as `register` replaces
 * ca.crt: a new inode each time. */
static void
put_file(const char *path, X509 *crt, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	assert_non_null(f = fopen(tmp, "w"));
	if (crt != NULL)
		assert_int_equal(PEM_write_X509(f, crt), 1);
	else
		fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void
test_cert_file_reads_again_only_when_the_file_changes(void **state)
{
	EVP_PKEY *key = make_key();
	X509 *first = make_cert(key, 1, "first", NULL), *second = make_cert(key, 2, "second", NULL);
	struct cert_file f = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct timespec times[2];
	struct stat st;
	FILE *fp;

	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	assert_int_equal(cert_file_load(&f, path), -1);         /* no file yet */
	put_file(path, first, NULL);
	assert_int_equal(cert_file_load(&f, path), 0);
	assert_int_equal(X509_cmp(f.crt, first), 0);
	assert_non_null(strstr(f.pem, "-----BEGIN CERTIFICATE-----"));
	/* Overwritten in place with the same size and mtime: the same file as
	 * far as the cache can tell, so it is not read again... */
	assert_int_equal(stat(path, &st), 0);
	assert_non_null(fp = fopen(path, "r+"));
	for (off_t i = 0; i < st.st_size; i++)
		fputc('x', fp);
	assert_int_equal(fclose(fp), 0);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	assert_int_equal(cert_file_load(&f, path), 0);
	assert_int_equal(X509_cmp(f.crt, first), 0);
	/* ...and read again once its mtime moves. */
	times[1].tv_nsec = (times[1].tv_nsec + 1) % 1000000000L;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	assert_int_equal(cert_file_load(&f, path), -1);
	assert_null(f.crt);
	put_file(path, second, NULL);
	assert_int_equal(cert_file_load(&f, path), 0);
	assert_int_equal(X509_cmp(f.crt, second), 0);
	put_file(path, NULL, "not a certificate\n");
	assert_int_equal(cert_file_load(&f, path), -1);
	assert_null(f.crt);
	assert_null(f.pem);
	put_file(path, first, NULL);
	assert_int_equal(cert_file_load(&f, path), 0);
	assert_int_equal(remove(path), 0);
	assert_int_equal(cert_file_load(&f, path), -1);         /* gone: nothing stale */
	assert_null(f.crt);
	cert_file_free(&f);
	assert_int_equal(tu_rmtree(dir), 0);
	X509_free(second);
	X509_free(first);
	EVP_PKEY_free(key);
}

static void
test_dn_from_cert_matches_nginx_form(void **state)
{
	EVP_PKEY *key = make_key();
	X509 *crt = make_cert(key, 7, "admin1", NULL);
	char a[DN_MAX], b[DN_MAX];

	(void)state;
	assert_int_equal(dn_from_cert(crt, a, sizeof(a)), 0);
	assert_string_equal(a, "/O=uPKI/CN=admin1");
	/* nginx's $ssl_client_s_dn of the same certificate: */
	assert_int_equal(dn_canonical("CN=admin1,O=uPKI", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	X509_free(crt);
	/* A CN holding "/O=evil" has no canonical form at all. */
	crt = make_cert(key, 8, "x/O=evil", NULL);
	assert_int_equal(dn_from_cert(crt, a, sizeof(a)), -1);
	X509_free(crt);
	EVP_PKEY_free(key);
}

/* A certificate whose subject has the multi-valued RDN {CN=mv + O=uPKI}. */
static X509 *
make_multivalued_cert(EVP_PKEY *key)
{
	X509 *crt = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(crt);
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"mv", -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"uPKI", -1, -1, -1), 1);
	assert_int_equal(X509_set_subject_name(crt, name), 1);
	assert_int_equal(X509_set_issuer_name(crt, name), 1);
	assert_int_equal(X509_set_pubkey(crt, key), 1);
	X509_NAME_free(name);
	return crt;
}

static void
test_dn_multivalued_rdns_stay_distinct(void **state)
{
	EVP_PKEY *key = make_key();
	X509 *crt = make_multivalued_cert(key);
	char a[DN_MAX], b[DN_MAX], flat[DN_MAX];

	(void)state;
	assert_int_equal(dn_from_cert(crt, a, sizeof(a)), 0);
	assert_string_equal(a, "/CN=mv+O=uPKI");
	assert_int_equal(dn_canonical("/CN=mv/O=uPKI", flat, sizeof(flat)), 0);
	assert_string_not_equal(a, flat);
	assert_int_equal(dn_canonical("/O=uPKI/CN=mv", flat, sizeof(flat)), 0);
	assert_string_not_equal(a, flat);
	/* nginx's RFC 2253 text of the same subject, and the slash form. */
	assert_int_equal(dn_canonical("O=uPKI+CN=mv", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_int_equal(dn_canonical(a, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	/* Two RDNs are not one multi-valued RDN, in either spelling. */
	assert_int_equal(dn_canonical("CN=mv,O=uPKI", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	/* A '+' inside a value would make the two ambiguous: no canonical form. */
	assert_int_equal(dn_canonical("CN=mv\\+O=uPKI", b, sizeof(b)), -1);
	assert_int_equal(dn_canonical("CN=mv\\2BO=uPKI", b, sizeof(b)), -1);
	X509_free(crt);
	EVP_PKEY_free(key);
}

static void
test_cert_names(void **state)
{
	EVP_PKEY *key = make_key();
	X509 *crt = make_cert(key, 9, "WWW.Example.Test",
	    "DNS:www.example.test,DNS:API.example.test,IP:127.0.0.1,IP:::1");
	struct cert_names n;
	char why[128];

	(void)state;
	assert_int_equal(cert_names(crt, &n, why, sizeof(why)), 0);
	assert_string_equal(n.cn, "www.example.test");
	assert_int_equal(n.n, 4);
	assert_string_equal(n.names[1].value, "api.example.test");
	assert_string_equal(n.names[2].type, "ip");
	assert_string_equal(n.names[3].value, "::1");
	X509_free(crt);
	crt = make_cert(key, 10, "x.test", "email:a@b.test");
	assert_int_equal(cert_names(crt, &n, why, sizeof(why)), -1);
	X509_free(crt);
	EVP_PKEY_free(key);
}

static void
test_key_policy(void **state)
{
	EVP_PKEY *ec = make_key(), *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char why[128];

	(void)state;
	assert_int_equal(cert_key_acceptable(ec, why, sizeof(why)), 0);
	assert_int_equal(cert_key_acceptable(rsa2048, why, sizeof(why)), 0);
	assert_int_equal(cert_key_acceptable(rsa1024, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "1024"));
	assert_int_equal(cert_key_acceptable(p521, why, sizeof(why)), -1);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
}

static void
test_identifiers(void **state)
{
	struct ident id;
	char why[256];

	(void)state;
	assert_int_equal(ident_parse("dns", "WWW.Example.Test", &id, why, sizeof(why)), 0);
	assert_string_equal(id.value, "www.example.test");
	assert_int_equal(ident_parse("dns", "*.example.test", &id, why, sizeof(why)), 0);
	assert_true(id.wildcard);
	assert_int_equal(ident_parse("ip", "::0001", &id, why, sizeof(why)), 0);
	assert_string_equal(id.value, "::1");
	static const char *const bad[] = { "a..b", "-a.b", "a-.b", "*.*.b", "a.*.b",
	    "single", "a b.c", "a_b.c", "", "x.example.test.", };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ident_parse("dns", bad[i], &id, why, sizeof(why)), -1);
	assert_int_equal(ident_parse("ip", "256.1.1.1", &id, why, sizeof(why)), -1);
	assert_int_equal(ident_parse("email", "a@b.c", &id, why, sizeof(why)), -1);
}

static void
test_name_policy(void **state)
{
	struct ident id;
	char why[256];

	(void)state;
	ident_parse("dns", "x.example.test", &id, why, sizeof(why));
	assert_true(ident_allowed(&id, "example.test", why, sizeof(why)));
	assert_true(ident_allowed(&id, "other.test, example.test", why, sizeof(why)));
	assert_true(ident_allowed(&id, "", why, sizeof(why)));
	ident_parse("dns", "badexample.test", &id, why, sizeof(why));
	assert_false(ident_allowed(&id, "example.test", why, sizeof(why)));
	ident_parse("dns", "a.localhost", &id, why, sizeof(why));
	assert_false(ident_allowed(&id, "", why, sizeof(why)));
	ident_parse("ip", "10.0.0.1", &id, why, sizeof(why));
	assert_false(ident_allowed(&id, "example.test", why, sizeof(why)));
}

/* What an operator pastes from `openssl x509 -noout -subject`: both of its
 * forms give the certificate's order; a text that could be either is
 * refused rather than guessed. */
static void
test_dn_operator_forms(void **state)
{
	char out[DN_MAX];
	const char *form = NULL;

	(void)state;
	assert_int_equal(dn_operator("subject=CN = a, O = b", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a/O=b");
	assert_non_null(strstr(form, "one-line"));
	assert_int_equal(dn_operator("subject=O=b,CN=a", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a/O=b");
	assert_non_null(strstr(form, "RFC 2253"));
	assert_int_equal(dn_operator("CN=a,O=b", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/O=b/CN=a");
	assert_int_equal(dn_operator(" /CN=a/O=b", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a/O=b");
	/* The one-line form quotes a value with a comma, and writes a
	 * multi-valued RDN with " + ". */
	assert_int_equal(dn_operator("CN = a, OU = \"x, y\"", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a/OU=x, y");
	assert_int_equal(dn_operator("CN = a + UID = 7, O = b", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a+UID=7/O=b");
	/* One RDN reads the same either way. */
	assert_int_equal(dn_operator("CN = a", out, sizeof(out), &form), 0);
	assert_string_equal(out, "/CN=a");
	assert_int_equal(dn_operator("CN=a, O=b", out, sizeof(out), &form), DN_AMBIGUOUS);
	assert_int_equal(dn_operator("CN = a,O=b", out, sizeof(out), &form), DN_AMBIGUOUS);
	assert_int_equal(dn_operator("CN=\"a\",O=b", out, sizeof(out), &form), DN_AMBIGUOUS);
	assert_int_equal(dn_operator("subject=", out, sizeof(out), &form), DN_BAD);
	assert_int_equal(dn_operator("CN = \"a/O=evil\"", out, sizeof(out), &form), DN_BAD);
	/* nginx's text stays strict. */
	assert_int_equal(dn_canonical("CN = a, O = b", out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dn_rfc2253_and_slash_forms_agree),
		cmocka_unit_test(test_dn_escapes),
		cmocka_unit_test(test_dn_refuses_what_could_forge_an_attribute),
		cmocka_unit_test(test_serial_has_one_spelling),
		cmocka_unit_test(test_dn_from_cert_matches_nginx_form),
		cmocka_unit_test(test_dn_multivalued_rdns_stay_distinct),
		cmocka_unit_test(test_dn_operator_forms),
		cmocka_unit_test(test_cert_signed_by),
		cmocka_unit_test(test_cert_file_reads_again_only_when_the_file_changes),
		cmocka_unit_test(test_cert_names),
		cmocka_unit_test(test_key_policy),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_name_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
