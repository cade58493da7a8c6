#include "validate.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ares.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "buf.h"
#include "mono.h"

#define VALIDATE_BODY_MAX       8192    /* a key authorization is ~90 bytes */
#define VALIDATE_REDIRECTS_MAX  10
#define VALIDATE_ADDRS_MAX      4       /* per address family */
#define VALIDATE_TOKEN_MAX      256
#define VALIDATE_HOST_MAX       260     /* 253-byte name, or [IPv6], or ip6.arpa */
#define VALIDATE_EXCERPT        64      /* bytes of a wrong answer quoted */
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
};

/* One response of an http-01 redirect chain. */
struct validate_resp {
	long status;
	struct buf body;
	char *location;         /* where a redirect points, else NULL */
};

const char *
validate_error_type(enum validate_result r)
{
	switch (r) {
	case VALIDATE_OK:
		return NULL;
	case VALIDATE_CONNECTION:
		return "connection";
	case VALIDATE_DNS:
		return "dns";
	case VALIDATE_INCORRECT:
		return "incorrectResponse";
	case VALIDATE_UNAUTHORIZED:
		return "unauthorized";
	case VALIDATE_TLS:
		return "tls";
	}
	return "serverInternal";
}

int
validate_init(void)
{
	/* OpenSSL writes to the applicant's socket with write(2): a peer that
	 * resets the connection must fail the check, not kill the process. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

void
validate_cleanup(void)
{
	ares_library_cleanup();
	curl_global_cleanup();
}

/* Milliseconds before the check's deadline; 0 once it has passed. */
static long
validate_left_ms(const struct validate_check *v)
{
	long long left = v->deadline - mono_ms();

	return left > 0 ? (long)left : 0;
}

static void
validate_begin(struct validate_check *v, const struct validate_opts *o,
    char *detail, size_t detlen)
{
	static const struct validate_opts defaults;

	if (o == NULL)
		o = &defaults;
	v->dns_server = o->dns_server;
	v->http_port = o->http_port > 0 ? o->http_port : 80;
	v->tlsalpn_port = o->tlsalpn_port > 0 ? o->tlsalpn_port : 443;
	v->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	v->deadline = mono_ms() +
	    (o->total_timeout_ms > 0 ? o->total_timeout_ms : 15000);
	v->detail = detail;
	v->detlen = detlen;
	if (detlen > 0)
		detail[0] = '\0';
}

/* Bytes from the network may be anything: the detail stays one line of
 * printable ASCII. */
static void
validate_printable(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
}

static enum validate_result __attribute__((format(printf, 3, 4)))
validate_fail(struct validate_check *v, enum validate_result r, const char *fmt,
    ...)
{
	va_list ap;

	if (v->detlen == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(v->detail, v->detlen, fmt, ap);
	va_end(ap);
	validate_printable(v->detail, strlen(v->detail));
	return r;
}

/* The start of a wrong answer, to quote in a detail. */
static void
validate_excerpt(char out[VALIDATE_EXCERPT + 4], const void *data, size_t len)
{
	size_t n = len < VALIDATE_EXCERPT ? len : VALIDATE_EXCERPT;

	if (n > 0)
		memcpy(out, data, n);
	validate_printable(out, n);
	snprintf(out + n, 4, "%s", len > n ? "..." : "");
}

/*
 * A DNS identifier as ACME has them: labels of 1 to 63 letters, digits and
 * hyphens, no trailing dot, and a last label that is not all digits, so that
 * neither libcurl nor c-ares can read it as an address literal and go around
 * the pinned lookup.
 */
static bool
validate_hostname_ok(const char *name)
{
	size_t label = 0, total = 0;
	bool digits = true;

	for (const char *p = name; *p != '\0'; p++, total++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (strchr(VALIDATE_LDH, *p) == NULL || ++label > 63)
			return false;
		if (*p < '0' || *p > '9')
			digits = false;
	}
	return label > 0 && !digits && total <= 253;
}

/* An "ip" identifier in network order; returns its length (4 or 16), or 0
 * when name is no address. */
static size_t
validate_ip(const char *name, unsigned char addr[16])
{
	if (inet_pton(AF_INET, name, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, name, addr) == 1)
		return 16;
	return 0;
}

static bool
validate_ident_ok(const char *type, const char *name)
{
	unsigned char addr[16];

	if (type == NULL || name == NULL)
		return false;
	if (strcmp(type, "dns") == 0)
		return validate_hostname_ok(name);
	return strcmp(type, "ip") == 0 && validate_ip(name, addr) != 0;
}

/* The token goes into a URL path: base64url only (RFC 8555 section 8.3). */
static bool
validate_token_ok(const char *token)
{
	size_t len = token != NULL ? strlen(token) : 0;

	return len > 0 && len <= VALIDATE_TOKEN_MAX &&
	    strspn(token, VALIDATE_B64URL) == len;
}

/* A host as it appears in a URL: an IPv6 address goes in brackets. */
static void
validate_url_host(const char *type, const char *name,
    char out[VALIDATE_HOST_MAX])
{
	bool v6 = strcmp(type, "ip") == 0 && strchr(name, ':') != NULL;

	snprintf(out, VALIDATE_HOST_MAX, v6 ? "[%s]" : "%s", name);
}

/* A URL host that needs no lookup. */
static bool
validate_is_literal(const char *host)
{
	struct in_addr in;

	return host[0] == '[' || inet_pton(AF_INET, host, &in) == 1;
}

static bool
validate_sha256(const char *key_authz, unsigned char md[SHA256_DIGEST_LENGTH])
{
	return EVP_Digest(key_authz, strlen(key_authz), md, NULL, EVP_sha256(),
	    NULL) == 1;
}

static void
validate_dns_cb(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct validate_reply *rep = arg;

	(void)timeouts;
	rep->status = status;
	if (status != ARES_SUCCESS || abuf == NULL || alen <= 0)
		return;
	if ((rep->abuf = malloc((size_t)alen)) == NULL) {
		rep->status = ARES_ENOMEM;
		return;
	}
	memcpy(rep->abuf, abuf, (size_t)alen);
	rep->alen = alen;
}

static bool
validate_dns_pending(const struct validate_reply *reps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (reps[i].status < 0)
			return true;
	return false;
}

/* The sockets c-ares waits on.  Its ARES_GETSOCK_WRITABLE() shifts a
 * signed 1 into the sign bit for the last socket, hence the bits by hand. */
static nfds_t
validate_dns_fds(ares_channel ch, struct pollfd pfd[ARES_GETSOCK_MAXNUM])
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	unsigned int bits = (unsigned int)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
	nfds_t nfd = 0;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = (bits & 1u << i ? POLLIN : 0) |
		    (bits & 1u << (i + ARES_GETSOCK_MAXNUM) ? POLLOUT : 0);

		if (ev != 0)
			pfd[nfd++] = (struct pollfd){ .fd = socks[i], .events = ev };
	}
	return nfd;
}

/* Runs c-ares until every query has its answer; false once the check's
 * deadline has passed. */
static bool
validate_dns_wait(const struct validate_check *v, ares_channel ch,
    const struct validate_reply *reps, size_t n)
{
	while (validate_dns_pending(reps, n)) {
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval maxtv, tv, *tvp;
		long left = validate_left_ms(v);
		nfds_t nfd;

		if (left == 0)
			return false;
		nfd = validate_dns_fds(ch, pfd);
		maxtv.tv_sec = left / 1000;
		maxtv.tv_usec = left % 1000 * 1000;
		tvp = ares_timeout(ch, &maxtv, &tv);
		/* EINTR just goes round again; the deadline bounds the loop. */
		poll(pfd, nfd, (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000));
		for (nfds_t i = 0; i < nfd; i++) {
			ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				rfd = pfd[i].fd;
			if (pfd[i].revents & POLLOUT)
				wfd = pfd[i].fd;
			if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
				ares_process_fd(ch, rfd, wfd);
		}
		/* Resends and expires the queries whose time has come. */
		ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	return true;
}

/* Asks the check's resolver for qname, one query per type, all at once. */
static enum validate_result
validate_lookup(struct validate_check *v, const char *qname, const int *types,
    struct validate_reply *reps, size_t n)
{
	struct ares_options opts;
	ares_channel ch;
	bool answered;
	int rc;

	memset(&opts, 0, sizeof(opts));
	/* A resolver gets as long for one try as a peer gets to accept. */
	opts.timeout = v->connect_ms;
	/* SERVFAIL and REFUSED are answers to report as such, not reasons to
	 * retry until "could not contact DNS servers". */
	opts.flags = ARES_FLAG_NOCHECKRESP;
	rc = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS)
		return validate_fail(v, VALIDATE_DNS, "cannot set up the resolver: %s",
		    ares_strerror(rc));
	if (v->dns_server != NULL && v->dns_server[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(ch, v->dns_server)) != ARES_SUCCESS) {
		ares_destroy(ch);
		return validate_fail(v, VALIDATE_DNS, "resolver %s: %s", v->dns_server,
		    ares_strerror(rc));
	}
	for (size_t i = 0; i < n; i++) {
		reps[i].status = -1;
		ares_query(ch, qname, ns_c_in, types[i], validate_dns_cb, &reps[i]);
	}
	answered = validate_dns_wait(v, ch, reps, n);
	/* Calls back what is still pending, with ARES_EDESTRUCTION. */
	ares_destroy(ch);
	if (!answered)
		return validate_fail(v, VALIDATE_DNS, "DNS lookup of %s timed out",
		    qname);
	return VALIDATE_OK;
}

/* Appends host's addresses, A records first, in CURLOPT_RESOLVE's form:
 * "192.0.2.1,[2001:db8::1]". */
static enum validate_result
validate_resolve(struct validate_check *v, const char *host, struct buf *out)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	struct validate_reply reps[2];
	struct ares_addrttl a4[VALIDATE_ADDRS_MAX];
	struct ares_addr6ttl a6[VALIDATE_ADDRS_MAX];
	int n4 = VALIDATE_ADDRS_MAX, n6 = VALIDATE_ADDRS_MAX, why;
	char text[INET6_ADDRSTRLEN];
	const char *sep = "";
	enum validate_result r;

	memset(reps, 0, sizeof(reps));
	if ((r = validate_lookup(v, host, types, reps, 2)) != VALIDATE_OK)
		goto done;
	if (reps[0].status != ARES_SUCCESS || ares_parse_a_reply(reps[0].abuf,
	    reps[0].alen, NULL, a4, &n4) != ARES_SUCCESS)
		n4 = 0;
	if (reps[1].status != ARES_SUCCESS || ares_parse_aaaa_reply(reps[1].abuf,
	    reps[1].alen, NULL, a6, &n6) != ARES_SUCCESS)
		n6 = 0;
	for (int i = 0; i < n4; i++, sep = ",")
		buf_printf(out, "%s%s", sep,
		    inet_ntop(AF_INET, &a4[i].ipaddr, text, sizeof(text)));
	for (int i = 0; i < n6; i++, sep = ",")
		buf_printf(out, "%s[%s]", sep,
		    inet_ntop(AF_INET6, &a6[i].ip6addr, text, sizeof(text)));
	if (n4 + n6 == 0) {
		why = reps[0].status != ARES_SUCCESS ? reps[0].status : reps[1].status;
		r = validate_fail(v, VALIDATE_DNS, "no address for %s: %s", host,
		    why != ARES_SUCCESS ? ares_strerror(why) : "no A or AAAA record");
	}
done:
	for (size_t i = 0; i < 2; i++)
		free(reps[i].abuf);
	return r;
}

/* Makes libcurl connect to host only at the addresses our resolver gave. */
static enum validate_result
validate_pin(struct validate_check *v, struct validate_conn *cn,
    const char *host, long port)
{
	struct buf entry;
	enum validate_result r;

	buf_init(&entry, 4096);
	buf_printf(&entry, "%s:%ld:", host, port);
	if ((r = validate_resolve(v, host, &entry)) == VALIDATE_OK &&
	    (entry.failed || (cn->pin = curl_slist_append(NULL, entry.data)) == NULL))
		r = validate_fail(v, VALIDATE_CONNECTION, "out of memory");
	buf_free(&entry);
	return r;
}

/*
 * A libcurl handle for url, whose host and port are given apart so that the
 * pin matches what libcurl will look for.  Certificates are not verified
 * (RFC 8555 section 8.3: an https redirect may point to a self-signed one),
 * and no proxy from the environment gets to see, or answer, the check.
 */
static enum validate_result
validate_conn_open(struct validate_check *v, struct validate_conn *cn,
    const char *url, const char *host, long port)
{
	enum validate_result r;
	long left;
	CURL *c;

	if (!validate_is_literal(host) &&
	    (r = validate_pin(v, cn, host, port)) != VALIDATE_OK)
		return r;
	if ((left = validate_left_ms(v)) == 0)
		return validate_fail(v, VALIDATE_CONNECTION, "%s: timed out", url);
	if ((cn->curl = c = curl_easy_init()) == NULL ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_RESOLVE, cn->pin) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    v->connect_ms < left ? (long)v->connect_ms : left) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, VALIDATE_USER_AGENT) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cn->err) != CURLE_OK)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
	return VALIDATE_OK;
}

static void
validate_conn_close(struct validate_conn *cn)
{
	curl_easy_cleanup(cn->curl);
	curl_slist_free_all(cn->pin);
}

/* A failed transfer: the TLS of an https hop, else the connection
 * (refused, reset, timed out, not speaking HTTP). */
static enum validate_result
validate_curl_fail(struct validate_check *v, const struct validate_conn *cn,
    CURLcode rc, const char *what)
{
	enum validate_result r = rc == CURLE_SSL_CONNECT_ERROR ? VALIDATE_TLS :
	    VALIDATE_CONNECTION;

	return validate_fail(v, r, "%s: %s", what,
	    cn->err[0] != '\0' ? cn->err : curl_easy_strerror(rc));
}

/*
 * Where a URL of the http-01 chain connects: http or https, port 80, 443 or
 * the configured one, and a host that is an address or a well-formed name,
 * else the redirect is refused.  *hostp is for curl_free().
 */
static enum validate_result
validate_http_target(struct validate_check *v, const char *url, char **hostp,
    long *portp)
{
	enum validate_result r = VALIDATE_UNAUTHORIZED;
	char *scheme = NULL, *port = NULL;
	CURLU *u;

	*hostp = NULL;
	if ((u = curl_url()) == NULL)
		return validate_fail(v, VALIDATE_CONNECTION, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, hostp, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		validate_fail(v, r, "%s: not a valid URL", url);
		goto done;
	}
	*portp = strtol(port, NULL, 10);
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		validate_fail(v, r, "%s: scheme %s is not allowed", url, scheme);
	else if (*portp != 80 && *portp != 443 && *portp != v->http_port)
		validate_fail(v, r, "%s: port %ld is not allowed", url, *portp);
	else if (!validate_is_literal(*hostp) && !validate_hostname_ok(*hostp))
		validate_fail(v, r, "%s: host %s is not allowed", url, *hostp);
	else
		r = VALIDATE_OK;
done:
	if (r != VALIDATE_OK) {
		curl_free(*hostp);
		*hostp = NULL;
	}
	curl_free(scheme);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

static size_t
validate_http_write(char *data, size_t size, size_t n, void *arg)
{
	/* Taking less than offered stops libcurl with CURLE_WRITE_ERROR: past
	 * VALIDATE_BODY_MAX the body cannot match anyway. */
	return buf_add(arg, data, size * n) ? size * n : 0;
}

static bool
validate_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	    status == 308;
}

/* One GET of the chain: its status, the start of its body, and where it
 * redirects to. */
static enum validate_result
validate_http_get(struct validate_check *v, const char *url,
    struct validate_resp *resp)
{
	struct validate_conn cn;
	enum validate_result r;
	char *host, *loc;
	long port = 0;
	CURLcode rc;

	memset(&cn, 0, sizeof(cn));
	if ((r = validate_http_target(v, url, &host, &port)) != VALIDATE_OK)
		return r;
	if ((r = validate_conn_open(v, &cn, url, host, port)) != VALIDATE_OK)
		goto done;
	if (curl_easy_setopt(cn.curl, CURLOPT_WRITEFUNCTION,
	    validate_http_write) != CURLE_OK ||
	    curl_easy_setopt(cn.curl, CURLOPT_WRITEDATA, &resp->body) != CURLE_OK) {
		r = validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
		goto done;
	}
	rc = curl_easy_perform(cn.curl);
	/* An oversized body still came with a status worth reporting. */
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && resp->body.failed)) {
		r = validate_curl_fail(v, &cn, rc, url);
		goto done;
	}
	curl_easy_getinfo(cn.curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (validate_is_redirect(resp->status) &&
	    curl_easy_getinfo(cn.curl, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc != NULL && (resp->location = strdup(loc)) == NULL)
		r = validate_fail(v, VALIDATE_CONNECTION, "out of memory");
done:
	validate_conn_close(&cn);
	curl_free(host);
	return r;
}

static bool
validate_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The last response of the chain must be 200 with the key authorization,
 * whitespace at the end ignored (RFC 8555 section 8.3). */
static enum validate_result
validate_http_body(struct validate_check *v, const char *url,
    const struct validate_resp *resp, const char *key_authz)
{
	size_t len = resp->body.len, want = strlen(key_authz);
	char got[VALIDATE_EXCERPT + 4];

	if (resp->status != 200)
		return validate_fail(v, VALIDATE_INCORRECT, "%s: HTTP %ld", url,
		    resp->status);
	if (resp->body.failed)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "%s: body longer than %d bytes", url, VALIDATE_BODY_MAX);
	while (len > 0 && validate_is_space(resp->body.data[len - 1]))
		len--;
	if (len == want && len > 0 && memcmp(resp->body.data, key_authz, len) == 0)
		return VALIDATE_OK;
	validate_excerpt(got, resp->body.data, len);
	return validate_fail(v, VALIDATE_INCORRECT,
	    "%s: got \"%s\", not the key authorization", url, got);
}

enum validate_result
validate_http01(const struct validate_opts *o, const char *ident_type,
    const char *name, const char *token, const char *key_authz, char *detail,
    size_t detlen)
{
	struct validate_check v;
	struct validate_resp resp;
	char host[VALIDATE_HOST_MAX], *url;
	enum validate_result r;

	validate_begin(&v, o, detail, detlen);
	if (!validate_ident_ok(ident_type, name) || !validate_token_ok(token) ||
	    key_authz == NULL)
		return validate_fail(&v, VALIDATE_CONNECTION,
		    "malformed identifier or token");
	validate_url_host(ident_type, name, host);
	if (asprintf(&url, "http://%s:%d/.well-known/acme-challenge/%s", host,
	    v.http_port, token) < 0)
		return validate_fail(&v, VALIDATE_CONNECTION, "out of memory");
	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, VALIDATE_BODY_MAX);
	for (int redirects = 0;; redirects++) {
		if ((r = validate_http_get(&v, url, &resp)) != VALIDATE_OK ||
		    resp.location == NULL)
			break;
		if (redirects == VALIDATE_REDIRECTS_MAX) {
			r = validate_fail(&v, VALIDATE_CONNECTION,
			    "%s: more than %d redirects", url, VALIDATE_REDIRECTS_MAX);
			break;
		}
		free(url);
		url = resp.location;
		resp.location = NULL;
		buf_reset(&resp.body);
	}
	if (r == VALIDATE_OK)
		r = validate_http_body(&v, url, &resp, key_authz);
	free(resp.location);
	buf_free(&resp.body);
	free(url);
	return r;
}

/* Whether one TXT record, the concatenation of its strings, is want; else
 * the detail quotes the first. */
static enum validate_result
validate_txt_match(struct validate_check *v, const char *qname,
    const struct ares_txt_ext *txt, const char *want)
{
	const struct ares_txt_ext *first = txt;
	size_t wlen = strlen(want), off = 0;
	char got[VALIDATE_EXCERPT + 4];
	bool same = true;
	int records = 0;

	for (; txt != NULL; txt = txt->next) {
		if (txt->record_start) {
			records++;
			off = 0;
			same = true;
		}
		same = same && txt->length <= wlen - off &&
		    memcmp(want + off, txt->txt, txt->length) == 0;
		off += txt->length;
		if (same && off == wlen &&
		    (txt->next == NULL || txt->next->record_start))
			return VALIDATE_OK;
	}
	validate_excerpt(got, first->txt, first->length);
	return validate_fail(v, VALIDATE_INCORRECT, "%d TXT record(s) at %s, none "
	    "is the key authorization digest; first: \"%s\"", records, qname, got);
}

enum validate_result
validate_dns01(const struct validate_opts *o, const char *name,
    const char *key_authz, char *detail, size_t detlen)
{
	static const int types[] = { ns_t_txt };
	unsigned char md[SHA256_DIGEST_LENGTH];
	char qname[VALIDATE_HOST_MAX + 16], *want = NULL;
	struct ares_txt_ext *txt = NULL;
	struct validate_reply rep;
	struct validate_check v;
	enum validate_result r;

	validate_begin(&v, o, detail, detlen);
	if (name != NULL && strncmp(name, "*.", 2) == 0)
		name += 2;
	if (name == NULL || !validate_hostname_ok(name) || key_authz == NULL)
		return validate_fail(&v, VALIDATE_DNS, "malformed identifier");
	if (!validate_sha256(key_authz, md) ||
	    (want = b64url_encode(md, sizeof(md))) == NULL)
		return validate_fail(&v, VALIDATE_DNS, "out of memory");
	snprintf(qname, sizeof(qname), "_acme-challenge.%s", name);
	memset(&rep, 0, sizeof(rep));
	if ((r = validate_lookup(&v, qname, types, &rep, 1)) != VALIDATE_OK)
		goto done;
	if (rep.status != ARES_SUCCESS) {
		r = validate_fail(&v, VALIDATE_DNS, "TXT lookup of %s: %s", qname,
		    ares_strerror(rep.status));
		goto done;
	}
	if (ares_parse_txt_reply_ext(rep.abuf, rep.alen, &txt) != ARES_SUCCESS ||
	    txt == NULL) {
		r = validate_fail(&v, VALIDATE_DNS, "TXT lookup of %s: no TXT record",
		    qname);
		goto done;
	}
	r = validate_txt_match(&v, qname, txt, want);
done:
	ares_free_data(txt);
	free(rep.abuf);
	free(want);
	return r;
}

/* The SNI for an identifier: the name itself, or for an address its
 * reverse-DNS name (RFC 8738 section 6). */
static void
validate_sni(const char *type, const char *name, char out[VALIDATE_HOST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char a[16];
	size_t len = strcmp(type, "ip") == 0 ? validate_ip(name, a) : 0;
	char *p = out;

	if (len == 0) {
		snprintf(out, VALIDATE_HOST_MAX, "%s", name);
		return;
	}
	if (len == 4) {
		snprintf(out, VALIDATE_HOST_MAX, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return;
	}
	for (size_t i = len; i-- > 0;) {
		*p++ = hex[a[i] & 0xf];
		*p++ = '.';
		*p++ = hex[a[i] >> 4];
		*p++ = '.';
	}
	snprintf(p, VALIDATE_HOST_MAX - (size_t)(p - out), "ip6.arpa");
}

/* Waits until fd is ready for events; false once the deadline has passed. */
static bool
validate_poll(const struct validate_check *v, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long left;
	int n;

	while ((left = validate_left_ms(v)) > 0)
		if ((n = poll(&pfd, 1, (int)left)) != -1 || errno != EINTR)
			return n > 0;
	return false;
}

/*
 * The TCP connection of tls-alpn-01.  libcurl makes it (CURLOPT_CONNECT_ONLY:
 * the http scheme is a formality) so that every pinned address gets tried
 * within the connect timeout; the TLS on top is ours, because libcurl cannot
 * offer acme-tls/1 alone.
 */
static enum validate_result
validate_tcp_connect(struct validate_check *v, struct validate_conn *cn,
    const char *host, int *fdp)
{
	char where[VALIDATE_HOST_MAX + 8], url[VALIDATE_HOST_MAX + 16];
	curl_socket_t fd;
	enum validate_result r;
	CURLcode rc;
	int fl;

	snprintf(where, sizeof(where), "%s:%d", host, v->tlsalpn_port);
	snprintf(url, sizeof(url), "http://%s/", where);
	if ((r = validate_conn_open(v, cn, url, host, v->tlsalpn_port)) != VALIDATE_OK)
		return r;
	if (curl_easy_setopt(cn->curl, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
	if ((rc = curl_easy_perform(cn->curl)) != CURLE_OK)
		return validate_curl_fail(v, cn, rc, where);
	if (curl_easy_getinfo(cn->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD)
		return validate_fail(v, VALIDATE_CONNECTION, "%s: connection lost",
		    where);
	/* The handshake must never block past the deadline. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return validate_fail(v, VALIDATE_CONNECTION, "%s: %s", where,
		    strerror(errno));
	*fdp = fd;
	return VALIDATE_OK;
}

static const char *
validate_tls_why(int err)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (why != NULL)
		return why;
	return err == SSL_ERROR_SSL ? "protocol error" : "connection closed";
}

/* RFC 8737 section 3: only "acme-tls/1" offered, and negotiated; TLS 1.2
 * or later (section 4). */
static enum validate_result
validate_tls_handshake(struct validate_check *v, int fd, const char *sni,
    SSL_CTX **ctxp, SSL **sslp)
{
	static const unsigned char alpn[] = "\x0a" VALIDATE_ALPN;
	const unsigned char *proto;
	unsigned int plen;
	SSL *ssl;
	int rc, err;
	short ev;

	if ((*ctxp = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(*ctxp, TLS1_2_VERSION) ||
	    (*sslp = ssl = SSL_new(*ctxp)) == NULL ||
	    !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, sni) ||
	    SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up TLS");
	while ((rc = SSL_connect(ssl)) != 1) {
		err = SSL_get_error(ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return validate_fail(v, VALIDATE_TLS,
			    "%s: TLS handshake failed: %s", sni, validate_tls_why(err));
		ev = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (!validate_poll(v, fd, ev))
			return validate_fail(v, VALIDATE_CONNECTION,
			    "%s: TLS handshake timed out", sni);
	}
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	if (plen != sizeof(alpn) - 2 || memcmp(proto, VALIDATE_ALPN, plen) != 0)
		return validate_fail(v, VALIDATE_TLS, "%s: server did not negotiate %s",
		    sni, VALIDATE_ALPN);
	return VALIDATE_OK;
}

static bool
validate_san_is(const GENERAL_NAME *gen, const char *type, const char *name)
{
	unsigned char addr[16];
	size_t len;

	if (strcmp(type, "ip") == 0) {
		len = validate_ip(name, addr);
		return gen->type == GEN_IPADD &&
		    ASN1_STRING_length(gen->d.iPAddress) == (int)len &&
		    memcmp(ASN1_STRING_get0_data(gen->d.iPAddress), addr, len) == 0;
	}
	len = strlen(name);
	/* DNS names compare without regard to case (RFC 4343). */
	return gen->type == GEN_DNS &&
	    ASN1_STRING_length(gen->d.dNSName) == (int)len &&
	    strncasecmp((const char *)ASN1_STRING_get0_data(gen->d.dNSName), name,
	    len) == 0;
}

/* The certificate must be for the identifier and nothing else. */
static enum validate_result
validate_tls_san(struct validate_check *v, X509 *crt, const char *type,
    const char *name)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(crt, NID_subject_alt_name, NULL, NULL);
	int n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	bool ok = n == 1 && validate_san_is(sk_GENERAL_NAME_value(sans, 0), type, name);

	GENERAL_NAMES_free(sans);
	if (ok)
		return VALIDATE_OK;
	if (n != 1)
		return validate_fail(v, VALIDATE_UNAUTHORIZED,
		    "certificate has %d subjectAltName entries, not just %s", n, name);
	return validate_fail(v, VALIDATE_UNAUTHORIZED,
	    "certificate's subjectAltName is not %s", name);
}

/* One critical acmeIdentifier extension whose value is the DER OCTET STRING
 * of SHA-256(key authorization) (RFC 8737 section 3). */
static enum validate_result
validate_tls_acme_id(struct validate_check *v, X509 *crt, const unsigned char *md)
{
	const ASN1_OCTET_STRING *val;
	X509_EXTENSION *ext;
	ASN1_OBJECT *oid;
	int i, again;

	if ((oid = OBJ_txt2obj(VALIDATE_ACME_ID_OID, 1)) == NULL)
		return validate_fail(v, VALIDATE_CONNECTION, "out of memory");
	i = X509_get_ext_by_OBJ(crt, oid, -1);
	again = i >= 0 ? X509_get_ext_by_OBJ(crt, oid, i) : -1;
	ASN1_OBJECT_free(oid);
	if (i < 0 || again >= 0)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "certificate must have one acmeIdentifier extension");
	ext = X509_get_ext(crt, i);
	if (!X509_EXTENSION_get_critical(ext))
		return validate_fail(v, VALIDATE_INCORRECT,
		    "acmeIdentifier extension is not critical");
	val = X509_EXTENSION_get_data(ext);
	if (ASN1_STRING_length(val) != 2 + SHA256_DIGEST_LENGTH ||
	    ASN1_STRING_get0_data(val)[0] != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_get0_data(val)[1] != SHA256_DIGEST_LENGTH ||
	    memcmp(ASN1_STRING_get0_data(val) + 2, md, SHA256_DIGEST_LENGTH) != 0)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "acmeIdentifier is not the key authorization digest");
	return VALIDATE_OK;
}

enum validate_result
validate_tlsalpn01(const struct validate_opts *o, const char *ident_type,
    const char *name, const char *key_authz, char *detail, size_t detlen)
{
	char host[VALIDATE_HOST_MAX], sni[VALIDATE_HOST_MAX];
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct validate_check v;
	struct validate_conn cn;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *crt;
	enum validate_result r;
	int fd = -1;

	validate_begin(&v, o, detail, detlen);
	if (!validate_ident_ok(ident_type, name) || key_authz == NULL)
		return validate_fail(&v, VALIDATE_CONNECTION, "malformed identifier");
	if (!validate_sha256(key_authz, md))
		return validate_fail(&v, VALIDATE_CONNECTION, "out of memory");
	validate_url_host(ident_type, name, host);
	validate_sni(ident_type, name, sni);
	memset(&cn, 0, sizeof(cn));
	if ((r = validate_tcp_connect(&v, &cn, host, &fd)) != VALIDATE_OK ||
	    (r = validate_tls_handshake(&v, fd, sni, &ctx, &ssl)) != VALIDATE_OK)
		goto done;
	/* Self-signed by design (RFC 8737 section 3): what the certificate
	 * says is checked, not who signed it. */
	if ((crt = SSL_get0_peer_certificate(ssl)) == NULL)
		r = validate_fail(&v, VALIDATE_TLS, "%s: no certificate", sni);
	else if ((r = validate_tls_san(&v, crt, ident_type, name)) == VALIDATE_OK)
		r = validate_tls_acme_id(&v, crt, md);
done:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	validate_conn_close(&cn);
	/* OpenSSL's error queue is per thread: leave nothing for the caller. */
	ERR_clear_error();
	return r;
}
