/*
 * strbuf: a growable byte buffer with a hard maximum size. Every append
 * either succeeds completely or fails with -1 and leaves the buffer as it
 * was (sshbuf's rule). The contents are always NUL-terminated.
 */
#ifndef POSTERN_STRBUF_H
#define POSTERN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* hard limit on len */
};

void strbuf_init(struct strbuf *, size_t max);
void strbuf_free(struct strbuf *);
/* Wipe (explicit_bzero) and free: for buffers that held secrets. */
void strbuf_free_secure(struct strbuf *);
void strbuf_reset(struct strbuf *);
int strbuf_append(struct strbuf *, const void *, size_t);
int strbuf_puts(struct strbuf *, const char *);
int strbuf_putc(struct strbuf *, char);
/* A Unicode code point, UTF-8 encoded. */
int strbuf_put_utf8(struct strbuf *, uint32_t cp);
int strbuf_printf(struct strbuf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *, const char *fmt, va_list);
/* Drop the first n bytes. */
void strbuf_consume(struct strbuf *, size_t n);

#endif
