/*
 * fuzz_dn: distinguished names as auth.c reads them from nginx's params.
 * The input, as text, goes to dn_canonical (SSL_CLIENT_S_DN: RFC 2253 from
 * nginx, or "/K=V/..." as the CA writes admins) and to dn_client_cert
 * (SSL_CLIENT_CERT: the URL-escaped PEM), whose certificate then goes to
 * dn_from_cert, cert_serial_hex and cert_common_name as auth_client does.
 *
 * Invariants checked: the canonical form is a fixed point, and one
 * certificate's subject has one canonical DN whether the RA reads it from
 * the certificate or from nginx's RFC 2253 text (fuzz_check_dn).  Admins
 * are matched by comparing canonical DNs (auth_is_admin, the store's admin
 * list, the CA's list_admins put through dn_canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "cert.h"
#include "dn.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char out[DN_MAX], again[DN_MAX] = "(nothing)", buf[256];
	X509 *crt;

	if (dn_canonical(text, out, sizeof(out)) == 0 &&
	    (dn_canonical(out, again, sizeof(again)) != 0 || strcmp(out, again) != 0))
		fuzz_fail("canonical DN '%s' canonicalises to '%s'", out, again);
	if ((crt = dn_client_cert(text)) != NULL) {
		fuzz_check_dn(crt);
		cert_serial_hex(crt, buf, 80);
		cert_common_name(crt, buf, sizeof(buf));
		X509_free(crt);
	}
	free(text);
	ERR_clear_error();     /* see fuzz_csr.c */
	return 0;
}
