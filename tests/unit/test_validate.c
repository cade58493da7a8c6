/*
 * Unit tests for common/validate.c against real servers on loopback:
 *
 *   pebble-challtestsrv  the only DNS server the checks may use, and the
 *                        http-01 and tls-alpn-01 answers of a well-behaved
 *                        applicant;
 *   a responder          a forked child speaking just enough HTTP for what
 *                        challtestsrv cannot serve (404, redirects, large
 *                        bodies);
 *   openssl s_server     TLS servers with hand-made certificates;
 *   silent sockets       a TCP listener never accepted and a UDP socket
 *                        never read: peers that never answer.
 *
 * Every child is started in the group setup, dies with this program
 * (PR_SET_PDEATHSIG), and is stopped in the group teardown, which cmocka
 * runs even when tests or the setup failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "testutil.h"

#include "validate.h"

#define WELL_KNOWN      "/.well-known/acme-challenge/"
#define KA_RESP         "responder-token.thumbprint"    /* the responder's */
#define KA_TLS          "tls-token.thumbprint"          /* s_server's */
/* dns-01: base64url(SHA-256(KA_DNS)), computed apart from the code. */
#define KA_DNS          "dns-ok-token.thumbprint"
#define KA_DNS_TXT      "kPZpfezOkLhgms1gpw09yzLhpRHsI8_lenOFZQVs1Fk"

/* How late a check that must give up may end, past total_timeout_ms. */
#define SLACK_MS        1000

static struct {
	char dir[TU_PATH];
	int dns_port, mgmt_port, http_port, alpn_port;  /* challtestsrv */
	char dns[32];           /* its DNS server, as validate_opts wants it */
	int resp_port;          /* the responder */
	int silent_tcp, silent_tcp_port;
	int silent_udp;
	char silent_dns[32];
	int noalpn_port;        /* s_server: no ALPN at all */
	int ip_port;            /* s_server: right certificate for 127.0.0.1 */
	int twosan_port;        /* s_server: two subjectAltNames */
	int noncrit_port;       /* s_server: acmeIdentifier not critical */
} F = { .silent_tcp = -1, .silent_udp = -1 };

/* ---- child processes ---- */

static void
tv_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void
tv_dump(const char *log)
{
	char *text = tu_read_file(log, NULL);

	fprintf(stderr, "---- %s ----\n%s\n---- end ----\n", log,
	    text != NULL ? text : "(unreadable)");
	free(text);
}

/* Starts argv (searched in $PATH) with its output in log; the child dies
 * with this program.  Returns its pid or -1. */
static pid_t
tv_spawn(const char *const argv[], const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid;

	if (fd < 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int in[2];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1 || pipe(in) != 0)
			_exit(127);
		/* openssl s_server stops at the end of its input: it gets a
		 * pipe whose write end it holds itself, which never ends. */
		dup2(in[0], STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execvp(argv[0], (char *const *)(void *)argv);
		dprintf(fd, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	if (pid > 0)
		tu_child_track(pid);
	return pid;
}

/* Runs argv to completion; true when it exited 0. */
static bool
tv_run(const char *const argv[], const char *log)
{
	pid_t pid = tv_spawn(argv, log);
	int status;

	if (pid < 0)
		return false;
	for (int i = 0; i < TU_MAX_CHILDREN; i++)
		if (tu_children[i] == pid)
			tu_children[i] = 0;
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		return true;
	tv_dump(log);
	return false;
}

/* Waits up to 20 s for text in a child's log. */
static bool
tv_wait_log(const char *log, const char *text)
{
	long long deadline = tu_now_ms() + 20000;

	while (tu_now_ms() < deadline) {
		char *s = tu_read_file(log, NULL);
		bool found = s != NULL && strstr(s, text) != NULL;

		free(s);
		if (found)
			return true;
		tu_sleep_ms(20);
	}
	tv_dump(log);
	return false;
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static bool
tv_port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* n (at most 8) distinct ports free on 127.0.0.1 right now. */
static bool
tv_free_ports(int *ports, int n)
{
	int fds[8];
	bool ok = true;

	for (int i = 0; i < n; i++)
		if ((fds[i] = tu_bind_loopback(0, &ports[i])) < 0)
			ok = false;
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ok;
}

static int
tv_free_port(void)
{
	int port;

	return tv_free_ports(&port, 1) ? port : -1;
}

/* ---- pebble-challtestsrv ---- */

static size_t
cts_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* POSTs a JSON body to challtestsrv's management API. */
static void __attribute__((format(printf, 2, 3)))
cts_post(const char *path, const char *fmt, ...)
{
	char url[128], body[1024];
	long status = 0;
	va_list ap;
	CURL *c;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", F.mgmt_port, path);
	assert_non_null(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cts_discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (status != 200)
		fail_msg("challtestsrv %s %s: HTTP %ld", path, body, status);
}

static void
cts_add_a(const char *host)
{
	cts_post("/add-a", "{\"host\":\"%s.\",\"addresses\":[\"127.0.0.1\"]}", host);
}

/*
 * No default address (-defaultIPv4 "" -defaultIPv6 ""), so that a name
 * nobody added has no A or AAAA record; no HTTPS http-01 server.
 */
static int
cts_start(void)
{
	char dns01[32], http01[32], tlsalpn01[32], mgmt[32], log[TU_PATH];
	const char *argv[] = {
		"pebble-challtestsrv", "-dns01", dns01, "-http01", http01,
		"-https01", "", "-tlsalpn01", tlsalpn01, "-management", mgmt,
		"-defaultIPv4", "", "-defaultIPv6", "", NULL,
	};
	int ports[4];

	if (!tv_free_ports(ports, 4))
		return -1;
	F.dns_port = ports[0];
	F.http_port = ports[1];
	F.alpn_port = ports[2];
	F.mgmt_port = ports[3];
	snprintf(F.dns, sizeof(F.dns), "127.0.0.1:%d", F.dns_port);
	snprintf(dns01, sizeof(dns01), "127.0.0.1:%d", F.dns_port);
	snprintf(http01, sizeof(http01), "127.0.0.1:%d", F.http_port);
	snprintf(tlsalpn01, sizeof(tlsalpn01), "127.0.0.1:%d", F.alpn_port);
	snprintf(mgmt, sizeof(mgmt), "127.0.0.1:%d", F.mgmt_port);
	tu_join(log, sizeof(log), F.dir, "challtestsrv.log");
	if (tv_spawn(argv, log) < 0 || !tv_wait_log(log, "Starting management server"))
		return -1;
	for (long long end = tu_now_ms() + 10000; tu_now_ms() < end; tu_sleep_ms(20))
		if (tv_port_open(F.mgmt_port) && tv_port_open(F.http_port) &&
		    tv_port_open(F.alpn_port))
			return 0;
	tv_dump(log);
	return -1;
}

/* ---- the responder ---- */

static void
resp_send(int c, const char *status, const char *location, const char *body,
    size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
	    status, len, location != NULL ? "Location: " : "",
	    location != NULL ? location : "", location != NULL ? "\r\n" : "");

	tv_write_all(c, head, (size_t)n);
	tv_write_all(c, body, len);
}

/*
 * Answers by the path, or by the token of a challenge path:
 *   chainN     redirects to http://redir.test:PORT/hop/1/N
 *   /hop/K/N   redirects to .../hop/K+1/N while K < N, else serves KA_RESP:
 *              chainN is N redirects, each to a name only challtestsrv
 *              resolves
 *   relative   redirects to "/hop/1/1"
 *   port22     redirects to http://127.0.0.1:22/
 *   ftp        redirects to ftp://127.0.0.1:PORT/
 *   spaces     KA_RESP with whitespace after it
 *   big        9000 bytes
 *   else       404
 */
static void
resp_handle(int c, int port)
{
	static char big[9000];
	char req[4096], path[256], loc[300];
	const char *tok;
	size_t len = 0;
	ssize_t n;
	int k = 0, total;

	while (len < sizeof(req) - 1 &&
	    (n = read(c, req + len, sizeof(req) - 1 - len)) > 0) {
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "GET %255s", path) != 1)
		return;
	tok = strncmp(path, WELL_KNOWN, strlen(WELL_KNOWN)) == 0 ?
	    path + strlen(WELL_KNOWN) : path;
	if (sscanf(path, "/hop/%d/%d", &k, &total) == 2 ||
	    sscanf(tok, "chain%d", &total) == 1) {
		if (k >= total) {
			resp_send(c, "200 OK", NULL, KA_RESP, strlen(KA_RESP));
			return;
		}
		snprintf(loc, sizeof(loc), "http://redir.test:%d/hop/%d/%d", port,
		    k + 1, total);
		resp_send(c, "302 Found", loc, "", 0);
	} else if (strcmp(tok, "relative") == 0) {
		resp_send(c, "301 Moved Permanently", "/hop/1/1", "", 0);
	} else if (strcmp(tok, "port22") == 0) {
		resp_send(c, "302 Found", "http://127.0.0.1:22/", "", 0);
	} else if (strcmp(tok, "ftp") == 0) {
		snprintf(loc, sizeof(loc), "ftp://127.0.0.1:%d/", port);
		resp_send(c, "307 Temporary Redirect", loc, "", 0);
	} else if (strcmp(tok, "spaces") == 0) {
		resp_send(c, "200 OK", NULL, KA_RESP " \r\n\t\n", strlen(KA_RESP) + 5);
	} else if (strcmp(tok, "big") == 0) {
		memset(big, 'a', sizeof(big));
		resp_send(c, "200 OK", NULL, big, sizeof(big));
	} else {
		resp_send(c, "404 Not Found", NULL, "not here\n", 9);
	}
}

static int
resp_start(void)
{
	int fd = tu_bind_loopback(0, &F.resp_port);
	pid_t pid;

	if (fd < 0 || listen(fd, 16) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = accept(fd, NULL, NULL);

			if (c < 0)
				continue;
			resp_handle(c, F.resp_port);
			close(c);
		}
	}
	close(fd);
	if (pid < 0)
		return -1;
	tu_child_track(pid);
	return 0;
}

/* ---- openssl s_server ---- */

/* A self-signed P-256 certificate dir/name.pem, key dir/name.key, with the
 * given -addext extensions (NULL-terminated, at most 4). */
static bool
tls_cert(const char *name, const char *const *exts)
{
	char crt[TU_PATH], key[TU_PATH], log[TU_PATH], file[64];
	const char *argv[32] = {
		"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=acme", "-days", "1",
		"-keyout", key, "-out", crt,
	};
	int argc = 16;

	snprintf(file, sizeof(file), "%s.pem", name);
	tu_join(crt, sizeof(crt), F.dir, file);
	snprintf(file, sizeof(file), "%s.key", name);
	tu_join(key, sizeof(key), F.dir, file);
	snprintf(file, sizeof(file), "%s.req.log", name);
	tu_join(log, sizeof(log), F.dir, file);
	for (int i = 0; i < 4 && exts[i] != NULL; i++) {
		argv[argc++] = "-addext";
		argv[argc++] = exts[i];
	}
	return tv_run(argv, log);
}

/* openssl s_server on a free port with certificate name; alpn NULL for
 * none.  (It cannot check the SNI as well: its second certificate, the one
 * for a given SNI, comes without ALPN.) */
static int
tls_server(const char *name, const char *alpn)
{
	char accept[32], crt[TU_PATH], key[TU_PATH], log[TU_PATH], file[64];
	const char *argv[16] = {
		"openssl", "s_server", "-accept", accept, "-cert", crt, "-key", key,
		"-ign_eof",
	};
	int argc = 9, port = tv_free_port();

	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	snprintf(file, sizeof(file), "%s.pem", name);
	tu_join(crt, sizeof(crt), F.dir, file);
	snprintf(file, sizeof(file), "%s.key", name);
	tu_join(key, sizeof(key), F.dir, file);
	snprintf(file, sizeof(file), "s_server-%s.log", name);
	tu_join(log, sizeof(log), F.dir, file);
	if (alpn != NULL) {
		argv[argc++] = "-alpn";
		argv[argc++] = alpn;
	}
	if (port < 0 || tv_spawn(argv, log) < 0 || !tv_wait_log(log, "ACCEPT"))
		return -1;
	return port;
}

static int
tls_servers_start(void)
{
	char crit[128], noncrit[128], hex[2 * 32 + 1];
	unsigned char md[32];

	if (EVP_Digest(KA_TLS, strlen(KA_TLS), md, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* The acmeIdentifier value: DER OCTET STRING (04 20) of the digest. */
	snprintf(crit, sizeof(crit), "1.3.6.1.5.5.7.1.31=critical,DER:0420%s", hex);
	snprintf(noncrit, sizeof(noncrit), "1.3.6.1.5.5.7.1.31=DER:0420%s", hex);
	if (!tls_cert("plain", (const char *[]){
	    "subjectAltName=DNS:plain.test", NULL }) ||
	    !tls_cert("ip", (const char *[]){
	    "subjectAltName=IP:127.0.0.1", crit, NULL }) ||
	    !tls_cert("twosan", (const char *[]){
	    "subjectAltName=DNS:two.test,DNS:other.test", crit, NULL }) ||
	    !tls_cert("noncrit", (const char *[]){
	    "subjectAltName=DNS:noncrit.test", noncrit, NULL }))
		return -1;
	if ((F.noalpn_port = tls_server("plain", NULL)) < 0 ||
	    (F.ip_port = tls_server("ip", "acme-tls/1")) < 0 ||
	    (F.twosan_port = tls_server("twosan", "acme-tls/1")) < 0 ||
	    (F.noncrit_port = tls_server("noncrit", "acme-tls/1")) < 0)
		return -1;
	return 0;
}

/* ---- fixtures ---- */

/* A TCP listener never accepted (the kernel completes the handshake, then
 * nothing), and a UDP socket never read. */
static int
silent_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);

	if ((F.silent_tcp = tu_bind_loopback(0, &F.silent_tcp_port)) < 0 ||
	    listen(F.silent_tcp, 16) != 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((F.silent_udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(F.silent_udp, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(F.silent_udp, (struct sockaddr *)&sa, &salen) != 0)
		return -1;
	snprintf(F.silent_dns, sizeof(F.silent_dns), "127.0.0.1:%d",
	    ntohs(sa.sin_port));
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	if (validate_init() != 0 || tu_mkdtemp(F.dir, sizeof(F.dir)) != 0)
		return -1;
	if (silent_start() != 0 || cts_start() != 0 || resp_start() != 0 ||
	    tls_servers_start() != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_children_stop_all();
	if (F.silent_tcp >= 0)
		close(F.silent_tcp);
	if (F.silent_udp >= 0)
		close(F.silent_udp);
	tu_rmtree(F.dir);
	validate_cleanup();
	return 0;
}

/* ---- checks ---- */

/* challtestsrv's DNS, and timeouts the sanitizer build stays well within. */
static struct validate_opts
opts(int http_port, int tlsalpn_port)
{
	return (struct validate_opts){
		.dns_server = F.dns,
		.allow = "127.0.0.0/8",
		.http_port = http_port,
		.tlsalpn_port = tlsalpn_port,
		.connect_timeout_ms = 3000,
		.total_timeout_ms = 10000,
	};
}

/* Small timeouts, for the checks that must give up. */
static struct validate_opts
opts_short(const char *dns, int port)
{
	return (struct validate_opts){
		.dns_server = dns,
		.allow = "127.0.0.0/8",
		.http_port = port,
		.tlsalpn_port = port,
		.connect_timeout_ms = 500,
		.total_timeout_ms = 1500,
	};
}

/* The result, and a detail that is one printable line containing needle
 * (NULL: anything), empty on success. */
static void
expect(enum validate_result got, enum validate_result want, const char *detail,
    const char *needle)
{
	const char *type = validate_error_type(got);

	for (const char *p = detail; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("unprintable byte in detail \"%s\"", detail);
	if (got != want)
		fail_msg("got %s, want %s: %s", type != NULL ? type : "ok",
		    want != VALIDATE_OK ? validate_error_type(want) : "ok", detail);
	if (want == VALIDATE_OK && detail[0] != '\0')
		fail_msg("detail set on success: %s", detail);
	if (needle != NULL && strstr(detail, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", detail, needle);
}

/* Each runs one check, compares, and returns how long it took (ms). */
static long long
http01(struct validate_opts o, const char *type, const char *name, const char *token,
    const char *key_authz, enum validate_result want, const char *needle)
{
	long long t0 = tu_now_ms();
	char detail[256];

	expect(validate_http01(&o, type, name, token, key_authz, detail,
	    sizeof(detail)), want, detail, needle);
	return tu_now_ms() - t0;
}

static long long
dns01(struct validate_opts o, const char *name, const char *key_authz,
    enum validate_result want, const char *needle)
{
	long long t0 = tu_now_ms();
	char detail[256];

	expect(validate_dns01(&o, name, key_authz, detail, sizeof(detail)), want,
	    detail, needle);
	return tu_now_ms() - t0;
}

static long long
tlsalpn01(struct validate_opts o, const char *type, const char *name,
    const char *key_authz, enum validate_result want, const char *needle)
{
	long long t0 = tu_now_ms();
	char detail[256];

	expect(validate_tlsalpn01(&o, type, name, key_authz, detail, sizeof(detail)),
	    want, detail, needle);
	return tu_now_ms() - t0;
}

static void
expect_in_time(long long took, struct validate_opts o)
{
	if (took > o.total_timeout_ms + SLACK_MS)
		fail_msg("took %lld ms, total_timeout_ms is %d", took,
		    o.total_timeout_ms);
}

/* ---- http-01 ---- */

static void
test_http01_ok(void **state)
{
	(void)state;
	cts_add_a("http-ok.test");
	cts_post("/add-http01", "{\"token\":\"tokOK\",\"content\":\"tokOK.thumb\"}");
	http01(opts(F.http_port, 0), "dns", "http-ok.test", "tokOK", "tokOK.thumb",
	    VALIDATE_OK, NULL);
}

static void
test_http01_ip(void **state)
{
	(void)state;
	cts_post("/add-http01", "{\"token\":\"tokIP\",\"content\":\"tokIP.thumb\"}");
	http01(opts(F.http_port, 0), "ip", "127.0.0.1", "tokIP", "tokIP.thumb",
	    VALIDATE_OK, NULL);
}

static void
test_http01_wrong_body(void **state)
{
	(void)state;
	cts_add_a("http-wrong.test");
	cts_post("/add-http01", "{\"token\":\"tokW\",\"content\":\"tokW.other\"}");
	http01(opts(F.http_port, 0), "dns", "http-wrong.test", "tokW", "tokW.thumb",
	    VALIDATE_INCORRECT, "\"tokW.other\"");
}

static void
test_http01_not_found(void **state)
{
	(void)state;
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "missing", KA_RESP,
	    VALIDATE_INCORRECT, "HTTP 404");
}

static void
test_http01_trailing_whitespace(void **state)
{
	(void)state;
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "spaces", KA_RESP,
	    VALIDATE_OK, NULL);
}

static void
test_http01_body_too_long(void **state)
{
	(void)state;
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "big", KA_RESP,
	    VALIDATE_INCORRECT, "longer than 8192");
}

static void
test_http01_refused(void **state)
{
	(void)state;
	http01(opts(tv_free_port(), 0), "ip", "127.0.0.1", "tok", "tok.thumb",
	    VALIDATE_CONNECTION, NULL);
}

/* A name challtestsrv was not given has no address: a DNS error, before
 * any connection. */
static void
test_http01_no_address(void **state)
{
	(void)state;
	http01(opts(F.http_port, 0), "dns", "nowhere.test", "tok", "tok.thumb",
	    VALIDATE_DNS, "nowhere.test");
}

/* Ten redirects, each to redir.test, which only challtestsrv resolves:
 * every hop went through the configured resolver. */
static void
test_http01_ten_redirects(void **state)
{
	(void)state;
	cts_add_a("redir.test");
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "chain10", KA_RESP,
	    VALIDATE_OK, NULL);
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "relative", KA_RESP,
	    VALIDATE_OK, NULL);
}

static void
test_http01_eleven_redirects(void **state)
{
	(void)state;
	cts_add_a("redir.test");
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "chain11", KA_RESP,
	    VALIDATE_CONNECTION, "more than 10 redirects");
}

static void
test_http01_redirect_port22(void **state)
{
	(void)state;
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "port22", KA_RESP,
	    VALIDATE_UNAUTHORIZED, "port 22");
}

static void
test_http01_redirect_scheme(void **state)
{
	(void)state;
	http01(opts(F.resp_port, 0), "ip", "127.0.0.1", "ftp", KA_RESP,
	    VALIDATE_UNAUTHORIZED, "ftp://");
}

static void
test_http01_silent_peer(void **state)
{
	struct validate_opts o = opts_short(F.dns, F.silent_tcp_port);

	(void)state;
	expect_in_time(http01(o, "ip", "127.0.0.1", "tok", "tok.thumb",
	    VALIDATE_CONNECTION, NULL), o);
}

/* Nothing that could reshape the URL reaches the network. */
static void
test_http01_malformed(void **state)
{
	struct validate_opts o = opts(F.resp_port, 0);

	(void)state;
	http01(o, "dns", "evil.test/x?", "tok", "k", VALIDATE_CONNECTION, "malformed");
	http01(o, "dns", "127.0.0.1", "tok", "k", VALIDATE_CONNECTION, "malformed");
	http01(o, "dns", "*.wild.test", "tok", "k", VALIDATE_CONNECTION, "malformed");
	http01(o, "ip", "localhost", "tok", "k", VALIDATE_CONNECTION, "malformed");
	http01(o, "dns", "ok.test", "../x", "k", VALIDATE_CONNECTION, "malformed");
	http01(o, "email", "ok.test", "tok", "k", VALIDATE_CONNECTION, "malformed");
}

/* ---- dns-01 ---- */

/* A stale record next to the right one does not matter. */
static void
test_dns01_ok(void **state)
{
	(void)state;
	cts_post("/set-txt", "{\"host\":\"_acme-challenge.dns-ok.test.\","
	    "\"value\":\"stale\"}");
	cts_post("/set-txt", "{\"host\":\"_acme-challenge.dns-ok.test.\","
	    "\"value\":\"" KA_DNS_TXT "\"}");
	dns01(opts(0, 0), "dns-ok.test", KA_DNS, VALIDATE_OK, NULL);
}

static void
test_dns01_wrong(void **state)
{
	(void)state;
	cts_post("/set-txt", "{\"host\":\"_acme-challenge.dns-wrong.test.\","
	    "\"value\":\"not-the-digest\"}");
	dns01(opts(0, 0), "dns-wrong.test", KA_DNS, VALIDATE_INCORRECT,
	    "\"not-the-digest\"");
}

static void
test_dns01_no_record(void **state)
{
	(void)state;
	dns01(opts(0, 0), "dns-none.test", KA_DNS, VALIDATE_DNS,
	    "_acme-challenge.dns-none.test");
}

static void
test_dns01_wildcard(void **state)
{
	(void)state;
	cts_post("/set-txt", "{\"host\":\"_acme-challenge.wild.test.\","
	    "\"value\":\"" KA_DNS_TXT "\"}");
	dns01(opts(0, 0), "*.wild.test", KA_DNS, VALIDATE_OK, NULL);
}

static void
test_dns01_servfail(void **state)
{
	(void)state;
	cts_post("/set-servfail", "{\"host\":\"_acme-challenge.broken.test.\"}");
	dns01(opts(0, 0), "broken.test", KA_DNS, VALIDATE_DNS, NULL);
}

static void
test_dns01_silent_resolver(void **state)
{
	struct validate_opts o = opts_short(F.silent_dns, 0);

	(void)state;
	expect_in_time(dns01(o, "slow.test", KA_DNS, VALIDATE_DNS, "timed out"), o);
}

/* ---- tls-alpn-01 ---- */

static void
test_tlsalpn01_ok(void **state)
{
	(void)state;
	cts_add_a("alpn-ok.test");
	cts_post("/add-tlsalpn01",
	    "{\"host\":\"alpn-ok.test\",\"content\":\"a.thumb\"}");
	tlsalpn01(opts(0, F.alpn_port), "dns", "alpn-ok.test", "a.thumb", VALIDATE_OK,
	    NULL);
}

static void
test_tlsalpn01_wrong_key_authz(void **state)
{
	(void)state;
	cts_add_a("alpn-wrong.test");
	cts_post("/add-tlsalpn01",
	    "{\"host\":\"alpn-wrong.test\",\"content\":\"someone.else\"}");
	tlsalpn01(opts(0, F.alpn_port), "dns", "alpn-wrong.test", "a.thumb",
	    VALIDATE_INCORRECT, "acmeIdentifier");
}

static void
test_tlsalpn01_no_alpn(void **state)
{
	(void)state;
	tlsalpn01(opts(0, F.noalpn_port), "ip", "127.0.0.1", KA_TLS, VALIDATE_TLS,
	    "acme-tls/1");
}

static void
test_tlsalpn01_refused(void **state)
{
	(void)state;
	tlsalpn01(opts(0, tv_free_port()), "ip", "127.0.0.1", KA_TLS,
	    VALIDATE_CONNECTION, NULL);
}

/* RFC 8738: an iPAddress subjectAltName. */
static void
test_tlsalpn01_ip(void **state)
{
	(void)state;
	tlsalpn01(opts(0, F.ip_port), "ip", "127.0.0.1", KA_TLS, VALIDATE_OK, NULL);
	tlsalpn01(opts(0, F.ip_port), "ip", "127.0.0.1", "other.thumb",
	    VALIDATE_INCORRECT, NULL);
}

/*
 * RFC 8738 section 6: the SNI for 127.0.0.1 is 1.0.0.127.in-addr.arpa.
 * challtestsrv refuses the handshake for a name it was not given, and
 * answers this one with the reverse name in a dNSName (2.4.0) or, in later
 * versions, in an iPAddress: unauthorized or valid, never a TLS failure.
 */
static void
test_tlsalpn01_ip_sni(void **state)
{
	struct validate_opts o = opts(0, F.alpn_port);
	enum validate_result r;
	char detail[256];

	(void)state;
	cts_post("/add-tlsalpn01",
	    "{\"host\":\"1.0.0.127.in-addr.arpa\",\"content\":\"ip.thumb\"}");
	r = validate_tlsalpn01(&o, "ip", "127.0.0.1", "ip.thumb", detail,
	    sizeof(detail));
	if (r != VALIDATE_OK && r != VALIDATE_UNAUTHORIZED)
		fail_msg("got %s: %s", validate_error_type(r), detail);
}

static void
test_tlsalpn01_two_names(void **state)
{
	(void)state;
	cts_add_a("two.test");
	tlsalpn01(opts(0, F.twosan_port), "dns", "two.test", KA_TLS,
	    VALIDATE_UNAUTHORIZED, "2 subjectAltName");
}

static void
test_tlsalpn01_not_critical(void **state)
{
	(void)state;
	cts_add_a("noncrit.test");
	tlsalpn01(opts(0, F.noncrit_port), "dns", "noncrit.test", KA_TLS,
	    VALIDATE_INCORRECT, "not critical");
}

static void
test_tlsalpn01_silent_peer(void **state)
{
	struct validate_opts o = opts_short(F.dns, F.silent_tcp_port);

	(void)state;
	expect_in_time(tlsalpn01(o, "ip", "127.0.0.1", KA_TLS, VALIDATE_CONNECTION,
	    NULL), o);
}

/* ---- the address policy ---- */

/* opts() without 127.0.0.0/8 in the allow list, or with only one host. */
static struct validate_opts
opts_allow(int http_port, int tlsalpn_port, const char *allow)
{
	struct validate_opts o = opts(http_port, tlsalpn_port);

	o.allow = allow;
	return o;
}

static void
test_policy_refuses_loopback(void **state)
{
	(void)state;
	cts_add_a("policy.test");
	cts_post("/add-http01", "{\"token\":\"tokPol\",\"content\":\"tokPol.thumb\"}");
	/* An identifier that is an address, a name that resolves to one, and
	 * the same over tls-alpn-01: refused before any connection. */
	http01(opts_allow(F.http_port, 0, NULL), "ip", "127.0.0.1", "tokPol",
	    "tokPol.thumb", VALIDATE_UNAUTHORIZED, "address policy: 127.0.0.1 is loopback");
	http01(opts_allow(F.http_port, 0, ""), "dns", "policy.test", "tokPol",
	    "tokPol.thumb", VALIDATE_UNAUTHORIZED, "address policy: 127.0.0.1 is loopback");
	tlsalpn01(opts_allow(0, F.ip_port, NULL), "ip", "127.0.0.1", KA_TLS,
	    VALIDATE_UNAUTHORIZED, "address policy");
	tlsalpn01(opts_allow(0, F.ip_port, NULL), "ip", "::1", KA_TLS,
	    VALIDATE_UNAUTHORIZED, "address policy: ::1 is loopback");
	/* The allow list, to the host. */
	http01(opts_allow(F.http_port, 0, "127.0.0.1/32"), "dns", "policy.test", "tokPol",
	    "tokPol.thumb", VALIDATE_OK, NULL);
	http01(opts_allow(F.http_port, 0, "127.0.0.2/32"), "dns", "policy.test", "tokPol",
	    "tokPol.thumb", VALIDATE_UNAUTHORIZED, "address policy");
}

static void
test_error_types(void **state)
{
	(void)state;
	assert_null(validate_error_type(VALIDATE_OK));
	assert_string_equal(validate_error_type(VALIDATE_CONNECTION), "connection");
	assert_string_equal(validate_error_type(VALIDATE_DNS), "dns");
	assert_string_equal(validate_error_type(VALIDATE_INCORRECT),
	    "incorrectResponse");
	assert_string_equal(validate_error_type(VALIDATE_UNAUTHORIZED), "unauthorized");
	assert_string_equal(validate_error_type(VALIDATE_TLS), "tls");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http01_ok),
		cmocka_unit_test(test_http01_ip),
		cmocka_unit_test(test_http01_wrong_body),
		cmocka_unit_test(test_http01_not_found),
		cmocka_unit_test(test_http01_trailing_whitespace),
		cmocka_unit_test(test_http01_body_too_long),
		cmocka_unit_test(test_http01_refused),
		cmocka_unit_test(test_http01_no_address),
		cmocka_unit_test(test_http01_ten_redirects),
		cmocka_unit_test(test_http01_eleven_redirects),
		cmocka_unit_test(test_http01_redirect_port22),
		cmocka_unit_test(test_http01_redirect_scheme),
		cmocka_unit_test(test_http01_silent_peer),
		cmocka_unit_test(test_http01_malformed),
		cmocka_unit_test(test_dns01_ok),
		cmocka_unit_test(test_dns01_wrong),
		cmocka_unit_test(test_dns01_no_record),
		cmocka_unit_test(test_dns01_wildcard),
		cmocka_unit_test(test_dns01_servfail),
		cmocka_unit_test(test_dns01_silent_resolver),
		cmocka_unit_test(test_tlsalpn01_ok),
		cmocka_unit_test(test_tlsalpn01_wrong_key_authz),
		cmocka_unit_test(test_tlsalpn01_no_alpn),
		cmocka_unit_test(test_tlsalpn01_refused),
		cmocka_unit_test(test_tlsalpn01_ip),
		cmocka_unit_test(test_tlsalpn01_ip_sni),
		cmocka_unit_test(test_tlsalpn01_two_names),
		cmocka_unit_test(test_tlsalpn01_not_critical),
		cmocka_unit_test(test_tlsalpn01_silent_peer),
		cmocka_unit_test(test_policy_refuses_loopback),
		cmocka_unit_test(test_error_types),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
