#include "ident.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

static int
ident_dns(const char *value, struct ident *out, char *why, size_t whylen)
{
	const char *name = value;
	size_t n = strlen(value), label = 0;

	if (strncmp(value, "*.", 2) == 0) {
		out->wildcard = true;
		name += 2;
		n -= 2;
	}
	if (n == 0 || n > 253) {
		snprintf(why, whylen, "DNS names have 1 to 253 characters");
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') {
				snprintf(why, whylen, "'%.64s' has an empty, over-long or "
				    "hyphen-edged label", value);
				return -1;
			}
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-') {
			snprintf(why, whylen, "'%.64s' has a character not allowed in a DNS "
			    "name", value);
			return -1;
		}
		label++;
	}
	if (strchr(name, '.') == NULL) {
		snprintf(why, whylen, "'%.64s' is not a fully qualified name", value);
		return -1;
	}
	snprintf(out->type, sizeof(out->type), "dns");
	for (size_t i = 0; value[i] != '\0'; i++)
		out->value[i] = (char)tolower((unsigned char)value[i]);
	out->value[strlen(value)] = '\0';
	return 0;
}

int
ident_parse(const char *type, const char *value, struct ident *out, char *why,
    size_t whylen)
{
	unsigned char addr[16];

	memset(out, 0, sizeof(*out));
	if (strlen(value) >= IDENT_VALUE_MAX) {
		snprintf(why, whylen, "identifier too long");
		return -1;
	}
	if (strcmp(type, "dns") == 0)
		return ident_dns(value, out, why, whylen);
	if (strcmp(type, "ip") == 0) {
		snprintf(out->type, sizeof(out->type), "ip");
		if (inet_pton(AF_INET, value, addr) == 1 &&
		    inet_ntop(AF_INET, addr, out->value, sizeof(out->value)) != NULL)
			return 0;
		if (inet_pton(AF_INET6, value, addr) == 1 &&
		    inet_ntop(AF_INET6, addr, out->value, sizeof(out->value)) != NULL)
			return 0;
		snprintf(why, whylen, "'%.64s' is not an IP address", value);
		return -1;
	}
	snprintf(why, whylen, "identifier type '%.16s' is not supported (dns, ip)", type);
	return -1;
}

static bool
ident_has_suffix(const char *name, const char *suffix, size_t slen)
{
	size_t n = strlen(name);

	if (slen == 0 || slen > n)
		return false;
	if (strncasecmp(name + n - slen, suffix, slen) != 0)
		return false;
	/* "example.com" allows itself and "x.example.com", not "badexample.com". */
	return slen == n || suffix[0] == '.' || name[n - slen - 1] == '.';
}

bool
ident_allowed(const struct ident *id, const char *suffixes, char *why, size_t whylen)
{
	const char *name = id->wildcard ? id->value + 2 : id->value;
	const char *p = suffixes;

	if (strcmp(id->type, "dns") == 0 && (strcmp(name, "localhost") == 0 ||
	    ident_has_suffix(name, "localhost", 9))) {
		snprintf(why, whylen, "'%s' is a reserved name", id->value);
		return false;
	}
	if (*suffixes == '\0')
		return true;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		if (strcmp(id->type, "dns") == 0 && ident_has_suffix(name, p, len))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	snprintf(why, whylen, "'%s' is outside the names this RA issues for", id->value);
	return false;
}

bool
ident_token_ok(const char *s, size_t max, const char *punct)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(punct, s[i]) == NULL)
			return false;
	return true;
}
