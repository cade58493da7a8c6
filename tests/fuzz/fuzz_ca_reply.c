/*
 * fuzz_ca_reply: the CA's answers as the RA's CA client decodes them
 * (ca_reply_decode, what ca_call does with each reply frame), then what
 * the callers do with DATA: a PEM string (get_ca), base64 DER of a CRL
 * (get_crl, generate_crl: ca_get_crl_pem), an object with a "certificate"
 * (sign, renew, view), a list of admin DNs (list_admins).
 *
 * The reply is handed over as its exact bytes, not NUL-terminated, as a
 * ZeroMQ frame is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "b64.h"
#include "ca.h"
#include "cert.h"
#include "dn.h"
#include "harness.h"
#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_pem(const char *pem)
{
	static struct cert_names names;
	char why[128];
	X509 *crt;

	/* ca.crt is parsed whole; the certificates of sign, renew and view bare. */
	for (int bare = 0; bare < 2; bare++) {
		if ((crt = bare ? cert_from_pem_bare(pem) : cert_from_pem(pem)) == NULL)
			continue;
		cert_names(crt, &names, why, sizeof(why));
		cert_serial_hex(crt, why, sizeof(why));
		X509_free(crt);
	}
}

static void
fuzz_data(json_object *d)
{
	const char *s;
	unsigned char *der;
	size_t len;
	char dn[DN_MAX];

	if (json_object_is_type(d, json_type_string)) {
		s = json_object_get_string(d);
		if (strstr(s, "-----BEGIN CERTIFICATE-----") != NULL)
			fuzz_pem(s);
		if ((der = b64_decode(s, strlen(s), &len)) != NULL) {
			free(cert_crl_der_to_pem(der, len));
			free(der);
		}
	} else if (json_object_is_type(d, json_type_object)) {
		if ((s = jsonx_get_string(d, "certificate")) != NULL)
			fuzz_pem(s);
		jsonx_get_string(d, "serial");
		jsonx_get_string(d, "status");
	} else if (json_object_is_type(d, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(d) && i < 256; i++)
			if ((s = json_object_get_string(json_object_array_get_idx(d, i))) != NULL)
				dn_canonical(s, dn, sizeof(dn));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *d = NULL;
	char msg[512];
	enum ca_result r;

	msg[0] = '\0';
	r = ca_reply_decode("fuzz", (const char *)data, size, &d, msg, sizeof(msg));
	if (r == CA_OK)
		fuzz_data(d);
	else if (d != NULL)
		fuzz_fail("ca_reply_decode gave DATA with %s", ca_result_str(r));
	if (strnlen(msg, sizeof(msg)) == sizeof(msg))
		fuzz_fail("ca_reply_decode left msg unterminated");
	json_object_put(d);
	ERR_clear_error();     /* see fuzz_csr.c */
	return 0;
}
