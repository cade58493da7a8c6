/*
 * Counters per client address, for the limit the store cannot key because
 * it records no address: new ACME accounts per address per hour.  They live
 * in memory that the master maps before it forks, as nonce.c's window, so
 * every worker counts with every other; a restart forgets them.
 *
 * An IPv4 address counts alone, an IPv6 one with its whole /64 (one
 * client's usual share).  Each address takes one slot of a fixed table for
 * the current hour, found by a keyed hash and a short probe; when every
 * slot of its probe is held by other addresses this hour it shares the
 * last one, so that a full table errs towards refusing, never towards
 * counting nothing.
 */
#ifndef UPKI_ADDRRATE_H
#define UPKI_ADDRRATE_H

#include <stdbool.h>
#include <time.h>

#define ADDRRATE_SLOTS 16384
#define ADDRRATE_PROBE 8

/* Maps the shared table and keys the hash: once, in the master, before
 * fork.  0, or -1 when it cannot. */
int addrrate_init(void);
/*
 * Counts one more event of addr (text, as nginx's $remote_addr) in the
 * current hour: true while the count stays within limit; false, counting
 * nothing, once it would exceed it, with *retry_after the seconds until the
 * hour ends.  Without addrrate_init, or for text that is no address, true.
 */
bool addrrate_take(const char *addr, int limit, time_t now, int *retry_after);

#endif
