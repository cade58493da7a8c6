/*
 * fuzz_csr: what the RA reads out of CSRs and certificates.
 *
 * DER input goes to cert_csr_from_der (finalize's entry point) and, when it
 * verifies, to cert_csr_names, cert_key_acceptable, csr_policy_check (with
 * the CSR's own names allowed, so that its every rule is reached),
 * cert_req_common_name and cert_csr_to_pem.  A client signs its own CSR, so any CSR content reaches
 * those functions with a valid signature: the harness therefore also gives
 * them the request as d2i_X509_REQ parses it, signature unchecked, with the
 * key cert_spki_key makes of it, which lets mutated CSRs and keys get past
 * a check the fuzzer cannot forge.
 *
 * The same bytes as a DER certificate, and as text through cert_from_pem
 * (nginx's client certificate) and cert_from_pem_bare (the CA's answers,
 * whose key cert_spki_same compares with the CSR's), go to cert_names,
 * dn_from_cert (with fuzz_check_dn's invariants) and the other accessors
 * that auth.c and issue.c use.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "cert.h"
#include "csr_policy.h"
#include "dn.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_req(X509_REQ *req, EVP_PKEY *key)
{
	static struct cert_names names, checked;
	char why[256], cn[256];

	if (cert_csr_names(req, &names, why, sizeof(why)) == 0 &&
	    (names.n < 0 || names.n > CERT_MAX_NAMES))
		fuzz_fail("cert_csr_names: %d names", names.n);
	cert_req_common_name(req, cn, sizeof(cn));
	if (key != NULL) {
		cert_key_acceptable(key, why, sizeof(why));
		if (csr_policy_check(req, key, &names, &checked, why, sizeof(why)) == 0 &&
		    (checked.n < 1 || checked.n > CERT_MAX_NAMES))
			fuzz_fail("csr_policy_check: %d names", checked.n);
	}
	free(cert_csr_to_pem(req));
}

static void
fuzz_cert(X509 *crt)
{
	static struct cert_names names;
	char why[256], buf[DN_MAX];

	cert_names(crt, &names, why, sizeof(why));
	fuzz_check_dn(crt);
	cert_serial_hex(crt, buf, 80);
	cert_common_name(crt, buf, 256);
	cert_subject_oneline(crt, buf, sizeof(buf));
	cert_not_before(crt);
	cert_not_after(crt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	X509_REQ *req;
	X509 *crt, *bare;
	char why[256], *text;

	/* OpenSSL 3 decodes a public key slowly: each parse below is done
	 * only when an earlier one cannot have covered the same ground. */
	if ((req = cert_csr_from_der(data, size, &key, why, sizeof(why))) != NULL) {
		fuzz_req(req, key);
		X509_REQ_free(req);
	} else if ((p = data, req = d2i_X509_REQ(NULL, &p, (long)size)) != NULL) {
		key = cert_spki_key(X509_REQ_get_X509_PUBKEY(req));
		fuzz_req(req, key);
		X509_REQ_free(req);
	} else if ((p = data, crt = d2i_X509(NULL, &p, (long)size)) != NULL) {
		fuzz_cert(crt);
		X509_free(crt);
	}
	EVP_PKEY_free(key);
	text = fuzz_cstr(data, size);
	if (strstr(text, "-----BEGIN") != NULL && (crt = cert_from_pem(text)) != NULL) {
		fuzz_cert(crt);
		if ((bare = cert_from_pem_bare(text)) != NULL &&
		    !cert_spki_same(X509_get_X509_PUBKEY(bare), X509_get_X509_PUBKEY(crt)))
			fuzz_fail("cert_from_pem_bare: another key than cert_from_pem's");
		X509_free(bare);
		X509_free(crt);
	}
	free(text);
	/* The error queue's strings would otherwise make each input end with
	 * more mallocs than frees, and libFuzzer check for leaks after each. */
	ERR_clear_error();
	return 0;
}
