/*
 * libFuzzer target for imapd's modified UTF-7 (imapd/imap_utf7.c). The
 * decoder is strict, so each mailbox has one wire form: whatever decodes
 * must encode back to exactly the input, and whatever UTF-8 encodes must
 * be valid modified UTF-7 that decodes back to exactly the input.
 * imap_utf7_valid must agree with imap_utf7_to_utf8. Build: see imapd/core.mk.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_utf7.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct strbuf a, b;
	int ok;

	if (size > 65536)
		return 0;
	strbuf_init(&a, 1 << 20);
	strbuf_init(&b, 1 << 20);
	ok = imap_utf7_to_utf8(in, size, &a) == 0;
	if (ok != imap_utf7_valid(in, size))
		abort();
	if (ok) {
		if (imap_utf8_to_utf7(a.data != NULL ? a.data : "", a.len, &b) == -1 ||
		    b.len != size || (size > 0 && memcmp(b.data, in, size) != 0))
			abort();
	}
	strbuf_reset(&a);
	strbuf_reset(&b);
	if (imap_utf8_to_utf7(in, size, &a) == 0) {
		if (!imap_utf7_valid(a.data != NULL ? a.data : "", a.len) ||
		    imap_utf7_to_utf8(a.data != NULL ? a.data : "", a.len, &b) == -1 ||
		    b.len != size || (size > 0 && memcmp(b.data, in, size) != 0))
			abort();
	}
	strbuf_free(&a);
	strbuf_free(&b);
	return 0;
}
