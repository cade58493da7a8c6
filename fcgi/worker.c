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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "http.h"
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
	req->client_dn = worker_param(fr, "SSL_CLIENT_S_DN");
	req->client_cert = worker_param(fr, "SSL_CLIENT_CERT");
	req->client_serial = worker_param(fr, "SSL_CLIENT_SERIAL");
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

static void
worker_handle(struct ra_ctx *ctx, FCGX_Request *fr)
{
	struct http_request req;
	struct http_response resp;
	struct buf body;
	char path[ROUTER_PATH_MAX + 2];
	int status = 0;

	buf_init(&body, HTTP_BODY_MAX);
	http_response_init(&resp);
	if (worker_read_body(fr, &body, &status) != 0) {
		worker_build_request(fr, &req, path, sizeof(path), &body);
		http_rest_error(&resp, status, status == 413 ?
		    "request body larger than %d bytes" : "invalid request body",
		    HTTP_BODY_MAX);
	} else {
		worker_build_request(fr, &req, path, sizeof(path), &body);
		router_dispatch(ctx, &req, &resp);
	}
	worker_write(fr, &req, &resp);
	http_response_free(&resp);
	buf_free(&body);
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

/* What a worker waits on between requests. */
struct worker_io {
	int listen_fd;
	int sigfd;
	int epfd;
	bool stopping;          /* SIGTERM read: stop after this request */
};

/* Every idle worker waits on the one listening socket: with poll() each
 * connection woke them all and all but one found accept() empty (most of
 * the CPU of a pool larger than a few workers).  EPOLLEXCLUSIVE wakes one. */
static int
worker_io_init(struct worker_io *io, int listen_fd, int sigfd)
{
	struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd };
	struct epoll_event sev = { .events = EPOLLIN, .data.fd = sigfd };

	io->listen_fd = listen_fd;
	io->sigfd = sigfd;
	io->stopping = false;
	if ((io->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, listen_fd, &lev) != 0 ||
	    epoll_ctl(io->epfd, EPOLL_CTL_ADD, sigfd, &sev) != 0) {
		close(io->epfd);
		return -1;
	}
	return 0;
}

/* With nginx's fastcgi_keep_conn: the next request on the kept connection,
 * or SIGTERM. */
static int
worker_wait_kept(struct worker_io *io, FCGX_Request *fr)
{
	struct pollfd pfd[2] = {
		{ .fd = fr->ipcFd, .events = POLLIN },
		{ .fd = io->sigfd, .events = POLLIN },
	};

	if (poll(pfd, 2, -1) < 0)
		return errno == EINTR;
	return pfd[1].revents == 0;
}

/*
 * Waits for a new connection (or the next request on a kept one) or for
 * SIGTERM, whichever comes first.  Returns 1 to go on, 0 to stop.
 */
static int
worker_wait(struct worker_io *io, FCGX_Request *fr)
{
	struct epoll_event ev[2];
	int n, conn;

	if (io->stopping)
		return 0;
	if (fr->ipcFd >= 0)
		return worker_wait_kept(io, fr);
	if ((n = epoll_wait(io->epfd, ev, 2, -1)) < 0)
		return errno == EINTR;
	for (int i = 0; i < n; i++)
		if (ev[i].data.fd == io->sigfd)
			io->stopping = true;
	/* The listening socket is non-blocking: the connection that woke us
	 * may be gone to another worker.  Stopping, we still take one: the
	 * exclusive wake-up of a connection may have been ours alone. */
	if ((conn = accept4(io->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return !io->stopping;
	/* nginx sends its request at once; a peer that connects and stays
	 * silent must not hold a worker for ever. */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &worker_read_timeout,
	    sizeof(worker_read_timeout));
	/* libfcgi reads the request from ipcFd when it is set, instead of
	 * accepting; keepConnection keeps FCGX_Accept_r's opening
	 * FCGX_Finish_r from closing it.  nginx's own flag replaces it. */
	fr->ipcFd = conn;
	fr->keepConnection = 1;
	return 1;
}

/*
 * Ends a request.  On a connection nginx does not keep, libfcgi's close
 * (OS_Close) shuts down the writing side, waits in poll() for the peer to
 * close its end and reads to end of file, so that input still on its way
 * (a body the worker refused without reading it) cannot turn the close
 * into a reset of the response.  When the request's input has been read to
 * its end (the empty STDIN record, normally already in the socket), no
 * more can come: closing at once does the same without the wait for nginx
 * and its two context switches, 14 % of a worker's time under POST-as-GET.
 */
static void
worker_finish(FCGX_Request *fr)
{
	int fd = fr->ipcFd;

	if (fr->keepConnection || FCGX_GetChar(fr->in) != EOF ||
	    FCGX_HasSeenEOF(fr->in) != EOF || FCGX_GetError(fr->in) != 0) {
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

int
worker_main(const struct config *cfg, int listen_fd)
{
	struct worker_io io;
	struct ra_ctx ctx;
	FCGX_Request fr;
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
	    worker_io_init(&io, listen_fd, sigfd) != 0) {
		log_error("worker: cannot set up: %s", strerror(errno));
		return 1;
	}
	if (worker_open(cfg, &ctx) != 0)
		return 1;
	/* No listening socket for libfcgi: the worker accepts itself. */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, -1, 0) != 0) {
		log_error("worker: cannot initialise FastCGI");
		return 1;
	}
	while (worker_wait(&io, &fr)) {
		if (fr.ipcFd < 0 || FCGX_Accept_r(&fr) < 0)
			continue;
		worker_handle(&ctx, &fr);
		worker_finish(&fr);
	}
	FCGX_Free(&fr, 1);
	close(io.epfd);
	close(sigfd);
	ca_client_free(ctx.ca);
	store_close(ctx.store);
	return 0;
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
