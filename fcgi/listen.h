#ifndef UPKI_LISTEN_H
#define UPKI_LISTEN_H

#include <stddef.h>

/* Returns the listening socket (see listen.c for where it comes from) and
 * describes it in desc for the log, or -1 after logging why. */
int listen_open(const char *spec, char *desc, size_t desclen);

#endif
