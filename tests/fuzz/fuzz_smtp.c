/*
 * libFuzzer entry point for the SMTP engine's pure parsers
 * (common/smtp_parse.c): the command splitter, the DATA line classifier,
 * the BDAT line-end normaliser and the header scanner. It checks their
 * invariants: output never longer than input, no CR ever stored, the
 * message ends only on "." CR LF after a CR LF. See README.md.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_commands(const char *in, size_t n)
{
	char line[SMTP_CMD_MAX + 1], *verb, *arg;
	size_t pos = 0, len;
	const char *lf;

	while (pos < n) {
		lf = memchr(in + pos, '\n', n - pos);
		len = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : n - pos;
		if (len <= SMTP_CMD_MAX) {
			memcpy(line, in + pos, len);
			line[len] = '\0';
			if (smtp_cmd_split(line, len, &verb, &arg) == 0) {
				if (*verb == '\0' || strchr(verb, ' ') != NULL)
					abort();
				(void)smtp_cmd_keyword(arg, "FROM:");
			}
		}
		pos += len;
	}
}

static void
fuzz_data(const char *in, size_t n)
{
	static char out[65536];
	struct smtp_dot d;
	struct smtp_hdrscan h;
	size_t pos = 0, len, o, prev_crlf = 1;
	const char *lf;

	smtp_dot_init(&d);
	smtp_hdrscan_init(&h);
	while (pos < n) {
		lf = memchr(in + pos, '\n', n - pos);
		len = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : n - pos;
		if (len > sizeof(out)) {
			smtp_dot_lost(&d);
			prev_crlf = 0;
			pos += len;
			continue;
		}
		switch (smtp_dot_line(&d, in + pos, len, out, &o)) {
		case SMTP_DOT_END:
			if (!prev_crlf || len != 3 || memcmp(in + pos, ".\r\n", 3) != 0)
				abort();
			return;
		case SMTP_DOT_AMBIGUOUS:
			return;
		case SMTP_DOT_MORE:
			if (o > len || memchr(out, '\r', o) != NULL)
				abort();
			(void)smtp_hdrscan_feed(&h, out, o);
			break;
		}
		prev_crlf = len >= 2 && in[pos + len - 2] == '\r' && in[pos + len - 1] == '\n';
		pos += len;
	}
}

static void
fuzz_bdat(const char *in, size_t n)
{
	static char out[65536 + 1];
	struct smtp_crlf c;
	size_t o, half = n / 2;

	if (n > 65536)
		return;
	smtp_crlf_init(&c);
	o = smtp_crlf_feed(&c, in, half, out);
	o += smtp_crlf_feed(&c, in + half, n - half, out + o);
	o += smtp_crlf_finish(&c, out + o);
	if (o > n || memchr(out, '\r', o) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	fuzz_commands(in, size);
	fuzz_data(in, size);
	fuzz_bdat(in, size);
	return 0;
}
