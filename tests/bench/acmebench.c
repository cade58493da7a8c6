/*
 * acmebench: the load generator of `make bench` (tests/bench/bench.py).
 *
 * It speaks ACME itself: N virtual clients, one thread and one keep-alive
 * HTTP/1.1 connection over TLS each, run one scenario against one server
 * for a fixed time and print one JSON line with the request rate and the
 * latency percentiles.  JWS signing is tests/support/jws_sign.c, so what is
 * measured is the server, not a client library.
 *
 * Scenarios (--scenario):
 *   head, get     HEAD or GET of --url (the nginx and FastCGI ceilings)
 *   nonce         HEAD of the directory's newNonce (--url is the directory)
 *   directory     GET of the directory
 *   authz         POST-as-GET of an authorization: every client has its own
 *                 account and a pending authorization to poll, and signs each
 *                 request with the nonce of the previous response
 *   new-order     new-order for one fresh name
 *   issue         the whole issuance: new-order, http-01 answered by the
 *                 responder this program runs (--responder-port), polling,
 *                 finalize with a CSR, and the certificate download
 *
 * Every client sets up (account, order) before the clock starts; requests
 * completed during the first --warmup seconds are not counted.  The rate is
 * operations completed within the measured window divided by its length; an
 * "issue" operation is a whole issuance.  Errors are counted, not retried
 * (except badNonce, retried once with the fresh nonce, and a keep-alive
 * connection the server closed, reopened once).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "jws.h"
#include "jws_sign.h"

#define URL_MAX         1024
#define NONCE_MAX       256
#define MAX_CLIENTS     1024
#define HDR_MAX         (16 * 1024)
#define BODY_MAX        (1024 * 1024)

enum scenario { SC_HEAD, SC_GET, SC_NONCE, SC_DIRECTORY, SC_AUTHZ, SC_NEW_ORDER, SC_ISSUE };

static const char *const scenario_names[] = {
	"head", "get", "nonce", "directory", "authz", "new-order", "issue",
};

static struct {
	enum scenario sc;
	const char *url;
	const char *cafile;
	const char *alg;
	const char *keydir;
	const char *label;
	const char *domain;
	int clients;
	double seconds, warmup;
	int responder_port;
	int poll_ms;
	int timeout_ms;
	SSL_CTX *tls;
	/* the directory */
	char new_nonce[URL_MAX], new_account[URL_MAX], new_order[URL_MAX];
	/* the clock: set by main between the two barriers */
	double t_warm, t_end;
	pthread_barrier_t ready, go;
	atomic_int setup_failed;
	pthread_mutex_t mu;
	char first_error[512];
	char setup_error[512];
} g = {
	.alg = "ES256",
	.domain = "bench.test",
	.clients = 1,
	.seconds = 10,
	.warmup = 1,
	.poll_ms = 50,
	.timeout_ms = 15000,
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "acmebench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* -- URLs ----------------------------------------------------------------- */

struct url {
	char host[256];         /* for Host and SNI: "localhost:8443" */
	char name[256];         /* "localhost" */
	int port;
	const char *path;       /* into the caller's string */
};

static int
url_parse(const char *s, struct url *u)
{
	const char *h, *slash, *colon;
	size_t n;

	if (strncmp(s, "https://", 8) != 0)
		return -1;
	h = s + 8;
	slash = strchr(h, '/');
	n = slash != NULL ? (size_t)(slash - h) : strlen(h);
	if (n == 0 || n >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	u->path = slash != NULL ? slash : "/";
	colon = strrchr(u->host, ':');
	if (colon != NULL && strchr(colon, ']') == NULL) {
		u->port = atoi(colon + 1);
		snprintf(u->name, sizeof(u->name), "%.*s", (int)(colon - u->host), u->host);
	} else {
		u->port = 443;
		snprintf(u->name, sizeof(u->name), "%s", u->host);
	}
	return u->port > 0 && u->port < 65536 ? 0 : -1;
}

/* -- one connection ------------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
	int port;
	bool timed_out;         /* the last read ended by SO_RCVTIMEO */
	int last_ssl_err, last_errno;   /* of the last failed read */
	char host[256], name[256];
	char *buf;              /* received, not yet consumed: buf[0..len) */
	size_t len, cap;
	unsigned long used;     /* requests sent on it */
};

struct resp {
	int status;
	char nonce[NONCE_MAX];
	char location[URL_MAX];
	char content_type[128];
	char *body;             /* NUL-terminated, owned by the client */
	size_t body_len, body_cap;
};

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->len = 0;
	c->used = 0;
}

static int
conn_open(struct conn *c, char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { g.timeout_ms / 1000, (g.timeout_ms % 1000) * 1000 };
	int one = 1;

	conn_close(c);
	sa.sin_port = htons((uint16_t)c->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);      /* loopback only, always */
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "connect 127.0.0.1:%d: %s", c->port, strerror(errno));
		conn_close(c);
		return -1;
	}
	if ((c->ssl = SSL_new(g.tls)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, c->name) != 1 ||
	    (g.cafile != NULL && SSL_set1_host(c->ssl, c->name) != 1) ||
	    SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();

		snprintf(err, errlen, "TLS handshake with %.100s: %s", c->host,
		    e ? ERR_reason_error_string(e) : "failed");
		ERR_clear_error();
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Reads more bytes into c->buf; 0 on progress, -1 on EOF or error. */
static int
conn_fill(struct conn *c)
{
	int n;

	if (c->cap - c->len < 16384) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		char *p;

		if (cap > HDR_MAX + BODY_MAX + 65536 || (p = realloc(c->buf, cap)) == NULL)
			return -1;
		c->buf = p;
		c->cap = cap;
	}
	errno = 0;
	n = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len - 1));
	if (n <= 0) {
		c->last_ssl_err = SSL_get_error(c->ssl, n);
		c->last_errno = errno;
		c->timed_out = (c->last_ssl_err == SSL_ERROR_SYSCALL ||
		    c->last_ssl_err == SSL_ERROR_WANT_READ) &&
		    (errno == EAGAIN || errno == EWOULDBLOCK);
		ERR_clear_error();
		return -1;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return 0;
}

static void
conn_consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->buf[c->len] = '\0';
}

static void
resp_body_add(struct resp *r, const char *p, size_t n)
{
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		if ((r->body = realloc(r->body, cap)) == NULL)
			die("out of memory");
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static void
header_value(const char *line, const char *end, char *out, size_t outlen)
{
	const char *v = strchr(line, ':') + 1;
	size_t n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	n = (size_t)(end - v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* Reads one response.  *got_any says whether any byte came (so that a
 * request on a connection the server had closed can be sent again). */
static int
conn_read_response(struct conn *c, bool head, struct resp *r, bool *close_after,
    bool *got_any, char *err, size_t errlen)
{
	char *hend, *line, *eol, val[256];
	long long clen = -1;
	bool chunked = false;
	size_t hlen;

	*got_any = c->len > 0;
	c->timed_out = false;
	while (c->buf == NULL || (hend = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
		if (c->len > HDR_MAX || conn_fill(c) != 0) {
			if (c->timed_out)
				snprintf(err, errlen, "no response within the timeout");
			else
				snprintf(err, errlen, "connection closed before a response "
				    "(TLS error %d, %s)", c->last_ssl_err,
				    c->last_errno ? strerror(c->last_errno) : "EOF");
			return -1;
		}
		*got_any = true;
	}
	hlen = (size_t)(hend - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1) {
		snprintf(err, errlen, "not an HTTP response");
		return -1;
	}
	r->nonce[0] = r->location[0] = r->content_type[0] = '\0';
	r->body_len = 0;
	resp_body_add(r, "", 0);
	*close_after = false;
	for (line = strstr(c->buf, "\r\n") + 2; line < hend; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (memchr(line, ':', (size_t)(eol - line)) == NULL)
			continue;
		if (strncasecmp(line, "Replay-Nonce:", 13) == 0)
			header_value(line, eol, r->nonce, sizeof(r->nonce));
		else if (strncasecmp(line, "Location:", 9) == 0)
			header_value(line, eol, r->location, sizeof(r->location));
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			header_value(line, eol, r->content_type, sizeof(r->content_type));
		else if (strncasecmp(line, "Content-Length:", 15) == 0) {
			header_value(line, eol, val, sizeof(val));
			clen = atoll(val);
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
			header_value(line, eol, val, sizeof(val));
			chunked = strcasestr(val, "chunked") != NULL;
		} else if (strncasecmp(line, "Connection:", 11) == 0) {
			header_value(line, eol, val, sizeof(val));
			*close_after = strcasecmp(val, "close") == 0;
		}
	}
	conn_consume(c, hlen);
	if (head || r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200))
		return 0;
	if (chunked) {
		for (;;) {
			char *crlf;
			unsigned long size;

			while ((crlf = memmem(c->buf, c->len, "\r\n", 2)) == NULL)
				if (conn_fill(c) != 0)
					goto short_body;
			size = strtoul(c->buf, NULL, 16);
			conn_consume(c, (size_t)(crlf - c->buf) + 2);
			if (size == 0) {
				/* trailers, then the empty line */
				for (;;) {
					while ((crlf = memmem(c->buf, c->len, "\r\n", 2)) == NULL)
						if (conn_fill(c) != 0)
							goto short_body;
					if (crlf == c->buf) {
						conn_consume(c, 2);
						return 0;
					}
					conn_consume(c, (size_t)(crlf - c->buf) + 2);
				}
			}
			if (r->body_len + size > BODY_MAX)
				goto short_body;
			while (c->len < size + 2)
				if (conn_fill(c) != 0)
					goto short_body;
			resp_body_add(r, c->buf, size);
			conn_consume(c, size + 2);
		}
	}
	if (clen >= 0) {
		if (clen > BODY_MAX)
			goto short_body;
		while (c->len < (size_t)clen)
			if (conn_fill(c) != 0)
				goto short_body;
		resp_body_add(r, c->buf, (size_t)clen);
		conn_consume(c, (size_t)clen);
		return 0;
	}
	/* Neither: the body runs to the end of the connection. */
	while (conn_fill(c) == 0 && c->len < BODY_MAX)
		;
	resp_body_add(r, c->buf, c->len);
	conn_consume(c, c->len);
	*close_after = true;
	return 0;
short_body:
	snprintf(err, errlen, "connection closed inside a response body");
	return -1;
}

/* -- a virtual client ----------------------------------------------------- */

/* The steps of an issuance, timed one by one: where its time goes. */
enum { STEP_ORDER, STEP_AUTHZ, STEP_CHALLENGE, STEP_VALIDATION, STEP_CSR, STEP_FINALIZE,
	STEP_ORDER_POLL, STEP_DOWNLOAD, ISSUE_STEPS };
static const char *const step_names[ISSUE_STEPS] = {
	"new-order", "authz", "challenge", "validation", "csr", "finalize", "order-poll",
	"download"
};

struct client {
	int id;
	pthread_t thread;
	struct conn conn;
	struct resp r;
	EVP_PKEY *key, *cert_key;
	char kid[URL_MAX];
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	char nonce[NONCE_MAX];
	char authz_url[URL_MAX];
	char err[512];
	/* results, for operations completed inside the window */
	uint32_t *lat;          /* microseconds */
	size_t nlat, caplat;
	/* issue: when each step of the operation under way began, and the time
	 * of each step summed over the operations counted */
	double mark[ISSUE_STEPS + 1], step_s[ISSUE_STEPS];
	unsigned long ok, errors, http, bad_nonce, reconnects, timeouts;
};

static struct client *clients;

/* The issue scenario's answers, one per client: token -> key authorization. */
static struct {
	pthread_mutex_t mu;
	char token[MAX_CLIENTS][64];
	char keyauth[MAX_CLIENTS][160];
	atomic_ulong served, missed;
} answers = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
record_error(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cl->err, sizeof(cl->err), fmt, ap);
	va_end(ap);
}

/*
 * One request on the client's connection.  Takes the Replay-Nonce of the
 * answer.  A keep-alive connection the server closed in the meantime (no
 * byte of an answer came) is reopened and the request sent once more.
 */
static int
client_http(struct client *cl, const char *method, const char *url, const char *body,
    struct resp *r)
{
	struct url u;
	char req[URL_MAX + 512], e[256];
	size_t blen = body != NULL ? strlen(body) : 0;
	bool head = strcmp(method, "HEAD") == 0, close_after, got_any;
	int n;

	if (url_parse(url, &u) != 0) {
		record_error(cl, "not an https URL: %.200s", url);
		return -1;
	}
	if (cl->conn.fd >= 0 && u.port != cl->conn.port) {
		record_error(cl, "URL on another port than the directory: %.200s", url);
		return -1;
	}
	cl->conn.port = u.port;
	snprintf(cl->conn.host, sizeof(cl->conn.host), "%s", u.host);
	snprintf(cl->conn.name, sizeof(cl->conn.name), "%s", u.name);
	if (body != NULL)
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: acmebench\r\nContent-Type: application/jose+json\r\n"
		    "Content-Length: %zu\r\n\r\n", method, u.path, u.host, blen);
	else
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: acmebench\r\n\r\n", method, u.path, u.host);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		record_error(cl, "request line too long");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = cl->conn.fd >= 0 && cl->conn.used > 0;

		if (cl->conn.fd < 0) {
			if (conn_open(&cl->conn, e, sizeof(e)) != 0) {
				record_error(cl, "%s", e);
				return -1;
			}
			if (attempt > 0)
				cl->reconnects++;
		}
		cl->conn.used++;
		cl->http++;
		if (SSL_write(cl->conn.ssl, req, n) != n ||
		    (blen > 0 && SSL_write(cl->conn.ssl, body, (int)blen) != (int)blen)) {
			ERR_clear_error();
			conn_close(&cl->conn);
			if (reused)
				continue;
			record_error(cl, "%s %.200s: write failed", method, url);
			return -1;
		}
		if (conn_read_response(&cl->conn, head, r, &close_after, &got_any, e,
		    sizeof(e)) != 0) {
			bool timed_out = cl->conn.timed_out;

			conn_close(&cl->conn);
			if (timed_out)
				cl->timeouts++;
			else if (reused && !got_any)
				continue;
			record_error(cl, "%s %.200s: %s", method, url, e);
			return -1;
		}
		if (close_after)
			conn_close(&cl->conn);
		if (r->nonce[0] != '\0')
			snprintf(cl->nonce, sizeof(cl->nonce), "%s", r->nonce);
		return 0;
	}
	record_error(cl, "%s %.200s: the server closed the connection twice", method, url);
	return -1;
}

static int
client_new_nonce(struct client *cl)
{
	if (client_http(cl, "HEAD", g.new_nonce, NULL, &cl->r) != 0)
		return -1;
	if (cl->nonce[0] == '\0') {
		record_error(cl, "new-nonce answered %d without Replay-Nonce", cl->r.status);
		return -1;
	}
	return 0;
}

static bool
is_problem(const struct resp *r, const char *type)
{
	return strstr(r->body, type) != NULL;
}

/* A JWS POST: payload NULL is POST-as-GET; by_jwk embeds the key. */
static int
client_post(struct client *cl, const char *url, const char *payload, bool by_jwk)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		char *body;
		int rc;

		if (cl->nonce[0] == '\0' && client_new_nonce(cl) != 0)
			return -1;
		body = jws_sign(cl->key, url, cl->nonce, by_jwk ? NULL : cl->kid,
		    payload != NULL ? payload : "");
		cl->nonce[0] = '\0';
		if (body == NULL) {
			record_error(cl, "jws_sign failed");
			return -1;
		}
		rc = client_http(cl, "POST", url, body, &cl->r);
		free(body);
		if (rc != 0)
			return -1;
		if (cl->r.status == 400 && is_problem(&cl->r, "badNonce") && attempt == 0) {
			cl->bad_nonce++;
			continue;
		}
		return 0;
	}
	return 0;
}

static json_object *
client_json(struct client *cl, const char *what)
{
	json_object *o = json_tokener_parse(cl->r.body);

	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		record_error(cl, "%s: not a JSON object: %.200s", what, cl->r.body);
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static bool
expect(struct client *cl, const char *what, int want)
{
	if (cl->r.status == want)
		return true;
	record_error(cl, "%s: HTTP %d (want %d): %.300s", what, cl->r.status, want,
	    cl->r.body);
	return false;
}

/* -- keys ------------------------------------------------------------------ */

static EVP_PKEY *
key_make(const char *alg)
{
	return strcmp(alg, "RS256") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
}

/* RSA keys take a while to make: --keys DIR keeps them between runs.
 * (Distinct keys are distinct accounts, which each client needs.) */
static EVP_PKEY *
key_load(const char *alg, int i)
{
	char path[4096];
	EVP_PKEY *k = NULL;
	FILE *f;

	if (g.keydir == NULL)
		return key_make(alg);
	snprintf(path, sizeof(path), "%s/%s-%d.pem", g.keydir, alg, i);
	if ((f = fopen(path, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k != NULL)
			return k;
	}
	if ((k = key_make(alg)) == NULL)
		return NULL;
	{
		char tmp[4200];
		int fd;

		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 &&
		    (f = fdopen(fd, "w")) != NULL) {
			bool ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;

			if (fclose(f) == 0 && ok)
				rename(tmp, path);
			else
				unlink(tmp);
		}
	}
	return k;
}

/* -- the ACME steps -------------------------------------------------------- */

static void
fresh_name(struct client *cl, char *out, size_t outlen)
{
	unsigned char r[6];

	RAND_bytes(r, sizeof(r));
	snprintf(out, outlen, "b%02x%02x%02x%02x%02x%02x-%d.%s", r[0], r[1], r[2], r[3], r[4],
	    r[5], cl->id, g.domain);
}

static int
client_account(struct client *cl)
{
	json_object *jwk;

	if ((cl->key = key_load(g.alg, cl->id)) == NULL) {
		record_error(cl, "cannot make a %s key", g.alg);
		return -1;
	}
	if ((jwk = jwk_export(cl->key)) == NULL ||
	    jwk_thumbprint(jwk, cl->thumbprint, sizeof(cl->thumbprint)) != 0) {
		json_object_put(jwk);
		record_error(cl, "cannot export the key");
		return -1;
	}
	json_object_put(jwk);
	if (client_post(cl, g.new_account, "{\"termsOfServiceAgreed\":true}", true) != 0)
		return -1;
	if (cl->r.status != 200 && cl->r.status != 201) {
		expect(cl, "new-account", 201);
		return -1;
	}
	if (cl->r.location[0] == '\0') {
		record_error(cl, "new-account answered without Location");
		return -1;
	}
	snprintf(cl->kid, sizeof(cl->kid), "%s", cl->r.location);
	return 0;
}

/* new-order for one fresh name; the parsed order, or NULL. */
static json_object *
client_new_order(struct client *cl, char *order_url, size_t urllen, char *name,
    size_t namelen)
{
	char payload[512];

	fresh_name(cl, name, namelen);
	snprintf(payload, sizeof(payload),
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", name);
	if (client_post(cl, g.new_order, payload, false) != 0 || !expect(cl, "new-order", 201))
		return NULL;
	if (order_url != NULL)
		snprintf(order_url, urllen, "%s", cl->r.location);
	return client_json(cl, "new-order");
}

static const char *
first_authz(struct client *cl, json_object *order)
{
	json_object *arr, *v;

	if (!json_object_object_get_ex(order, "authorizations", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) < 1 ||
	    (v = json_object_array_get_idx(arr, 0)) == NULL ||
	    !json_object_is_type(v, json_type_string)) {
		record_error(cl, "the order has no authorization");
		return NULL;
	}
	return json_object_get_string(v);
}

/* POST-as-GET url until its "status" is one of want (space-separated);
 * "invalid" is an error. */
static json_object *
client_poll(struct client *cl, const char *url, const char *want, const char *what)
{
	double deadline = now_s() + g.timeout_ms / 1000.0;

	for (;;) {
		json_object *o;
		const char *st;

		if (client_post(cl, url, NULL, false) != 0 || !expect(cl, what, 200) ||
		    (o = client_json(cl, what)) == NULL)
			return NULL;
		st = jstr(o, "status");
		if (st != NULL && strstr(want, st) != NULL)
			return o;
		if (st == NULL || strcmp(st, "invalid") == 0) {
			record_error(cl, "%s is %s: %.300s", what, st ? st : "without status",
			    cl->r.body);
			json_object_put(o);
			return NULL;
		}
		json_object_put(o);
		if (now_s() > deadline) {
			record_error(cl, "%s still %s after %d ms", what, st, g.timeout_ms);
			return NULL;
		}
		sleep_ms(g.poll_ms);
	}
}

static char *
make_csr(struct client *cl, const char *name)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	unsigned char *der = NULL;
	char sanval[300], *out = NULL;
	int len;

	snprintf(sanval, sizeof(sanval), "DNS:%s", name);
	if (req == NULL || exts == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) != 1 ||
	    (san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanval)) == NULL ||
	    sk_X509_EXTENSION_push(exts, san) == 0)
		goto done;
	san = NULL;
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_set_pubkey(req, cl->cert_key) != 1 ||
	    X509_REQ_sign(req, cl->cert_key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0)
		goto done;
	out = b64url_encode(der, (size_t)len);
done:
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	OPENSSL_free(der);
	if (out == NULL)
		record_error(cl, "cannot make a CSR");
	return out;
}

static void
answer_set(int id, const char *token, const char *keyauth)
{
	pthread_mutex_lock(&answers.mu);
	snprintf(answers.token[id], sizeof(answers.token[id]), "%s", token);
	snprintf(answers.keyauth[id], sizeof(answers.keyauth[id]), "%s", keyauth);
	pthread_mutex_unlock(&answers.mu);
}

/* One whole issuance. */
static int
op_issue(struct client *cl)
{
	char order_url[URL_MAX], authz_url[URL_MAX], chall_url[URL_MAX], finalize[URL_MAX];
	char name[256], token[64], keyauth[160], payload[4096];
	json_object *order = NULL, *authz = NULL, *arr;
	const char *s, *st;
	char *csr = NULL;
	int rc = -1;

	cl->mark[STEP_ORDER] = now_s();
	if ((order = client_new_order(cl, order_url, sizeof(order_url), name,
	    sizeof(name))) == NULL || (s = first_authz(cl, order)) == NULL)
		goto done;
	snprintf(authz_url, sizeof(authz_url), "%s", s);
	if ((s = jstr(order, "finalize")) == NULL) {
		record_error(cl, "the order has no finalize URL");
		goto done;
	}
	snprintf(finalize, sizeof(finalize), "%s", s);
	cl->mark[STEP_AUTHZ] = now_s();
	if (client_post(cl, authz_url, NULL, false) != 0 || !expect(cl, "authz", 200) ||
	    (authz = client_json(cl, "authz")) == NULL)
		goto done;
	chall_url[0] = token[0] = '\0';
	if (json_object_object_get_ex(authz, "challenges", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *ch = json_object_array_get_idx(arr, i);
			const char *type = jstr(ch, "type"), *u = jstr(ch, "url"), *t = jstr(ch, "token");

			if (type != NULL && strcmp(type, "http-01") == 0 && u != NULL && t != NULL) {
				snprintf(chall_url, sizeof(chall_url), "%s", u);
				snprintf(token, sizeof(token), "%s", t);
			}
		}
	}
	if (chall_url[0] == '\0') {
		record_error(cl, "no http-01 challenge: %.300s", cl->r.body);
		goto done;
	}
	snprintf(keyauth, sizeof(keyauth), "%s.%s", token, cl->thumbprint);
	answer_set(cl->id, token, keyauth);
	cl->mark[STEP_CHALLENGE] = now_s();
	if (client_post(cl, chall_url, "{}", false) != 0 || !expect(cl, "challenge", 200))
		goto done;
	json_object_put(authz);
	cl->mark[STEP_VALIDATION] = now_s();
	sleep_ms(g.poll_ms);
	if ((authz = client_poll(cl, authz_url, "valid", "authorization")) == NULL)
		goto done;
	cl->mark[STEP_CSR] = now_s();
	if ((csr = make_csr(cl, name)) == NULL)
		goto done;
	cl->mark[STEP_FINALIZE] = now_s();
	snprintf(payload, sizeof(payload), "{\"csr\":\"%s\"}", csr);
	/* An order becomes ready with its last authorization; a server may
	 * notice only a moment later (orderNotReady), then finalize again. */
	for (int tries = 0;; tries++) {
		if (client_post(cl, finalize, payload, false) != 0)
			goto done;
		if (cl->r.status == 403 && is_problem(&cl->r, "orderNotReady") && tries < 20) {
			sleep_ms(g.poll_ms);
			continue;
		}
		break;
	}
	if (!expect(cl, "finalize", 200))
		goto done;
	json_object_put(order);
	if ((order = client_json(cl, "finalize")) == NULL)
		goto done;
	cl->mark[STEP_ORDER_POLL] = now_s();
	st = jstr(order, "status");
	if (st == NULL || strcmp(st, "valid") != 0) {
		json_object_put(order);
		sleep_ms(g.poll_ms);
		if ((order = client_poll(cl, order_url, "valid", "order")) == NULL)
			goto done;
	}
	if ((s = jstr(order, "certificate")) == NULL) {
		record_error(cl, "a valid order without certificate URL");
		goto done;
	}
	snprintf(chall_url, sizeof(chall_url), "%s", s);
	cl->mark[STEP_DOWNLOAD] = now_s();
	if (client_post(cl, chall_url, NULL, false) != 0 || !expect(cl, "certificate", 200))
		goto done;
	cl->mark[ISSUE_STEPS] = now_s();
	if (strstr(cl->r.body, "-----BEGIN CERTIFICATE-----") == NULL) {
		record_error(cl, "the certificate download is not PEM: %.200s", cl->r.body);
		goto done;
	}
	rc = 0;
done:
	answer_set(cl->id, "", "");
	free(csr);
	json_object_put(order);
	json_object_put(authz);
	return rc;
}

static int
op_once(struct client *cl)
{
	json_object *o;
	char name[256];

	switch (g.sc) {
	case SC_HEAD:
	case SC_NONCE:
		if (client_http(cl, "HEAD", g.sc == SC_HEAD ? g.url : g.new_nonce, NULL,
		    &cl->r) != 0)
			return -1;
		if (cl->r.status != 200 && cl->r.status != 204) {
			expect(cl, "HEAD", 200);
			return -1;
		}
		return 0;
	case SC_GET:
	case SC_DIRECTORY:
		if (client_http(cl, "GET", g.url, NULL, &cl->r) != 0)
			return -1;
		if (cl->r.status != 200 && cl->r.status != 204) {
			expect(cl, "GET", 200);
			return -1;
		}
		if (g.sc == SC_DIRECTORY && strstr(cl->r.body, "newOrder") == NULL) {
			record_error(cl, "not a directory: %.200s", cl->r.body);
			return -1;
		}
		return 0;
	case SC_AUTHZ:
		if (client_post(cl, cl->authz_url, NULL, false) != 0)
			return -1;
		return expect(cl, "authz", 200) ? 0 : -1;
	case SC_NEW_ORDER:
		if ((o = client_new_order(cl, NULL, 0, name, sizeof(name))) == NULL)
			return -1;
		json_object_put(o);
		return 0;
	case SC_ISSUE:
		return op_issue(cl);
	}
	return -1;
}

static int
client_setup(struct client *cl)
{
	json_object *o;
	const char *a;
	char name[256];

	cl->conn.fd = -1;
	if (g.sc == SC_HEAD || g.sc == SC_GET || g.sc == SC_NONCE || g.sc == SC_DIRECTORY) {
		/* The connection is opened before the clock starts, without a
		 * request: a starved upstream shows in the measured window. */
		struct url u;

		if (url_parse(g.sc == SC_NONCE ? g.new_nonce : g.url, &u) != 0) {
			record_error(cl, "not an https URL");
			return -1;
		}
		cl->conn.port = u.port;
		snprintf(cl->conn.host, sizeof(cl->conn.host), "%s", u.host);
		snprintf(cl->conn.name, sizeof(cl->conn.name), "%s", u.name);
		if (conn_open(&cl->conn, cl->err, sizeof(cl->err)) != 0)
			return -1;
		cl->conn.used = 1;      /* a close by the server before use: reopen */
		return 0;
	}
	if (client_account(cl) != 0)
		return -1;
	if (g.sc == SC_AUTHZ) {
		if ((o = client_new_order(cl, NULL, 0, name, sizeof(name))) == NULL)
			return -1;
		if ((a = first_authz(cl, o)) == NULL) {
			json_object_put(o);
			return -1;
		}
		snprintf(cl->authz_url, sizeof(cl->authz_url), "%s", a);
		json_object_put(o);
	}
	if (g.sc == SC_ISSUE && (cl->cert_key = EVP_EC_gen("P-256")) == NULL) {
		record_error(cl, "cannot make a certificate key");
		return -1;
	}
	return 0;
}

static void
client_record(struct client *cl, double t0, double t1, bool ok)
{
	/* A success counts when it ends inside the window; a failure when it
	 * ends or starts inside it (a timeout may end after the window). */
	if (ok && (t1 < g.t_warm || t1 > g.t_end))
		return;
	if (!ok && (t1 < g.t_warm || t0 >= g.t_end))
		return;
	if (!ok) {
		cl->errors++;
		pthread_mutex_lock(&g.mu);
		if (g.first_error[0] == '\0')
			snprintf(g.first_error, sizeof(g.first_error), "%s", cl->err);
		pthread_mutex_unlock(&g.mu);
		return;
	}
	if (cl->nlat == cl->caplat) {
		cl->caplat = cl->caplat ? cl->caplat * 2 : 4096;
		if ((cl->lat = realloc(cl->lat, cl->caplat * sizeof(*cl->lat))) == NULL)
			die("out of memory");
	}
	cl->lat[cl->nlat++] = (uint32_t)((t1 - t0) * 1e6);
	cl->ok++;
	if (g.sc == SC_ISSUE)
		for (int i = 0; i < ISSUE_STEPS; i++)
			cl->step_s[i] += cl->mark[i + 1] - cl->mark[i];
}

/* The mean time of each step of the issuances counted, in ms. */
static json_object *
issue_steps_json(unsigned long ok)
{
	json_object *o = json_object_new_object();

	for (int i = 0; i < ISSUE_STEPS; i++) {
		double sum = 0;

		for (int c = 0; c < g.clients; c++)
			sum += clients[c].step_s[i];
		json_object_object_add(o, step_names[i],
		    json_object_new_double(ok ? sum / ok * 1e3 : 0));
	}
	return o;
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	unsigned long http_before = 0;

	if (client_setup(cl) != 0) {
		pthread_mutex_lock(&g.mu);
		if (g.setup_error[0] == '\0')
			snprintf(g.setup_error, sizeof(g.setup_error), "client %d: %.400s", cl->id,
			    cl->err);
		pthread_mutex_unlock(&g.mu);
		atomic_fetch_add(&g.setup_failed, 1);
	}
	pthread_barrier_wait(&g.ready);
	pthread_barrier_wait(&g.go);
	if (atomic_load(&g.setup_failed) > 0)
		return NULL;
	for (;;) {
		double t0 = now_s(), t1;
		int rc;

		if (t0 >= g.t_end)
			break;
		if (t0 < g.t_warm)
			http_before = cl->http;
		rc = op_once(cl);
		t1 = now_s();
		client_record(cl, t0, t1, rc == 0);
		if (rc != 0 && g.sc != SC_ISSUE)
			conn_close(&cl->conn);   /* start clean after an error */
		if (rc != 0)
			sleep_ms(10);           /* no busy loop against a failing server */
	}
	cl->http -= http_before;
	conn_close(&cl->conn);
	return NULL;
}

/* -- the http-01 responder --------------------------------------------------- */

struct rconn {
	int fd;
	size_t len;
	char buf[4096];
};

static atomic_int responder_stop;

static void
responder_answer(struct rconn *rc, const char *req, size_t len)
{
	static const char prefix[] = "/.well-known/acme-challenge/";
	char token[64] = "", keyauth[160] = "", out[512];
	const char *p = memmem(req, len, prefix, sizeof(prefix) - 1), *end;
	int n, found = -1;

	if (p != NULL) {
		p += sizeof(prefix) - 1;
		end = p;
		while (end < req + len && *end != ' ' && *end != '\r' && *end != '?')
			end++;
		if ((size_t)(end - p) < sizeof(token)) {
			memcpy(token, p, (size_t)(end - p));
			token[end - p] = '\0';
		}
	}
	if (token[0] != '\0') {
		pthread_mutex_lock(&answers.mu);
		for (int i = 0; i < g.clients; i++) {
			if (strcmp(answers.token[i], token) == 0) {
				snprintf(keyauth, sizeof(keyauth), "%s", answers.keyauth[i]);
				found = i;
				break;
			}
		}
		pthread_mutex_unlock(&answers.mu);
	}
	if (found >= 0) {
		atomic_fetch_add(&answers.served, 1);
		n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(keyauth), keyauth);
	} else {
		atomic_fetch_add(&answers.missed, 1);
		n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	}
	if (write(rc->fd, out, (size_t)n) != n) {
		/* a response this small fits an empty socket buffer; if not, drop it */
	}
}

static void *
responder_main(void *arg)
{
	int lfd = *(int *)arg, ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[64];

	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!atomic_load(&responder_stop)) {
		int n = epoll_wait(ep, evs, 64, 100);

		for (int i = 0; i < n; i++) {
			struct rconn *rc = evs[i].data.ptr;
			char *hend;
			ssize_t got;

			if (rc == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN };

					if ((rc = calloc(1, sizeof(*rc))) == NULL) {
						close(fd);
						continue;
					}
					rc->fd = fd;
					cev.data.ptr = rc;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			got = read(rc->fd, rc->buf + rc->len, sizeof(rc->buf) - 1 - rc->len);
			if (got <= 0) {
				if (got < 0 && errno == EAGAIN)
					continue;
				goto drop;
			}
			rc->len += (size_t)got;
			rc->buf[rc->len] = '\0';
			while ((hend = strstr(rc->buf, "\r\n\r\n")) != NULL) {
				size_t hlen = (size_t)(hend - rc->buf) + 4;
				bool close_it = strcasestr(rc->buf, "\r\nConnection: close") != NULL &&
				    strcasestr(rc->buf, "\r\nConnection: close") < hend;

				responder_answer(rc, rc->buf, hlen);
				memmove(rc->buf, rc->buf + hlen, rc->len - hlen + 1);
				rc->len -= hlen;
				if (close_it)
					goto drop;
			}
			if (rc->len >= sizeof(rc->buf) - 1)
				goto drop;
			continue;
drop:
			epoll_ctl(ep, EPOLL_CTL_DEL, rc->fd, NULL);
			close(rc->fd);
			free(rc);
		}
	}
	close(ep);
	return NULL;
}

static int
responder_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0)
		die("http-01 responder on 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

/* -- main ------------------------------------------------------------------- */

static void
fetch_directory(void)
{
	struct client cl = { .id = -1, .conn = { .fd = -1 } };
	json_object *d;
	const char *s;

	if (client_http(&cl, "GET", g.url, NULL, &cl.r) != 0)
		die("directory %s: %s", g.url, cl.err);
	if (cl.r.status != 200 || (d = json_tokener_parse(cl.r.body)) == NULL)
		die("directory %s: HTTP %d %.200s", g.url, cl.r.status, cl.r.body);
	if ((s = jstr(d, "newNonce")) != NULL)
		snprintf(g.new_nonce, sizeof(g.new_nonce), "%s", s);
	if ((s = jstr(d, "newAccount")) != NULL)
		snprintf(g.new_account, sizeof(g.new_account), "%s", s);
	if ((s = jstr(d, "newOrder")) != NULL)
		snprintf(g.new_order, sizeof(g.new_order), "%s", s);
	json_object_put(d);
	conn_close(&cl.conn);
	free(cl.r.body);
	if (g.new_nonce[0] == '\0' || g.new_account[0] == '\0' || g.new_order[0] == '\0')
		die("directory %s lacks newNonce, newAccount or newOrder", g.url);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: acmebench --scenario S --url URL [options]\n"
	    "  --scenario      head|get|nonce|directory|authz|new-order|issue\n"
	    "  --url           the target (head, get) or the ACME directory (the others)\n"
	    "  --cafile FILE   verify the server against FILE (else no verification)\n"
	    "  --concurrency N virtual clients, one connection each (1)\n"
	    "  --seconds S     measured time (10); --warmup S before it (1)\n"
	    "  --alg A         account keys: ES256 or RS256 (ES256)\n"
	    "  --keys DIR      keep account keys in DIR between runs\n"
	    "  --responder-port P   http-01 answers on 127.0.0.1:P (issue)\n"
	    "  --poll-ms N     polling interval while waiting (50)\n"
	    "  --timeout-ms N  per request and per wait (15000)\n"
	    "  --domain D      names are fresh labels under D (bench.test)\n"
	    "  --label L       copied into the JSON result\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "url", required_argument, NULL, 'u' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "alg", required_argument, NULL, 'a' },
		{ "keys", required_argument, NULL, 'k' },
		{ "responder-port", required_argument, NULL, 'r' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "domain", required_argument, NULL, 'd' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t responder;
	int opt, lfd = -1, sc = -1;
	size_t total = 0, k = 0;
	uint32_t *all;
	unsigned long ok = 0, errors = 0, http = 0, bad_nonce = 0, reconnects = 0, timeouts = 0;
	unsigned long min_ok = (unsigned long)-1, max_ok = 0;
	int starved = 0;
	double cpu0, cpu1, setup_t0, setup_s;
	json_object *out;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			for (size_t i = 0; i < sizeof(scenario_names) / sizeof(*scenario_names); i++)
				if (strcmp(optarg, scenario_names[i]) == 0)
					sc = (int)i;
			break;
		case 'u': g.url = optarg; break;
		case 'C': g.cafile = optarg; break;
		case 'c': g.clients = atoi(optarg); break;
		case 't': g.seconds = atof(optarg); break;
		case 'w': g.warmup = atof(optarg); break;
		case 'a': g.alg = optarg; break;
		case 'k': g.keydir = optarg; break;
		case 'r': g.responder_port = atoi(optarg); break;
		case 'p': g.poll_ms = atoi(optarg); break;
		case 'T': g.timeout_ms = atoi(optarg); break;
		case 'd': g.domain = optarg; break;
		case 'l': g.label = optarg; break;
		default: usage();
		}
	}
	if (sc < 0 || g.url == NULL || g.clients < 1 || g.clients > MAX_CLIENTS ||
	    g.seconds <= 0 || g.warmup < 0 || g.poll_ms < 0 || g.timeout_ms < 100 ||
	    (strcmp(g.alg, "ES256") != 0 && strcmp(g.alg, "RS256") != 0))
		usage();
	g.sc = (enum scenario)sc;
	if (g.sc == SC_ISSUE && g.responder_port <= 0)
		die("the issue scenario needs --responder-port");
	if (g.keydir != NULL)
		mkdir(g.keydir, 0700);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&g.mu, NULL);

	if ((g.tls = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(g.tls, TLS1_2_VERSION);
	if (g.cafile != NULL) {
		if (SSL_CTX_load_verify_locations(g.tls, g.cafile, NULL) != 1)
			die("cannot load %s", g.cafile);
		SSL_CTX_set_verify(g.tls, SSL_VERIFY_PEER, NULL);
	}
	if (g.sc != SC_HEAD && g.sc != SC_GET)
		fetch_directory();
	if (g.sc == SC_ISSUE) {
		lfd = responder_listen(g.responder_port);
		if (pthread_create(&responder, NULL, responder_main, &lfd) != 0)
			die("pthread_create");
	}

	if ((clients = calloc((size_t)g.clients, sizeof(*clients))) == NULL)
		die("out of memory");
	pthread_barrier_init(&g.ready, NULL, (unsigned)g.clients + 1);
	pthread_barrier_init(&g.go, NULL, (unsigned)g.clients + 1);
	setup_t0 = now_s();
	for (int i = 0; i < g.clients; i++) {
		pthread_attr_t attr;

		clients[i].id = i;
		clients[i].conn.fd = -1;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		if (pthread_create(&clients[i].thread, &attr, client_main, &clients[i]) != 0)
			die("pthread_create");
		pthread_attr_destroy(&attr);
	}
	pthread_barrier_wait(&g.ready);
	setup_s = now_s() - setup_t0;
	g.t_warm = now_s() + g.warmup;
	g.t_end = g.t_warm + g.seconds;
	pthread_barrier_wait(&g.go);
	if (atomic_load(&g.setup_failed) > 0) {
		for (int i = 0; i < g.clients; i++)
			pthread_join(clients[i].thread, NULL);
		out = json_object_new_object();
		json_object_object_add(out, "label", json_object_new_string(g.label ? g.label : ""));
		json_object_object_add(out, "scenario", json_object_new_string(scenario_names[g.sc]));
		json_object_object_add(out, "concurrency", json_object_new_int(g.clients));
		json_object_object_add(out, "ok", json_object_new_int(0));
		json_object_object_add(out, "errors", json_object_new_int(g.clients));
		json_object_object_add(out, "rps", json_object_new_double(0));
		json_object_object_add(out, "setup_failed",
		    json_object_new_int(atomic_load(&g.setup_failed)));
		json_object_object_add(out, "first_error", json_object_new_string(g.setup_error));
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		json_object_put(out);
		return 1;
	}
	if (g.warmup > 0)
		sleep_ms((int)(g.warmup * 1000));
	cpu0 = cpu_s();
	for (int i = 0; i < g.clients; i++)
		pthread_join(clients[i].thread, NULL);
	cpu1 = cpu_s();
	if (g.sc == SC_ISSUE) {
		atomic_store(&responder_stop, 1);
		pthread_join(responder, NULL);
		close(lfd);
	}

	for (int i = 0; i < g.clients; i++)
		total += clients[i].nlat;
	if ((all = malloc((total + 1) * sizeof(*all))) == NULL)
		die("out of memory");
	for (int i = 0; i < g.clients; i++) {
		struct client *cl = &clients[i];

		memcpy(all + k, cl->lat, cl->nlat * sizeof(*all));
		k += cl->nlat;
		ok += cl->ok;
		errors += cl->errors;
		http += cl->http;
		bad_nonce += cl->bad_nonce;
		reconnects += cl->reconnects;
		timeouts += cl->timeouts;
		min_ok = cl->ok < min_ok ? cl->ok : min_ok;
		max_ok = cl->ok > max_ok ? cl->ok : max_ok;
		starved += cl->ok == 0;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
#define PCT(p) (total ? all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
	out = json_object_new_object();
	json_object_object_add(out, "label", json_object_new_string(g.label ? g.label : ""));
	json_object_object_add(out, "scenario", json_object_new_string(scenario_names[g.sc]));
	json_object_object_add(out, "alg", json_object_new_string(g.alg));
	json_object_object_add(out, "concurrency", json_object_new_int(g.clients));
	json_object_object_add(out, "seconds", json_object_new_double(g.seconds));
	json_object_object_add(out, "ok", json_object_new_int64((int64_t)ok));
	json_object_object_add(out, "errors", json_object_new_int64((int64_t)errors));
	json_object_object_add(out, "rps", json_object_new_double(ok / g.seconds));
	json_object_object_add(out, "http_rps", json_object_new_double(http / g.seconds));
	json_object_object_add(out, "p50_ms", json_object_new_double(PCT(0.50)));
	json_object_object_add(out, "p90_ms", json_object_new_double(PCT(0.90)));
	json_object_object_add(out, "p99_ms", json_object_new_double(PCT(0.99)));
	json_object_object_add(out, "max_ms", json_object_new_double(PCT(1.0)));
	json_object_object_add(out, "bad_nonce", json_object_new_int64((int64_t)bad_nonce));
	json_object_object_add(out, "reconnects", json_object_new_int64((int64_t)reconnects));
	json_object_object_add(out, "timeouts", json_object_new_int64((int64_t)timeouts));
	/* Clients that completed nothing in the window: a server that serves
	 * some connections and leaves the others waiting shows here, not in
	 * the rate. */
	json_object_object_add(out, "starved_clients", json_object_new_int(starved));
	json_object_object_add(out, "min_client_ops", json_object_new_int64((int64_t)min_ok));
	json_object_object_add(out, "max_client_ops", json_object_new_int64((int64_t)max_ok));
	json_object_object_add(out, "gen_cpu_s", json_object_new_double(cpu1 - cpu0));
	json_object_object_add(out, "setup_s", json_object_new_double(setup_s));
	if (g.sc == SC_ISSUE) {
		json_object_object_add(out, "http01_served",
		    json_object_new_int64((int64_t)atomic_load(&answers.served)));
		json_object_object_add(out, "http01_missed",
		    json_object_new_int64((int64_t)atomic_load(&answers.missed)));
		json_object_object_add(out, "steps_ms", issue_steps_json(ok));
	}
	json_object_object_add(out, "first_error", json_object_new_string(g.first_error));
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	free(all);
	for (int i = 0; i < g.clients; i++) {
		free(clients[i].lat);
		free(clients[i].r.body);
		free(clients[i].conn.buf);
		EVP_PKEY_free(clients[i].key);
		EVP_PKEY_free(clients[i].cert_key);
	}
	free(clients);
	SSL_CTX_free(g.tls);
	return 0;
}
