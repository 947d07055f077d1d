/*
 * Unit tests of imapd's FETCH item parser (imapd/imap_fetch_parse.c):
 * macros, data items, body sections with partials, BINARY, modifiers,
 * and what must be refused (BAD) before any response is sent.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "imap_fetch.h"
#include "imap_parse.h"

/* Parse "t FETCH 1 <rest>" and the items (args[1]) and modifiers (args[2]). */
static int
fetch(struct imap_fetch_req *req, const char *rest)
{
	struct imap_cmd cmd;
	char text[1024], err[256];
	int n, r;

	n = snprintf(text, sizeof(text), "t FETCH 1 %s\r\n", rest);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, text, (size_t)n, err, sizeof(err)) != IMAP_READ_OK) {
		imap_cmd_free(&cmd);
		return -2;
	}
	assert_true(cmd.nargs >= 2);
	r = imap_fetch_parse(req, &cmd.args[1], cmd.nargs > 2 ? &cmd.args[2] : NULL,
	    err, sizeof(err));
	if (r == 0)
		assert_true(req->nsects <= IMAP_FETCH_SECTS_MAX);
	/* the request points into cmd: copy what the tests look at first */
	imap_cmd_free(&cmd);
	return r;
}

static void
test_macros(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "ALL"), 0);
	assert_int_equal(r.atts, IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE | IMAP_FA_SIZE |
	    IMAP_FA_ENVELOPE);
	assert_true(r.needs_content);
	assert_false(r.needs_mime);
	assert_int_equal(fetch(&r, "fast"), 0);
	assert_int_equal(r.atts, IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE | IMAP_FA_SIZE);
	assert_false(r.needs_content);
	assert_int_equal(fetch(&r, "FULL"), 0);
	assert_true(r.atts & IMAP_FA_BODY);
	assert_true(r.needs_mime);
	/* a macro is not a fetch-att: not inside a list */
	assert_int_equal(fetch(&r, "(ALL)"), -1);
	assert_int_equal(fetch(&r, "()"), -1);
}

static void
test_atts(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "(UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ)"), 0);
	assert_int_equal(r.atts, IMAP_FA_UID | IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE |
	    IMAP_FA_SIZE | IMAP_FA_MODSEQ);
	assert_false(r.needs_content);
	assert_int_equal(r.nsects, 0);
	assert_int_equal(fetch(&r, "uid"), 0);
	assert_int_equal(r.atts, IMAP_FA_UID);
	assert_int_equal(fetch(&r, "(ENVELOPE BODYSTRUCTURE)"), 0);
	assert_true(r.needs_mime);
	assert_int_equal(fetch(&r, "(UID NOSUCH)"), -1);
	assert_int_equal(fetch(&r, "RFC822.SIZES"), -1);
}

static void
test_rfc822(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "(RFC822 RFC822.HEADER RFC822.TEXT)"), 0);
	assert_int_equal(r.nsects, 3);
	assert_int_equal(r.sects[0].kind, IMAP_FK_RFC822);
	assert_false(r.sects[0].peek);
	assert_int_equal(r.sects[1].kind, IMAP_FK_RFC822_HEADER);
	assert_true(r.sects[1].peek);
	assert_int_equal(r.sects[2].kind, IMAP_FK_RFC822_TEXT);
	assert_true(r.sets_seen);
	assert_false(r.needs_mime);	/* whole, HEADER, TEXT: no MIME parse */
	assert_int_equal(fetch(&r, "RFC822.HEADER"), 0);
	assert_false(r.sets_seen);
}

static void
test_sections(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "BODY[]"), 0);
	assert_int_equal(r.nsects, 1);
	assert_int_equal(r.sects[0].kind, IMAP_FK_BODY);
	assert_int_equal(r.sects[0].speclen, 0);
	assert_false(r.sects[0].peek);
	assert_true(r.sets_seen);
	assert_false(r.needs_mime);
	assert_int_equal(fetch(&r, "BODY.PEEK[HEADER.FIELDS (FROM To \"Subject\")]<0.100>"), 0);
	assert_true(r.sects[0].peek);
	assert_false(r.sets_seen);
	assert_true(r.needs_mime);
	assert_true(r.sects[0].partial);
	assert_int_equal(r.sects[0].off, 0);
	assert_int_equal(r.sects[0].cnt, 100);
	assert_int_equal(fetch(&r, "(body.peek[1.2.mime] BODY[2.HEADER.FIELDS.NOT (X-A)]"
	    " BODY[text]<10.5> BODY[3.TEXT] BODY[1])"), 0);
	assert_int_equal(r.nsects, 5);
	assert_int_equal(r.sects[2].off, 10);
	assert_int_equal(r.sects[2].cnt, 5);
	assert_int_equal(r.sects[4].speclen, 1);
	/* bad sections */
	assert_int_equal(fetch(&r, "BODY[MIME]"), -1);
	assert_int_equal(fetch(&r, "BODY[0]"), -1);
	assert_int_equal(fetch(&r, "BODY[1.]"), -1);
	assert_int_equal(fetch(&r, "BODY[1..2]"), -1);
	assert_int_equal(fetch(&r, "BODY[HEADER.FIELDS]"), -1);
	assert_int_equal(fetch(&r, "BODY[HEADER.FIELDS ()]"), -1);
	assert_int_equal(fetch(&r, "BODY[HEADERS]"), -1);
	assert_int_equal(fetch(&r, "BODY[]<1>"), -1);
	assert_int_equal(fetch(&r, "BODY[]<1.0>"), -1);
	assert_int_equal(fetch(&r, "BODY[]<a.1>"), -1);
	assert_int_equal(fetch(&r, "BODY[]<1.2>x"), -1);
	assert_int_equal(fetch(&r, "BODY[]<99999999999.1>"), -1);
	assert_int_equal(fetch(&r, "BODY.PEAK[]"), -1);
}

static void
test_binary(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "(BINARY[1] BINARY.PEEK[2.1]<0.10> BINARY.SIZE[1])"), 0);
	assert_int_equal(r.nsects, 3);
	assert_int_equal(r.sects[0].kind, IMAP_FK_BINARY);
	assert_false(r.sects[0].peek);
	assert_true(r.sects[1].peek);
	assert_true(r.sects[1].partial);
	assert_int_equal(r.sects[2].kind, IMAP_FK_BINSIZE);
	assert_true(r.sects[2].peek);
	assert_true(r.needs_mime);
	assert_int_equal(fetch(&r, "BINARY[]"), 0);
	assert_int_equal(fetch(&r, "BINARY[1.HEADER]"), -1);
	assert_int_equal(fetch(&r, "BINARY[TEXT]"), -1);
	assert_int_equal(fetch(&r, "BINARY.SIZE[1]<0.1>"), -1);
}

static void
test_modifiers(void **state)
{
	struct imap_fetch_req r;

	(void)state;
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE 12345)"), 0);
	assert_true(r.changedsince_set);
	assert_int_equal(r.changedsince, 12345);
	assert_true(r.atts & IMAP_FA_MODSEQ);	/* implied, RFC 7162 3.1.4.1 */
	assert_false(r.vanished);
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE 1 VANISHED)"), 0);
	assert_true(r.vanished);
	assert_int_equal(fetch(&r, "(FLAGS) (VANISHED CHANGEDSINCE 1)"), 0);
	assert_int_equal(fetch(&r, "(FLAGS) (VANISHED)"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE)"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE 0)"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE x)"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) ()"), -1);
	assert_int_equal(fetch(&r, "(FLAGS) (FOO 1)"), -1);
}

static void
test_limits(void **state)
{
	struct imap_fetch_req r;
	char items[2048];
	size_t i, o = 0;

	(void)state;
	items[o++] = '(';
	for (i = 0; i < IMAP_FETCH_SECTS_MAX + 1; i++) {
		memcpy(items + o, "BODY[1] ", 8);
		o += 8;
	}
	items[o - 1] = ')';
	items[o] = '\0';
	assert_int_equal(fetch(&r, items), -1);
	items[o - 9] = ')';
	items[o - 8] = '\0';
	assert_int_equal(fetch(&r, items), 0);
	assert_int_equal(r.nsects, IMAP_FETCH_SECTS_MAX);
}

static void
test_section_ok(void **state)
{
	(void)state;
	assert_true(imap_fetch_section_ok("", 0, 0));
	assert_true(imap_fetch_section_ok("", 0, 1));
	assert_true(imap_fetch_section_ok("1.2.3", 5, 1));
	assert_true(imap_fetch_section_ok("4.2.HEADER", 10, 0));
	assert_true(imap_fetch_section_ok("Header.Fields (a b)", 19, 0));
	assert_false(imap_fetch_section_ok("1.2.3.", 6, 0));
	assert_false(imap_fetch_section_ok("01", 2, 0));
	assert_false(imap_fetch_section_ok("1234567890", 10, 0));
	assert_false(imap_fetch_section_ok("HEADER.FIELDS (a b", 18, 0));
	assert_false(imap_fetch_section_ok("HEADER.FIELDS (a  b)", 20, 0));
	assert_false(imap_fetch_section_ok("HEADER.FIELDS (a) ", 18, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_atts),
		cmocka_unit_test(test_rfc822),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_section_ok),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
