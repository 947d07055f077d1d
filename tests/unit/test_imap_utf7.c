/*
 * Unit tests of imapd/imap_utf7.c: modified UTF-7 (RFC 3501 5.1.3) to
 * UTF-8 and back, the RFC's example, "&-", strict refusal of non-shortest
 * or malformed forms (printable ASCII in BASE64, bad padding, unpaired
 * surrogates, two shifted runs in a row) and of invalid UTF-8, and round
 * trips over every BMP code point and a sweep of the astral planes.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_utf7.h"
#include "strbuf.h"
#include "util.h"

static void
expect_pair(const char *utf7, const char *utf8)
{
	struct strbuf sb;

	strbuf_init(&sb, 4096);
	assert_true(imap_utf7_valid(utf7, strlen(utf7)));
	assert_int_equal(imap_utf7_to_utf8(utf7, strlen(utf7), &sb), 0);
	assert_string_equal(sb.len > 0 ? sb.data : "", utf8);
	strbuf_reset(&sb);
	assert_int_equal(imap_utf8_to_utf7(utf8, strlen(utf8), &sb), 0);
	assert_string_equal(sb.len > 0 ? sb.data : "", utf7);
	strbuf_free(&sb);
}

static void
expect_bad_utf7(const char *utf7)
{
	struct strbuf sb;

	strbuf_init(&sb, 4096);
	assert_int_equal(strbuf_puts(&sb, "keep"), 0);
	if (imap_utf7_valid(utf7, strlen(utf7)))
		fail_msg("valid: %s", utf7);
	assert_int_equal(imap_utf7_to_utf8(utf7, strlen(utf7), &sb), -1);
	assert_string_equal(sb.data, "keep");
	strbuf_free(&sb);
}

static void
expect_bad_utf8(const char *utf8, size_t len)
{
	struct strbuf sb;

	strbuf_init(&sb, 4096);
	assert_int_equal(strbuf_puts(&sb, "keep"), 0);
	assert_int_equal(imap_utf8_to_utf7(utf8, len, &sb), -1);
	assert_string_equal(sb.data, "keep");
	strbuf_free(&sb);
}

static void
test_examples(void **state)
{
	(void)state;
	/* RFC 3501 5.1.3 */
	expect_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	expect_pair("", "");
	expect_pair("INBOX", "INBOX");
	expect_pair("&-", "&");
	expect_pair("&-&-", "&&");
	expect_pair("a&-b", "a&b");
	expect_pair("Entw&APw-rfe", "Entw\xc3\xbcrfe");
	expect_pair("&AOk-&-", "\xc3\xa9&");
	expect_pair("&AOkA6QDp-", "\xc3\xa9\xc3\xa9\xc3\xa9");
	expect_pair(" ~!-+,", " ~!-+,");
	/* U+1F4E7 as a surrogate pair */
	expect_pair("&2D3c5w-", "\xf0\x9f\x93\xa7");
	/* controls are not printable: BASE64 */
	expect_pair("&AAE-", "\x01");
	expect_pair("&AH8-", "\x7f");
	expect_pair("a&AAk-b", "a\tb");
}

static void
test_bad_utf7(void **state)
{
	(void)state;
	expect_bad_utf7("&");			/* shift at the end */
	expect_bad_utf7("a&");
	expect_bad_utf7("&U,BTFw");		/* no '-' */
	expect_bad_utf7("&AGE-");		/* "a" in BASE64 */
	expect_bad_utf7("&ACY-");		/* "&" in BASE64 */
	expect_bad_utf7("&ACA-");		/* SP in BASE64 */
	expect_bad_utf7("&AAA-");		/* NUL */
	expect_bad_utf7("&2D0-");		/* lone high surrogate */
	expect_bad_utf7("&3AA-");		/* lone low surrogate */
	expect_bad_utf7("&2D3YPQ-");		/* high, high */
	expect_bad_utf7("&U,BTFx-");		/* non-zero padding bits */
	expect_bad_utf7("&U,BTFwA-");		/* a BASE64 char too many */
	expect_bad_utf7("&U,BT-");		/* half a unit */
	expect_bad_utf7("&U.BTFw-");		/* not modified BASE64 */
	expect_bad_utf7("&U/BTFw-");		/* '/' is not modified BASE64 */
	expect_bad_utf7("&&-");
	expect_bad_utf7("&AOk-&AOk-");		/* two runs in a row */
	expect_bad_utf7("\xc3\xa9");		/* 8-bit */
	expect_bad_utf7("a\tb");			/* controls on the wire */
	expect_bad_utf7("a\x7f");
	expect_bad_utf7("a\nb");
	{
		static const char nul[] = "a\0b";
		assert_false(imap_utf7_valid(nul, 3));
	}
}

static void
test_bad_utf8(void **state)
{
	(void)state;
	expect_bad_utf8("\xff", 1);
	expect_bad_utf8("a\xc3", 2);			/* truncated */
	expect_bad_utf8("\xc0\xaf", 2);			/* overlong */
	expect_bad_utf8("\xe0\x80\xaf", 3);
	expect_bad_utf8("\xf0\x80\x80\xaf", 4);
	expect_bad_utf8("\xed\xa0\x80", 3);		/* surrogate */
	expect_bad_utf8("\xf4\x90\x80\x80", 4);		/* over U+10FFFF */
	expect_bad_utf8("\x80", 1);
	expect_bad_utf8("\xc3\x28", 2);
	expect_bad_utf8("a\0b", 3);
}

/* A full strbuf: -1 and the buffer unchanged. */
static void
test_limits(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 10);
	assert_int_equal(strbuf_puts(&sb, "ab"), 0);
	assert_int_equal(imap_utf8_to_utf7("\xe5\x8f\xb0\xe5\x8c\x97\xe5\x8f\xb0", 9, &sb), -1);
	assert_string_equal(sb.data, "ab");
	assert_int_equal(imap_utf7_to_utf8("&U,BTFw-&-&-&-", 14, &sb), -1);
	assert_string_equal(sb.data, "ab");
	strbuf_free(&sb);
}

static size_t
utf8_enc(char *b, uint32_t cp)
{
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | (cp >> 18));
	b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* UTF-8 -> UTF-7 -> UTF-8 gives the input back, and the UTF-7 is valid. */
static void
roundtrip(const char *in, size_t len)
{
	struct strbuf a, b;

	strbuf_init(&a, 1 << 20);
	strbuf_init(&b, 1 << 20);
	assert_int_equal(imap_utf8_to_utf7(in, len, &a), 0);
	assert_true(imap_utf7_valid(a.data != NULL ? a.data : "", a.len));
	assert_int_equal(imap_utf7_to_utf8(a.data != NULL ? a.data : "", a.len, &b), 0);
	assert_int_equal(b.len, len);
	if (len > 0)
		assert_memory_equal(b.data, in, len);
	strbuf_free(&a);
	strbuf_free(&b);
}

static void
test_roundtrip_all(void **state)
{
	char buf[64];
	uint32_t cp;
	size_t n, cl;
	struct strbuf sweep;

	(void)state;
	/* every BMP code point alone, between ASCII, and doubled */
	for (cp = 1; cp < 0x10000; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		n = 0;
		buf[n++] = 'x';
		n += cl = utf8_enc(buf + n, cp);
		buf[n++] = '&';
		n += utf8_enc(buf + n, cp);
		n += utf8_enc(buf + n, cp);
		roundtrip(buf + 1, cl);
		roundtrip(buf, n);
	}
	/* the astral planes in one long name, mixed with BMP and ASCII */
	strbuf_init(&sweep, 1 << 20);
	for (cp = 0x10000; cp <= 0x10ffff; cp += 251) {
		n = utf8_enc(buf, cp);
		assert_int_equal(strbuf_append(&sweep, buf, n), 0);
		if (cp % 3 == 0)
			assert_int_equal(strbuf_puts(&sweep, "/"), 0);
		if (cp % 5 == 0)
			assert_int_equal(strbuf_append(&sweep, "\xc3\xa9", 2), 0);
	}
	roundtrip(sweep.data, sweep.len);
	strbuf_free(&sweep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_bad_utf7),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_roundtrip_all),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
