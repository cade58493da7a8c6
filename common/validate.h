/*
 * Challenge validation (RFC 8555 section 8, RFC 8737, RFC 8738): the checks
 * the validator process runs against what an applicant published.  Every
 * host name is looked up with c-ares through the configured resolver and the
 * answer pinned in libcurl, so the system resolver never decides where a
 * check connects.  Each check ends within total_timeout_ms, lookups and
 * redirects included.  Nothing here touches the store.
 */
#ifndef UPKI_VALIDATE_H
#define UPKI_VALIDATE_H

#include <stddef.h>

enum validate_result {
	VALIDATE_OK = 0,
	VALIDATE_CONNECTION,    /* urn:ietf:params:acme:error:connection */
	VALIDATE_DNS,           /* ...:dns (NXDOMAIN, no data, SERVFAIL, timeout) */
	VALIDATE_INCORRECT,     /* ...:incorrectResponse */
	VALIDATE_UNAUTHORIZED,  /* ...:unauthorized */
	VALIDATE_TLS,           /* ...:tls */
};

/* The ACME error type after "urn:ietf:params:acme:error:" ("connection",
 * "dns", "incorrectResponse", "unauthorized", "tls"); NULL for VALIDATE_OK. */
const char *validate_error_type(enum validate_result r);

/* A zero field (or a NULL opts) takes the default shown. */
struct validate_opts {
	const char *dns_server;  /* "ip:port", "[ipv6]:port"; NULL, "": resolv.conf */
	int http_port;           /* http-01 (80) */
	int tlsalpn_port;        /* tls-alpn-01 (443) */
	const char *allow;       /* CIDRs the address policy allows after all
	                          * (addrpolicy.h); NULL, "": none */
	int connect_timeout_ms;  /* each TCP connect and each DNS try (5000) */
	int total_timeout_ms;    /* the whole check (15000) */
};

/* Once per process, before any check and before threads start: sets up
 * libcurl's and c-ares' global state and ignores SIGPIPE.  0 on success. */
int validate_init(void);
void validate_cleanup(void);

/*
 * Every address a check connects to, whether the identifier's, a lookup's
 * answer or a redirect's, passes the address policy of addrpolicy.h with
 * opts->allow: refused ones are dropped from a lookup's answer and never
 * connected to, and a check left with none is VALIDATE_UNAUTHORIZED with
 * "address policy" in its detail.  A detail quotes at most 128 bytes of a
 * URL and 64 of an answer, made printable.
 *
 * Each check returns VALIDATE_OK or the error to record, and writes a
 * one-line printable-ASCII explanation fit for the problem's "detail" into
 * detail (empty on success).  ident_type is "dns" or "ip"; name is the
 * identifier's value, without "*." except for dns-01.  A malformed
 * identifier or token, like a local failure (memory), is refused without
 * any network traffic: VALIDATE_DNS for dns-01, else VALIDATE_CONNECTION.
 * Refused connections and timeouts, the handshake's included, are
 * VALIDATE_CONNECTION.
 *
 * http-01: GET http://name:http_port/.well-known/acme-challenge/token; the
 * body, trailing whitespace ignored, must be key_authz (at most 8 KiB is
 * read).  At most 10 redirects are followed, each to http or https on port
 * 80, 443, http_port or tlsalpn_port (else VALIDATE_UNAUTHORIZED), https without
 * certificate verification (RFC 8555 section 8.3; a failed https handshake
 * is VALIDATE_TLS).  A status other than 200 is VALIDATE_INCORRECT, an
 * 11th redirect VALIDATE_CONNECTION, a name without A or AAAA records (the
 * identifier's or a redirect's) VALIDATE_DNS.
 */
enum validate_result validate_http01(const struct validate_opts *o,
    const char *ident_type, const char *name, const char *token,
    const char *key_authz, char *detail, size_t detlen);

/* dns-01: a TXT record at _acme-challenge.name ("*." stripped) must be
 * base64url(SHA-256(key_authz)).  No such name, no TXT record at all,
 * SERVFAIL or no answer in time is VALIDATE_DNS; records that all differ
 * are VALIDATE_INCORRECT. */
enum validate_result validate_dns01(const struct validate_opts *o,
    const char *name, const char *key_authz, char *detail, size_t detlen);

/*
 * tls-alpn-01: a TLS handshake on tlsalpn_port offering only ALPN
 * "acme-tls/1", SNI name (for "ip", its reverse-DNS name, RFC 8738 section
 * 6); the chain is not verified.  No acme-tls/1 or a failed handshake is
 * VALIDATE_TLS.  The certificate must name exactly the identifier in its
 * only subjectAltName (else VALIDATE_UNAUTHORIZED: the certificate is
 * someone else's) and carry one critical acmeIdentifier extension holding
 * SHA-256(key_authz) (else VALIDATE_INCORRECT: a wrong answer).
 */
enum validate_result validate_tlsalpn01(const struct validate_opts *o,
    const char *ident_type, const char *name, const char *key_authz,
    char *detail, size_t detlen);

#endif
