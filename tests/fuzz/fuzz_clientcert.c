/*
 * fuzz_clientcert: the worker's own check of a client certificate (auth.c,
 * certcheck.c), on a protected route as nginx would pass it.  The input is
 * a certificate's DER; the target makes the URL-escaped PEM nginx passes as
 * SSL_CLIENT_CERT (with SSL_CLIENT_VERIFY=SUCCESS: nginx's word is what the
 * worker must not take alone) and sends it to a client route and an admin
 * route, twice, the second answer coming from the fingerprint cache.
 *
 * Invariants checked: fuzz_check_response; a request is served (200) only
 * for a certificate that the harness's CA (fixtures/ca.crt) signed and whose
 * extended key usage names clientAuth; the cached answer is the first one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "fixtures.h"
#include "harness.h"
#include "router.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *fuzz_ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_ctx();
	if ((fuzz_ca = cert_from_pem(FUZZ_CA_CRT)) == NULL)
		fuzz_fail("the fixture CA does not parse");
	return 0;
}

/* The DER as nginx's $ssl_client_escaped_cert: PEM, every byte outside
 * [A-Za-z0-9] escaped. */
static char *
fuzz_escaped_pem(const uint8_t *der, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, *out = NULL;
	long n;

	if (bio == NULL || PEM_write_bio(bio, "CERTIFICATE", "", der, (long)len) <= 0 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0 || (out = malloc((size_t)n * 3 + 1)) == NULL)
		goto done;
	for (long i = 0, o = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)pem[i] : '\0';

		if (c == '\0' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z')) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
done:
	BIO_free(bio);
	return out;
}

static bool
fuzz_may_serve(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *crt = d2i_X509(NULL, &p, (long)len);
	bool ok = crt != NULL && cert_signed_by(crt, fuzz_ca) &&
	    (X509_get_extension_flags(crt) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(crt) & XKU_SSL_CLIENT) != 0;

	X509_free(crt);
	return ok;
}

static int
fuzz_get(const char *path, const char *escaped)
{
	struct http_request req = {
		.method = "GET", .path = path, .query = "", .host = FUZZ_HOST, .https = true,
		.client_verify = "SUCCESS", .client_cert = escaped, .body = "",
	};
	struct http_response resp;
	int status;

	http_response_init(&resp);
	router_dispatch(fuzz_ctx(), &req, &resp);
	fuzz_check_response(&resp);
	status = resp.status;
	http_response_free(&resp);
	return status;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/api/client/status", "/api/v1/nodes" };
	char *escaped = fuzz_escaped_pem(data, size);

	for (size_t i = 0; escaped != NULL && i < 2; i++) {
		int first = fuzz_get(paths[i], escaped), again = fuzz_get(paths[i], escaped);

		if (first != again)
			fuzz_fail("%s: %d, then %d from the cache", paths[i], first, again);
		if (first == 200 && !fuzz_may_serve(data, size))
			fuzz_fail("%s served a certificate the CA did not sign for clients",
			    paths[i]);
	}
	free(escaped);
	ERR_clear_error();
	return 0;
}
