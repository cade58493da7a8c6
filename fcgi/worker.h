#ifndef UPKI_WORKER_H
#define UPKI_WORKER_H

#include <sys/types.h>

#include "config.h"

/* A FastCGI worker process's body (a pool_child_fn). */
int worker_main(const struct config *cfg, int listen_fd);
/* In the master, once a worker is gone: the orders it was finalizing go
 * back to "ready" at once (a pool_reaped_fn). */
void worker_reaped(const struct config *cfg, pid_t pid);

#endif
