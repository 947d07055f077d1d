/*
 * Unit tests of the parsers of the outbound smtp client: reply lines
 * and whole replies (queue/smtp_reply.c: codes, continuation, one code
 * per reply, the line and line-count limits at and one past, CR/LF/NUL,
 * a missing CRLF), enhanced status codes and EHLO keywords. The maps,
 * next hops and routing of queue/smtp_route.c are in test_smtp_route.c.
 */
#include "config.h"

#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "smtp.h"
#include "stream.h"
#include "strbuf.h"
#include "util.h"

static int code;
static char reply[600];
static struct strbuf lines;

/* One reply read from len bytes of text (a file behind a stream). */
static int
rd_n(const char *text, size_t len)
{
	struct stream st;
	FILE *fp = tmpfile();
	int r;

	assert_non_null(fp);
	assert_int_equal(write_all(fileno(fp), text, len), 0);
	assert_int_equal(lseek(fileno(fp), 0, SEEK_SET), 0);
	strbuf_free(&lines);
	strbuf_init(&lines, 64 * 1024);
	code = -7;
	stream_init(&st, fileno(fp), fileno(fp), 1000);
	r = smtp_reply_read(&st, &code, reply, sizeof(reply), &lines);
	stream_close(&st, 0);
	fclose(fp);
	if (r == -1)
		assert_int_equal(code, -7);	/* untouched on failure */
	return r;
}

static int
rd(const char *text)
{
	return rd_n(text, strlen(text));
}

static int
line(const char *l)
{
	code = -7;
	return smtp_reply_line(l, strlen(l), &code);
}

static void
test_reply_line_good(void **state)
{
	(void)state;
	assert_int_equal(line("250 ok\r\n"), 0);
	assert_int_equal(code, 250);
	assert_int_equal(line("250-ok\r\n"), 1);
	assert_int_equal(code, 250);
	assert_int_equal(line("250\r\n"), 0);		/* "DDD" alone */
	assert_int_equal(line("250-\r\n"), 1);
	assert_int_equal(line("250 \r\n"), 0);
	assert_int_equal(line("200 x\r\n"), 0);
	assert_int_equal(code, 200);
	assert_int_equal(line("599 x\r\n"), 0);
	assert_int_equal(code, 599);
	assert_int_equal(line("354 go\r\n"), 0);
	assert_int_equal(code, 354);
}

static void
test_reply_line_bad(void **state)
{
	(void)state;
	assert_int_equal(line("25\r\n"), -1);
	assert_int_equal(line("2500 x\r\n"), -1);
	assert_int_equal(line("2500\r\n"), -1);
	assert_int_equal(line("250x\r\n"), -1);
	assert_int_equal(line("250x ok\r\n"), -1);
	assert_int_equal(line("250\tok\r\n"), -1);
	assert_int_equal(line("150 x\r\n"), -1);
	assert_int_equal(line("199 x\r\n"), -1);
	assert_int_equal(line("600 x\r\n"), -1);
	assert_int_equal(line("050 x\r\n"), -1);
	assert_int_equal(line("2a0 x\r\n"), -1);
	assert_int_equal(line("25a x\r\n"), -1);
	assert_int_equal(line(" 250 x\r\n"), -1);
	assert_int_equal(line("\r\n"), -1);
	assert_int_equal(line(""), -1);
	/* no CRLF, a bare LF, a bare CR */
	assert_int_equal(line("250 ok"), -1);
	assert_int_equal(line("250 ok\n"), -1);
	assert_int_equal(line("250 ok\r"), -1);
	assert_int_equal(line("250 ok\n\r"), -1);
	assert_int_equal(code, -7);
	/* a NUL anywhere */
	assert_int_equal(smtp_reply_line("250 o\0k\r\n", 9, &code), -1);
	assert_int_equal(smtp_reply_line("250\0\r\n", 6, &code), -1);
	assert_int_equal(smtp_reply_line("250 ok\r\n", 8, &code), 0);
}

static void
test_reply_read_single(void **state)
{
	(void)state;
	assert_int_equal(rd("220 mx.example.test ESMTP\r\n"), 0);
	assert_int_equal(code, 220);
	assert_string_equal(reply, "220 mx.example.test ESMTP");
	assert_string_equal(lines.data, "mx.example.test ESMTP\n");
	assert_int_equal(rd("250\r\n"), 0);
	assert_int_equal(code, 250);
	assert_string_equal(reply, "250");
	assert_string_equal(lines.data, "\n");
	/* only one reply is read: the next one stays for the next call */
	assert_int_equal(rd("250 a\r\n550 b\r\n"), 0);
	assert_int_equal(code, 250);
	assert_string_equal(reply, "250 a");
}

static void
test_reply_read_multi(void **state)
{
	(void)state;
	assert_int_equal(rd("250-mx.example.test\r\n250-PIPELINING\r\n"
	    "250-SIZE 1000\r\n250 STARTTLS\r\n"), 0);
	assert_int_equal(code, 250);
	assert_string_equal(reply, "250-mx.example.test PIPELINING SIZE 1000 STARTTLS");
	assert_string_equal(lines.data, "mx.example.test\nPIPELINING\nSIZE 1000\nSTARTTLS\n");
	/* the last line "DDD" alone, empty continuation lines */
	assert_int_equal(rd("550-a\r\n550-\r\n550\r\n"), 0);
	assert_int_equal(code, 550);
	assert_string_equal(reply, "550-a ");	/* "550-" adds a separator */
	assert_string_equal(lines.data, "a\n\n\n");
}

static void
test_reply_read_bad(void **state)
{
	(void)state;
	/* RFC 5321 4.2.1: one code per reply */
	assert_int_equal(rd("250-a\r\n251 b\r\n"), -1);
	assert_string_equal(reply, "malformed reply");
	assert_int_equal(rd("250-a\r\n550 b\r\n"), -1);
	assert_int_equal(rd("250-a\r\n250-b\r\n450-c\r\n250 d\r\n"), -1);
	/* bad codes, separators and line ends */
	assert_int_equal(rd("25\r\n"), -1);
	assert_string_equal(reply, "malformed reply");
	assert_int_equal(rd("2500 x\r\n"), -1);
	assert_int_equal(rd("250x\r\n"), -1);
	assert_int_equal(rd("250-a\r\n250x\r\n"), -1);
	assert_int_equal(rd("250 ok\n"), -1);
	assert_int_equal(rd("250-a\n250 ok\r\n"), -1);
	assert_int_equal(rd_n("250 o\0k\r\n", 9), -1);
	assert_int_equal(rd_n("250-a\r\n250 \0\r\n", 14), -1);
	/* no CRLF before the connection closes */
	assert_int_equal(rd("250 ok"), -1);
	assert_string_equal(reply, "malformed reply");
	assert_int_equal(rd("250 ok\r"), -1);
	/* a continuation and then nothing */
	assert_int_equal(rd("250-a\r\n"), -1);
	assert_string_equal(reply, "lost connection");
	assert_int_equal(rd(""), -1);
	assert_string_equal(reply, "lost connection");
}

static void
test_reply_read_hostile_text(void **state)
{
	(void)state;
	/* a CR or control characters inside the text are not logged raw */
	assert_int_equal(rd("550 a\rb\x1b[31m\r\n"), 0);
	assert_int_equal(code, 550);
	assert_null(strchr(reply, '\r'));
	assert_null(strchr(reply, '\x1b'));
	assert_int_equal(strncmp(reply, "550 a", 5), 0);
	/* a long multiline reply stays within the reply buffer */
	{
		struct strbuf b;
		int i;

		strbuf_init(&b, 1024 * 1024);
		for (i = 0; i < 50; i++)
			strbuf_printf(&b, "250-%0200d\r\n", i);
		strbuf_printf(&b, "250 end\r\n");
		assert_int_equal(rd_n(b.data, b.len), 0);
		assert_true(strlen(reply) < sizeof(reply));
		strbuf_free(&b);
	}
}

/* A reply line of exactly len bytes, CRLF included. */
static void
long_line(struct strbuf *b, const char *code3, size_t len)
{
	size_t i;

	strbuf_printf(b, "%s ", code3);
	for (i = 4; i < len - 2; i++)
		strbuf_printf(b, "x");
	strbuf_printf(b, "\r\n");
}

static void
test_reply_read_line_limit(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 1024 * 1024);
	long_line(&b, "250", SMTP_REPLY_LINE_MAX);
	assert_int_equal(b.len, SMTP_REPLY_LINE_MAX);
	assert_int_equal(rd_n(b.data, b.len), 0);
	assert_int_equal(code, 250);
	strbuf_reset(&b);
	long_line(&b, "250", SMTP_REPLY_LINE_MAX + 1);
	assert_int_equal(rd_n(b.data, b.len), -1);
	assert_string_equal(reply, "malformed reply");
	/* the overlong line is dropped: its tail is not read as a reply */
	strbuf_reset(&b);
	strbuf_printf(&b, "250-");
	long_line(&b, "250", 100000);
	assert_int_equal(rd_n(b.data, b.len), -1);
	strbuf_free(&b);
}

static void
test_reply_read_line_count(void **state)
{
	struct strbuf b;
	int i;

	(void)state;
	strbuf_init(&b, 1024 * 1024);
	for (i = 0; i < SMTP_REPLY_LINES - 1; i++)
		strbuf_printf(&b, "250-l%d\r\n", i);
	strbuf_printf(&b, "250 last\r\n");
	assert_int_equal(rd_n(b.data, b.len), 0);
	assert_int_equal(code, 250);
	strbuf_reset(&b);
	for (i = 0; i < SMTP_REPLY_LINES; i++)
		strbuf_printf(&b, "250-l%d\r\n", i);
	strbuf_printf(&b, "250 last\r\n");
	assert_int_equal(rd_n(b.data, b.len), -1);
	assert_string_equal(reply, "malformed reply (too many lines)");
	strbuf_free(&b);
}

static const char *
enh(int c, const char *r)
{
	static char out[8];

	smtp_reply_enhanced(c, r, out, sizeof(out));
	return out;
}

static void
test_enhanced(void **state)
{
	(void)state;
	assert_string_equal(enh(250, "250 2.1.0 Ok"), "2.1.0");
	assert_string_equal(enh(250, "250 2.1.0"), "2.1.0");
	assert_string_equal(enh(550, "550-5.1.1 no such user"), "5.1.1");
	assert_string_equal(enh(451, "451 4.123.1 x"), "4.123.1");
	assert_string_equal(enh(451, "451 4.12.12 x"), "4.12.12");
	/* class must match the reply code's */
	assert_string_equal(enh(550, "550 4.1.1 x"), "5.0.0");
	/* none, short, bad shapes */
	assert_string_equal(enh(451, "451"), "4.0.0");
	assert_string_equal(enh(451, "451 x"), "4.0.0");
	assert_string_equal(enh(250, "250 2.1"), "2.0.0");
	assert_string_equal(enh(250, "250 2.1. x"), "2.0.0");
	assert_string_equal(enh(250, "250 2..1 x"), "2.0.0");
	assert_string_equal(enh(250, "250 2.1.0x"), "2.0.0");
	assert_string_equal(enh(250, "250 2.1.0.1"), "2.0.0");
	assert_string_equal(enh(250, "250 2.1234.1 x"), "2.0.0");
	assert_string_equal(enh(250, "250 2.1.1234 x"), "2.0.0");
	assert_string_equal(enh(250, "250 22.1.1 x"), "2.0.0");
	/* 3 digits each fit the caller's 8 bytes only up to 7 characters */
	assert_string_equal(enh(250, "250 2.123.123 x"), "2.0.0");
	assert_string_equal(enh(250, "250 2.12.123 x"), "2.0.0");
}

static struct smtp_caps caps;

static void
ehlo(const char *l)
{
	memset(&caps, 0x55, sizeof(caps));
	smtp_ehlo_caps(l, &caps);
}

static void
test_ehlo_good(void **state)
{
	(void)state;
	ehlo("mx.example.test greets you\nPIPELINING\nsize 10240000\nSTARTTLS\n"
	    "DSN\n8BITMIME\nSMTPUTF8\nAUTH LOGIN PLAIN\n");
	assert_true(caps.pipelining && caps.starttls && caps.dsn && caps.eightbit &&
	    caps.utf8 && caps.auth_plain && caps.auth_login && caps.has_size);
	assert_int_equal(caps.sizemax, 10240000);
	/* nothing offered */
	ehlo("mx.example.test\n");
	assert_false(caps.pipelining || caps.starttls || caps.dsn || caps.eightbit ||
	    caps.utf8 || caps.auth_plain || caps.auth_login || caps.has_size);
	assert_int_equal(caps.sizemax, 0);
	ehlo(NULL);
	assert_false(caps.pipelining || caps.has_size);
	ehlo("");
	assert_false(caps.pipelining || caps.has_size);
	/* the greeting line is not a keyword; a last line without LF is */
	ehlo("PIPELINING\nSTARTTLS");
	assert_false(caps.pipelining);
	assert_true(caps.starttls);
	ehlo("x\nAUTH PLAIN\n");
	assert_true(caps.auth_plain);
	assert_false(caps.auth_login);
	ehlo("x\nauth cram-md5 login\n");
	assert_false(caps.auth_plain);
	assert_true(caps.auth_login);
}

static void
test_ehlo_size(void **state)
{
	(void)state;
	ehlo("x\nSIZE\n");
	assert_true(caps.has_size);
	assert_int_equal(caps.sizemax, 0);
	ehlo("x\nSIZE 0\n");		/* RFC 1870: no fixed limit */
	assert_true(caps.has_size);
	assert_int_equal(caps.sizemax, 0);
	ehlo("x\nSIZE 1125899906842624\n");	/* 2^50: the largest taken */
	assert_int_equal(caps.sizemax, 1ULL << 50);
	ehlo("x\nSIZE 1125899906842625\n");
	assert_true(caps.has_size);
	assert_int_equal(caps.sizemax, 0);
	ehlo("x\nSIZE -1\n");
	assert_int_equal(caps.sizemax, 0);
	ehlo("x\nSIZE 99999999999999999999999\n");
	assert_int_equal(caps.sizemax, 0);
	ehlo("x\nSIZE 10x\n");
	assert_int_equal(caps.sizemax, 0);
	/* another keyword that starts with SIZE is not SIZE (was: it was) */
	ehlo("x\nSIZEX 100\n");
	assert_false(caps.has_size);
	assert_int_equal(caps.sizemax, 0);
	/* a new EHLO (after STARTTLS) replaces the old limit (was: kept) */
	memset(&caps, 0, sizeof(caps));
	smtp_ehlo_caps("x\nSIZE 1000\n", &caps);
	assert_int_equal(caps.sizemax, 1000);
	smtp_ehlo_caps("x\nSIZE\n", &caps);
	assert_int_equal(caps.sizemax, 0);
}

static void
test_ehlo_auth_hostile(void **state)
{
	char big[1200];

	(void)state;
	/* only a mechanism whose name starts with PLAIN (was: taken as PLAIN) */
	ehlo("x\nAUTH PLAIN-CLIENTTOKEN XLOGIN\n");
	assert_false(caps.auth_plain);
	assert_false(caps.auth_login);
	ehlo("x\nAUTH=PLAIN LOGIN\n");		/* the old form is ignored */
	assert_false(caps.auth_plain || caps.auth_login);
	ehlo("x\nAUTH\n");
	assert_false(caps.auth_plain || caps.auth_login);
	ehlo("x\nAUTH   PLAIN  \n");
	assert_true(caps.auth_plain);
	/* a long mechanism list (was: cut at 63 bytes, PLAIN lost) */
	ehlo("x\nAUTH GSSAPI NTLM DIGEST-MD5 CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 "
	    "XOAUTH2 OAUTHBEARER PLAIN LOGIN\n");
	assert_true(caps.auth_plain);
	assert_true(caps.auth_login);
	/* keywords must be the whole line */
	ehlo("x\nPIPELINING STARTTLS\nXSTARTTLS\nSTARTTLSX\n");
	assert_false(caps.pipelining || caps.starttls);
	/* an overlong keyword line is cut, not overflowed */
	memset(big, 'A', sizeof(big));
	memcpy(big, "x\n", 2);
	big[sizeof(big) - 1] = '\0';
	ehlo(big);
	assert_false(caps.pipelining || caps.has_size);
}

static int
teardown(void **state)
{
	(void)state;
	strbuf_free(&lines);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_line_good),
		cmocka_unit_test(test_reply_line_bad),
		cmocka_unit_test_teardown(test_reply_read_single, teardown),
		cmocka_unit_test_teardown(test_reply_read_multi, teardown),
		cmocka_unit_test_teardown(test_reply_read_bad, teardown),
		cmocka_unit_test_teardown(test_reply_read_hostile_text, teardown),
		cmocka_unit_test_teardown(test_reply_read_line_limit, teardown),
		cmocka_unit_test_teardown(test_reply_read_line_count, teardown),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_ehlo_good),
		cmocka_unit_test(test_ehlo_size),
		cmocka_unit_test(test_ehlo_auth_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
