#include "csr_policy.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

/* What a CSR may ask for; the profile at the CA decides the rest. */
static const int csr_policy_allowed[] = {
	NID_subject_alt_name, NID_key_usage, NID_ext_key_usage, NID_basic_constraints,
	NID_subject_key_identifier, NID_tlsfeature,
};

#define CSR_POLICY_ALLOWED_TEXT "subjectAltName, keyUsage, extendedKeyUsage, " \
	"basicConstraints, subjectKeyIdentifier, TLS feature"

static int
csr_policy_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(why, whylen, "CSR policy: ");

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < whylen)
		vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
csr_policy_attrs(X509_REQ *req, int nid)
{
	int n = 0;

	for (int i = -1; (i = X509_REQ_get_attr_by_NID(req, nid, i)) >= 0; n++)
		if (X509_ATTRIBUTE_count(X509_REQ_get_attr(req, i)) != 1)
			return 2;
	return n;
}

/* The requested extensions, from at most one attribute of one value. */
static STACK_OF(X509_EXTENSION) *
csr_policy_extensions(X509_REQ *req, char *why, size_t whylen)
{
	STACK_OF(X509_EXTENSION) *exts;

	if (csr_policy_attrs(req, NID_ext_req) + csr_policy_attrs(req, NID_ms_ext_req) > 1) {
		csr_policy_fail(why, whylen, "at most one extensionRequest attribute "
		    "of one value");
		return NULL;
	}
	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		csr_policy_fail(why, whylen, "the extensionRequest attribute is malformed");
	return exts;
}

static bool
csr_policy_is_allowed(int nid)
{
	for (size_t i = 0; i < sizeof(csr_policy_allowed) / sizeof(csr_policy_allowed[0]); i++)
		if (csr_policy_allowed[i] == nid)
			return true;
	return false;
}

/* True when the value decodes, and for basicConstraints and keyUsage,
 * does not ask for a CA's powers. */
static int
csr_policy_value(X509_EXTENSION *ext, const char *name, char *why, size_t whylen)
{
	const X509V3_EXT_METHOD *m = X509V3_EXT_get(ext);
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext)), rc = 0;
	void *v;

	if (m == NULL || m->it == NULL || (v = X509V3_EXT_d2i(ext)) == NULL)
		return csr_policy_fail(why, whylen, "the %s extension is malformed", name);
	if (nid == NID_basic_constraints && ((BASIC_CONSTRAINTS *)v)->ca)
		rc = csr_policy_fail(why, whylen, "basicConstraints must not say CA:TRUE");
	if (nid == NID_key_usage && (ASN1_BIT_STRING_get_bit(v, 5) ||
	    ASN1_BIT_STRING_get_bit(v, 6)))
		rc = csr_policy_fail(why, whylen, "keyUsage must not hold keyCertSign "
		    "nor cRLSign");
	ASN1_item_free(v, ASN1_ITEM_ptr(m->it));
	return rc;
}

/* Each extension allowed, well formed and alone of its kind; one SAN. */
static int
csr_policy_check_extensions(STACK_OF(X509_EXTENSION) *exts, char *why, size_t whylen)
{
	int n = sk_X509_EXTENSION_num(exts), sans = 0;
	char name[80];

	for (int i = 0; i < n; i++) {
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i));

		if (OBJ_obj2nid(obj) != NID_undef)
			snprintf(name, sizeof(name), "%s", OBJ_nid2sn(OBJ_obj2nid(obj)));
		else
			OBJ_obj2txt(name, sizeof(name), obj, 1);
		for (int k = 0; k < i; k++)
			if (OBJ_cmp(obj, X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, k))) == 0)
				return csr_policy_fail(why, whylen, "the %s extension appears twice", name);
		if (!csr_policy_is_allowed(OBJ_obj2nid(obj)))
			return csr_policy_fail(why, whylen, "the %s extension is not allowed "
			    "(only " CSR_POLICY_ALLOWED_TEXT ")", name);
		if (csr_policy_value(sk_X509_EXTENSION_value(exts, i), name, why, whylen) != 0)
			return -1;
		sans += OBJ_obj2nid(obj) == NID_subject_alt_name;
	}
	if (sans != 1)
		return csr_policy_fail(why, whylen, "exactly one subjectAltName extension");
	return 0;
}

static bool
csr_policy_has(const struct cert_names *set, const char *type, const char *value)
{
	for (int i = 0; i < set->n; i++)
		if (strcmp(set->names[i].type, type) == 0 && strcmp(set->names[i].value, value) == 0)
			return true;
	return false;
}

/* At most one CN, and it and every subjectAltName among allowed. */
static int
csr_policy_check_names(X509_REQ *req, const struct cert_names *allowed,
    const struct cert_names *names, char *why, size_t whylen)
{
	const X509_NAME *subject = X509_REQ_get_subject_name(req);
	int first = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	char ip[CERT_NAME_MAX];

	if (first >= 0 && X509_NAME_get_index_by_NID(subject, NID_commonName, first) >= 0)
		return csr_policy_fail(why, whylen, "at most one Common Name");
	if (names->n == 0)
		return csr_policy_fail(why, whylen, "the subjectAltName holds no name");
	for (int i = 0; i < names->n; i++)
		if (!csr_policy_has(allowed, names->names[i].type, names->names[i].value))
			return csr_policy_fail(why, whylen, "'%.64s' is not a name this request "
			    "may hold", names->names[i].value);
	if (names->cn[0] != '\0' && !csr_policy_has(allowed, "dns", names->cn) &&
	    !(cert_ip_canonical(names->cn, ip, sizeof(ip)) == 0 &&
	    csr_policy_has(allowed, "ip", ip)))
		return csr_policy_fail(why, whylen, "the Common Name '%.64s' is not a name "
		    "this request may hold", names->cn);
	return 0;
}

int
csr_policy_check(X509_REQ *req, EVP_PKEY *key, const struct cert_names *allowed,
    struct cert_names *names, char *why, size_t whylen)
{
	STACK_OF(X509_EXTENSION) *exts;
	char reason[200];
	int rc = -1;

	if ((exts = csr_policy_extensions(req, why, whylen)) == NULL)
		return -1;
	if (csr_policy_check_extensions(exts, why, whylen) != 0)
		goto done;
	if (cert_csr_names(req, names, reason, sizeof(reason)) != 0 ||
	    cert_key_acceptable(key, reason, sizeof(reason)) != 0) {
		csr_policy_fail(why, whylen, "%s", reason);
		goto done;
	}
	rc = csr_policy_check_names(req, allowed, names, why, whylen);
done:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}
