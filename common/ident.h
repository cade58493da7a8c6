/*
 * ACME identifiers (RFC 8555 7.1.4, RFC 8738): what a valid DNS name or IP
 * address is, in one canonical spelling, and the deployment's name policy.
 */
#ifndef UPKI_IDENT_H
#define UPKI_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define IDENT_VALUE_MAX 256

struct ident {
	char type[4];                       /* "dns" or "ip" */
	char value[IDENT_VALUE_MAX];        /* canonical; "*.x" for a wildcard */
	bool wildcard;
};

/* Checks and canonicalises (lower case; IP addresses in their standard
 * text form).  -1 with a reason when the identifier is not acceptable. */
int ident_parse(const char *type, const char *value, struct ident *out, char *why,
    size_t whylen);
/* The deployment's policy: suffixes is a comma-separated list of allowed
 * DNS suffixes ("" allows any name); reserved names are always refused. */
bool ident_allowed(const struct ident *id, const char *suffixes, char *why, size_t whylen);
/* True when s is 1 to max characters, each a letter, a digit or one of
 * punct: the names a request may carry into a URL or a CA request
 * (profile names, the Host header). */
bool ident_token_ok(const char *s, size_t max, const char *punct);

#endif
