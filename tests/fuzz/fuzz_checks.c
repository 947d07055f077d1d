/*
 * libFuzzer target for the content checks (common/checks.c and
 * checks_scan.c): the input is a rules text, a line "%%", then a message
 * that is fed to the matcher in chunks (the first message byte picks the
 * chunk size). The rules go into all three tables (header, MIME header,
 * body) so every path of the matcher runs. Any input: no crash, no read
 * past the input, and when the rules cannot edit (no PREPEND, REPLACE,
 * IGNORE) the output is exactly the message. Build: tests/fuzz/README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks.h"
#include "log.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_out(void *arg, const char *buf, size_t n)
{
	if (strbuf_append(arg, buf, n) == -1)
		__builtin_trap();
}

static int
fuzz_edits(const char *rules, size_t len)
{
	static const char *const w[] = { "PREPEND", "REPLACE", "IGNORE" };
	size_t i, j;

	for (i = 0; i < len; i++)
		for (j = 0; j < 3; j++)
			if (len - i >= strlen(w[j]) && strncasecmp(rules + i, w[j],
			    strlen(w[j])) == 0)
				return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *sep = NULL, *msg;
	struct checks_scan *s;
	struct strbuf out;
	struct checks *c;
	char err[2048];
	size_t rlen, mlen, i, n, chunk;
	int k;

	log_init("fuzz", LOG_DEST_NONE);	/* formatted, not written: the fuzzer's log stays small */
	for (i = 0; i + 4 <= size; i++)
		if (memcmp(in + i, "\n%%\n", 4) == 0) {
			sep = in + i;
			break;
		}
	if (sep == NULL || (size_t)(sep - in) > 4096)
		return 0;
	rlen = (size_t)(sep - in) + 1;
	msg = sep + 4;
	mlen = size - (size_t)(msg - in);
	if ((c = checks_new()) == NULL)
		return 0;
	for (k = 0; k < CHECKS_NKINDS; k++)
		(void)checks_parse(c, (enum checks_kind)k, "fuzz", in, rlen, err, sizeof(err));
	checks_set_body_limit(c, 4096);
	chunk = mlen > 0 ? (unsigned char)msg[0] % 64 + 1 : 1;
	strbuf_init(&out, 1 << 24);
	if ((s = checks_scan_new(c, "FUZZ", fuzz_out, &out)) != NULL) {
		for (i = 0; i < mlen; i += n) {
			n = mlen - i < chunk ? mlen - i : chunk;
			checks_scan_feed(s, msg + i, n);
		}
		checks_scan_end(s);
		if (!fuzz_edits(in, rlen) && (out.len != mlen ||
		    (mlen > 0 && memcmp(out.data, msg, mlen) != 0)))
			__builtin_trap();
		checks_scan_free(s);
	}
	strbuf_free(&out);
	checks_free(c);
	return 0;
}
