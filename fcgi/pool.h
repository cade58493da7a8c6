#ifndef UPKI_POOL_H
#define UPKI_POOL_H

#include <sys/types.h>

#include "config.h"

/* The body of a child process: a worker or (later) a validator.  It runs
 * until told to stop with SIGTERM and returns its exit code. */
typedef int (*pool_child_fn)(const struct config *cfg, int listen_fd);

/* Called in the master after a child of the role died (or was replaced
 * and exited), to clean up what it may have left half done. */
typedef void (*pool_reaped_fn)(const struct config *cfg, pid_t pid);

struct pool_role {
	const char *name;
	int count;
	pool_child_fn run;
	pool_reaped_fn reaped;      /* NULL: nothing to clean up */
};

/* Forks the children of each role, keeps them running, and returns when
 * SIGTERM or SIGINT has been received and every child has exited.
 * on_tick (may be NULL) runs in the master at least every quarter of a second; a
 * child it forks is reaped by the pool. */
int pool_run(const struct config *cfg, int listen_fd, const struct pool_role *roles,
    int nroles, void (*on_tick)(const struct config *cfg));

#endif
