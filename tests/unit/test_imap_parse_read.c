/*
 * Unit tests of imapd/imap_parse_read.c: reading whole IMAP commands off
 * a socketpair fed by a writer thread, with synchronising ("+ OK"),
 * non-synchronising (RFC 7888, LITERAL+ and LITERAL-) and literal8
 * literals; the refusal of each kind over its limit without losing step
 * with the client; line_max and total_max; EOF and timeouts; a large
 * literal.
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "imap_parse.h"
#include "strbuf.h"
#include "stream.h"
#include "util.h"

static char err[256];

static void
assert_arg(const struct imap_arg *a, enum imap_arg_type type, const char *str)
{
	assert_int_equal(a->type, type);
	assert_int_equal(a->len, strlen(str));
	assert_memory_equal(a->str, str, a->len);
	assert_int_equal(a->str[a->len], '\0');
}

struct feed {
	int		 sv[2];
	struct stream	 s;
	pthread_t	 th;
	const char	*data;
	size_t		 len;
	int		 keep_open;	/* do not shut the writing side */
};

static void *
feed_writer(void *arg)
{
	struct feed *f = arg;

	(void)write_all(f->sv[1], f->data, f->len);
	if (!f->keep_open)
		shutdown(f->sv[1], SHUT_WR);
	return NULL;
}

static void
feed_open(struct feed *f, const char *data, size_t len, int timeout_ms)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
	f->data = data;
	f->len = len;
	stream_init(&f->s, f->sv[0], f->sv[0], timeout_ms);
	assert_int_equal(pthread_create(&f->th, NULL, feed_writer, f), 0);
}

static void
feed_start(struct feed *f, const char *text)
{
	feed_open(f, text, strlen(text), 2000);
}

/* What the server side wrote back so far (NUL-terminated, in buf). */
static const char *
feed_reply(struct feed *f, char *buf, size_t max)
{
	ssize_t n;
	size_t len = 0;

	fd_set_nonblock(f->sv[1], 1);
	while (len + 1 < max && (n = read(f->sv[1], buf + len, max - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void
feed_close(struct feed *f)
{
	pthread_join(f->th, NULL);
	stream_close(&f->s, 1);
	close(f->sv[1]);
}

static const struct imap_limits lim_default = { IMAP_LINE_MAX, 1 << 20, 2 << 20, 1 };

static int
rd(struct feed *f, struct imap_cmd *cmd, const struct imap_limits *lim)
{
	err[0] = '\0';
	return imap_cmd_read(&f->s, cmd, lim != NULL ? lim : &lim_default, err, sizeof(err));
}

static void
test_read_basic(void **state)
{
	static const char basic[] = "a1 NOOP\r\nA2 login {5}\r\nsmith {6}\r\nsesame\r\n"
	    "a3 LOGIN {5+}\r\nsmith ~{6+}\r\nses\0me\r\na4 x (\r\na5 BYE";
	struct feed f;
	struct imap_cmd cmd;
	char reply[256];

	(void)state;
	imap_cmd_init(&cmd);
	feed_open(&f, basic, sizeof(basic) - 1, 2000);
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a1");
	assert_string_equal(cmd.name, "NOOP");
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "A2");
	assert_string_equal(cmd.name, "LOGIN");
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "smith");
	assert_arg(&cmd.args[1], IMAP_ARG_LITERAL, "sesame");
	/* one continuation per synchronising literal, nothing for {n+} */
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a3");
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "smith");
	assert_int_equal(cmd.args[1].literal8, 1);
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)), "+ OK\r\n+ OK\r\n");
	/* malformed: BAD with its tag, then the next command */
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_BAD);
	assert_string_equal(cmd.tag, "a4");
	assert_int_equal(cmd.args[0].type, IMAP_ARG_EOL);
	/* a last line without CRLF before EOF is not run: EOF */
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_EOF);
	assert_string_equal(cmd.tag, "a5");
	feed_close(&f);
	imap_cmd_free(&cmd);
}

static void
test_read_sync_toobig(void **state)
{
	static const struct imap_limits lim = { IMAP_LINE_MAX, 10, 100, 1 };
	struct feed f;
	struct imap_cmd cmd;
	char reply[512];

	(void)state;
	imap_cmd_init(&cmd);
	/* over literal_max, then over total_max, then fine */
	feed_start(&f, "a1 APPEND box {11}\r\n"
	    "A2 APPEND box {10}\r\n0123456789 {10}\r\nabcdefghij\r\n"
	    "a3 NOOP\r\n{99}\r\nb1 X {10}\r\n0123456789\r\n");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "A2");
	assert_string_equal(cmd.name, "APPEND");
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)),
	    "a1 NO [TOOBIG] Literal too big\r\n+ OK\r\n+ OK\r\n");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a3");
	/* no tag: an untagged NO */
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "b1");
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)),
	    "* NO [TOOBIG] Literal too big\r\n+ OK\r\n");
	feed_close(&f);

	/* total_max counts the line and the earlier literals */
	{
		static const struct imap_limits lim2 = { IMAP_LINE_MAX, 10, 40, 1 };
		feed_start(&f, "a1 X {10}\r\n0123456789 {10}\r\n0123456789 {10}\r\nb1 NOOP\r\n");
		assert_int_equal(rd(&f, &cmd, &lim2), IMAP_READ_OK);
		assert_string_equal(cmd.tag, "b1");
		assert_string_equal(feed_reply(&f, reply, sizeof(reply)),
		    "+ OK\r\n+ OK\r\na1 NO [TOOBIG] Literal too big\r\n");
		feed_close(&f);
	}
	imap_cmd_free(&cmd);
}

static void
test_read_refusals(void **state)
{
	static const struct imap_limits lim = { IMAP_LINE_MAX, 10, 100, 1 };
	struct feed f;
	struct imap_cmd cmd;
	struct strbuf sb;
	int i;

	(void)state;
	strbuf_init(&sb, 4096);
	for (i = 0; i < 16; i++)
		assert_int_equal(strbuf_printf(&sb, "a%d X {11}\r\n", i), 0);
	assert_int_equal(strbuf_puts(&sb, "b NOOP\r\n"), 0);
	imap_cmd_init(&cmd);
	feed_start(&f, sb.data);
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a15");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "b");
	feed_close(&f);
	imap_cmd_free(&cmd);
	strbuf_free(&sb);
}

static void
test_read_nonsync_toobig(void **state)
{
	static const struct imap_limits lim = { IMAP_LINE_MAX, 10, 100, 1 };
	static const struct imap_limits minus = { IMAP_LINE_MAX, 100000, 100000, 0 };
	struct feed f;
	struct imap_cmd cmd;
	struct strbuf sb;
	char reply[256];

	(void)state;
	imap_cmd_init(&cmd);
	/* the literal, the rest of its line and its further literals are dropped */
	feed_start(&f, "a1 APPEND box {11+}\r\n0123456789X {3+}\r\nc3\n {2}\r\n"
	    "b3 NOOP\r\n");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a1");
	assert_string_equal(err, "literal too big");
	assert_int_equal(cmd.nargs, 0);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_EOL);
	/* a synchronising literal met while dropping is not invited */
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)), "");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "b3");
	feed_close(&f);

	/* LITERAL- (RFC 7888 4): {n+} up to 4096 only */
	strbuf_init(&sb, 20000);
	assert_int_equal(strbuf_puts(&sb, "a1 X {4096+}\r\n"), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(strbuf_putc(&sb, 'x'), 0);
	assert_int_equal(strbuf_puts(&sb, "\r\na2 X {4097+}\r\n"), 0);
	for (int i = 0; i < 4097; i++)
		assert_int_equal(strbuf_putc(&sb, 'y'), 0);
	assert_int_equal(strbuf_puts(&sb, "\r\na3 X {4097}\r\n"), 0);
	for (int i = 0; i < 4097; i++)
		assert_int_equal(strbuf_putc(&sb, 'z'), 0);
	assert_int_equal(strbuf_puts(&sb, "\r\n"), 0);
	feed_open(&f, sb.data, sb.len, 2000);
	assert_int_equal(rd(&f, &cmd, &minus), IMAP_READ_OK);
	assert_int_equal(cmd.args[0].len, 4096);
	assert_int_equal(rd(&f, &cmd, &minus), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a2");
	assert_int_equal(rd(&f, &cmd, &minus), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a3");
	assert_int_equal(cmd.args[0].len, 4097);
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)), "+ OK\r\n");
	feed_close(&f);
	strbuf_free(&sb);
	imap_cmd_free(&cmd);
}

/* n digits "0123456789012..." */
static const char *
digits(size_t n)
{
	static char buf[256];
	size_t i;

	for (i = 0; i < n && i + 1 < sizeof(buf); i++)
		buf[i] = (char)('0' + i % 10);
	buf[i] = '\0';
	return buf;
}

static void
test_read_line_max(void **state)
{
	static const struct imap_limits lim = { 64, 1000, 2000, 1 };
	struct strbuf sb;
	struct feed f;
	struct imap_cmd cmd;
	char reply[256];

	(void)state;
	imap_cmd_init(&cmd);
	strbuf_init(&sb, 4096);
	/* 64 bytes with the CRLF: fits; 65: too long */
	assert_int_equal(strbuf_printf(&sb, "a1 X %s\r\n", digits(57)), 0);
	assert_int_equal(strbuf_printf(&sb, "a2 X %s\r\n", digits(58)), 0);
	/* too long, and announcing a literal that must be skipped */
	assert_int_equal(strbuf_printf(&sb, "a3 X %s {9+}\r\nb9 NOOP\r\n\r\n",
	    digits(70)), 0);
	/* line_max counts every line of the command: 10 + 55 */
	assert_int_equal(strbuf_printf(&sb, "a4 X {5}\r\n01234 %s\r\n", digits(52)), 0);
	assert_int_equal(strbuf_puts(&sb, "a5 NOOP\r\n"), 0);
	feed_open(&f, sb.data, sb.len, 2000);
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a1");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a2");
	assert_string_equal(err, "command line too long");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a3");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_TOOBIG);
	assert_string_equal(cmd.tag, "a4");
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "a5");
	assert_string_equal(feed_reply(&f, reply, sizeof(reply)), "+ OK\r\n");
	feed_close(&f);
	imap_cmd_free(&cmd);
	strbuf_free(&sb);
}

static void
test_read_eof(void **state)
{
	static const char *cases[] = { "", "a1 NO", "a1 X {5}\r\nabc", "a1 X {5+}\r\nabcde",
	    "a1 X {5+}\r\nabcde {3}\r\n", "a1 X {50+}\r\nab" };
	struct feed f;
	struct imap_cmd cmd;
	size_t i;

	(void)state;
	imap_cmd_init(&cmd);
	for (i = 0; i < NELEM(cases); i++) {
		feed_start(&f, cases[i]);
		assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_EOF);
		feed_close(&f);
	}
	/* a timeout is EOF too */
	memset(&f, 0, sizeof(f));
	f.keep_open = 1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f.sv), 0);
	f.data = "a1 X {5}\r\nab";
	f.len = strlen(f.data);
	stream_init(&f.s, f.sv[0], f.sv[0], 100);
	assert_int_equal(pthread_create(&f.th, NULL, feed_writer, &f), 0);
	assert_int_equal(rd(&f, &cmd, NULL), IMAP_READ_EOF);
	assert_string_equal(cmd.tag, "a1");
	feed_close(&f);
	imap_cmd_free(&cmd);
}

/* A large literal arrives in many reads; the buffer grows to hold it. */
static void
test_read_large(void **state)
{
	static const struct imap_limits lim = { IMAP_LINE_MAX, 8 << 20, 9 << 20, 1 };
	static const struct imap_limits small = { IMAP_LINE_MAX, 1 << 20, 2 << 20, 1 };
	struct feed f;
	struct imap_cmd cmd;
	size_t n = 5 << 20, i, hdr;
	char *text = xmalloc(n + 64);

	(void)state;
	hdr = (size_t)str_fmt(text, 64, "a1 APPEND INBOX (\\Seen) {%zu}\r\n", n);
	for (i = 0; i < n; i++)
		text[hdr + i] = (char)('a' + i % 26);
	memcpy(text + hdr + n, "\r\n", 2);
	imap_cmd_init(&cmd);
	feed_open(&f, text, hdr + n + 2, 5000);
	assert_int_equal(rd(&f, &cmd, &lim), IMAP_READ_OK);
	assert_int_equal(cmd.nargs, 3);
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd.args[2].len, n);
	assert_memory_equal(cmd.args[2].str, text + hdr, n);
	feed_close(&f);
	/* the same, non-synchronising and over the limit: dropped */
	hdr = (size_t)str_fmt(text, 64, "a1 APPEND INBOX (\\Seen) {%zu+}\r\n", n);
	for (i = 0; i < n; i++)
		text[hdr + i] = (char)('a' + i % 26);
	memcpy(text + hdr + n, "\r\nb NOOP\r\n", 10);
	feed_open(&f, text, hdr + n + 10, 5000);
	assert_int_equal(rd(&f, &cmd, &small), IMAP_READ_TOOBIG);
	assert_int_equal(rd(&f, &cmd, &small), IMAP_READ_OK);
	assert_string_equal(cmd.tag, "b");
	feed_close(&f);
	imap_cmd_free(&cmd);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_basic),
		cmocka_unit_test(test_read_sync_toobig),
		cmocka_unit_test(test_read_refusals),
		cmocka_unit_test(test_read_nonsync_toobig),
		cmocka_unit_test(test_read_line_max),
		cmocka_unit_test(test_read_eof),
		cmocka_unit_test(test_read_large),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
