/*
 * Private to the store_*.c files: the connection behind struct store.
 * Nothing outside common/store*.c includes this header.
 */
#ifndef UPKI_STORE_IMPL_H
#define UPKI_STORE_IMPL_H

#include <sqlite3.h>

/* Writers queue behind one another for at most this long before a request
 * gets a "busy" error; a commit takes well under a millisecond. */
#define STORE_BUSY_TIMEOUT_MS 5000

struct store {
	sqlite3 *db;
};

#endif
