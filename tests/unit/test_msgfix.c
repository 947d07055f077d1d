/*
 * Unit tests of the submission header fix-ups (common/msgfix.c): field
 * name matching (case, obs white space before the colon, prefixes that
 * are other fields), which of Date, Message-ID, From and Bcc a header
 * has (continuation lines are not fields), the generated Message-ID and
 * Date, and a full output buffer.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "msgfix.h"
#include "strbuf.h"
#include "util.h"

static int
is(const char *line, const char *name)
{
	return msgfix_is_field(line, strlen(line), name);
}

static unsigned
present(const char *hdr)
{
	return msgfix_present(hdr, strlen(hdr));
}

static void
test_is_field(void **state)
{
	(void)state;
	assert_true(is("Date: x", "Date"));
	assert_true(is("date:x", "Date"));
	assert_true(is("DATE \t : x", "Date"));	/* RFC 5322 4.5.3 */
	assert_true(is("Bcc:", "Bcc"));
	assert_false(is("Bcc", "Bcc"));
	assert_false(is("Bcc ", "Bcc"));
	assert_false(is("Bccx: y", "Bcc"));
	assert_false(is("X-Bcc: y", "Bcc"));
	assert_false(is(" Bcc: y", "Bcc"));
	assert_false(is("Bc: y", "Bcc"));
	assert_false(is("", "Bcc"));
	assert_false(is("Bcc\r: y", "Bcc"));
	assert_false(is("Bcc\n: y", "Bcc"));
	/* len bounds the line: nothing past it is looked at */
	assert_false(msgfix_is_field("Bcc: y", 3, "Bcc"));
	assert_true(msgfix_is_field("Bcc: y", 4, "Bcc"));
	assert_false(msgfix_is_field("Bcc  : y", 5, "Bcc"));
	/* a NUL in the name */
	assert_false(msgfix_is_field("B\0c: y", 6, "Bcc"));
}

static void
test_present(void **state)
{
	static const char nul[] = "Subject: a\0\nDate: x\n";

	(void)state;
	assert_int_equal(present(""), 0);
	assert_int_equal(present("Subject: x\n"), 0);
	assert_int_equal(present("Date: x\nMessage-ID: <a@b>\nFrom: a@b\nBcc: c@d\n"),
	    MSGFIX_DATE | MSGFIX_MSGID | MSGFIX_FROM | MSGFIX_BCC);
	assert_int_equal(present("message-id:<a@b>"), MSGFIX_MSGID);	/* no final LF */
	assert_int_equal(present("Subject: x\n\tDate: folded into Subject\n From: too\n"), 0);
	assert_int_equal(present("X-Date: x\nFromage: x\nMessage-IDs: x\n"), 0);
	assert_int_equal(present("Resent-From: a@b\nResent-Date: x\n"), 0);
	assert_int_equal(present("\n\nFrom: x\n"), MSGFIX_FROM);
	assert_int_equal(present("Subject: x\r\nDate: y\r\n"), MSGFIX_DATE);
	assert_int_equal(msgfix_present(nul, sizeof(nul) - 1), MSGFIX_DATE);
	/* only the first len bytes count */
	assert_int_equal(msgfix_present("Subject: x\nDate: y\n", 11), 0);
	assert_int_equal(msgfix_present("Subject: x\nDate: y\n", 17), MSGFIX_DATE);
}

static void
test_msgid(void **state)
{
	char a[320], b[320], small[30];
	const char *at;
	size_t i;

	(void)state;
	assert_ptr_equal(msgfix_msgid(a, sizeof(a), "mx.example.test"), a);
	msgfix_msgid(b, sizeof(b), "mx.example.test");
	assert_string_not_equal(a, b);	/* 64 random bits */
	assert_int_equal(a[0], '<');
	assert_int_equal(a[strlen(a) - 1], '>');
	at = strchr(a, '@');
	assert_non_null(at);
	assert_string_equal(at, "@mx.example.test>");
	/* "<DIGITS.16HEX@" */
	for (i = 1; a[i] != '.'; i++)
		assert_true(a[i] >= '0' && a[i] <= '9');
	assert_int_equal(at - (a + i + 1), 16);
	for (i++; a + i < at; i++)
		assert_non_null(strchr("0123456789ABCDEF", a[i]));
	/* too small: empty, never truncated */
	assert_string_equal(msgfix_msgid(small, sizeof(small), "mx.example.test"), "");
}

static void
test_add(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 4096);
	assert_int_equal(msgfix_add(&b, MSGFIX_DATE | MSGFIX_MSGID, "h.test"), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(msgfix_add(&b, MSGFIX_DATE | MSGFIX_FROM | MSGFIX_BCC, "h.test"), 0);
	assert_int_equal(strncmp(b.data, "Message-ID: <", 13), 0);
	assert_non_null(strstr(b.data, "@h.test>\n"));
	assert_null(strstr(b.data, "Date:"));
	assert_int_equal(b.data[b.len - 1], '\n');
	strbuf_reset(&b);
	assert_int_equal(msgfix_add(&b, MSGFIX_MSGID, "h.test"), 0);
	assert_int_equal(strncmp(b.data, "Date: ", 6), 0);
	assert_null(strchr(b.data, '\r'));
	assert_int_equal(strchr(b.data, '\n') - b.data, (long)b.len - 1);
	strbuf_reset(&b);
	assert_int_equal(msgfix_add(&b, 0, "h.test"), 0);
	assert_int_equal(present(b.data), MSGFIX_DATE | MSGFIX_MSGID);
	strbuf_free(&b);
	/* a full buffer: -1 */
	strbuf_init(&b, 20);
	assert_int_equal(msgfix_add(&b, 0, "h.test"), -1);
	strbuf_free(&b);
	strbuf_init(&b, 60);
	assert_int_equal(msgfix_add(&b, MSGFIX_MSGID, "h.test"), 0);
	strbuf_free(&b);
	strbuf_init(&b, 10);
	assert_int_equal(msgfix_add(&b, MSGFIX_MSGID, "h.test"), -1);
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_field),
		cmocka_unit_test(test_present),
		cmocka_unit_test(test_msgid),
		cmocka_unit_test(test_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
