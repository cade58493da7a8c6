/*
 * The two REP sockets, operations and registration, served one request at
 * a time from one zmq_poll loop.  SIGTERM and SIGINT arrive through a
 * signalfd in the same poll, so a signal never lands in the middle of a
 * task.  Each request leaves one line in tasks.log.
 */
#include "devca.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.h>

#include "buf.h"
#include "log.h"

#define SERVER_ENDPOINT 320

struct server {
	struct devca *dc;
	void *zctx;
	void *ops;
	void *reg;
	int sigfd;
	int journal;            /* tasks.log */
};

/* Port 0 binds any free port; endpoint gets the address actually bound. */
static int
server_bind(void *sock, const char *host, int port, char *endpoint, size_t len)
{
	bool v6 = strchr(host, ':') != NULL;
	int64_t max = DEVCA_MAX_MSG;
	char addr[SERVER_ENDPOINT], portstr[8];
	int zero = 0, one = 1, n;

	if (port == 0)
		snprintf(portstr, sizeof(portstr), "*");
	else
		snprintf(portstr, sizeof(portstr), "%d", port);
	n = snprintf(addr, sizeof(addr), v6 ? "tcp://[%s]:%s" : "tcp://%s:%s", host, portstr);
	if (n < 0 || (size_t)n >= sizeof(addr)) {
		log_error("host name too long");
		return -1;
	}
	/* Past the ceiling libzmq drops the peer before buffering the frame. */
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ||
	    (v6 && zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof(one)) != 0) ||
	    zmq_bind(sock, addr) != 0 ||
	    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0) {
		log_error("cannot bind %s: %s", addr, zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* Blocked before ZeroMQ starts its threads, which inherit the mask: the
 * signals then reach nothing but the signalfd. */
static int
server_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int
server_journal_open(const char *dir)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/tasks.log", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* Names come from the network: one word of printable ASCII each, so that
 * no request can split or forge a line. */
static void
server_word(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i] != '\0'; i++)
		dst[i] = src[i] > ' ' && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static void
server_journal(struct server *srv, const struct task_ctx *t, bool registration)
{
	char task[sizeof(t->task)], cn[sizeof(t->cn)];
	struct buf b;

	server_word(task, sizeof(task), t->task);
	server_word(cn, sizeof(cn), t->cn);
	buf_init(&b, 1024);
	buf_printf(&b, "task=%s port=%s result=%s", task, registration ? "reg" : "ops",
	    t->ok ? "ok" : "error");
	if (cn[0] != '\0')
		buf_printf(&b, " cn=%s", cn);
	if (t->serial[0] != '\0')
		buf_printf(&b, " serial=%s", t->serial);
	if (buf_adds(&b, "\n") && write(srv->journal, b.data, b.len) != (ssize_t)b.len)
		log_warn("cannot write tasks.log: %s", strerror(errno));
	buf_free(&b);
}

/* Reads and drops the rest of a request of several frames: the protocol
 * has one, and REP can only answer once the whole request is in. */
static int
server_drain(void *sock)
{
	zmq_msg_t part;
	int more = 1;

	while (more) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, sock, 0) < 0) {
			zmq_msg_close(&part);
			return -1;
		}
		more = zmq_msg_more(&part);
		zmq_msg_close(&part);
	}
	return 0;
}

static void
server_sleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
server_serve(struct server *srv, void *sock, bool registration)
{
	struct task_ctx t;
	zmq_msg_t msg;
	char *reply = NULL;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -1;
	}
	if (!zmq_msg_more(&msg))
		reply = tasks_handle(srv->dc, registration, zmq_msg_data(&msg),
		    zmq_msg_size(&msg), &t);
	else if (server_drain(sock) == 0)
		reply = tasks_handle(srv->dc, registration, NULL, 0, &t);
	zmq_msg_close(&msg);
	if (reply == NULL) {
		log_error("cannot answer a request");
		return -1;
	}
	/* Logged before the answer leaves, so that a test that has the answer
	 * finds the line. */
	server_journal(srv, &t, registration);
	if (!registration && srv->dc->opts->slow_ms > 0)
		server_sleep(srv->dc->opts->slow_ms);
	if (zmq_send(sock, reply, strlen(reply), 0) < 0)
		log_warn("cannot send a reply: %s", zmq_strerror(zmq_errno()));
	free(reply);
	return 0;
}

static int
server_loop(struct server *srv)
{
	zmq_pollitem_t items[] = {
		{ srv->ops, 0, ZMQ_POLLIN, 0 },
		{ srv->reg, 0, ZMQ_POLLIN, 0 },
		{ NULL, srv->sigfd, ZMQ_POLLIN, 0 },
	};

	for (;;) {
		if (zmq_poll(items, 3, -1) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			log_error("zmq_poll: %s", zmq_strerror(zmq_errno()));
			return -1;
		}
		if (items[2].revents & ZMQ_POLLIN) {
			log_info("exiting on signal");
			return 0;
		}
		if ((items[0].revents & ZMQ_POLLIN) && server_serve(srv, srv->ops, false) != 0)
			return -1;
		if ((items[1].revents & ZMQ_POLLIN) && server_serve(srv, srv->reg, true) != 0)
			return -1;
	}
}

int
server_run(struct devca *dc)
{
	struct server srv = { .dc = dc, .sigfd = -1, .journal = -1 };
	char ops[SERVER_ENDPOINT], reg[SERVER_ENDPOINT];
	int rc = -1;

	if ((srv.sigfd = server_signals()) < 0) {
		log_error("cannot set up signals: %s", strerror(errno));
		goto done;
	}
	if ((srv.journal = server_journal_open(dc->opts->dir)) < 0) {
		log_error("cannot open tasks.log: %s", strerror(errno));
		goto done;
	}
	if ((srv.zctx = zmq_ctx_new()) == NULL ||
	    (srv.ops = zmq_socket(srv.zctx, ZMQ_REP)) == NULL ||
	    (srv.reg = zmq_socket(srv.zctx, ZMQ_REP)) == NULL) {
		log_error("zmq: %s", zmq_strerror(zmq_errno()));
		goto done;
	}
	if (server_bind(srv.ops, dc->opts->host, dc->opts->port, ops, sizeof(ops)) != 0 ||
	    server_bind(srv.reg, dc->opts->host, dc->opts->reg_port, reg, sizeof(reg)) != 0)
		goto done;
	fprintf(stderr, "upki-devca: ready ops=%s reg=%s\n", ops, reg);
	rc = server_loop(&srv);
done:
	if (srv.ops != NULL)
		zmq_close(srv.ops);
	if (srv.reg != NULL)
		zmq_close(srv.reg);
	if (srv.zctx != NULL)
		zmq_ctx_term(srv.zctx);
	if (srv.journal >= 0)
		close(srv.journal);
	if (srv.sigfd >= 0)
		close(srv.sigfd);
	return rc;
}
