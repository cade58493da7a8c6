#include "dn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>

#include "cert.h"

#define DN_MAX_RDNS 32

/* One attribute; plus: it belongs to the RDN of the attribute before it
 * (a multi-valued RDN, written "/K=V+K2=V2" and "K2=V2+K=V"). */
struct dn_rdn {
	char key[32];
	char value[256];
	bool plus;
};

/* Attribute names in the spelling OpenSSL's one-line form uses. */
static void
dn_key_normalise(char *key)
{
	static const char *const known[] = { "CN", "O", "OU", "C", "L", "ST", "DC", "UID",
	    "emailAddress", "serialNumber", "SN", "GN", "title" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcasecmp(key, known[i]) == 0) {
			strcpy(key, known[i]);
			return;
		}
	}
	if (strcasecmp(key, "E") == 0 || strcasecmp(key, "email") == 0)
		strcpy(key, "emailAddress");
}

static int
dn_rdn_cmp(const void *a, const void *b)
{
	const struct dn_rdn *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Puts the attributes in certificate order (RFC 2253 text lists them in
 * reverse, multi-valued RDNs included), then sorts the attributes of each
 * multi-valued RDN: a SET has no order, so every spelling of one gets the
 * same canonical form. */
static void
dn_order(struct dn_rdn *rdns, int n, bool reverse)
{
	bool plus[DN_MAX_RDNS];
	int start = 0;

	if (reverse) {
		for (int i = 0; i < n; i++)
			plus[i] = i > 0 && rdns[n - i].plus;
		for (int i = 0; i < n / 2; i++) {
			struct dn_rdn t = rdns[i];

			rdns[i] = rdns[n - 1 - i];
			rdns[n - 1 - i] = t;
		}
		for (int i = 0; i < n; i++)
			rdns[i].plus = plus[i];
	}
	for (int i = 1; i <= n; i++) {
		if (i < n && rdns[i].plus)
			continue;
		qsort(rdns + start, (size_t)(i - start), sizeof(rdns[0]), dn_rdn_cmp);
		for (int k = start; k < i; k++)
			rdns[k].plus = k > start;
		start = i;
	}
}

static int
dn_join(struct dn_rdn *rdns, int n, bool reverse, char *out, size_t outlen)
{
	size_t len = 0;

	out[0] = '\0';
	dn_order(rdns, n, reverse);
	for (int i = 0; i < n; i++) {
		const struct dn_rdn *r = &rdns[i];
		int w = snprintf(out + len, outlen - len, "%c%s=%s", r->plus ? '+' : '/',
		    r->key, r->value);

		if (w < 0 || (size_t)w >= outlen - len)
			return -1;
		len += (size_t)w;
	}
	return n > 0 ? 0 : -1;
}

/* Reads one attribute value of RFC 2253 text, undoing its escapes;
 * stops at an unescaped ',' or '+' (the next attribute of the same RDN).  Unescaped
 * spaces around the value are not part of it; an escaped one is ("CN=a\ "
 * is nginx's spelling of the value "a "). */
static const char *
dn_read_value(const char *p, char *out, size_t outlen)
{
	size_t n = 0, kept = 0;     /* kept: up to the last escaped character */

	while (*p == ' ')
		p++;
	while (*p != '\0' && *p != ',' && *p != '+') {
		char c = *p++;
		bool escaped = c == '\\';

		if (escaped) {
			if (isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
				char hex[3] = { p[0], p[1], '\0' };

				c = (char)strtol(hex, NULL, 16);
				p += 2;
			} else if (*p != '\0') {
				c = *p++;
			} else {
				return NULL;
			}
		}
		if (c == '\0' || c == '/' || c == '+' || n + 1 >= outlen)
			return NULL;    /* '/' and '+' would break the canonical form */
		out[n++] = c;
		if (escaped)
			kept = n;
	}
	while (n > kept && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n > 0 ? p : NULL;
}

/* What the text of a comma-separated DN looked like: which tool wrote it. */
struct dn_seen {
	bool spaced;            /* "K = V": OpenSSL's default one-line form */
	bool bare;              /* "K=V": RFC 2253 */
	bool comma_space;       /* ", " between attributes */
	bool quoted;            /* a "..." value (the one-line form quotes) */
};

/* A "..." value of OpenSSL's one-line form; backslash escapes as in RFC
 * 2253.  Returns what follows the closing quote. */
static const char *
dn_read_quoted(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	for (p++; *p != '"'; n++) {
		char c = *p++;

		if (c == '\\' && isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
			char hex[3] = { p[0], p[1], '\0' };

			c = (char)strtol(hex, NULL, 16);
			p += 2;
		} else if (c == '\\') {
			c = *p++;
		}
		if (c == '\0' || c == '/' || c == '+' || n + 1 >= outlen)
			return NULL;
		out[n] = c;
	}
	out[n] = '\0';
	for (p++; *p == ' ';)
		p++;
	return n > 0 && (*p == '\0' || *p == ',' || *p == '+') ? p : NULL;
}

/* "K=V,K=V+K=V" (RFC 2253) or "K = V, K = V + K = V" (OpenSSL's one-line
 * form), in the order written; seen says which. */
static int
dn_parse_text(const char *in, struct dn_rdn *rdns, int *n, struct dn_seen *seen)
{
	const char *p = in;
	bool plus = false;

	*n = 0;
	memset(seen, 0, sizeof(*seen));
	while (*p != '\0') {
		struct dn_rdn *r;
		size_t k;

		if (*n == DN_MAX_RDNS)
			return -1;
		r = &rdns[(*n)++];
		r->plus = plus;
		if (*n > 1 && *p == ' ')
			seen->comma_space = true;
		while (*p == ' ')
			p++;
		k = strcspn(p, "=");
		if (p[k] != '=' || k == 0 || k >= sizeof(r->key))
			return -1;
		memcpy(r->key, p, k);
		if (p[k - 1] == ' ' || p[k + 1] == ' ')
			seen->spaced = true;
		else
			seen->bare = true;
		while (k > 0 && r->key[k - 1] == ' ')
			k--;
		r->key[k] = '\0';
		for (size_t i = 0; i < k; i++)
			if (!isalnum((unsigned char)r->key[i]) && r->key[i] != '.')
				return -1;
		dn_key_normalise(r->key);
		for (p += strcspn(p, "=") + 1; *p == ' ';)
			p++;
		seen->quoted |= *p == '"';
		p = *p == '"' ? dn_read_quoted(p, r->value, sizeof(r->value)) :
		    dn_read_value(p, r->value, sizeof(r->value));
		if (p == NULL)
			return -1;
		plus = *p == '+';
		if (*p == ',' || *p == '+')
			p++;
	}
	return *n > 0 && !plus ? 0 : -1;
}

static int
dn_parse_slash(const char *in, struct dn_rdn *rdns, int *n)
{
	const char *p = in + 1;
	bool plus = false;

	*n = 0;
	while (*p != '\0') {
		struct dn_rdn *r;
		size_t k, v;

		if (*n == DN_MAX_RDNS)
			return -1;
		r = &rdns[(*n)++];
		r->plus = plus;
		k = strcspn(p, "=/+");
		if (p[k] != '=' || k == 0 || k >= sizeof(r->key))
			return -1;
		memcpy(r->key, p, k);
		r->key[k] = '\0';
		dn_key_normalise(r->key);
		p += k + 1;
		v = strcspn(p, "/+");
		if (v == 0 || v >= sizeof(r->value))
			return -1;
		memcpy(r->value, p, v);
		r->value[v] = '\0';
		p += v;
		plus = *p == '+';
		if (*p == '/' || *p == '+')
			p++;
	}
	return *n > 0 && !plus ? 0 : -1;
}

int
dn_canonical(const char *in, char *out, size_t outlen)
{
	struct dn_rdn rdns[DN_MAX_RDNS];
	struct dn_seen seen;
	int n;

	if (strlen(in) >= DN_MAX)
		return -1;
	if (in[0] == '/')
		return dn_parse_slash(in, rdns, &n) == 0 ? dn_join(rdns, n, false, out, outlen) : -1;
	/* RFC 2253 lists the most specific RDN first: reverse it.  nginx's
	 * text never has the one-line form's spaces or quotes. */
	if (dn_parse_text(in, rdns, &n, &seen) != 0 || seen.spaced || seen.quoted)
		return -1;
	return dn_join(rdns, n, true, out, outlen);
}

/* The number of RDNs (a multi-valued one counts once). */
static int
dn_rdn_count(const struct dn_rdn *rdns, int n)
{
	int count = 0;

	for (int i = 0; i < n; i++)
		count += !rdns[i].plus;
	return count;
}

int
dn_operator(const char *in, char *out, size_t outlen, const char **form)
{
	struct dn_rdn rdns[DN_MAX_RDNS];
	struct dn_seen seen;
	int n;

	while (*in == ' ')
		in++;
	if (strncasecmp(in, "subject=", 8) == 0)
		in += 8;
	while (*in == ' ')
		in++;
	if (strlen(in) >= DN_MAX)
		return DN_BAD;
	if (in[0] == '/') {
		*form = "the RA's form, in certificate order";
		return dn_parse_slash(in, rdns, &n) == 0 &&
		    dn_join(rdns, n, false, out, outlen) == 0 ? 0 : DN_BAD;
	}
	if (dn_parse_text(in, rdns, &n, &seen) != 0)
		return DN_BAD;
	/* One RDN reads the same both ways. */
	if (dn_rdn_count(rdns, n) > 1 && (seen.spaced ? seen.bare :
	    seen.comma_space || seen.quoted))
		return DN_AMBIGUOUS;
	*form = seen.spaced ? "OpenSSL's one-line form, in certificate order" :
	    "RFC 2253, most specific first";
	return dn_join(rdns, n, !seen.spaced, out, outlen) == 0 ? 0 : DN_BAD;
}

/* Straight from the ASN.1 entries: the one-line text would let a value
 * holding "/O=x" pass for a second attribute. */
int
dn_from_cert(const X509 *crt, char *out, size_t outlen)
{
	const X509_NAME *name = X509_get_subject_name(crt);
	struct dn_rdn rdns[DN_MAX_RDNS];
	int n = X509_NAME_entry_count(name), set = -1;

	if (n <= 0 || n > DN_MAX_RDNS)
		return -1;
	for (int i = 0; i < n; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		bool bad = nid == NID_undef || len <= 0 || (size_t)len >= sizeof(rdns[i].value) ||
		    memchr(utf8, '/', (size_t)len) != NULL || memchr(utf8, '+', (size_t)len) != NULL ||
		    memchr(utf8, '\0', (size_t)len) != NULL;

		rdns[i].plus = X509_NAME_ENTRY_set(e) == set;
		set = X509_NAME_ENTRY_set(e);
		if (!bad) {
			snprintf(rdns[i].key, sizeof(rdns[i].key), "%s", OBJ_nid2sn(nid));
			dn_key_normalise(rdns[i].key);
			memcpy(rdns[i].value, utf8, (size_t)len);
			rdns[i].value[len] = '\0';
		}
		OPENSSL_free(utf8);
		if (bad)
			return -1;
	}
	return dn_join(rdns, n, false, out, outlen);
}

X509 *
dn_client_cert(const char *escaped)
{
	size_t len = strlen(escaped), n = 0;
	char *pem;
	X509 *crt;

	if (len > CERT_PEM_MAX * 3 || (pem = malloc(len + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (escaped[i] == '%' && isxdigit((unsigned char)escaped[i + 1]) &&
		    isxdigit((unsigned char)escaped[i + 2])) {
			char hex[3] = { escaped[i + 1], escaped[i + 2], '\0' };

			pem[n++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			pem[n++] = escaped[i];
		}
	}
	pem[n] = '\0';
	crt = cert_from_pem(pem);
	free(pem);
	return crt;
}
