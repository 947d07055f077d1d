/*
 * Unit tests of RFC 5321 path parsing and the ESMTP parameters of MAIL
 * and RCPT (common/address.c): good and bad paths, the length limits of
 * RFC 5321 4.5.3.1, quoted local parts, address literals, UTF-8 with and
 * without SMTPUTF8, SIZE/BODY/DSN parameters and xtext.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "address.h"

static char out[ADDR_BUF];
static const char *rest, *why;

static int
parse(const char *s, int flags)
{
	memset(out, 'Z', sizeof(out));
	rest = NULL;
	return address_parse_path(s, flags, out, sizeof(out), &rest, &why);
}

static void
test_simple(void **state)
{
	assert_int_equal(parse("<alice@example.test>", 0), 0);
	assert_string_equal(out, "alice@example.test");
	assert_string_equal(rest, "");
	/* a space after the colon is tolerated; parameters are returned */
	assert_int_equal(parse(" <a.b-c+d@sub.example.test>  SIZE=10 BODY=8BITMIME", 0), 0);
	assert_string_equal(out, "a.b-c+d@sub.example.test");
	assert_string_equal(rest, "SIZE=10 BODY=8BITMIME");
	assert_int_equal(parse("<!#$%&'*+-/=?^_`{|}~@x.test>", 0), 0);
}

static void
test_null_and_postmaster(void **state)
{
	assert_int_equal(parse("<>", ADDR_NULL_OK), 0);
	assert_string_equal(out, "");
	assert_int_equal(parse("<>", 0), -1);
	assert_int_equal(parse("<Postmaster>", ADDR_POSTMASTER), 0);
	assert_string_equal(out, "Postmaster");
	assert_int_equal(parse("<postmaster>", 0), -1);
	assert_int_equal(parse("<alice>", ADDR_POSTMASTER), -1);
}

static void
test_bad_syntax(void **state)
{
	static const char *const bad[] = {
		"alice@example.test", "<alice@example.test", "alice@example.test>",
		"<@example.test>", "<alice@>", "<alice>", "<.alice@x.test>",
		"<alice.@x.test>", "<a..b@x.test>", "<a b@x.test>", "<a@-x.test>",
		"<a@x-.test>", "<a@x..test>", "<a@x.test.>", "<a@x_y.test>",
		"<a@x.test>junk", "<a@x.test>>", "<a@@x.test>", "<\"unterminated@x.test>",
		"<a@[1.2.3]>", "<a@[1.2.3.256]>", "<a@[IPv6:::g]>", "<a@[tag:foo]>",
		"<a@[]>", "<a\x01@x.test>", "<@a.test:>", "<@a.test,b.test:x@y.test>",
		"", "<", "<<a@x.test>>",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], ADDR_NULL_OK) != -1)
			fail_msg("accepted bad path '%s'", bad[i]);
	}
}

static void
test_quoted(void **state)
{
	assert_int_equal(parse("<\"john doe\"@x.test>", 0), 0);
	assert_string_equal(out, "\"john doe\"@x.test");
	assert_int_equal(parse("<\"a\\\"b@c\"@x.test>", 0), 0);
	assert_string_equal(out, "\"a\\\"b@c\"@x.test");
	/* needless quotes go */
	assert_int_equal(parse("<\"alice\"@x.test>", 0), 0);
	assert_string_equal(out, "alice@x.test");
	assert_int_equal(parse("<\"\"@x.test>", 0), 0);
	/* a '>' inside quotes does not end the path */
	assert_int_equal(parse("<\"a>b\"@x.test> SIZE=1", 0), 0);
	assert_string_equal(out, "\"a>b\"@x.test");
	assert_string_equal(rest, "SIZE=1");
	/* quoted-pairSMTP is %d92 %d32-126 */
	assert_int_equal(parse("<\"a\\\x01\"@x.test>", 0), -1);
}

static void
test_literals_and_route(void **state)
{
	assert_int_equal(parse("<a@[192.0.2.1]>", 0), 0);
	assert_string_equal(out, "a@[192.0.2.1]");
	assert_int_equal(parse("<a@[IPv6:2001:db8::1]>", 0), 0);
	assert_string_equal(out, "a@[IPv6:2001:db8::1]");
	assert_int_equal(parse("<a@[ipv6:::1]>", 0), 0);
	/* the source route is dropped (RFC 5321 4.1.1.3) */
	assert_int_equal(parse("<@relay.test,@[192.0.2.2]:bob@x.test>", 0), 0);
	assert_string_equal(out, "bob@x.test");
	assert_true(address_valid_domain("example.test", 0));
	assert_true(address_valid_domain("[192.0.2.1]", 0));
	assert_false(address_valid_domain("exa mple", 0));
	assert_false(address_valid_domain("", 0));
}

static void
test_limits(void **state)
{
	char buf[600];

	/* local part: 64 octets fine, 65 not (RFC 5321 4.5.3.1.1) */
	snprintf(buf, sizeof(buf), "<%.*s@x.test>", 64,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(parse(buf, 0), 0);
	snprintf(buf, sizeof(buf), "<%.*s@x.test>", 65,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(parse(buf, 0), -1);
	assert_non_null(strstr(why, "too long"));
	/* label of 64 octets */
	snprintf(buf, sizeof(buf), "<a@%s.test>",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_int_equal(parse(buf, 0), -1);
	/* path: 256 octets with the brackets fine, 257 not (4.5.3.1.3) */
	{
		char p[300];
		size_t i, n;

		for (n = 256; n <= 257; n++) {
			/* "<a@" + labels + ">" */
			memset(p, 0, sizeof(p));
			memcpy(p, "<a@", 3);
			for (i = 3; i < n - 1; i++)
				p[i] = ((i - 3) % 50 == 49) ? '.' : 'c';
			if (p[n - 2] == '.')
				p[n - 2] = 'c';
			p[n - 1] = '>';
			assert_int_equal(parse(p, 0), n == 256 ? 0 : -1);
		}
	}
}

static void
test_utf8(void **state)
{
	assert_int_equal(parse("<jörg@bücher.test>", 0), -1);
	assert_non_null(strstr(why, "SMTPUTF8"));
	assert_int_equal(parse("<jörg@bücher.test>", ADDR_UTF8), 0);
	assert_string_equal(out, "jörg@bücher.test");
	assert_int_equal(parse("<\"j ö\"@x.test>", ADDR_UTF8), 0);
	/* invalid UTF-8: a lone continuation byte, an overlong "/" */
	assert_int_equal(parse("<j\x80rg@x.test>", ADDR_UTF8), -1);
	assert_int_equal(parse("<j\xc0\xafrg@x.test>", ADDR_UTF8), -1);
	assert_int_equal(parse("<a@x\xed\xa0\x80.test>", ADDR_UTF8), -1);	/* surrogate */
	assert_true(address_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(address_utf8_valid("\xf4\x90\x80\x80", 4));
}

static void
test_split(void **state)
{
	char l[ADDR_BUF], d[ADDR_BUF];

	assert_int_equal(address_split("Alice@Example.TEST", l, sizeof(l), d, sizeof(d)), 0);
	assert_string_equal(l, "Alice");
	assert_string_equal(d, "example.test");
	assert_int_equal(address_split("\"a@b\"@x.test", l, sizeof(l), d, sizeof(d)), 0);
	assert_string_equal(l, "\"a@b\"");
	assert_string_equal(d, "x.test");
	assert_int_equal(address_split("postmaster", l, sizeof(l), d, sizeof(d)), -1);
	assert_int_equal(address_split("a@", l, sizeof(l), d, sizeof(d)), -1);
	assert_int_equal(address_split("a@x.test", l, 1, d, sizeof(d)), -1);
}

static void
test_xtext(void **state)
{
	char b[64];

	assert_int_equal(address_xtext_decode("a+2Bb+3Dc", b, sizeof(b)), 0);
	assert_string_equal(b, "a+b=c");
	assert_int_equal(address_xtext_decode("a+2b", b, sizeof(b)), -1);	/* lower-case hex */
	assert_int_equal(address_xtext_decode("a+2", b, sizeof(b)), -1);
	assert_int_equal(address_xtext_decode("a=b", b, sizeof(b)), -1);
	assert_int_equal(address_xtext_decode("a+0Ab", b, sizeof(b)), -1);	/* LF */
	assert_int_equal(address_xtext_decode("abcdef", b, 4), -1);
}

static void
test_mail_params(void **state)
{
	struct address_mail_params p;
	struct address_perr e;

	assert_int_equal(address_parse_mail_params("size=100 BODY=8bitmime SMTPUTF8",
	    0, 1000, &p, &e), 0);
	assert_true(p.has_size);
	assert_int_equal(p.size, 100);
	assert_int_equal(p.body, ADDR_BODY_8BITMIME);
	assert_true(p.smtputf8);
	assert_int_equal(address_parse_mail_params("", 0, 0, &p, &e), 0);
	assert_int_equal(address_parse_mail_params("SIZE=1001", 0, 1000, &p, &e), -1);
	assert_int_equal(e.code, 552);
	assert_string_equal(e.ecode, "5.3.4");
	assert_int_equal(address_parse_mail_params("SIZE=99999999999999999999", 0, 1000,
	    &p, &e), -1);
	assert_int_equal(e.code, 552);
	assert_int_equal(address_parse_mail_params("SIZE=1x", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(address_parse_mail_params("BODY=BINARYMIME", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(address_parse_mail_params("BODY=9BIT", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(address_parse_mail_params("FOO=bar", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(address_parse_mail_params("SIZE=1 SIZE=2", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 501);
	assert_int_equal(address_parse_mail_params("SMTPUTF8=yes", 0, 0, &p, &e), -1);
	assert_int_equal(address_parse_mail_params("SIZE=", 0, 0, &p, &e), -1);
	assert_int_equal(address_parse_mail_params("=1", 0, 0, &p, &e), -1);
	/* DSN only when offered */
	assert_int_equal(address_parse_mail_params("RET=HDRS ENVID=QQ+2B1", 0, 0, &p, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(address_parse_mail_params("RET=HDRS ENVID=QQ+2B1", ADDR_P_DSN, 0,
	    &p, &e), 0);
	assert_int_equal(p.ret, ADDR_RET_HDRS);
	assert_string_equal(p.envid, "QQ+2B1");
	assert_int_equal(address_parse_mail_params("ENVID=a+zz", ADDR_P_DSN, 0, &p, &e), -1);
	assert_int_equal(address_parse_mail_params("RET=ALL", ADDR_P_DSN, 0, &p, &e), -1);
	assert_int_equal(address_parse_mail_params("AUTH=<>", 0, 0, &p, &e), -1);
	assert_int_equal(address_parse_mail_params("AUTH=<>", ADDR_P_AUTH, 0, &p, &e), 0);
	assert_string_equal(p.auth, "<>");
}

static void
test_rcpt_params(void **state)
{
	struct address_rcpt_params p;
	struct address_perr e;
	char b[64];

	assert_int_equal(address_parse_rcpt_params("NOTIFY=success,Delay ORCPT=rfc822;a+40b.test",
	    ADDR_P_DSN, &p, &e), 0);
	assert_int_equal(p.notify, ADDR_NOTIFY_SUCCESS | ADDR_NOTIFY_DELAY);
	assert_string_equal(p.orcpt, "rfc822;a+40b.test");
	assert_string_equal(address_notify_str(p.notify, b, sizeof(b)), "SUCCESS,DELAY");
	assert_int_equal(address_parse_rcpt_params("NOTIFY=NEVER", ADDR_P_DSN, &p, &e), 0);
	assert_int_equal(address_parse_rcpt_params("NOTIFY=NEVER,SUCCESS", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(address_parse_rcpt_params("NOTIFY=SUCCESS,", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(address_parse_rcpt_params("NOTIFY=FAILURE,FAILURE", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(address_parse_rcpt_params("ORCPT=a@b", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(address_parse_rcpt_params("ORCPT=rfc822;", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(address_parse_rcpt_params("NOTIFY=NEVER", 0, &p, &e), -1);
	assert_int_equal(e.code, 555);
	assert_int_equal(address_parse_rcpt_params("XFOO", ADDR_P_DSN, &p, &e), -1);
	assert_int_equal(e.code, 555);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_null_and_postmaster),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_literals_and_route),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
