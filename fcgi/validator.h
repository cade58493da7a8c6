#ifndef UPKI_VALIDATOR_H
#define UPKI_VALIDATOR_H

#include "config.h"

/* Makes the doorbell that workers ring when a challenge is ready to check;
 * call in the master, before fork. */
int validator_wake_init(void);
/* Rings it: a validator checks the store now, not at its next idle poll. */
void validator_wake(void);
/* A validator process's body (a pool_child_fn). */
int validator_main(const struct config *cfg, int listen_fd);

#endif
