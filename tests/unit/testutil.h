/*
 * Helpers shared by the unit tests: temporary directories, free loopback
 * ports, and starting / stopping the development CA (upki-devca).
 *
 * The Makefile builds every tests/unit/test_*.c as a single-file program, so
 * everything here is a static inline function: each test includes this
 * header and gets its own copy of what it uses.
 *
 * Include it after <cmocka.h>'s prerequisites; it does not include cmocka.
 */
#ifndef UPKI_TESTUTIL_H
#define UPKI_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#define TU_PATH 512

/* Milliseconds on the monotonic clock. */
static inline long long
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
tu_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A fresh private directory under $TMPDIR (or /tmp); 0 on success. */
static inline int
tu_mkdtemp(char *out, size_t outlen)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(out, outlen, "%s/upki-unit-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return mkdtemp(out) != NULL ? 0 : -1;
}

static inline int
tu_rmtree_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf path (does nothing for an empty path). */
static inline int
tu_rmtree(const char *path)
{
	if (path == NULL || path[0] == '\0')
		return 0;
	return nftw(path, tu_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Joins dir and name into out; aborts the test program on overflow. */
static inline void
tu_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		abort();
	}
}

/* Writes a whole file; 0 on success. */
static inline int
tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Reads a whole (small) file, NUL-terminated; free() it.  NULL on error. */
static inline char *
tu_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(data, cap + 65536);

			if (p == NULL) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = p;
			cap += 65536;
		}
		n = fread(data + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	data[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return data;
}

/* Binds a TCP socket to 127.0.0.1:port (0 = any); returns the fd and sets
 * *bound to the port, or -1. */
static inline int
tu_bind_loopback(int port, int *bound)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

/*
 * A port P such that P and P + 1 are both free on 127.0.0.1 right now (the
 * dev CA takes P for operations and P + 1 for registration).  The kernel
 * picks P; both sockets are closed before returning, so a tiny race with
 * other programs remains, which is the usual price of this technique.
 * Returns -1 when no pair was found.
 */
static inline int
tu_free_port_pair(void)
{
	for (int tries = 0; tries < 200; tries++) {
		int p, q, fd1, fd2;

		if ((fd1 = tu_bind_loopback(0, &p)) < 0)
			return -1;
		if (p >= 65535) {
			close(fd1);
			continue;
		}
		fd2 = tu_bind_loopback(p + 1, &q);
		close(fd1);
		if (fd2 >= 0) {
			close(fd2);
			return p;
		}
	}
	return -1;
}

/* Where the programs under test were built ($UPKI_TEST_BUILD, else build). */
static inline const char *
tu_build_dir(void)
{
	const char *b = getenv("UPKI_TEST_BUILD");

	return b != NULL && *b != '\0' ? b : "build";
}

/* Every child process a test started, so that a group teardown can stop
 * the ones a failed test left behind. */
#define TU_MAX_CHILDREN 16
static pid_t tu_children[TU_MAX_CHILDREN];

static inline void
tu_child_track(pid_t pid)
{
	for (int i = 0; i < TU_MAX_CHILDREN; i++)
		if (tu_children[i] == 0) {
			tu_children[i] = pid;
			return;
		}
}

/* SIGTERM, then SIGKILL after 5 s; reaps the child.  Safe on 0 or on a pid
 * that was already stopped.  Returns the wait status, or -1. */
static inline int
tu_child_stop(pid_t pid)
{
	int status = -1;
	long long deadline;

	if (pid <= 0)
		return -1;
	for (int i = 0; i < TU_MAX_CHILDREN; i++)
		if (tu_children[i] == pid)
			tu_children[i] = 0;
	if (kill(pid, SIGTERM) != 0 && errno == ESRCH)
		return waitpid(pid, &status, WNOHANG) == pid ? status : -1;
	deadline = tu_now_ms() + 5000;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (tu_now_ms() > deadline)
			break;
		tu_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	return waitpid(pid, &status, 0) == pid ? status : -1;
}

static inline void
tu_children_stop_all(void)
{
	for (int i = 0; i < TU_MAX_CHILDREN; i++)
		if (tu_children[i] != 0)
			tu_child_stop(tu_children[i]);
}

/* The registration seed every development CA started here is given. */
#define TU_DEVCA_SEED "unit-test-seed"

/* A running development CA. */
struct tu_devca {
	pid_t pid;
	int port;               /* operations; registration is port + 1 */
	char dir[TU_PATH];      /* its --dir, inside the test's temp dir */
	char log[TU_PATH + 16]; /* its stderr */
};

/* Prints the dev CA's stderr, to explain a failure. */
static inline void
tu_devca_dump_log(const struct tu_devca *d)
{
	char *text = tu_read_file(d->log, NULL);

	fprintf(stderr, "---- upki-devca stderr (%s) ----\n%s\n---- end ----\n", d->log,
	    text != NULL ? text : "(unreadable)");
	free(text);
}

/*
 * Starts $UPKI_TEST_BUILD/upki-devca on 127.0.0.1:port (and port + 1) with
 * its directory under parent/name, and waits up to 60 s for the line with
 * "ready" on its stderr.  extra: NULL-terminated additional arguments, or
 * NULL.  Returns 0, or -1 after stopping the child (its log is printed).
 */
static inline int
tu_devca_start(struct tu_devca *d, const char *parent, const char *name, int port,
    const char *const *extra)
{
	char bin[TU_PATH], portstr[16], regstr[16];
	const char *argv[32];
	int argc = 0, fd;
	long long deadline;

	memset(d, 0, sizeof(*d));
	d->port = port;
	tu_join(d->dir, sizeof(d->dir), parent, name);
	snprintf(d->log, sizeof(d->log), "%s.log", d->dir);
	tu_join(bin, sizeof(bin), tu_build_dir(), "upki-devca");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "%s is missing: build it with make %s\n", bin, bin);
		return -1;
	}
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(regstr, sizeof(regstr), "%d", port + 1);
	argv[argc++] = bin;
	argv[argc++] = "--dir";
	argv[argc++] = d->dir;
	argv[argc++] = "--host";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--port";
	argv[argc++] = portstr;
	argv[argc++] = "--reg-port";
	argv[argc++] = regstr;
	argv[argc++] = "--seed";
	argv[argc++] = TU_DEVCA_SEED;
	for (int i = 0; extra != NULL && extra[i] != NULL && argc < 30; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	if ((fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		close(fd);
		return -1;
	}
	if (d->pid == 0) {
		/* The dev CA must not outlive a test program that crashed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		execv(bin, (char *const *)(void *)argv);
		dprintf(fd, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(fd);
	tu_child_track(d->pid);

	deadline = tu_now_ms() + 60000;
	for (;;) {
		char *text = tu_read_file(d->log, NULL);
		bool ready = text != NULL && strstr(text, "ready") != NULL;
		int status;

		free(text);
		if (ready)
			return 0;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "upki-devca exited before it was ready (status %d)\n",
			    status);
			for (int i = 0; i < TU_MAX_CHILDREN; i++)
				if (tu_children[i] == d->pid)
					tu_children[i] = 0;
			d->pid = 0;
			tu_devca_dump_log(d);
			return -1;
		}
		if (tu_now_ms() > deadline) {
			fprintf(stderr, "upki-devca not ready after 60 s\n");
			tu_child_stop(d->pid);
			d->pid = 0;
			tu_devca_dump_log(d);
			return -1;
		}
		tu_sleep_ms(20);
	}
}

static inline void
tu_devca_stop(struct tu_devca *d)
{
	if (d->pid > 0)
		tu_child_stop(d->pid);
	d->pid = 0;
}

#endif
