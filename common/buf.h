/*
 * A growable byte buffer with a hard ceiling.  Everything the RA builds from
 * network input goes through one of these, so the ceiling is where "every
 * size from the network is bounded" is enforced for output too.
 */
#ifndef UPKI_BUF_H
#define UPKI_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;     /* always NUL-terminated when len > 0 or after buf_init */
	size_t len;
	size_t cap;
	size_t max;     /* buf_add fails rather than grow past this */
	bool failed;    /* sticky: set by the first failed append */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_add(struct buf *b, const void *data, size_t len);
bool buf_adds(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data over to the caller (free() it); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
