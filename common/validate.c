/*
 * What the three checks share: options and deadline, the details they
 * write, identifier checks, lookups through c-ares, and libcurl handles
 * pinned to the addresses looked up.
 */
#include "validate.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>

#include <ares.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "addrpolicy.h"
#include "buf.h"
#include "mono.h"
#include "validate_impl.h"

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
long
validate_left_ms(const struct validate_check *v)
{
	long long left = v->deadline - mono_ms();

	return left > 0 ? (long)left : 0;
}

void
validate_begin(struct validate_check *v, const struct validate_opts *o,
    char *detail, size_t detlen)
{
	static const struct validate_opts defaults;
	char err[128];

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
	/* serve refuses a bad list at start; here it allows nothing more. */
	if (addrpolicy_parse(&v->addrs, o->allow, err, sizeof(err)) != 0)
		memset(&v->addrs, 0, sizeof(v->addrs));
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

enum validate_result __attribute__((format(printf, 3, 4)))
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
void
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
bool
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
size_t
validate_ip(const char *name, unsigned char addr[16])
{
	if (inet_pton(AF_INET, name, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, name, addr) == 1)
		return 16;
	return 0;
}

bool
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
bool
validate_token_ok(const char *token)
{
	size_t len = token != NULL ? strlen(token) : 0;

	return len > 0 && len <= VALIDATE_TOKEN_MAX &&
	    strspn(token, VALIDATE_B64URL) == len;
}

/* A host as it appears in a URL: an IPv6 address goes in brackets. */
void
validate_url_host(const char *type, const char *name,
    char out[VALIDATE_HOST_MAX])
{
	bool v6 = strcmp(type, "ip") == 0 && strchr(name, ':') != NULL;

	snprintf(out, VALIDATE_HOST_MAX, v6 ? "[%s]" : "%s", name);
}

/* A URL host that needs no lookup. */
bool
validate_is_literal(const char *host)
{
	struct in_addr in;

	return host[0] == '[' || inet_pton(AF_INET, host, &in) == 1;
}

bool
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
enum validate_result
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

/* Whether the policy refuses addr; why then gets "192.0.2.1 is
 * documentation", for a detail. */
static bool
validate_refused(const struct validate_check *v, int family, const void *addr,
    char *why, size_t whylen)
{
	const char *range = addrpolicy_refuses(&v->addrs, family, addr);
	char text[INET6_ADDRSTRLEN];

	if (range == NULL)
		return false;
	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "?");
	snprintf(why, whylen, "%s is %s", text, range);
	return true;
}

/* Appends addr to the CURLOPT_RESOLVE list when the policy allows it and
 * returns 1; else keeps the first refusal in refused and returns 0. */
static int
validate_keep(const struct validate_check *v, int family, const void *addr,
    struct buf *out, const char **sep, char refused[VALIDATE_REFUSAL_MAX])
{
	char text[INET6_ADDRSTRLEN], why[VALIDATE_REFUSAL_MAX];

	if (validate_refused(v, family, addr, why, sizeof(why))) {
		if (refused[0] == '\0')
			snprintf(refused, VALIDATE_REFUSAL_MAX, "%s", why);
		return 0;
	}
	inet_ntop(family, addr, text, sizeof(text));
	buf_printf(out, family == AF_INET6 ? "%s[%s]" : "%s%s", *sep, text);
	*sep = ",";
	return 1;
}

/* Appends host's addresses that the policy allows, A records first, in
 * CURLOPT_RESOLVE's form: "192.0.2.1,[2001:db8::1]". */
static enum validate_result
validate_resolve(struct validate_check *v, const char *host, struct buf *out)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	struct validate_reply reps[2];
	struct ares_addrttl a4[VALIDATE_ADDRS_MAX];
	struct ares_addr6ttl a6[VALIDATE_ADDRS_MAX];
	int n4 = VALIDATE_ADDRS_MAX, n6 = VALIDATE_ADDRS_MAX, why, kept = 0;
	char refused[VALIDATE_REFUSAL_MAX] = "";
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
	for (int i = 0; i < n4; i++)
		kept += validate_keep(v, AF_INET, &a4[i].ipaddr, out, &sep, refused);
	for (int i = 0; i < n6; i++)
		kept += validate_keep(v, AF_INET6, &a6[i].ip6addr, out, &sep, refused);
	if (kept == 0 && refused[0] != '\0') {
		r = validate_fail(v, VALIDATE_UNAUTHORIZED, "%s: address policy: %s "
		    "(UPKI_RA_VALIDATION_ALLOW)", host, refused);
		goto done;
	}
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

/* An address literal of a URL ("192.0.2.1", "[2001:db8::1]"), which needs
 * no lookup, against the policy. */
static enum validate_result
validate_literal_allowed(struct validate_check *v, const char *host)
{
	char text[VALIDATE_HOST_MAX], why[VALIDATE_REFUSAL_MAX];
	unsigned char addr[16];
	size_t len = strlen(host);
	int family = AF_INET;

	if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
		snprintf(text, sizeof(text), "%.*s", (int)(len - 2), host + 1);
		family = AF_INET6;
	} else
		snprintf(text, sizeof(text), "%s", host);
	if (inet_pton(family, text, addr) != 1)
		return validate_fail(v, VALIDATE_UNAUTHORIZED, "%.64s: address policy: "
		    "not an address", host);
	if (!validate_refused(v, family, addr, why, sizeof(why)))
		return VALIDATE_OK;
	return validate_fail(v, VALIDATE_UNAUTHORIZED, "address policy: %s "
	    "(UPKI_RA_VALIDATION_ALLOW)", why);
}

/*
 * Every socket libcurl opens, whatever led it there (a pinned name, an
 * address literal, a redirect): one to an address the policy refuses is
 * never made, and the refusal is kept for the detail.
 */
static curl_socket_t
validate_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct validate_conn *cn = arg;
	const void *addr = NULL;
	const char *range;
	char text[INET6_ADDRSTRLEN] = "?";

	if (a->family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
	else if (a->family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr;
	if (purpose != CURLSOCKTYPE_IPCXN || addr == NULL)
		range = "not an IP connection";
	else
		range = addrpolicy_refuses(cn->addrs, a->family, addr);
	if (range == NULL)
		return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (addr != NULL)
		inet_ntop(a->family, addr, text, sizeof(text));
	if (cn->refused[0] == '\0')
		snprintf(cn->refused, sizeof(cn->refused), "%s is %s", text, range);
	return CURL_SOCKET_BAD;
}

/*
 * A libcurl handle for url, whose host and port are given apart so that the
 * pin matches what libcurl will look for.  Certificates are not verified
 * (RFC 8555 section 8.3: an https redirect may point to a self-signed one),
 * and no proxy from the environment gets to see, or answer, the check.
 */
enum validate_result
validate_conn_open(struct validate_check *v, struct validate_conn *cn,
    const char *url, const char *host, long port)
{
	enum validate_result r;
	long left;
	CURL *c;

	cn->addrs = &v->addrs;
	if (validate_is_literal(host))
		r = validate_literal_allowed(v, host);
	else
		r = validate_pin(v, cn, host, port);
	if (r != VALIDATE_OK)
		return r;
	if ((left = validate_left_ms(v)) == 0)
		return validate_fail(v, VALIDATE_CONNECTION, "%.128s: timed out", url);
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
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cn->err) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, validate_open_socket) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, cn) != CURLE_OK)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
	return VALIDATE_OK;
}

void
validate_conn_close(struct validate_conn *cn)
{
	curl_easy_cleanup(cn->curl);
	curl_slist_free_all(cn->pin);
}

/* A failed transfer: the TLS of an https hop, else the connection
 * (refused, reset, timed out, not speaking HTTP). */
enum validate_result
validate_curl_fail(struct validate_check *v, const struct validate_conn *cn,
    CURLcode rc, const char *what)
{
	enum validate_result r = rc == CURLE_SSL_CONNECT_ERROR ? VALIDATE_TLS :
	    VALIDATE_CONNECTION;

	if (cn->refused[0] != '\0')
		return validate_fail(v, VALIDATE_UNAUTHORIZED, "%.128s: address policy: %s "
		    "(UPKI_RA_VALIDATION_ALLOW)", what, cn->refused);
	return validate_fail(v, r, "%.128s: %s", what,
	    cn->err[0] != '\0' ? cn->err : curl_easy_strerror(rc));
}
