/*
 * A FastCGI worker: accepts a connection, turns the request's params and
 * body into a struct http_request, lets the router answer, writes the
 * response.  SIGTERM ends the loop between requests (see worker_main).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "front.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "ra.h"
#include "router.h"
#include "store_acme.h"
#include "worker.h"

static const char *
worker_param(FCGX_Request *fr, const char *name)
{
	return FCGX_GetParam(name, fr->envp);
}

/* Reads exactly CONTENT_LENGTH bytes, refusing more than HTTP_BODY_MAX
 * before reading any: the size is checked, then the bytes are. */
static int
worker_read_body(FCGX_Request *fr, struct buf *body, int *status)
{
	const char *cl = worker_param(fr, "CONTENT_LENGTH");
	char chunk[4096], *end;
	unsigned long long want;
	int n;

	if (cl == NULL || *cl == '\0')
		return 0;
	errno = 0;
	want = strtoull(cl, &end, 10);
	if (errno != 0 || *end != '\0' || *cl == '-') {
		*status = 400;
		return -1;
	}
	if (want > HTTP_BODY_MAX) {
		*status = 413;
		return -1;
	}
	while (body->len < want) {
		size_t ask = want - body->len < sizeof(chunk) ? want - body->len : sizeof(chunk);

		if ((n = FCGX_GetStr(chunk, (int)ask, fr->in)) <= 0)
			break;
		buf_add(body, chunk, (size_t)n);
	}
	if (body->len != want) {
		*status = 400;
		return -1;
	}
	return 0;
}

static void
worker_build_request(FCGX_Request *fr, struct http_request *req, char *pathbuf,
    size_t pathlen, const struct buf *body)
{
	const char *uri = worker_param(fr, "REQUEST_URI");
	const char *q, *https = worker_param(fr, "HTTPS");
	size_t n;

	memset(req, 0, sizeof(*req));
	req->method = worker_param(fr, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = "GET";
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	n = q != NULL ? (size_t)(q - uri) : strlen(uri);
	if (n >= pathlen)
		n = pathlen - 1;        /* the router refuses over-long paths */
	memcpy(pathbuf, uri, n);
	pathbuf[n] = '\0';
	req->path = pathbuf;
	req->query = q != NULL ? q + 1 : "";
	req->host = worker_param(fr, "HTTP_HOST");
	req->https = https != NULL && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0);
	req->content_type = worker_param(fr, "CONTENT_TYPE");
	req->client_verify = worker_param(fr, "SSL_CLIENT_VERIFY");
	req->client_cert = worker_param(fr, "SSL_CLIENT_CERT");
	req->remote_addr = worker_param(fr, "REMOTE_ADDR");
	req->body = body->data != NULL ? body->data : "";
	req->body_len = body->len;
}

static void
worker_write(FCGX_Request *fr, const struct http_request *req,
    const struct http_response *resp)
{
	FCGX_FPrintF(fr->out, "Status: %d %s\r\n", resp->status,
	    http_status_text(resp->status));
	if (resp->content_type != NULL)
		FCGX_FPrintF(fr->out, "Content-Type: %s\r\n", resp->content_type);
	for (int i = 0; i < resp->nheaders; i++)
		FCGX_FPrintF(fr->out, "%s: %s\r\n", resp->headers[i].name,
		    resp->headers[i].value);
	FCGX_FPrintF(fr->out, "Content-Length: %lu\r\n\r\n", (unsigned long)resp->body.len);
	if (strcmp(req->method, "HEAD") != 0 && resp->body.len > 0)
		FCGX_PutStr(resp->body.data, (int)resp->body.len, fr->out);
}

/*
 * Answers the request on fr.  False when it was a HEAD, after which nginx
 * drops even a connection it keeps: it finalizes a HEAD as soon as it has
 * the answer's header and never reads the FCGI_END_REQUEST that would let
 * it keep the connection (ngx_http_fastcgi_module marks the connection
 * reusable in the input filter of the answer's body, which nginx never runs
 * for a HEAD).
 */
static bool
worker_handle(struct ra_ctx *ctx, FCGX_Request *fr)
{
	struct http_request req;
	struct http_response resp;
	struct buf body;
	char path[ROUTER_PATH_MAX + 2];
	int status = 0;

	buf_init(&body, HTTP_BODY_MAX);
	http_response_init(&resp);
	if (!front_trusted(worker_param(fr, FRONT_PARAM))) {
		worker_build_request(fr, &req, path, sizeof(path), &body);
		log_warn("refused %.16s %.128s: not from the trusted nginx (FastCGI secret "
		    "missing or wrong)", req.method, req.path);
		http_rest_error(&resp, 403, "this FastCGI peer is not trusted");
	} else if (worker_read_body(fr, &body, &status) != 0) {
		worker_build_request(fr, &req, path, sizeof(path), &body);
		http_rest_error(&resp, status, status == 413 ?
		    "request body larger than %d bytes" : "invalid request body",
		    HTTP_BODY_MAX);
	} else {
		worker_build_request(fr, &req, path, sizeof(path), &body);
		store_snapshot_begin(ctx->store);
		router_dispatch(ctx, &req, &resp);
		store_snapshot_end(ctx->store);
	}
	http_response_seal(&resp);
	worker_write(fr, &req, &resp);
	http_response_free(&resp);
	buf_free(&body);
	return strcmp(req.method, "HEAD") != 0;
}

static int
worker_open(const struct config *cfg, struct ra_ctx *ctx)
{
	char path[PATH_MAX], err[256];

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	if (ra_store_path(cfg, path, sizeof(path)) != 0 ||
	    store_open(path, &ctx->store, err, sizeof(err)) != 0) {
		log_error("worker: %s", err);
		return -1;
	}
	if ((ctx->ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL) {
		log_error("worker: out of memory");
		store_close(ctx->store);
		return -1;
	}
	return 0;
}

static const struct timeval worker_read_timeout = { 30, 0 };

/*
 * The FastCGI connections one worker keeps open.  nginx keeps its
 * connections to the ACME location (fastcgi_keep_conn, an upstream with
 * keepalive: nginx/upki-ra.conf.in), which saves a connect, an accept and
 * two closes per request.  A libfcgi worker that waited on its one kept
 * connection would serve nothing else while nginx left it idle, and with
 * more connections than workers requests would wait in the listen queue
 * until nginx closed one; so each worker waits on all of its connections
 * and on the listening socket together.  Past this many, a connection is
 * closed once answered: nginx opens another.
 */
#define WORKER_CONNS    64
#define WORKER_EVENTS   16

/* epoll tags: the listening socket, the signalfd, then connection slots. */
#define WORKER_TAG_LISTEN       0
#define WORKER_TAG_SIGNAL       1
#define WORKER_TAG_CONN         2

/* What a worker waits on between requests. */
struct worker_io {
	int listen_fd;
	int sigfd;
	int epfd;
	bool stopping;          /* SIGTERM read: stop after this round */
	bool keeps;             /* keeps the connections nginx keeps (not a spare) */
	FCGX_Request conn[WORKER_CONNS];        /* ipcFd < 0: a free slot */
	FCGX_Request *serving;  /* the request being answered */
	struct store *store;
};

static int
worker_watch(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Every idle worker waits on the one listening socket: with poll() each
 * connection woke them all and all but one found accept() empty (most of
 * the CPU of a pool larger than a few workers).  EPOLLEXCLUSIVE wakes one. */
static int
worker_io_init(struct worker_io *io, int listen_fd, int sigfd, bool keeps)
{
	io->listen_fd = listen_fd;
	io->keeps = keeps;
	io->sigfd = sigfd;
	io->stopping = false;
	io->serving = NULL;
	for (int i = 0; i < WORKER_CONNS; i++)
		FCGX_InitRequest(&io->conn[i], -1, 0);
	if ((io->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if (worker_watch(io->epfd, listen_fd, EPOLLIN | EPOLLEXCLUSIVE, WORKER_TAG_LISTEN) != 0 ||
	    worker_watch(io->epfd, sigfd, EPOLLIN, WORKER_TAG_SIGNAL) != 0) {
		close(io->epfd);
		return -1;
	}
	return 0;
}

/*
 * Ends a request.  On a connection nginx keeps, the next request will come
 * on it: libfcgi leaves it open, unless the request's input was not read to
 * its end (a refused body), which would be read as the next request: then
 * it is closed like any other.  On a connection nginx does not keep,
 * libfcgi's close (OS_Close) shuts down the writing side, waits in poll()
 * for the peer to close its end and reads to end of file, so that input
 * still on its way (a body the worker refused without reading it) cannot
 * turn the close into a reset of the response.  When the request's input
 * has been read to its end (the empty STDIN record, normally already in the
 * socket), no more can come: closing at once does the same without the wait
 * for nginx and its two context switches, 14 % of a worker's time under
 * POST-as-GET.
 */
static void
worker_finish(FCGX_Request *fr, bool may_keep)
{
	int fd = fr->ipcFd;

	if (FCGX_GetChar(fr->in) != EOF || FCGX_HasSeenEOF(fr->in) != EOF ||
	    FCGX_GetError(fr->in) != 0) {
		fr->keepConnection = 0;
		FCGX_Finish_r(fr);
		return;
	}
	if (fr->keepConnection && may_keep) {
		FCGX_Finish_r(fr);
		return;
	}
	fr->keepConnection = 1;
	FCGX_Finish_r(fr);
	if (fr->ipcFd < 0)
		return;         /* an error: libfcgi closed it its own way */
	close(fd);
	fr->ipcFd = -1;
}

/*
 * Reads the next request on a connection and answers it.  Reading blocks
 * until the request is whole: nginx sends it at once, and SO_RCVTIMEO
 * bounds a peer that does not.  A connection nginx closed reads as an
 * error, and libfcgi closes it (which also takes it out of the epoll set).
 * One nginx will drop (HEAD) is closed at once instead: kept, it would
 * cost a watch, a wake-up for its end of file and libfcgi's slow close.
 */
static void
worker_serve(struct worker_io *io, struct ra_ctx *ctx, FCGX_Request *fr, bool may_keep)
{
	/* ipcFd < 0: closed since epoll_wait (worker_release_kept) */
	if (fr->ipcFd < 0 || FCGX_Accept_r(fr) < 0)
		return;
	io->serving = fr;
	may_keep = worker_handle(ctx, fr) && may_keep;
	io->serving = NULL;
	worker_finish(fr, may_keep);
}

/*
 * Before a call to the CA, which can take its whole timeout: the worker's
 * other kept connections are closed, so that what nginx sends next goes to
 * the other workers instead of waiting behind the call.  A request nginx
 * already sent on one, unread, fails there and nginx sends it again on a
 * new connection (fastcgi_next_upstream, nginx/upki-ra.conf.in).
 */
static void
worker_release_kept(void *arg)
{
	struct worker_io *io = arg;

	for (int i = 0; i < WORKER_CONNS; i++) {
		FCGX_Request *fr = &io->conn[i];

		if (fr == io->serving || fr->ipcFd < 0)
			continue;
		close(fr->ipcFd);
		fr->ipcFd = -1;
	}
}

/* And the request's snapshot of the store ends: a read transaction held
 * through the call would keep the WAL from starting over. */
static void
worker_before_ca_call(void *arg)
{
	struct worker_io *io = arg;

	store_snapshot_end(io->store);
	worker_release_kept(io);
}

/*
 * A new connection: answered at once (nginx writes its request as soon as
 * it connects), then kept in a free slot if nginx keeps it.  The listening
 * socket is non-blocking: the connection that woke us may be gone to
 * another worker.
 */
static void
worker_accept(struct worker_io *io, struct ra_ctx *ctx)
{
	FCGX_Request once, *fr = NULL;
	int conn;

	if ((conn = accept4(io->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	/* A peer that connects and stays silent must not hold a worker. */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &worker_read_timeout,
	    sizeof(worker_read_timeout));
	for (int i = 0; i < WORKER_CONNS && fr == NULL; i++)
		if (io->conn[i].ipcFd < 0)
			fr = &io->conn[i];
	if (fr == NULL) {
		FCGX_InitRequest(&once, -1, 0);
		fr = &once;
	}
	/* libfcgi reads the request from ipcFd when it is set, instead of
	 * accepting; keepConnection keeps FCGX_Accept_r's opening
	 * FCGX_Finish_r from closing it.  nginx's own flag replaces it. */
	fr->ipcFd = conn;
	fr->keepConnection = 1;
	worker_serve(io, ctx, fr, fr != &once && !io->stopping && io->keeps);
	if (fr == &once || fr->ipcFd < 0)
		return;
	if (worker_watch(io->epfd, fr->ipcFd, EPOLLIN,
	    WORKER_TAG_CONN + (uint64_t)(fr - io->conn)) != 0) {
		close(fr->ipcFd);
		fr->ipcFd = -1;
	}
}

/*
 * SIGTERM: the requests already on kept connections are answered, then the
 * connections are closed.  One nginx sent meanwhile fails on a kept
 * connection, which nginx sends again on a new one (fastcgi_next_upstream
 * in nginx/upki-ra.conf.in): to another worker.
 */
static void
worker_close_kept(struct worker_io *io, struct ra_ctx *ctx)
{
	for (int i = 0; i < WORKER_CONNS; i++) {
		struct pollfd pfd = { .fd = io->conn[i].ipcFd, .events = POLLIN };

		if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 1)
			worker_serve(io, ctx, &io->conn[i], false);
	}
	worker_release_kept(io);
}

/*
 * Serves until SIGTERM.  Every ready connection of a round is served before
 * the next wait, so that one busy connection cannot starve the others.
 */
static void
worker_loop(struct worker_io *io, struct ra_ctx *ctx)
{
	struct epoll_event ev[WORKER_EVENTS];
	int n;

	while (!io->stopping) {
		if ((n = epoll_wait(io->epfd, ev, WORKER_EVENTS, -1)) < 0) {
			if (errno == EINTR)
				continue;
			log_error("worker: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == WORKER_TAG_SIGNAL)
				io->stopping = true;
		/* The new connection first: its wake-up went to this worker
		 * alone, and it would wait in the listen queue for as long as
		 * the requests on kept connections take.  Stopping, we still
		 * take it, for the same reason. */
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == WORKER_TAG_LISTEN)
				worker_accept(io, ctx);
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag >= WORKER_TAG_CONN)
				worker_serve(io, ctx, &io->conn[tag - WORKER_TAG_CONN], true);
		}
	}
	worker_close_kept(io, ctx);
}

static int
worker_run(const struct config *cfg, int listen_fd, bool keeps)
{
	struct worker_io io;
	struct ra_ctx ctx;
	sigset_t term;
	int sigfd, flags;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	/* SIGTERM is read from a signalfd between requests, never delivered
	 * in the middle of one: a drain or a reload does not cut a request,
	 * not even one whose connection was accepted and not yet read. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	if ((sigfd = signalfd(-1, &term, SFD_CLOEXEC)) < 0 ||
	    (flags = fcntl(listen_fd, F_GETFL)) < 0 ||
	    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    worker_io_init(&io, listen_fd, sigfd, keeps) != 0) {
		log_error("worker: cannot set up: %s", strerror(errno));
		return 1;
	}
	if (worker_open(cfg, &ctx) != 0)
		return 1;
	/* A worker that starts may replace one that died mid-issuance. */
	issue_recover(&ctx);
	io.store = ctx.store;
	ca_client_on_wait(ctx.ca, worker_before_ca_call, &io);
	/* No listening socket for libfcgi: the worker accepts itself. */
	if (FCGX_Init() != 0) {
		log_error("worker: cannot initialise FastCGI");
		return 1;
	}
	worker_loop(&io, &ctx);
	close(io.epfd);
	close(sigfd);
	ca_client_free(ctx.ca);
	store_close(ctx.store);
	cert_file_free(&ctx.ca_crt);
	certcheck_free(ctx.clients);
	return 0;
}

int
worker_main(const struct config *cfg, int listen_fd)
{
	return worker_run(cfg, listen_fd, true);
}

/*
 * Workers hold the connections nginx keeps, and one waiting on the CA
 * closes them first: with every worker busy or waiting, what nginx sends
 * meanwhile queues in the listening socket's backlog.  A spare worker
 * answers it.  It keeps no connection, so it never builds a queue of its
 * own, and it is woken only for new connections, which come mostly when the
 * workers are busy, as under concurrent issuance (a CA call per finalize).
 */
int
worker_spare_main(const struct config *cfg, int listen_fd)
{
	return worker_run(cfg, listen_fd, false);
}

void
worker_reaped(const struct config *cfg, pid_t pid)
{
	char path[PATH_MAX], err[256];
	struct store *st;
	int n;

	if (ra_store_path(cfg, path, sizeof(path)) != 0 ||
	    store_open(path, &st, err, sizeof(err)) != 0)
		return;
	if ((n = store_order_release(st, (int)pid)) > 0)
		log_warn("worker %ld died finalizing %d order(s): back to ready", (long)pid, n);
	store_close(st);
}
