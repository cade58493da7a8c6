/*
 * Subject alternative names: from the JSON of generate and register, from
 * a CSR, from a certificate being renewed; and the check against the names
 * the CA reserves.  Only DNS names and IP addresses are carried over: the
 * RA asks for nothing else, and a CA that copied any GeneralName would
 * sign whatever a CSR slipped in.
 */
#include "devca.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool
names_dns_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '*'))
			return false;
	}
	return true;
}

static GENERAL_NAME *
names_dns(const char *value, size_t len)
{
	ASN1_IA5STRING *ia5;
	GENERAL_NAME *gn;

	if ((ia5 = ASN1_IA5STRING_new()) == NULL)
		return NULL;
	if (ASN1_STRING_set(ia5, value, (int)len) != 1 || (gn = GENERAL_NAME_new()) == NULL) {
		ASN1_IA5STRING_free(ia5);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	return gn;
}

static GENERAL_NAME *
names_ip(ASN1_OCTET_STRING *ip)
{
	GENERAL_NAME *gn;

	if ((gn = GENERAL_NAME_new()) == NULL) {
		ASN1_OCTET_STRING_free(ip);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	return gn;
}

/* An IP literal becomes an IP SAN whatever type it was given: TLS clients
 * match an address only against IP SANs. */
static int
names_add(GENERAL_NAMES *gens, const char *type, const char *value, char *err,
    size_t errlen)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
	GENERAL_NAME *gn;

	if (ip == NULL && strcasecmp(type, "IP") == 0) {
		snprintf(err, errlen, "Invalid IP address: %.64s", value);
		return -1;
	}
	if (ip == NULL && !names_dns_ok(value, strlen(value))) {
		snprintf(err, errlen, "Invalid DNS name: %.64s", value);
		return -1;
	}
	gn = ip != NULL ? names_ip(ip) : names_dns(value, strlen(value));
	if (gn == NULL || sk_GENERAL_NAME_push(gens, gn) <= 0) {
		GENERAL_NAME_free(gn);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
names_add_json(GENERAL_NAMES *gens, json_object *item, char *err, size_t errlen)
{
	json_object *jtype, *jvalue;
	const char *type, *value;

	if (!json_object_is_type(item, json_type_object) ||
	    !json_object_object_get_ex(item, "type", &jtype) ||
	    !json_object_object_get_ex(item, "value", &jvalue) ||
	    !json_object_is_type(jtype, json_type_string) ||
	    !json_object_is_type(jvalue, json_type_string)) {
		snprintf(err, errlen, "Invalid SAN: want {\"type\": ..., \"value\": ...}");
		return -1;
	}
	type = json_object_get_string(jtype);
	if (strcasecmp(type, "DNS") != 0 && strcasecmp(type, "IP") != 0) {
		snprintf(err, errlen, "Unsupported SAN type: %.32s", type);
		return -1;
	}
	value = json_object_get_string(jvalue);
	if (strlen(value) != (size_t)json_object_get_string_len(jvalue)) {
		snprintf(err, errlen, "Invalid SAN: NUL in value");
		return -1;
	}
	return names_add(gens, type, value, err, errlen);
}

/* list may be NULL (no SANs asked for). */
GENERAL_NAMES *
names_from_json(json_object *list, char *err, size_t errlen)
{
	GENERAL_NAMES *gens;
	size_t n;

	if (list != NULL && !json_object_is_type(list, json_type_array)) {
		snprintf(err, errlen, "Invalid sans: not a list");
		return NULL;
	}
	if ((n = list != NULL ? json_object_array_length(list) : 0) > DEVCA_MAX_SANS) {
		snprintf(err, errlen, "Too many SANs (at most %d)", DEVCA_MAX_SANS);
		return NULL;
	}
	if ((gens = GENERAL_NAMES_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (names_add_json(gens, json_object_array_get_idx(list, i), err, errlen) != 0) {
			GENERAL_NAMES_free(gens);
			return NULL;
		}
	}
	return gens;
}

static int
names_keep(GENERAL_NAMES *out, const GENERAL_NAME *gn, char *err, size_t errlen)
{
	GENERAL_NAME *dup;

	if (gn->type != GEN_DNS && gn->type != GEN_IPADD)
		return 0;
	if (gn->type == GEN_DNS && !names_dns_ok((const char *)ASN1_STRING_get0_data(
	    gn->d.dNSName), (size_t)ASN1_STRING_length(gn->d.dNSName))) {
		snprintf(err, errlen, "Invalid DNS name in CSR");
		return -1;
	}
	if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) != 4 &&
	    ASN1_STRING_length(gn->d.iPAddress) != 16) {
		snprintf(err, errlen, "Invalid IP address in CSR");
		return -1;
	}
	if (sk_GENERAL_NAME_num(out) >= DEVCA_MAX_SANS) {
		snprintf(err, errlen, "Too many SANs (at most %d)", DEVCA_MAX_SANS);
		return -1;
	}
	if ((dup = GENERAL_NAME_dup(gn)) == NULL || sk_GENERAL_NAME_push(out, dup) <= 0) {
		GENERAL_NAME_free(dup);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The CSR's DNS and IP SANs; an empty list when it asks for none. */
GENERAL_NAMES *
names_from_req(X509_REQ *req, char *err, size_t errlen)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *asked = NULL, *out = NULL;
	int crit = -1;

	if (exts != NULL)
		asked = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (asked == NULL && crit != -1) {
		snprintf(err, errlen, "Invalid subjectAltName extension in CSR");
		goto done;
	}
	if ((out = GENERAL_NAMES_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(asked); i++) {
		if (names_keep(out, sk_GENERAL_NAME_value(asked, i), err, errlen) != 0) {
			GENERAL_NAMES_free(out);
			out = NULL;
			break;
		}
	}
done:
	GENERAL_NAMES_free(asked);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return out;
}

/* The SANs of a certificate this CA issued, already filtered when it was. */
GENERAL_NAMES *
names_from_cert(const X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	return gens != NULL ? gens : GENERAL_NAMES_new();
}

int
names_text(const GENERAL_NAME *gn, char *buf, size_t len)
{
	const ASN1_STRING *s;
	int n;

	if (gn->type == GEN_IPADD) {
		s = gn->d.iPAddress;
		n = ASN1_STRING_length(s);
		if (n != 4 && n != 16)
			return -1;
		return inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf,
		    (socklen_t)len) != NULL ? 0 : -1;
	}
	if (gn->type != GEN_DNS)
		return -1;
	s = gn->d.dNSName;
	n = ASN1_STRING_length(s);
	if (n <= 0 || (size_t)n >= len || memchr(ASN1_STRING_get0_data(s), '\0', (size_t)n))
		return -1;
	memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
	buf[n] = '\0';
	return 0;
}

/* "localhost." is "localhost": a trailing dot only makes a name absolute. */
static bool
names_same(const char *name, const char *reserved)
{
	size_t n = strlen(name), r = strlen(reserved);

	if (n > 0 && name[n - 1] == '.')
		n--;
	return n == r && strncasecmp(name, reserved, n) == 0;
}

/* The reserved name that cn (may be NULL) or sans (may be NULL) use, or
 * NULL when they use none. */
const char *
names_reserved(const struct devca_opts *opts, const char *cn, const GENERAL_NAMES *sans)
{
	char text[DEVCA_MAX_NAME];

	for (size_t r = 0; r < opts->nreserved; r++) {
		if (cn != NULL && names_same(cn, opts->reserved[r]))
			return opts->reserved[r];
		for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
			if (names_text(sk_GENERAL_NAME_value(sans, i), text, sizeof(text)) == 0 &&
			    names_same(text, opts->reserved[r]))
				return opts->reserved[r];
		}
	}
	return NULL;
}
