/*
 * The CRL: v2, signed with SHA-256, valid a day, one entry per revoked
 * certificate with its serial and revocation date.  Like the reference CA
 * it carries no reason codes, so the RA must not expect them.  The current
 * CRL is kept in the registry and remade on every revocation change.
 */
#include "devca.h"

#include <stdlib.h>

#include <openssl/bn.h>

#define CRL_DAYS   1
#define CRL_MARGIN 3600     /* remade this long before its nextUpdate */

static int
crl_add(void *arg, const char *serial, time_t at)
{
	X509_CRL *crl = arg;
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *ai = NULL;
	ASN1_TIME *when = NULL;
	BIGNUM *bn = NULL;
	int rc = -1;

	if (r == NULL || BN_hex2bn(&bn, serial) == 0 ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (when = ASN1_TIME_set(NULL, at)) == NULL ||
	    X509_REVOKED_set_serialNumber(r, ai) != 1 ||
	    X509_REVOKED_set_revocationDate(r, when) != 1 ||
	    X509_CRL_add0_revoked(crl, r) != 1)
		goto done;
	r = NULL;
	rc = 0;
done:
	X509_REVOKED_free(r);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

static int
crl_extensions(X509_CRL *crl, X509 *ca_cert, long number)
{
	X509_EXTENSION *aki;
	ASN1_INTEGER *n;
	X509V3_CTX ctx;
	int rc;

	if ((n = ASN1_INTEGER_new()) == NULL)
		return -1;
	rc = ASN1_INTEGER_set(n, number) == 1 &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, n, 0, X509V3_ADD_DEFAULT) == 1;
	ASN1_INTEGER_free(n);
	if (!rc)
		return -1;
	X509V3_set_ctx(&ctx, ca_cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL)
		return -1;
	rc = X509_CRL_add_ext(crl, aki, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(aki);
	return rc;
}

static unsigned char *
crl_der(X509_CRL *crl, size_t *len)
{
	unsigned char *der, *p;
	int n;

	if ((n = i2d_X509_CRL(crl, NULL)) <= 0 || (der = malloc((size_t)n)) == NULL)
		return NULL;
	p = der;
	if (i2d_X509_CRL(crl, &p) != n) {
		free(der);
		return NULL;
	}
	*len = (size_t)n;
	return der;
}

static unsigned char *
crl_make(struct devca *dc, long number, size_t *len)
{
	time_t now = time(NULL);
	unsigned char *der = NULL;
	ASN1_TIME *last, *next;
	X509_CRL *crl;

	last = ASN1_TIME_set(NULL, now);
	next = ASN1_TIME_adj(NULL, now, CRL_DAYS, 0);
	if ((crl = X509_CRL_new()) == NULL || last == NULL || next == NULL)
		goto done;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(dc->ca.cert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next) != 1 ||
	    registry_revoked(dc->reg, crl_add, crl) != 0 ||
	    crl_extensions(crl, dc->ca.cert, number) != 0 ||
	    X509_CRL_sort(crl) != 1 ||
	    X509_CRL_sign(crl, dc->ca.key, EVP_sha256()) <= 0)
		goto done;
	der = crl_der(crl, len);
done:
	X509_CRL_free(crl);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	return der;
}

/* Makes a CRL with the next CRL number and stores it as the current one. */
unsigned char *
crl_refresh(struct devca *dc, size_t *len)
{
	unsigned char *der = NULL;
	long number = 0;
	size_t oldlen;

	if (registry_crl_load(dc->reg, &der, &oldlen, &number) < 0)
		return NULL;
	free(der);
	if ((der = crl_make(dc, number + 1, len)) == NULL)
		return NULL;
	if (registry_crl_store(dc->reg, number + 1, der, *len) != 0) {
		free(der);
		return NULL;
	}
	return der;
}

static bool
crl_fresh(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	time_t deadline = time(NULL) + CRL_MARGIN;
	const ASN1_TIME *next;
	X509_CRL *crl;
	bool fresh;

	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return false;
	next = X509_CRL_get0_nextUpdate(crl);
	fresh = next != NULL && X509_cmp_time(next, &deadline) > 0;
	X509_CRL_free(crl);
	return fresh;
}

/* The stored CRL, or a new one when there is none or it is about to lapse
 * (a development CA can run for days). */
unsigned char *
crl_current(struct devca *dc, size_t *len)
{
	unsigned char *der = NULL;
	long number;
	int rc;

	if ((rc = registry_crl_load(dc->reg, &der, len, &number)) < 0)
		return NULL;
	if (rc == 1 && crl_fresh(der, *len))
		return der;
	free(der);
	return crl_refresh(dc, len);
}
