#ifndef UPKI_VALIDATOR_H
#define UPKI_VALIDATOR_H

#include "config.h"

/* A validator process's body (a pool_child_fn). */
int validator_main(const struct config *cfg, int listen_fd);

#endif
