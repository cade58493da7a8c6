/*
 * File helpers for the data directory.  fs_write_atomic is how every file
 * that another process reads (ra.crt, ca.crt, crl.pem) is written: to a
 * temporary file in the same directory, fsync'd, then renamed over the old
 * one, so nginx never sees half a file.
 */
#ifndef UPKI_FSUTIL_H
#define UPKI_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads a whole file of at most max bytes; NUL-terminated, free() it. */
char *fs_read(const char *path, size_t max, size_t *len);
/* mkdir -p with the given mode for each directory it creates. */
int fs_mkdirs(const char *path, mode_t mode);
bool fs_exists(const char *path);

#endif
