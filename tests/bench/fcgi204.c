/*
 * fcgi204: the FastCGI ceiling of `make bench`.  A prefork pool of libfcgi
 * workers on a unix socket, built the way upki-ra's pool is (one listening
 * socket, FCGX_Accept_r in each worker, backlog 1024), that answers every
 * request 204 and does nothing else.  What it serves per second behind the
 * same nginx is the most any FastCGI application of this shape can serve.
 *
 *   fcgi204 SOCKET_PATH WORKERS
 *
 * SIGTERM or SIGINT stops the workers and removes the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_WORKERS 1024

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
worker(int fd)
{
	FCGX_Request r;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS("Status: 204 No Content\r\n\r\n", r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_term };
	static pid_t pids[MAX_WORKERS];
	int fd, n;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > MAX_WORKERS ||
	    strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: fcgi204 SOCKET_PATH WORKERS(1-%d)\n", MAX_WORKERS);
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
		fprintf(stderr, "fcgi204: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	for (int i = 0; i < n; i++) {
		if ((pids[i] = fork()) == 0)
			_exit(worker(fd));
		if (pids[i] < 0) {
			fprintf(stderr, "fcgi204: fork: %s\n", strerror(errno));
			stopping = 1;
			break;
		}
	}
	printf("fcgi204: %d workers on %s\n", n, argv[1]);
	fflush(stdout);
	while (!stopping)
		pause();
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(argv[1]);
	return 0;
}
