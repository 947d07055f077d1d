/*
 * strbuf: bounded growable buffers (see strbuf.h for the contract).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"

void
strbuf_init(struct strbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
strbuf_free(struct strbuf *b)
{
	free(b->data);
	strbuf_init(b, b->max);
}

void
strbuf_free_secure(struct strbuf *b)
{
	if (b->data != NULL)
		secure_zero(b->data, b->cap);
	strbuf_free(b);
}

void
strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for need more bytes plus the NUL, within max. */
static int
strbuf_reserve(struct strbuf *b, size_t need)
{
	size_t want, ncap;

	if (need > b->max || b->len > b->max - need)
		return -1;
	want = b->len + need + 1;
	if (want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	b->data = xreallocarray(b->data, ncap, 1);
	b->cap = ncap;
	return 0;
}

int
strbuf_append(struct strbuf *b, const void *p, size_t n)
{
	if (strbuf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
strbuf_puts(struct strbuf *b, const char *s)
{
	return strbuf_append(b, s, strlen(s));
}

int
strbuf_putc(struct strbuf *b, char c)
{
	return strbuf_append(b, &c, 1);
}

/* RFC 3629 3: one code point (at most U+10FFFF; callers check) as UTF-8. */
int
strbuf_put_utf8(struct strbuf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		return strbuf_append(b, u, 1);
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return strbuf_append(b, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return strbuf_append(b, u, 3);
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return strbuf_append(b, u, 4);
}

int
strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || strbuf_reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = strbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
strbuf_consume(struct strbuf *b, size_t n)
{
	if (n >= b->len) {
		strbuf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}
