#ifndef UPKI_WORKER_H
#define UPKI_WORKER_H

#include <sys/types.h>

#include "config.h"

/* A FastCGI worker process's body (a pool_child_fn). */
int worker_main(const struct config *cfg, int listen_fd);
/* A spare worker: the same, except that it keeps no FastCGI connection.
 * It answers one request per connection, so nothing queues behind it, and
 * it takes the new connections that come while the workers are busy (or
 * wait on the CA, having closed their kept ones). */
int worker_spare_main(const struct config *cfg, int listen_fd);
/* In the master, once a worker is gone: the orders it was finalizing go
 * back to "ready" at once (a pool_reaped_fn). */
void worker_reaped(const struct config *cfg, pid_t pid);

#endif
