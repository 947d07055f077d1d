/*
 * Unit tests of the maildrop file reader (queue/maildrop.c), which pickup
 * runs on files any local user can write: the strict record order, the
 * record and name limits (exactly at the limit and one past), the
 * recipient cap, and hostile input (NUL, CR, a missing final LF, records
 * out of order, duplicates, a forged second envelope in a value). Also
 * the envelope checks postdrop shares (maildrop_addr, maildrop_text_ok).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "maildrop.h"
#include "strbuf.h"
#include "util.h"

#define DOM	"host.example.test"

static struct maildrop_env env;
static const char *why;
static char rest[256];

/* Parse text[0..len) as a maildrop file; what follows "data" goes to rest. */
static int
parse_n(const char *text, size_t len)
{
	FILE *fp = fmemopen((void *)text, len, "r");
	size_t n;
	int r;

	assert_non_null(fp);
	free(env.rcpt);
	memset(&env, 0, sizeof(env));
	why = NULL;
	r = maildrop_read_envelope(fp, DOM, &env, &why);
	n = fread(rest, 1, sizeof(rest) - 1, fp);
	rest[n] = '\0';
	fclose(fp);
	if (r == -1)
		assert_non_null(why);
	return r;
}

static int
parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static int
teardown(void **state)
{
	(void)state;
	free(env.rcpt);
	memset(&env, 0, sizeof(env));
	return 0;
}

static void
test_good(void **state)
{
	(void)state;
	assert_int_equal(parse("postern-maildrop 1\nuid 1000\nsender alice@example.test\n"
	    "fullname Alice Example\nrcpt bob@example.test\nrcpt carol\ndata\n"
	    "Subject: hi\n\nbody\nrcpt evil@x.test\n"), 0);
	assert_int_equal(env.uid, 1000);
	assert_true(env.sender_given);
	assert_string_equal(env.sender, "alice@example.test");
	assert_string_equal(env.fullname, "Alice Example");
	assert_int_equal(env.nrcpt, 2);
	assert_string_equal(env.rcpt[0], "bob@example.test");
	/* a bare local part is qualified with the domain */
	assert_string_equal(env.rcpt[1], "carol@" DOM);
	/* the content is left unread, records in it are content */
	assert_string_equal(rest, "Subject: hi\n\nbody\nrcpt evil@x.test\n");
}

static void
test_optional_records(void **state)
{
	(void)state;
	/* sender and fullname are optional */
	assert_int_equal(parse("postern-maildrop 1\nuid 0\nrcpt a@x.test\ndata\n"), 0);
	assert_false(env.sender_given);
	assert_string_equal(env.sender, "");
	assert_string_equal(env.fullname, "");
	assert_int_equal(env.nrcpt, 1);
	assert_string_equal(rest, "");
	/* the null sender, written both ways */
	assert_int_equal(parse("postern-maildrop 1\nuid 5\nsender \nrcpt a@x.test\ndata\n"), 0);
	assert_true(env.sender_given);
	assert_string_equal(env.sender, "");
	assert_int_equal(parse("postern-maildrop 1\nuid 5\nsender <>\nrcpt a@x.test\ndata\n"), 0);
	assert_string_equal(env.sender, "");
	/* "<a@b>" as some programs write it */
	assert_int_equal(parse("postern-maildrop 1\nuid 5\nsender <a@x.test>\n"
	    "rcpt <b@x.test>\ndata\n"), 0);
	assert_string_equal(env.sender, "a@x.test");
	assert_string_equal(env.rcpt[0], "b@x.test");
	/* an empty full name is allowed */
	assert_int_equal(parse("postern-maildrop 1\nuid 5\nfullname \nrcpt a@x.test\ndata\n"), 0);
	assert_string_equal(env.fullname, "");
}

static void
test_bad_structure(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"postern-maildrop 2\nuid 1\nrcpt a@x.test\ndata\n",	/* version */
		"postern-maildrop 1 \nuid 1\nrcpt a@x.test\ndata\n",
		"Postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nrcpt a@x.test\ndata\n",		/* no uid */
		"postern-maildrop 1\nuid\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid \nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid  1\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid -1\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid +1\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1x\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1 \nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 4294967295\nrcpt a@x.test\ndata\n",	/* (uid_t)-1 */
		"postern-maildrop 1\nuid 99999999999999999999999\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nuid 1\nrcpt a@x.test\ndata\n",	/* duplicate */
		"postern-maildrop 1\nuid 1\nsender a@x.test\nsender b@x.test\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nfullname A\nfullname B\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nfullname A\nsender a@x.test\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\nsender a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\nfullname A\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata",	/* no final LF */
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\n",		/* no data */
		"postern-maildrop 1\nuid 1\nrcpt a@x.test",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata \n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\nDATA\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\nunknown x\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt\ndata\n",		/* record without a value */
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\n\ndata\n",
		"postern-maildrop 1\nuid 1\nsender\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\n rcpt a@x.test\ndata\n",
		"postern-maildrop 1\r\nuid 1\nrcpt a@x.test\ndata\n",	/* CR */
		"postern-maildrop 1\nuid 1\r\nrcpt a@x.test\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\r\ndata\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata\r\n",
		"postern-maildrop 1\nuid 1\nrcpt a@x.test\rrcpt b@x.test\ndata\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (parse(bad[i]) != -1)
			fail_msg("accepted bad maildrop file #%zu: '%s'", i, bad[i]);
}

static void
test_no_recipients(void **state)
{
	(void)state;
	assert_int_equal(parse("postern-maildrop 1\nuid 1\ndata\n"), -1);
	assert_string_equal(why, "no recipients");
	assert_int_equal(parse("postern-maildrop 1\nuid 1\nsender a@x.test\ndata\n"), -1);
	assert_string_equal(why, "no recipients");
	assert_int_equal(parse("postern-maildrop 1\nuid 1\nfoo\n"), -1);
	assert_string_equal(why, "no recipients");
	assert_int_equal(parse("postern-maildrop 1\nuid 1\nrcpt a@x.test\nfoo\n"), -1);
	assert_string_equal(why, "malformed envelope");
}

static void
test_nul_injection(void **state)
{
	static const char f1[] = "postern-maildrop 1\nuid 1\nrcpt a@x.test\0b@y.test\ndata\n";
	static const char f2[] = "postern-maildrop 1\0\nuid 1\nrcpt a@x.test\ndata\n";
	static const char f3[] = "postern-maildrop 1\nuid 1\0002\nrcpt a@x.test\ndata\n";
	static const char f4[] = "postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata\0\n";
	static const char f5[] = "postern-maildrop 1\nuid 1\nsender a@x.test\0\nrcpt a@x.test\ndata\n";
	static const char ok[] = "postern-maildrop 1\nuid 1\nrcpt a@x.test\ndata\nbody\0bytes\n";

	(void)state;
	assert_int_equal(parse_n(f1, sizeof(f1) - 1), -1);
	assert_int_equal(parse_n(f2, sizeof(f2) - 1), -1);
	assert_int_equal(parse_n(f3, sizeof(f3) - 1), -1);
	assert_int_equal(parse_n(f4, sizeof(f4) - 1), -1);
	assert_int_equal(parse_n(f5, sizeof(f5) - 1), -1);
	/* a NUL in the content is the content's business */
	assert_int_equal(parse_n(ok, sizeof(ok) - 1), 0);
}

static void
test_bad_values(void **state)
{
	static const char *const bad[] = {
		"rcpt a b@x.test",		/* not an address */
		"rcpt @x.test",
		"rcpt a@",
		"rcpt <>",			/* the null path is no recipient */
		"rcpt <",
		"rcpt a@x.test\tb@y.test",	/* control characters */
		"rcpt a@x.test\x7f",
		"rcpt a@x.test\x1b[0m",
		"rcpt a@-x.test",
		"rcpt a@x.test, b@y.test",
		"rcpt <a@x.test> <b@y.test>",	/* only a was once kept */
		"rcpt <a@x.test>b@y.test",
		"sender a b@x.test\nrcpt a@x.test",
		"sender a@x.test\x01\nrcpt a@x.test",
		"fullname A\tB\nrcpt a@x.test",
		"fullname A\x7f\nrcpt a@x.test",
	};
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		assert_int_not_equal(str_fmt(buf, sizeof(buf), "postern-maildrop 1\nuid 1\n%s\n"
		    "data\n", bad[i]), -1);
		if (parse(buf) != -1)
			fail_msg("accepted bad value '%s' (%s)", bad[i], env.nrcpt ?
			    env.rcpt[0] : env.sender);
	}
}

/* "postern-maildrop 1\nuid 1\n" + NAME + " " + n x 'a' + ... */
static int
parse_long(const char *name, size_t n, const char *suffix, const char *after)
{
	struct strbuf b;
	int r;

	strbuf_init(&b, 8192);
	assert_int_equal(strbuf_printf(&b, "postern-maildrop 1\nuid 1\n%s ", name), 0);
	while (n-- > 0)
		assert_int_equal(strbuf_putc(&b, 'a'), 0);
	assert_int_equal(strbuf_printf(&b, "%s\n%sdata\n", suffix, after), 0);
	r = parse_n(b.data, b.len);
	strbuf_free(&b);
	return r;
}

static void
test_line_limit(void **state)
{
	(void)state;
	/*
	 * A record is at most MAILDROP_LINE_MAX - 1 bytes before its LF.
	 * "fullname " is 9 bytes; the name has its own, lower limit, so the
	 * line limit is probed with a record nobody parses further.
	 */
	assert_int_equal(parse_long("x", MAILDROP_LINE_MAX - 1 - 2, "", "rcpt a@x.test\n"), -1);
	assert_string_equal(why, "no recipients");	/* read whole, then refused */
	assert_int_equal(parse_long("x", MAILDROP_LINE_MAX - 2, "", "rcpt a@x.test\n"), -1);
	assert_string_equal(why, "malformed envelope");	/* too long */
	/* a huge line is refused without reading it all */
	assert_int_equal(parse_long("rcpt", 6000, "@x.test", ""), -1);
	assert_string_equal(why, "malformed envelope");
}

static void
test_name_limit(void **state)
{
	(void)state;
	assert_int_equal(parse_long("fullname", MAILDROP_NAME_MAX, "", "rcpt a@x.test\n"), 0);
	assert_int_equal(strlen(env.fullname), MAILDROP_NAME_MAX);
	assert_int_equal(parse_long("fullname", MAILDROP_NAME_MAX + 1, "", "rcpt a@x.test\n"), -1);
}

static void
test_address_limit(void **state)
{
	(void)state;
	/* local part: 64 fine, 65 not (RFC 5321 4.5.3.1.1) */
	assert_int_equal(parse_long("rcpt", 64, "@x.test", ""), 0);
	assert_int_equal(strlen(env.rcpt[0]), 64 + 7);
	assert_int_equal(parse_long("rcpt", 65, "@x.test", ""), -1);
	/* a bare local part that is fine alone but too long with the domain */
	assert_int_equal(parse_long("rcpt", 64, "", ""), 0);
	assert_string_equal(env.rcpt[0] + 64, "@" DOM);
	assert_int_equal(parse_long("sender", 65, "@x.test", "rcpt a@x.test\n"), -1);
}

static void
test_rcpt_limit(void **state)
{
	struct strbuf b;
	size_t i;

	(void)state;
	strbuf_init(&b, 1024 * 1024);
	assert_int_equal(strbuf_puts(&b, "postern-maildrop 1\nuid 7\n"), 0);
	for (i = 0; i < MAILDROP_RCPT_MAX; i++)
		assert_int_equal(strbuf_printf(&b, "rcpt u%zu@x.test\n", i), 0);
	assert_int_equal(strbuf_puts(&b, "data\n"), 0);
	assert_int_equal(parse_n(b.data, b.len), 0);
	assert_int_equal(env.nrcpt, MAILDROP_RCPT_MAX);
	assert_string_equal(env.rcpt[MAILDROP_RCPT_MAX - 1], "u999@x.test");
	/* one more */
	b.len -= 5;
	assert_int_equal(strbuf_puts(&b, "rcpt one@more.test\ndata\n"), 0);
	assert_int_equal(parse_n(b.data, b.len), -1);
	assert_string_equal(why, "too many recipients");
	assert_int_equal(env.nrcpt, MAILDROP_RCPT_MAX);
	strbuf_free(&b);
}

static void
test_uid_range(void **state)
{
	(void)state;
	assert_int_equal(parse("postern-maildrop 1\nuid 4294967294\nrcpt a@x.test\ndata\n"), 0);
	assert_int_equal(env.uid, 4294967294UL);
	assert_int_equal(parse("postern-maildrop 1\nuid 0\nrcpt a@x.test\ndata\n"), 0);
	assert_int_equal(env.uid, 0);
}

static void
test_addr_helper(void **state)
{
	char out[ADDR_BUF], small[8];
	const char *w;

	(void)state;
	assert_int_equal(maildrop_addr("alice", 0, DOM, out, sizeof(out), &w), 0);
	assert_string_equal(out, "alice@" DOM);
	assert_int_equal(maildrop_addr("Alice@Example.TEST", 0, DOM, out, sizeof(out), &w), 0);
	assert_string_equal(out, "Alice@Example.TEST");
	assert_int_equal(maildrop_addr("", 0, DOM, out, sizeof(out), &w), -1);
	assert_string_equal(w, "empty address");
	assert_int_equal(maildrop_addr("<>", 1, DOM, out, sizeof(out), &w), 0);
	assert_string_equal(out, "");
	assert_int_equal(maildrop_addr("a\nrcpt b", 0, DOM, out, sizeof(out), &w), -1);
	assert_int_equal(maildrop_addr("a@x.test", 0, DOM, small, sizeof(small), &w), -1);
	assert_int_equal(maildrop_addr("jörg@bücher.test", 0, DOM, out, sizeof(out), &w), 0);
	/* nothing after the closing bracket is dropped silently */
	assert_int_equal(maildrop_addr("<a@x.test>", 0, DOM, out, sizeof(out), &w), 0);
	assert_string_equal(out, "a@x.test");
	assert_int_equal(maildrop_addr("<a@x.test>junk", 0, DOM, out, sizeof(out), &w), -1);
	assert_string_equal(w, "junk after the address");
	assert_int_equal(maildrop_addr("a@x.test> b@y.test", 0, DOM, out, sizeof(out), &w), -1);
	assert_int_equal(maildrop_addr("<a@x.test>>", 0, DOM, out, sizeof(out), &w), -1);
	assert_true(maildrop_text_ok("", 0));
	assert_true(maildrop_text_ok("abc", 3));
	assert_false(maildrop_text_ok("abcd", 3));
	assert_false(maildrop_text_ok("a\rb", 10));
	assert_false(maildrop_text_ok("\x7f", 10));
	assert_true(maildrop_text_ok("\xc3\xa9", 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_good, teardown),
		cmocka_unit_test_teardown(test_optional_records, teardown),
		cmocka_unit_test_teardown(test_bad_structure, teardown),
		cmocka_unit_test_teardown(test_no_recipients, teardown),
		cmocka_unit_test_teardown(test_nul_injection, teardown),
		cmocka_unit_test_teardown(test_bad_values, teardown),
		cmocka_unit_test_teardown(test_line_limit, teardown),
		cmocka_unit_test_teardown(test_name_limit, teardown),
		cmocka_unit_test_teardown(test_address_limit, teardown),
		cmocka_unit_test_teardown(test_rcpt_limit, teardown),
		cmocka_unit_test_teardown(test_uid_range, teardown),
		cmocka_unit_test(test_addr_helper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
