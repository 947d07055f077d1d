/*
 * libFuzzer target for imapd's MIME module: the input is a message; it is
 * parsed (imap_mime_parse), written as BODY and BODYSTRUCTURE, its
 * ENVELOPE and the text for SEARCH taken, and a few FETCH sections and
 * BINARY parts read. Checks: every section lies inside the message (or
 * the scratch buffer), the structures' parentheses balance outside
 * strings and literals, and the SEARCH text is valid UTF-8 when the
 * module says so. Build (in a configured build tree B, after
 * `make common/libpostern.a`; the sources are linked instrumented):
 *
 *   M=imapd; clang -g -O1 -fsanitize=fuzzer,address,undefined -I$B -Icommon -I$M \
 *     tests/fuzz/fuzz_imap_mime.c $M/imap_mime.c $M/imap_mime_hdr.c \
 *     $M/imap_bodystruct.c $M/imap_envelope.c $M/imap_section.c \
 *     $M/imap_decode.c common/mime_decode.c $M/imap_date.c $M/imap_parse.c common/strbuf.c \
 *     common/util.c common/log.c $B/common/libpostern.a -lssl -lcrypto \
 *     -o /tmp/fuzz_imap_mime
 *   /tmp/fuzz_imap_mime -max_total_time=60 -max_len=200000
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "imap_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parentheses balance, skipping quoted strings and {n} literals. */
static void
check_balanced(const struct strbuf *b)
{
	size_t i, n;
	long depth = 0;
	const char *s = b->data;

	for (i = 0; i < b->len; i++) {
		if (s[i] == '"') {
			for (i++; i < b->len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			continue;
		}
		if (s[i] == '{') {
			for (n = 0, i++; s[i] >= '0' && s[i] <= '9'; i++)
				n = n * 10 + (size_t)(s[i] - '0');
			if (s[i] != '}' || s[i + 1] != '\r' || s[i + 2] != '\n')
				abort();
			i += 2 + n;
			continue;
		}
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth < 0)
			abort();
	}
	if (depth != 0)
		abort();
}

/* RFC 3629 UTF-8, no overlongs or surrogates. */
static void
check_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t c;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
		if (s[i] < 0xc2 || s[i] > 0xf4 || i + n > len)
			abort();
		c = s[i] & (0x7f >> n);
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
		    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
			abort();
		i += n;
	}
}

static void
section(const struct imap_mime *m, const char *spec, struct strbuf *tmp)
{
	const char *o;
	size_t ol;

	if (imap_mime_section(m, spec, strlen(spec), &o, &ol, tmp) != 0)
		abort();	/* all the specs used are well-formed */
	if (ol > 0 && !(o >= m->buf && o + ol <= m->buf + m->len) &&
	    !(o == tmp->data && ol == tmp->len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const specs[] = { "", "HEADER", "TEXT", "1", "2",
	    "1.MIME", "1.1", "2.HEADER", "2.TEXT", "1.2.3", "2.1.MIME",
	    "HEADER.FIELDS (FROM TO SUBJECT)", "1.HEADER.FIELDS.NOT (X)" };
	struct imap_mime m;
	struct strbuf o, tmp;
	char *buf;
	size_t i;

	/* An exact-size copy, so that reads past the end are caught. */
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (imap_mime_parse(&m, buf, size) != 0) {
		free(buf);
		return 0;
	}
	strbuf_init(&o, 1 << 28);
	strbuf_init(&tmp, 1 << 28);
	if (imap_mime_bodystructure(&m, 0, &o) != 0)
		abort();
	check_balanced(&o);
	strbuf_reset(&o);
	if (imap_mime_bodystructure(&m, 1, &o) != 0)
		abort();
	check_balanced(&o);
	strbuf_reset(&o);
	if (imap_envelope(buf + m.root.hdr_off, m.root.hdr_len, &o) != 0)
		abort();
	check_balanced(&o);
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		section(&m, specs[i], &tmp);
	(void)imap_mime_binary(&m, "1", 1, &o);
	(void)imap_mime_binary(&m, "2.1", 3, &o);
	strbuf_reset(&o);
	if (imap_mime_text_utf8(&m, &o) != 0)
		abort();
	check_utf8((const unsigned char *)o.data, o.len);
	strbuf_reset(&o);
	(void)mime_hdr_decode(buf, size < 4096 ? size : 4096, &o);
	imap_mime_free(&m);
	strbuf_free(&o);
	strbuf_free(&tmp);
	free(buf);
	return 0;
}
