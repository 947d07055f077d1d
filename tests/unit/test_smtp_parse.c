/*
 * Unit tests of the SMTP engine's pure parts (common/smtp_parse.c): the
 * command-line splitter, the DATA line classifier (every smuggling
 * variant stays in the content; only <CRLF>.<CRLF> ends a message), dot
 * unstuffing, the text line limit, BDAT line-end normalisation and the
 * Received hop counter.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_parse.h"
#include "strbuf.h"

static int
split(const char *in, char **verb, char **arg)
{
	static char line[600];
	size_t n = strlen(in);

	assert_true(n < sizeof(line));
	memcpy(line, in, n + 1);
	return smtp_cmd_split(line, strlen(line), verb, arg);
}

static void
test_cmd_split(void **state)
{
	char *v, *a;

	assert_int_equal(split("EHLO client.test\r\n", &v, &a), 0);
	assert_string_equal(v, "EHLO");
	assert_string_equal(a, "client.test");
	assert_int_equal(split("mail FROM:<a@b>  SIZE=1  \t \r\n", &v, &a), 0);
	assert_string_equal(v, "mail");
	assert_string_equal(a, "FROM:<a@b>  SIZE=1");
	assert_int_equal(split("QUIT\n", &v, &a), 0);	/* bare LF tolerated */
	assert_string_equal(v, "QUIT");
	assert_string_equal(a, "");
	assert_int_equal(split("NOOP   \r\n", &v, &a), 0);
	assert_string_equal(a, "");
	assert_int_equal(split("RCPT    TO:<x@y>\r\n", &v, &a), 0);
	assert_string_equal(a, "TO:<x@y>");
	assert_int_equal(split("\r\n", &v, &a), -1);
	assert_int_equal(split("   \r\n", &v, &a), -1);
	assert_int_equal(split(" NOOP\r\n", &v, &a), -1);
	assert_int_equal(split("NO\rOP\r\n", &v, &a), -1);	/* bare CR */
	assert_int_equal(split("NOOP \x1b\r\n", &v, &a), -1);
	{
		char nul[] = "NO\0OP\r\n";

		assert_int_equal(smtp_cmd_split(nul, 7, &v, &a), -1);
	}
	assert_non_null(smtp_cmd_keyword("from:<a@b>", "FROM:"));
	assert_string_equal(smtp_cmd_keyword("FrOm: <a@b>", "FROM:"), " <a@b>");
	assert_null(smtp_cmd_keyword("FROM <a@b>", "FROM:"));
	assert_null(smtp_cmd_keyword("", "TO:"));
}

/*
 * Feed a whole DATA stream the way stream_getline() would (lines up to
 * and including LF) and collect the stored content. Returns the offset
 * just after the end-of-data line, or -1 if the message did not end.
 */
static long
feed(const char *wire, struct strbuf *content, struct smtp_dot *d)
{
	char out[2048];
	size_t pos = 0, len = strlen(wire), n, o;
	const char *lf;

	smtp_dot_init(d);
	strbuf_reset(content);
	while (pos < len) {
		lf = memchr(wire + pos, '\n', len - pos);
		n = lf != NULL ? (size_t)(lf - (wire + pos)) + 1 : len - pos;
		assert_true(n < sizeof(out));
		switch (smtp_dot_line(d, wire + pos, n, out, &o)) {
		case SMTP_DOT_END:
			return (long)(pos + n);
		case SMTP_DOT_AMBIGUOUS:
			fail_msg("ambiguous without a lost line");
			break;
		case SMTP_DOT_MORE:
			assert_true(o <= n);
			assert_int_equal(strbuf_append(content, out, o), 0);
			break;
		}
		pos += n;
	}
	return -1;
}

static void
test_dot_basic(void **state)
{
	struct strbuf c;
	struct smtp_dot d;
	const char *w = "Subject: x\r\n\r\nbody\r\n..leading dot\r\n.\r\nQUIT\r\n";

	strbuf_init(&c, 1 << 20);
	assert_int_equal(feed(w, &c, &d), (long)strlen(w) - 6);
	assert_string_equal(c.data, "Subject: x\n\nbody\n.leading dot\n");
	assert_false(d.toolong);
	/* an empty message: "." first */
	assert_int_equal(feed(".\r\n", &c, &d), 3);
	assert_int_equal(c.len, 0);
	/* "." with more on the line is not the end */
	assert_int_equal(feed(".x\r\n. \r\n.\r\n", &c, &d), 11);
	assert_string_equal(c.data, "x\n \n");
	strbuf_free(&c);
}

/* DESIGN.md "Bad input": none of these ends the message early. */
static void
test_dot_smuggling(void **state)
{
	static const char *const variants[] = {
		"a\n.\nMAIL FROM:<x@y>\r\n",		/* <LF>.<LF> */
		"a\n.\r\nMAIL FROM:<x@y>\r\n",		/* <LF>.<CR><LF> */
		"a\r\n.\nMAIL FROM:<x@y>\r\n",		/* <CR><LF>.<LF> */
		"a\r.\r\nMAIL FROM:<x@y>\r\n",		/* <CR>.<CR><LF> */
		"a\r.\rMAIL FROM:<x@y>\r\n",		/* <CR>.<CR> */
		"a\r\n.\rMAIL FROM:<x@y>\r\n",		/* <CR><LF>.<CR> */
		"a\n\r\n.\r\r\nMAIL FROM:<x@y>\r\n",
	};
	struct strbuf c;
	struct smtp_dot d;
	char wire[256];
	size_t i;

	strbuf_init(&c, 1 << 20);
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(wire, sizeof(wire), "%s.\r\n", variants[i]);
		if (feed(wire, &c, &d) != (long)strlen(wire))
			fail_msg("variant %zu ended early", i);
		assert_non_null(strstr(c.data, "MAIL FROM:<x@y>\n"));
		assert_null(strchr(c.data, '\r'));	/* stored with LF only */
	}
	/* the exact normalisations */
	assert_int_equal(feed("a\n.\nb\r\n.\r\n", &c, &d), 10);
	assert_string_equal(c.data, "a\n.\nb\n");
	assert_int_equal(feed("a\r.\r\nb\r\n.\r\n", &c, &d), 11);
	assert_string_equal(c.data, "a\n.\nb\n");
	strbuf_free(&c);
}

static void
test_dot_text_limit(void **state)
{
	struct strbuf c;
	struct smtp_dot d;
	char wire[2100];

	strbuf_init(&c, 1 << 20);
	/* 998 octets + CRLF = 1000: fine (RFC 5321 4.5.3.1.6) */
	memset(wire, 'a', 998);
	memcpy(wire + 998, "\r\n.\r\n", 6);
	assert_int_equal(feed(wire, &c, &d), 1003);
	assert_false(d.toolong);
	/* a stuffed dot does not count */
	wire[0] = '.';
	memmove(wire + 1, wire, 1004);
	wire[0] = '.';
	assert_int_equal(feed(wire, &c, &d), 1004);
	assert_false(d.toolong);
	/* 999 + CRLF: too long, but read to the end */
	memset(wire, 'a', 999);
	memcpy(wire + 999, "\r\n.\r\n", 6);
	assert_int_equal(feed(wire, &c, &d), 1004);
	assert_true(d.toolong);
	strbuf_free(&c);
}

static void
test_dot_lost(void **state)
{
	struct smtp_dot d;
	char out[16];
	size_t o;

	smtp_dot_init(&d);
	smtp_dot_lost(&d);
	assert_true(d.toolong);
	/* right after a dropped line, "." CRLF cannot be trusted */
	assert_int_equal(smtp_dot_line(&d, ".\r\n", 3, out, &o), SMTP_DOT_AMBIGUOUS);
	smtp_dot_init(&d);
	smtp_dot_lost(&d);
	assert_int_equal(smtp_dot_line(&d, "x\r\n", 3, out, &o), SMTP_DOT_MORE);
	assert_int_equal(smtp_dot_line(&d, ".\r\n", 3, out, &o), SMTP_DOT_END);
	assert_true(d.toolong);
}

static void
test_crlf(void **state)
{
	struct smtp_crlf c;
	char out[32];
	size_t n;

	smtp_crlf_init(&c);
	n = smtp_crlf_feed(&c, "a\r\nb\rc\n.\r\n", 11, out);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "a\nb\nc\n.\n", 8);
	/* a CR at the end of one chunk and the LF at the start of the next */
	smtp_crlf_init(&c);
	n = smtp_crlf_feed(&c, "x\r", 2, out);
	assert_int_equal(n, 1);
	n = smtp_crlf_feed(&c, "\ny", 2, out);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\ny", 2);
	n = smtp_crlf_feed(&c, "\r", 1, out);
	assert_int_equal(n, 0);
	assert_int_equal(smtp_crlf_finish(&c, out), 1);
	assert_int_equal(out[0], '\n');
	assert_int_equal(smtp_crlf_finish(&c, out), 0);
}

static void
test_hdrscan(void **state)
{
	struct smtp_hdrscan h;
	const char *m = "Received: a\nreceived:b\nX-Received: no\n\tReceived: no\n"
	    "RECEIVED: c\nSubject: s\n\nReceived: body\n";
	size_t i, cut = 0;

	smtp_hdrscan_init(&h);
	assert_int_equal(smtp_hdrscan_feed(&h, m, strlen(m)),
	    strstr(m, "\n\n") + 1 - m);
	assert_int_equal(h.received, 3);
	assert_false(h.in_header);
	/* byte by byte gives the same */
	smtp_hdrscan_init(&h);
	for (i = 0; i < strlen(m); i++)
		if (smtp_hdrscan_feed(&h, m + i, 1) == 0 && cut == 0)
			cut = i;
	assert_int_equal(h.received, 3);
	assert_int_equal(cut, strstr(m, "\n\n") + 1 - m);
	/* no header at all */
	smtp_hdrscan_init(&h);
	assert_int_equal(smtp_hdrscan_feed(&h, "\nbody\n", 6), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_split),
		cmocka_unit_test(test_dot_basic),
		cmocka_unit_test(test_dot_smuggling),
		cmocka_unit_test(test_dot_text_limit),
		cmocka_unit_test(test_dot_lost),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_hdrscan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
