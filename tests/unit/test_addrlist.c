/*
 * Unit tests of the recipient extraction of `postern-sendmail -t`
 * (queue/addrlist.c): RFC 5322 3.4 address lists with display names,
 * angle addresses, comments, quoted strings and groups; To/Cc/Bcc only,
 * folded fields, the recipient cap, and hostile input (unterminated
 * quotes, comments and brackets, NUL and CR, overlong elements).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addrlist.h"
#include "maildrop.h"
#include "strbuf.h"
#include "util.h"

static char **list;
static size_t nlist;

static void
reset(void)
{
	while (nlist > 0)
		free(list[--nlist]);
	free(list);
	list = NULL;
}

static int
teardown(void **state)
{
	(void)state;
	reset();
	return 0;
}

/* Parse one field body; the result joined with '|'. */
static const char *
al(const char *v)
{
	static char out[4096];
	size_t i, o = 0;

	reset();
	assert_int_equal(addrlist_parse(&list, &nlist, v, strlen(v)), 0);
	out[0] = '\0';
	for (i = 0; i < nlist; i++) {
		assert_int_not_equal(str_fmt(out + o, sizeof(out) - o, "%s%s",
		    i ? "|" : "", list[i]), -1);
		o += strlen(out + o);
	}
	return out;
}

static const char *
hdr(const char *h)
{
	static char out[4096];
	size_t i, o = 0;

	reset();
	assert_int_equal(addrlist_extract(&list, &nlist, h, strlen(h)), 0);
	out[0] = '\0';
	for (i = 0; i < nlist; i++) {
		assert_int_not_equal(str_fmt(out + o, sizeof(out) - o, "%s%s",
		    i ? "|" : "", list[i]), -1);
		o += strlen(out + o);
	}
	return out;
}

static void
test_simple(void **state)
{
	(void)state;
	assert_string_equal(al(" a@x.test"), "a@x.test");
	assert_string_equal(al("a@x.test,b@y.test"), "a@x.test|b@y.test");
	assert_string_equal(al(" a@x.test ,\t b@y.test\t"), "a@x.test|b@y.test");
	assert_string_equal(al("Alice <a@x.test>, Bob Smith <b@y.test>"), "a@x.test|b@y.test");
	assert_string_equal(al("<a@x.test>"), "a@x.test");
	assert_string_equal(al("bob"), "bob");	/* postdrop qualifies it */
	assert_string_equal(al(""), "");
	assert_string_equal(al(" , ,, "), "");
}

static void
test_quotes_comments(void **state)
{
	(void)state;
	/* commas in a display name or a comment do not split */
	assert_string_equal(al("\"Doe, John\" <j@x.test>, k@x.test"), "j@x.test|k@x.test");
	assert_string_equal(al("j@x.test (Doe, John), k@x.test"), "j@x.test|k@x.test");
	assert_string_equal(al("(c1) j@x.test (c2 (nested, c3) c4)"), "j@x.test");
	/* a "<" in quotes or a comment is no angle address */
	assert_string_equal(al("\"a <evil@x.test>\" <good@x.test>"), "good@x.test");
	assert_string_equal(al("good@x.test (<evil@x.test>)"), "good@x.test");
	/* quoted-pair in quotes and in comments (RFC 5322 3.2.1) */
	assert_string_equal(al("\"a\\\"b, c\" <q@x.test>"), "q@x.test");
	assert_string_equal(al("q@x.test (a \\( b)"), "q@x.test");
	assert_string_equal(al("q@x.test (a \\) b), r@x.test"), "q@x.test|r@x.test");
	/* a bare quoted local part cannot be passed on: dropped */
	assert_string_equal(al("\"john doe\"@x.test, k@x.test"), "k@x.test");
	/* the angle address wins over the bare text */
	assert_string_equal(al("a@evil.test <a@good.test>"), "a@good.test");
}

static void
test_groups(void **state)
{
	(void)state;
	assert_string_equal(al("undisclosed-recipients:;"), "");
	assert_string_equal(al("friends: a@x.test, B <b@x.test>;, c@x.test"),
	    "a@x.test|b@x.test|c@x.test");
	assert_string_equal(al("team: ;"), "");
	/* a ':' in an angle address is no group */
	assert_string_equal(al("<@relay.test:a@x.test>"), "@relay.test:a@x.test");
}

static void
test_hostile(void **state)
{
	static const char nul[] = "a@x.test\0b@y.test, c@x.test";
	char big[3000];

	(void)state;
	/* unterminated constructs swallow the rest, never more */
	assert_string_equal(al("a@x.test, \"unterminated, b@x.test"), "a@x.test");
	assert_string_equal(al("a@x.test, (unterminated, b@x.test"), "a@x.test");
	assert_string_equal(al("a@x.test, <b@x.test, c@x.test"), "a@x.test");
	assert_string_equal(al("a@x.test, \\"), "a@x.test|\\");
	assert_string_equal(al("\"\\"), "");
	assert_string_equal(al(">a@x.test"), ">a@x.test");
	/* a NUL ends the element it is in (xstrndup), nothing more */
	reset();
	assert_int_equal(addrlist_parse(&list, &nlist, nul, sizeof(nul) - 1), 0);
	assert_int_equal(nlist, 2);
	assert_string_equal(list[0], "a@x.test");
	assert_string_equal(list[1], "c@x.test");
	/* overlong elements are cut at 1023 bytes (postdrop refuses them) */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strlen(al(big)), 1023);
	big[0] = '<';
	big[sizeof(big) - 2] = '>';
	assert_int_equal(strlen(al(big)), 1023);
	/* and an unterminated angle address is no address at all */
	big[sizeof(big) - 2] = 'a';
	assert_int_equal(strlen(al(big)), 0);
}

static void
test_header(void **state)
{
	(void)state;
	assert_string_equal(hdr("From: me@x.test\nTo: a@x.test\nCc: b@x.test\n"
	    "Bcc: c@x.test\nSubject: d@x.test\nReply-To: e@x.test\n\n"),
	    "a@x.test|b@x.test|c@x.test");
	/* case, white space before the colon (obs), folding */
	assert_string_equal(hdr("tO : a@x.test,\n b@x.test,\n\tC <c@x.test>\ncc:d@x.test"),
	    "a@x.test|b@x.test|c@x.test|d@x.test");
	/* names that only start like To, Cc, Bcc */
	assert_string_equal(hdr("Tox: a@x.test\nCcc: b@x.test\nResent-To: c@x.test\n"
	    "X-To: d@x.test\n"), "");
	/* a continuation of another field is not a To field */
	assert_string_equal(hdr("Subject: hi\n To: a@x.test\n"), "");
	/* no colon, empty fields */
	assert_string_equal(hdr("To\nTo:\nCc: \n"), "");
	assert_string_equal(hdr(""), "");
	/* CR is content: the element carries it, postdrop refuses it */
	assert_string_equal(hdr("To: a@x.test\r\n"), "a@x.test\r");
	/* duplicates are kept (postdrop and qmgr see them) */
	assert_string_equal(hdr("To: a@x.test\nCc: a@x.test\n"), "a@x.test|a@x.test");
}

static void
test_limit(void **state)
{
	struct strbuf b;
	size_t i;

	(void)state;
	reset();
	for (i = 0; i < MAILDROP_RCPT_MAX; i++)
		assert_int_equal(addrlist_add(&list, &nlist, "a@x.test", 8), 0);
	assert_int_equal(addrlist_add(&list, &nlist, "b@x.test", 8), -1);
	/* blanks alone add nothing, even when full */
	assert_int_equal(addrlist_add(&list, &nlist, " \t ", 3), 0);
	assert_int_equal(nlist, MAILDROP_RCPT_MAX);

	/* through a header: exactly the limit, then one more */
	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(strbuf_puts(&b, "To: x0@x.test"), 0);
	for (i = 1; i < MAILDROP_RCPT_MAX; i++)
		assert_int_equal(strbuf_printf(&b, ",\n x%zu@x.test", i), 0);
	assert_int_equal(strbuf_puts(&b, "\n"), 0);
	reset();
	assert_int_equal(addrlist_extract(&list, &nlist, b.data, b.len), 0);
	assert_int_equal(nlist, MAILDROP_RCPT_MAX);
	assert_int_equal(strbuf_puts(&b, "Cc: one@more.test\n"), 0);
	reset();
	assert_int_equal(addrlist_extract(&list, &nlist, b.data, b.len), -1);
	assert_int_equal(nlist, MAILDROP_RCPT_MAX);
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_simple, teardown),
		cmocka_unit_test_teardown(test_quotes_comments, teardown),
		cmocka_unit_test_teardown(test_groups, teardown),
		cmocka_unit_test_teardown(test_hostile, teardown),
		cmocka_unit_test_teardown(test_header, teardown),
		cmocka_unit_test_teardown(test_limit, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
