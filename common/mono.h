/*
 * Milliseconds on the monotonic clock: for deadlines and intervals, which
 * must not jump when the wall clock is set.
 */
#ifndef UPKI_MONO_H
#define UPKI_MONO_H

#include <stdint.h>

int64_t mono_ms(void);

#endif
