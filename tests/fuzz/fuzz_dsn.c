/*
 * libFuzzer target for the DSN pieces qmgr and the smtp client read from
 * queue files (queue/qmgr_dsn_fmt.c): NOTIFY, RET, ENVID and ORCPT
 * values and diagnostics, turned into display text and report fields
 * and checked for the wire. The input is split at NUL bytes into up to
 * four strings. Nothing may crash, read past a string, put CR or LF into
 * a report, or call a value safe for the wire that holds a space.
 * (The queue file reader itself, with its "delayed" record, is
 * fuzz_qfile's.) Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Icommon -Iqueue \
 *     tests/fuzz/fuzz_dsn.c queue/qmgr_dsn_fmt.c common/address.c \
 *     common/util.c common/log.c common/strbuf.c -o /tmp/fuzz_dsn
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmgr_dsn.h"
#include "strbuf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_wire(const char *s)
{
	if (dsn_xtext_ok(s, DSN_ORCPT_MAX) && strpbrk(s, " \r\n=") != NULL)
		__builtin_trap();
	if (dsn_orcpt_ok(s) && strpbrk(s, " \r\n") != NULL)
		__builtin_trap();
	if (dsn_notify_ok(s) && strpbrk(s, " \r\n=") != NULL)
		__builtin_trap();
	if (dsn_ret_ok(s) && strlen(s) != 4)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *f[4] = { "", "", "", "" }, out[700];
	struct dsn_rcpt r;
	struct strbuf b;
	size_t i, nf = 0, start = 0;
	const char *rest;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && nf < 4; i++)
		if (buf[i] == '\0') {
			f[nf++] = buf + start;
			start = i + 1;
		}
	for (i = 0; i < nf; i++)
		fuzz_wire(f[i]);
	dsn_notify_bits(f[0]);
	dsn_xtext_text(f[1], out, sizeof(out));
	dsn_orcpt_text(f[1], out, sizeof(out));
	dsn_status(f[2], (enum dsn_action)(size % 4), out, 16, &rest);
	if (strlen(out) < 5 || strlen(out) > 11 || strchr(rest, '\0') == NULL)
		__builtin_trap();
	strbuf_init(&b, 1 << 20);
	memset(&r, 0, sizeof(r));
	r.final = f[3];
	r.orcpt = f[1];
	r.action = (enum dsn_action)(size % 4);
	r.diag = f[2];
	r.rmta = f[0];
	r.until = (time_t)size;
	if (dsn_fields_message(&b, "mx.example.test", "Q", f[1], 1) == 0 &&
	    dsn_fields_rcpt(&b, &r) == 0 && memchr(b.data, '\r', b.len) != NULL)
		__builtin_trap();
	if (b.len > 0 && strstr(b.data, "\n\n\n") != NULL)
		__builtin_trap();
	strbuf_free(&b);
	free(buf);
	return 0;
}
