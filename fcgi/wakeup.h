/*
 * The doorbell between the pool's processes: a worker that has just put a
 * challenge up for validation rings it, and an idle validator wakes at once
 * instead of at its next look at the store.  An eventfd made by the master
 * before it forks, so that every child holds the same one.
 */
#ifndef UPKI_WAKEUP_H
#define UPKI_WAKEUP_H

/* Makes the doorbell; call in the master, before fork. */
int wakeup_init(void);
/* Rings it (never blocks). */
void wakeup_ring(void);
/* Waits for a ring, a signal or timeout_ms, and takes the ring. */
void wakeup_wait(int timeout_ms);

#endif
