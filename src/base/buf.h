/*
 * buf: a bounded, growable, always NUL-terminated byte string.
 *
 * After BUF_INIT the buffer is the empty string "" without an allocation;
 * buf_release() frees it and resets it to BUF_INIT. Out-of-memory aborts.
 */
#ifndef LS_BUF_H
#define LS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *s;     /* always NUL-terminated; never NULL */
	size_t len;  /* bytes before the terminator */
	size_t cap;  /* allocated bytes, 0 while s points at the shared "" */
};

extern char buf_empty_[];
#define BUF_INIT { buf_empty_, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
/* Makes room for at least `extra` more bytes plus the terminator. */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends `s` as a JSON string literal, quotes included. */
void buf_add_json_str(struct buf *b, const char *s);
void buf_reset(struct buf *b);
/* Hands the string to the caller (free() it) and resets the buffer. */
char *buf_detach(struct buf *b, size_t *len);

#endif
