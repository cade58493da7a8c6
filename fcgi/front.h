/*
 * The FastCGI front is authenticated: a request is served only when it
 * carries the secret that the trusted nginx adds as a FastCGI param.  The
 * secret lives in a root-only nginx include file (install and the test stack
 * make it); nginx reads it as root, and the master reads it once before the
 * workers fork, so whoever else can connect to the socket (another web
 * application in nginx's group, any local user with --listen host:port)
 * cannot pose as nginx.
 */
#ifndef UPKI_FRONT_H
#define UPKI_FRONT_H

#include <stdbool.h>

#include "config.h"

/* The FastCGI param that carries the secret. */
#define FRONT_PARAM "UPKI_RA_SECRET"

/* In the master, before fork: reads the secret from the file the setting
 * names, else from the systemd credential "fcgi-secret".  -1 after logging
 * why (no file, or not one line `fastcgi_param UPKI_RA_SECRET <token>;`). */
int front_secret_load(const struct config *cfg);
/* True when given (the param, or NULL) is the secret; constant time. */
bool front_trusted(const char *given);

#endif
