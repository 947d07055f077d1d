/*
 * Unit tests of the POP3 command line reader and splitter
 * (pop3d/pop3_login.c: pop3_getline, pop3_split), which both of pop3d's
 * states use: CRLF and bare LF, the RFC 2449 4 line limit (255 octets
 * with the CRLF: exactly at it and one past), NUL and CR injection, and
 * the connection ending in the middle of a line.
 */
#include "config.h"

#include <sys/socket.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pop3.h"
#include "stream.h"
#include "util.h"

static struct stream st;
static int peer = -1;
static char line[POP3_LINE_MAX + 1], reply[1024];

static void
feed(const char *text, size_t len, int eof)
{
	int sv[2];

	if (peer != -1) {
		stream_close(&st, 1);
		close(peer);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write_all(sv[1], text, len), 0);
	if (eof)
		shutdown(sv[1], SHUT_WR);
	stream_init(&st, sv[0], sv[0], 2000);
	peer = sv[1];
}

static int
get(void)
{
	memset(line, 'Z', sizeof(line));
	return pop3_getline(&st, line, POP3_LINE_MAX);	/* as pop3d calls it */
}

/* What pop3_getline queued for the client. */
static const char *
replied(void)
{
	ssize_t n;

	assert_int_equal(stream_flush(&st), 0);
	shutdown(st.wfd, SHUT_WR);
	n = read(peer, reply, sizeof(reply) - 1);
	reply[n > 0 ? n : 0] = '\0';
	return reply;
}

static int
teardown(void **state)
{
	(void)state;
	if (peer != -1) {
		stream_close(&st, 1);
		close(peer);
	}
	peer = -1;
	return 0;
}

static void
test_lines(void **state)
{
	static const char text[] = "USER alice\r\nPASS x y\nNOOP\r\n\r\n\n";

	(void)state;
	feed(text, sizeof(text) - 1, 1);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "USER alice");
	assert_int_equal(get(), 1);
	assert_string_equal(line, "PASS x y");
	assert_int_equal(get(), 1);
	assert_string_equal(line, "NOOP");
	assert_int_equal(get(), 1);
	assert_string_equal(line, "");
	assert_int_equal(get(), 1);
	assert_string_equal(line, "");
	assert_int_equal(get(), -1);	/* EOF */
	assert_string_equal(replied(), "");
}

static void
test_limit(void **state)
{
	char text[600];

	(void)state;
	/* 253 octets and CRLF: 255, the most RFC 2449 4 allows */
	memset(text, 'a', sizeof(text));
	memcpy(text + 253, "\r\nNOOP\r\n", 8);
	feed(text, 261, 1);
	assert_int_equal(get(), 1);
	assert_int_equal(strlen(line), 253);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "NOOP");
	/* 254 and LF fits too; 254 and CRLF is one past */
	memset(text, 'a', sizeof(text));
	memcpy(text + 254, "\nNOOP\r\n", 7);
	feed(text, 261, 1);
	assert_int_equal(get(), 1);
	assert_int_equal(strlen(line), 254);
	memset(text, 'a', sizeof(text));
	memcpy(text + 254, "\r\nNOOP\r\n", 8);
	feed(text, 262, 1);
	assert_int_equal(get(), 0);
	assert_int_equal(get(), 1);	/* the rest of the long line is gone */
	assert_string_equal(line, "NOOP");
	assert_string_equal(replied(), "-ERR Line too long\r\n");
	/* far too long */
	memset(text, 'a', sizeof(text));
	memcpy(text + 590, "\r\nQUIT\r\n", 8);
	feed(text, 598, 1);
	assert_int_equal(get(), 0);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "QUIT");
}

static void
test_hostile(void **state)
{
	static const char nul[] = "USER alice\0PASS x\r\nNOOP\r\n";
	static const char cr[] = "USER a\rPASS x\r\n";
	static const char crcr[] = "NOOP\r\r\n";

	(void)state;
	feed(nul, sizeof(nul) - 1, 1);
	assert_int_equal(get(), 0);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "NOOP");
	assert_string_equal(replied(), "-ERR NUL in command\r\n");
	/* a bare CR stays in the line: no second command hides in it */
	feed(cr, sizeof(cr) - 1, 1);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "USER a\rPASS x");
	assert_string_equal(pop3_split(line), "a\rPASS x");
	feed(crcr, sizeof(crcr) - 1, 1);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "NOOP\r");
	/* the connection ends inside a line: the part is still one line */
	feed("QUI", 3, 1);
	assert_int_equal(get(), 1);
	assert_string_equal(line, "QUI");
	assert_int_equal(get(), -1);
	feed("", 0, 1);
	assert_int_equal(get(), -1);
}

static void
test_split(void **state)
{
	char l[64];

	(void)state;
	str_copy(l, "USER alice", sizeof(l));
	assert_string_equal(pop3_split(l), "alice");
	assert_string_equal(l, "USER");
	str_copy(l, "STAT", sizeof(l));
	assert_string_equal(pop3_split(l), "");
	assert_string_equal(l, "STAT");
	str_copy(l, "TOP 1 10", sizeof(l));
	assert_string_equal(pop3_split(l), "1 10");
	str_copy(l, "PASS  two  spaces ", sizeof(l));
	assert_string_equal(pop3_split(l), " two  spaces ");	/* passwords keep spaces */
	str_copy(l, " USER", sizeof(l));
	assert_string_equal(pop3_split(l), "USER");
	assert_string_equal(l, "");
	str_copy(l, "", sizeof(l));
	assert_string_equal(pop3_split(l), "");
	str_copy(l, "USER\talice", sizeof(l));
	assert_string_equal(pop3_split(l), "");
	assert_string_equal(l, "USER\talice");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lines, teardown),
		cmocka_unit_test_teardown(test_limit, teardown),
		cmocka_unit_test_teardown(test_hostile, teardown),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
