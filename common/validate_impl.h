/*
 * Private to the validate*.c files: one check's state, the shared lookup
 * and connection helpers, and the bounds they keep.  Nothing outside
 * common/validate*.c includes this header.
 */
#ifndef UPKI_VALIDATE_IMPL_H
#define UPKI_VALIDATE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <netinet/in.h>

#include <curl/curl.h>
#include <openssl/sha.h>

#include "addrpolicy.h"
#include "validate.h"

#define VALIDATE_BODY_MAX       8192    /* a key authorization is ~90 bytes */
#define VALIDATE_REDIRECTS_MAX  10
#define VALIDATE_ADDRS_MAX      4       /* per address family */
#define VALIDATE_TOKEN_MAX      256
#define VALIDATE_HOST_MAX       260     /* 253-byte name, or [IPv6], or ip6.arpa */
#define VALIDATE_EXCERPT        64      /* bytes of a wrong answer quoted */
#define VALIDATE_REFUSAL_MAX    (INET6_ADDRSTRLEN + 64)  /* "addr is range" */
#define VALIDATE_ACME_ID_OID    "1.3.6.1.5.5.7.1.31"    /* id-pe-acmeIdentifier */
#define VALIDATE_ALPN           "acme-tls/1"
#define VALIDATE_USER_AGENT     "upki-ra validator"
#define VALIDATE_LDH \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
#define VALIDATE_B64URL VALIDATE_LDH "_"

/* One check: its options with the defaults applied, its deadline, and
 * where its explanation goes. */
struct validate_check {
	const char *dns_server;
	struct addrpolicy addrs;    /* where connections may go */
	int http_port;
	int tlsalpn_port;
	int connect_ms;
	long long deadline;     /* CLOCK_MONOTONIC, ms */
	char *detail;
	size_t detlen;
};

/* The answer to one DNS query, copied out of c-ares' callback. */
struct validate_reply {
	int status;             /* ARES_SUCCESS, ARES_ENOTFOUND, ...; -1 pending */
	unsigned char *abuf;
	int alen;
};

/* A libcurl handle whose host is pinned to addresses we looked up. */
struct validate_conn {
	CURL *curl;
	struct curl_slist *pin;
	char err[CURL_ERROR_SIZE];
	const struct addrpolicy *addrs;
	char refused[VALIDATE_REFUSAL_MAX];     /* the first socket not opened */
};

/* Milliseconds before the check's deadline; 0 once it has passed. */
long validate_left_ms(const struct validate_check *v);
/* Starts a check: the defaults applied, the deadline set, detail empty. */
void validate_begin(struct validate_check *v, const struct validate_opts *o,
    char *detail, size_t detlen);
/* Writes the detail, one line of printable ASCII, and returns r. */
enum validate_result validate_fail(struct validate_check *v, enum validate_result r,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The start of a wrong answer, to quote in a detail. */
void validate_excerpt(char out[VALIDATE_EXCERPT + 4], const void *data, size_t len);
/*
 * A DNS identifier as ACME has them: labels of 1 to 63 letters, digits and
 * hyphens, no trailing dot, and a last label that is not all digits, so that
 * neither libcurl nor c-ares can read it as an address literal and go around
 * the pinned lookup.
 */
bool validate_hostname_ok(const char *name);
/* An "ip" identifier in network order; returns its length (4 or 16), or 0
 * when name is no address. */
size_t validate_ip(const char *name, unsigned char addr[16]);
/* "dns" with a well-formed name, or "ip" with an address. */
bool validate_ident_ok(const char *type, const char *name);
/* The token goes into a URL path: base64url only (RFC 8555 section 8.3). */
bool validate_token_ok(const char *token);
/* A host as it appears in a URL: an IPv6 address goes in brackets. */
void validate_url_host(const char *type, const char *name,
    char out[VALIDATE_HOST_MAX]);
/* A URL host that needs no lookup. */
bool validate_is_literal(const char *host);
bool validate_sha256(const char *key_authz, unsigned char md[SHA256_DIGEST_LENGTH]);
/* Asks the check's resolver for qname, one query per type, all at once. */
enum validate_result validate_lookup(struct validate_check *v, const char *qname,
    const int *types, struct validate_reply *reps, size_t n);
/*
 * A libcurl handle for url, whose host and port are given apart so that the
 * pin matches what libcurl will look for.  Certificates are not verified
 * (RFC 8555 section 8.3: an https redirect may point to a self-signed one),
 * and no proxy from the environment gets to see, or answer, the check.
 */
enum validate_result validate_conn_open(struct validate_check *v,
    struct validate_conn *cn, const char *url, const char *host, long port);
void validate_conn_close(struct validate_conn *cn);
/* A failed transfer: the TLS of an https hop, else the connection
 * (refused, reset, timed out, not speaking HTTP). */
enum validate_result validate_curl_fail(struct validate_check *v,
    const struct validate_conn *cn, CURLcode rc, const char *what);

#endif
