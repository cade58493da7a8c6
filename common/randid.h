/*
 * Random identifiers, as base64url text: account and key ids, challenge
 * tokens, and the time-ordered ids that key orders and authorizations.
 */
#ifndef UPKI_RANDID_H
#define UPKI_RANDID_H

#include <stddef.h>

/* n random bytes (n <= 32), base64url; -1 when out is too short. */
int randid_new(char *out, size_t outlen, size_t n);
/* The time in milliseconds (6 bytes), then 10 random bytes: 22 characters,
 * like randid_new(.., 16). */
int randid_timed(char *out, size_t outlen);

#endif
