/*
 * libFuzzer target for the header fix-up scanner (common/msgfix.c): the
 * fields found must be exactly those a line-by-line reference finds,
 * and nothing past the length is read. Build: see README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgfix.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: name, optional blanks, ':' at a line start. */
static int
fz_is(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name), i;

	if (n < k + 1)
		return 0;
	for (i = 0; i < k; i++)
		if (p[i] == '\0' || strncasecmp(p + i, name + i, 1) != 0)
			return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan sees any read past it */
	char *h = malloc(size ? size : 1);
	const char *p, *end, *lf;
	unsigned got, want = 0;
	size_t n;

	if (h == NULL)
		return 0;
	memcpy(h, data, size);
	got = msgfix_present(h, size);
	for (p = h, end = h + size; p < end; p += n + 1) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		if (fz_is(p, n, "Date"))
			want |= MSGFIX_DATE;
		else if (fz_is(p, n, "Message-ID"))
			want |= MSGFIX_MSGID;
		else if (fz_is(p, n, "From"))
			want |= MSGFIX_FROM;
		else if (fz_is(p, n, "Bcc"))
			want |= MSGFIX_BCC;
	}
	if (got != want)
		__builtin_trap();
	free(h);
	return 0;
}
