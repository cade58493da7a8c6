/*
 * base64url without padding (RFC 4648 section 5), as JOSE and ACME use it,
 * and standard base64 for the CA's DER payloads.  Decoders are strict: a
 * character outside the alphabet, padding where none belongs, or non-zero
 * trailing bits is an error, because two spellings of the same bytes would
 * let a signed message be altered without breaking its signature.
 */
#ifndef UPKI_B64_H
#define UPKI_B64_H

#include <stddef.h>

/* Returns a NUL-terminated malloc'd string, or NULL on allocation failure. */
char *b64url_encode(const unsigned char *in, size_t len);
/* Returns malloc'd bytes (NUL-terminated for convenience) and sets *outlen,
 * or NULL if the input is not canonical base64url. */
unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen);

/* Standard alphabet with padding; whitespace is skipped when decoding. */
char *b64_encode(const unsigned char *in, size_t len);
unsigned char *b64_decode(const char *in, size_t len, size_t *outlen);

#endif
