/*
 * Where the FastCGI listening socket comes from, in this order:
 * systemd socket activation (LISTEN_FDS, LISTEN_PID), a socket already on
 * fd 0 (as spawn-fcgi and inetd-style managers pass it), or one we make
 * ourselves from --listen (a unix socket path or host:port).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

#define LISTEN_BACKLOG 1024
#define LISTEN_SD_FD 3

static int
listen_is_socket(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static int
listen_systemd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return -1;
	if (atoi(fds) != 1) {
		log_warn("LISTEN_FDS=%s: using the first socket only", fds);
	}
	/* Not passed on to anything we exec or fork off as a new service. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return listen_is_socket(LISTEN_SD_FD) ? LISTEN_SD_FD : -1;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	/* A socket file left by a previous run that died would make bind fail. */
	if (unlink(path) != 0 && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	log_error("cannot listen on unix:%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
listen_tcp(const char *spec)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon = strrchr(spec, ':');
	size_t hlen = (size_t)(colon - spec);
	int fd = -1, on = 1, gai;

	if (hlen >= sizeof(host)) {
		log_error("listen address too long: %s", spec);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if ((gai = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		log_error("cannot resolve listen address %s: %s", spec, gai_strerror(gai));
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		log_error("cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
listen_open(const char *spec, char *desc, size_t desclen)
{
	int fd;

	if ((fd = listen_systemd()) >= 0) {
		snprintf(desc, desclen, "systemd socket (fd %d)", fd);
		return fd;
	}
	if (listen_is_socket(STDIN_FILENO)) {
		snprintf(desc, desclen, "inherited socket (fd 0)");
		return STDIN_FILENO;
	}
	snprintf(desc, desclen, "%s", spec);
	if (strchr(spec, '/') == NULL && strchr(spec, ':') != NULL)
		return listen_tcp(spec);
	return listen_unix(spec);
}
