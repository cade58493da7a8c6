#ifndef UPKI_WORKER_H
#define UPKI_WORKER_H

#include "config.h"

/* A FastCGI worker process's body (a pool_child_fn). */
int worker_main(const struct config *cfg, int listen_fd);

#endif
