/*
 * Unit tests of imapd/imap_parse.c and imap_parse_read.c: the command
 * grammar (tags, names, atoms with [...], quoted strings, literals of
 * every kind, NIL, nested lists, limits), the examples of RFC 3501, the
 * argument and output helpers. Reading commands off a socket is tested
 * in test_imap_parse_read.c.
 */
#include "config.h"

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
#include "util.h"

static char err[256];

/* Parse a NUL-terminated text; the result code. */
static int
parse(struct imap_cmd *cmd, const char *text)
{
	err[0] = '\0';
	return imap_cmd_parse(cmd, text, strlen(text), err, sizeof(err));
}

static void
expect_bad(const char *text)
{
	struct imap_cmd cmd;

	imap_cmd_init(&cmd);
	if (parse(&cmd, text) != IMAP_READ_BAD)
		fail_msg("accepted: %s", text);
	assert_true(err[0] != '\0');
	assert_int_equal(cmd.nargs, 0);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_EOL);
	imap_cmd_free(&cmd);
}

static void
expect_ok(struct imap_cmd *cmd, const char *text)
{
	if (parse(cmd, text) != IMAP_READ_OK)
		fail_msg("refused (%s): %s", err, text);
}

static void
assert_arg(const struct imap_arg *a, enum imap_arg_type type, const char *str)
{
	assert_int_equal(a->type, type);
	assert_int_equal(a->len, strlen(str));
	assert_memory_equal(a->str, str, a->len);
	assert_int_equal(a->str[a->len], '\0');
}

/* RFC 3501 8: the sample connection's commands */
static void
test_rfc3501_sample(void **state)
{
	struct imap_cmd cmd;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "a001 login mrc secret\r\n");
	assert_string_equal(cmd.tag, "a001");
	assert_string_equal(cmd.name, "LOGIN");
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "mrc");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "secret");
	assert_int_equal(cmd.args[2].type, IMAP_ARG_EOL);

	expect_ok(&cmd, "a002 select inbox\r\n");
	assert_string_equal(cmd.name, "SELECT");
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "inbox");

	expect_ok(&cmd, "a003 fetch 12 full\r\n");
	assert_string_equal(cmd.name, "FETCH");
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "12");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "full");

	expect_ok(&cmd, "a004 fetch 12 body[header]\r\n");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "body[header]");

	expect_ok(&cmd, "a005 store 12 +flags \\deleted\r\n");
	assert_string_equal(cmd.name, "STORE");
	assert_int_equal(cmd.nargs, 3);
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "+flags");
	assert_arg(&cmd.args[2], IMAP_ARG_ATOM, "\\deleted");

	expect_ok(&cmd, "a006 logout\r\n");
	assert_string_equal(cmd.tag, "a006");
	assert_string_equal(cmd.name, "LOGOUT");
	assert_int_equal(cmd.nargs, 0);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_EOL);
	imap_cmd_free(&cmd);
}

/* More examples from RFC 3501 6 */
static void
test_rfc3501_examples(void **state)
{
	struct imap_cmd cmd;
	const struct imap_arg *l;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "2:4");
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	l = cmd.args[1].list;
	assert_int_equal(cmd.args[1].n, 2);
	assert_arg(&l[0], IMAP_ARG_ATOM, "FLAGS");
	assert_arg(&l[1], IMAP_ARG_ATOM, "BODY[HEADER.FIELDS (DATE FROM)]");
	assert_int_equal(l[2].type, IMAP_ARG_EOL);

	expect_ok(&cmd, "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
	assert_int_equal(cmd.nargs, 6);
	assert_arg(&cmd.args[5], IMAP_ARG_QUOTED, "Smith");

	expect_ok(&cmd, "A999 UID FETCH 4827313:4828442 FLAGS\r\n");
	assert_string_equal(cmd.name, "UID");
	assert_int_equal(cmd.nargs, 3);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "FETCH");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "4827313:4828442");

	expect_ok(&cmd, "A101 LIST \"\" \"\"\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "");
	assert_arg(&cmd.args[1], IMAP_ARG_QUOTED, "");
	expect_ok(&cmd, "A682 LIST \"\" *\r\n");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "*");
	expect_ok(&cmd, "A202 LIST ~/Mail/ %\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "~/Mail/");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "%");
	expect_ok(&cmd, "A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n");
	assert_int_equal(cmd.args[1].n, 2);
	expect_ok(&cmd, "A003 APPEND saved-messages (\\Seen) {5}\r\nhello\r\n");
	assert_int_equal(cmd.nargs, 3);
	assert_arg(&cmd.args[1].list[0], IMAP_ARG_ATOM, "\\Seen");
	assert_arg(&cmd.args[2], IMAP_ARG_LITERAL, "hello");
	assert_int_equal(cmd.args[2].literal8, 0);
	expect_ok(&cmd, "a STORE 2:4 +FLAGS.SILENT (\\Deleted \\*)\r\n");
	assert_arg(&cmd.args[2].list[1], IMAP_ARG_ATOM, "\\*");
	imap_cmd_free(&cmd);
}

static void
test_atoms(void **state)
{
	struct imap_cmd cmd;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "t FETCH 1:* BODY.PEEK[HEADER.FIELDS (A B)]<0.10> $ $Junk\r\n");
	assert_int_equal(cmd.nargs, 4);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "1:*");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "BODY.PEEK[HEADER.FIELDS (A B)]<0.10>");
	assert_arg(&cmd.args[2], IMAP_ARG_ATOM, "$");
	assert_arg(&cmd.args[3], IMAP_ARG_ATOM, "$Junk");
	/* nested-looking items, several [...] parts, ']' alone */
	expect_ok(&cmd, "t FETCH 1 (BODY[1.2.MIME] BINARY.PEEK[1]<0.5> x]y)\r\n");
	assert_arg(&cmd.args[1].list[0], IMAP_ARG_ATOM, "BODY[1.2.MIME]");
	assert_arg(&cmd.args[1].list[1], IMAP_ARG_ATOM, "BINARY.PEEK[1]<0.5>");
	assert_arg(&cmd.args[1].list[2], IMAP_ARG_ATOM, "x]y");
	expect_ok(&cmd, "t FETCH 1 BODY[HEADER.FIELDS (\"X-A\")]\r\n");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "BODY[HEADER.FIELDS (\"X-A\")]");
	/* NIL in any case, and its text */
	expect_ok(&cmd, "t X NIL nIl (NIL) NILS\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_NIL, "NIL");
	assert_arg(&cmd.args[1], IMAP_ARG_NIL, "nIl");
	assert_int_equal(cmd.args[2].list[0].type, IMAP_ARG_NIL);
	assert_arg(&cmd.args[3], IMAP_ARG_ATOM, "NILS");
	assert_true(imap_arg_is_astring(&cmd.args[1]));
	assert_true(imap_arg_atom_is(&cmd.args[1], "NIL"));
	assert_false(imap_arg_is_string(&cmd.args[1]));
	imap_cmd_free(&cmd);

	expect_bad("t FETCH 1 BODY[HEADER\r\n");	/* no ] */
	expect_bad("t FETCH 1 BODY[HEADER[x]]\r\n");	/* no nesting */
	expect_bad("t FETCH 1 BODY[{3}\r\nabc]\r\n");
	expect_bad("t SELECT a{3}\r\n");
	expect_bad("t SELECT a\"b\r\n");
	expect_bad("t SELECT inb\xc3\xa9x\r\n");	/* 8-bit atom */
	expect_bad("t SELECT a\tb\r\n");
	expect_bad("t SELECT a\x7f\r\n");
}

static void
test_quoted(void **state)
{
	struct imap_cmd cmd;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "t LOGIN \"fred \\\"the\\\\ man\\\"\" \"\"\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "fred \"the\\ man\"");
	assert_arg(&cmd.args[1], IMAP_ARG_QUOTED, "");
	assert_true(imap_arg_is_string(&cmd.args[0]));
	assert_true(imap_arg_is_astring(&cmd.args[0]));
	/* RFC 9051 9 / RFC 6855 3: UTF-8 in quoted strings */
	expect_ok(&cmd, "t SELECT \"Entw\xc3\xbc rfe \xe2\x82\xac \xf0\x9f\x93\xa7\"\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "Entw\xc3\xbc rfe \xe2\x82\xac \xf0\x9f\x93\xa7");
	/* TAB and other TEXT-CHARs */
	expect_ok(&cmd, "t SELECT \"a\tb(c){d}%*]\"\r\n");
	assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "a\tb(c){d}%*]");
	/* quoted next to list delimiters */
	expect_ok(&cmd, "t X (\"a\" \"b\")\r\n");
	assert_arg(&cmd.args[0].list[1], IMAP_ARG_QUOTED, "b");
	imap_cmd_free(&cmd);

	expect_bad("t LOGIN \"abc\r\n");
	expect_bad("t LOGIN \"a\\bc\"\r\n");		/* \b is no escape */
	expect_bad("t LOGIN \"a\\\r\n");
	expect_bad("t LOGIN \"a\rb\" x\r\n");
	expect_bad("t LOGIN \"a\nb\" x\r\n");
	expect_bad("t LOGIN \"\xff\"\r\n");
	expect_bad("t LOGIN \"\xc3\"\r\n");		/* truncated */
	expect_bad("t LOGIN \"\xc0\xaf\"\r\n");		/* overlong */
	expect_bad("t LOGIN \"\xed\xa0\x80\"\r\n");	/* surrogate */
	expect_bad("t LOGIN \"\xf4\x90\x80\x80\"\r\n");	/* over U+10FFFF */
	expect_bad("t LOGIN \"a\"b\r\n");		/* no space after */
	{
		struct imap_cmd c2;
		static const char t[] = "t LOGIN \"a\0b\"\r\n";
		imap_cmd_init(&c2);
		assert_int_equal(imap_cmd_parse(&c2, t, sizeof(t) - 1, err,
		    sizeof(err)), IMAP_READ_BAD);
		imap_cmd_free(&c2);
	}
}

static void
test_literals(void **state)
{
	struct imap_cmd cmd;
	static const char l8[] = "t APPEND box ~{3}\r\na\0b\r\n";
	static const char nul[] = "t APPEND box {3}\r\na\0b\r\n";

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "t LOGIN {5}\r\nsmith {6+}\r\nsesame\r\n");
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "smith");
	assert_arg(&cmd.args[1], IMAP_ARG_LITERAL, "sesame");
	/* a literal holding CRLF, parentheses, quotes; empty literal; in a list */
	expect_ok(&cmd, "t X ({4}\r\n(\r\n\" {0}\r\n) {2}\n)(\r\n");
	assert_int_equal(cmd.nargs, 2);
	assert_int_equal(cmd.args[0].n, 2);
	assert_arg(&cmd.args[0].list[0], IMAP_ARG_LITERAL, "(\r\n\"");
	assert_arg(&cmd.args[0].list[1], IMAP_ARG_LITERAL, "");
	assert_arg(&cmd.args[1], IMAP_ARG_LITERAL, ")(");
	/* literal8 may hold NUL (RFC 3516 4.1) */
	assert_int_equal(imap_cmd_parse(&cmd, l8, sizeof(l8) - 1, err, sizeof(err)),
	    IMAP_READ_OK);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd.args[1].literal8, 1);
	assert_int_equal(cmd.args[1].len, 3);
	assert_memory_equal(cmd.args[1].str, "a\0b", 3);
	expect_ok(&cmd, "t APPEND box ~{2+}\r\nab\r\n");
	assert_int_equal(cmd.args[1].literal8, 1);
	/* a literal is an astring, and the last argument */
	expect_ok(&cmd, "t SELECT {5}\r\nINBOX\r\n");
	assert_true(imap_arg_is_astring(&cmd.args[0]));
	assert_int_equal(imap_cmd_parse(&cmd, nul, sizeof(nul) - 1, err, sizeof(err)),
	    IMAP_READ_BAD);
	imap_cmd_free(&cmd);

	expect_bad("t LOGIN {5}\r\nsmit");		/* shorter than announced */
	expect_bad("t LOGIN {5} x\r\nsmith\r\n");	/* no CRLF after } */
	expect_bad("t LOGIN {}\r\n\r\n");
	expect_bad("t LOGIN {5-}\r\nsmith\r\n");
	expect_bad("t LOGIN {x}\r\n\r\n");
	expect_bad("t LOGIN {99999999999999999999999}\r\n\r\n");
	expect_bad("t LOGIN {3}\r\nabcd\r\n");		/* no space after */
	expect_bad("t LOGIN {3}\r\nabc\r\nextra\r\n");	/* junk after */
	expect_bad("t LOGIN ~~{3}\r\nabc\r\n");
}

/* "t X ((...(x)...))" with depth levels (buf: 512 bytes) */
static const char *
nest(char *buf, size_t depth)
{
	size_t i, n = 4;

	memcpy(buf, "t X ", 4);
	for (i = 0; i < depth; i++)
		buf[n++] = '(';
	buf[n++] = 'x';
	for (i = 0; i < depth; i++)
		buf[n++] = ')';
	buf[n] = '\0';
	return buf;
}

static void
test_lists(void **state)
{
	struct imap_cmd cmd;
	char buf[512];

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "t X () (a (b (c) ()) d) e\r\n");
	assert_int_equal(cmd.nargs, 3);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[0].n, 0);
	assert_int_equal(cmd.args[0].list[0].type, IMAP_ARG_EOL);
	assert_int_equal(cmd.args[1].n, 3);
	assert_arg(&cmd.args[1].list[0], IMAP_ARG_ATOM, "a");
	assert_int_equal(cmd.args[1].list[1].n, 3);
	assert_arg(&cmd.args[1].list[1].list[0], IMAP_ARG_ATOM, "b");
	assert_arg(&cmd.args[1].list[1].list[1].list[0], IMAP_ARG_ATOM, "c");
	assert_int_equal(cmd.args[1].list[1].list[1].list[1].type, IMAP_ARG_EOL);
	assert_int_equal(cmd.args[1].list[1].list[2].n, 0);
	assert_int_equal(cmd.args[1].list[1].list[3].type, IMAP_ARG_EOL);
	assert_arg(&cmd.args[1].list[2], IMAP_ARG_ATOM, "d");
	assert_int_equal(cmd.args[1].list[3].type, IMAP_ARG_EOL);
	assert_arg(&cmd.args[2], IMAP_ARG_ATOM, "e");
	assert_int_equal(cmd.args[3].type, IMAP_ARG_EOL);

	/* IMAP_DEPTH_MAX levels are fine, one more is not */
	expect_ok(&cmd, nest(buf, IMAP_DEPTH_MAX));
	assert_int_equal(cmd.nargs, 1);
	imap_cmd_free(&cmd);
	expect_bad(nest(buf, IMAP_DEPTH_MAX + 1));
	expect_bad(nest(buf, 100));

	expect_bad("t X (a\r\n");
	expect_bad("t X a)\r\n");
	expect_bad("t X (a))\r\n");
	expect_bad("t X ( a)\r\n");
	expect_bad("t X (a )\r\n");
	expect_bad("t X (a)(b)\r\n");
	expect_bad("t X (a)b\r\n");
	expect_bad("t X a(b)\r\n");
	expect_bad("t X (\r\n");
	expect_bad("t X )\r\n");
}

static void
test_head(void **state)
{
	struct imap_cmd cmd;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "]a.b-c_1 noop\r\n");
	assert_string_equal(cmd.tag, "]a.b-c_1");
	assert_string_equal(cmd.name, "NOOP");
	expect_ok(&cmd, "t uid fetch 1 flags");	/* no CRLF: end of text */
	assert_string_equal(cmd.name, "UID");
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "fetch");
	expect_ok(&cmd, "t NOOP\n");			/* bare LF */
	expect_ok(&cmd, "t NOOP \r\n");			/* trailing space */
	expect_ok(&cmd, "t X a  \r\n");
	assert_int_equal(cmd.nargs, 1);
	expect_ok(&cmd, "0123456789012345678901234567890123456789012345678901234567890123 NOOP\r\n");
	/* the tag is kept for a BAD answer when the rest is wrong */
	assert_int_equal(parse(&cmd, "a1 \r\n"), IMAP_READ_BAD);
	assert_string_equal(cmd.tag, "a1");
	assert_int_equal(parse(&cmd, "a2\r\n"), IMAP_READ_BAD);
	assert_string_equal(cmd.tag, "a2");
	assert_int_equal(parse(&cmd, "a3 LOGIN \"x\r\n"), IMAP_READ_BAD);
	assert_string_equal(cmd.tag, "a3");
	imap_cmd_free(&cmd);

	expect_bad("\r\n");
	expect_bad("");
	expect_bad(" NOOP\r\n");
	expect_bad("a+b NOOP\r\n");
	expect_bad("* NOOP\r\n");
	expect_bad("+ NOOP\r\n");
	expect_bad("a%b NOOP\r\n");
	expect_bad("a(b NOOP\r\n");
	expect_bad("a\"b NOOP\r\n");
	expect_bad("a{1} NOOP\r\n");
	expect_bad("a\\b NOOP\r\n");
	expect_bad("t\tNOOP\r\n");
	expect_bad("t  NOOP\r\n");
	expect_bad("t NO\"OP\r\n");
	expect_bad("t NOOP(x)\r\n");
	expect_bad("t NOOP x  y\r\n");
	expect_bad("t NOOP\r\n\r\n");
	expect_bad("t ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH\r\n");
	expect_bad("01234567890123456789012345678901234567890123456789012345678901234 NOOP\r\n");
	expect_bad("t\xc3\xa9 NOOP\r\n");
}

static void
test_args_max(void **state)
{
	struct imap_cmd cmd;
	struct strbuf sb;
	size_t i;

	(void)state;
	strbuf_init(&sb, 1 << 20);
	assert_int_equal(strbuf_puts(&sb, "t X"), 0);
	for (i = 0; i < IMAP_ARGS_MAX; i++)
		assert_int_equal(strbuf_puts(&sb, i % 2 ? " a" : " (b)"), 0);
	imap_cmd_init(&cmd);
	/* lists count as elements too: IMAP_ARGS_MAX / 2 lists of one */
	assert_int_equal(imap_cmd_parse(&cmd, sb.data, sb.len, err, sizeof(err)), IMAP_READ_BAD);
	strbuf_reset(&sb);
	assert_int_equal(strbuf_puts(&sb, "t X"), 0);
	for (i = 0; i < IMAP_ARGS_MAX; i++)
		assert_int_equal(strbuf_puts(&sb, " a"), 0);
	assert_int_equal(imap_cmd_parse(&cmd, sb.data, sb.len, err, sizeof(err)), IMAP_READ_OK);
	assert_int_equal(cmd.nargs, IMAP_ARGS_MAX);
	assert_int_equal(cmd.args[IMAP_ARGS_MAX].type, IMAP_ARG_EOL);
	assert_int_equal(strbuf_puts(&sb, " a"), 0);
	assert_int_equal(imap_cmd_parse(&cmd, sb.data, sb.len, err, sizeof(err)), IMAP_READ_BAD);
	assert_string_equal(err, "too many arguments");
	imap_cmd_free(&cmd);
	strbuf_free(&sb);
}

/* Hostile shapes stay linear: a megabyte of each must parse at once. */
static void
test_hostile(void **state)
{
	static const char *fill[] = { "(", "[", "\"", "{", ")" };
	struct imap_cmd cmd;
	size_t n = 1 << 20, i, k;
	char *big = xmalloc(n + 8);
	int64_t t0 = now_ms();

	(void)state;
	imap_cmd_init(&cmd);
	for (k = 0; k < NELEM(fill); k++) {
		memcpy(big, "t X ", 4);
		for (i = 4; i < n; i++)
			big[i] = fill[k][0];
		assert_int_equal(imap_cmd_parse(&cmd, big, n, err, sizeof(err)), IMAP_READ_BAD);
		/* the same behind an opening bracket in an atom */
		memcpy(big, "t X B[", 6);
		assert_int_equal(imap_cmd_parse(&cmd, big, n, err, sizeof(err)), IMAP_READ_BAD);
	}
	/* a huge valid atom and a huge quoted string */
	memcpy(big, "t X ", 4);
	memset(big + 4, 'a', n - 4);
	assert_int_equal(imap_cmd_parse(&cmd, big, n, err, sizeof(err)), IMAP_READ_OK);
	assert_int_equal(cmd.args[0].len, n - 4);
	big[4] = '"';
	big[n - 1] = '"';
	assert_int_equal(imap_cmd_parse(&cmd, big, n, err, sizeof(err)), IMAP_READ_OK);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_QUOTED);
	assert_int_equal(cmd.args[0].len, n - 6);
	assert_true(now_ms() - t0 < 5000);
	imap_cmd_free(&cmd);
	free(big);
}

static void
test_helpers(void **state)
{
	struct imap_cmd cmd;
	uint64_t v;

	(void)state;
	imap_cmd_init(&cmd);
	expect_ok(&cmd, "t X 0 4294967295 18446744073709551615 18446744073709551616 "
	    "-1 1a \"5\" uidnext 007\r\n");
	assert_int_equal(imap_arg_number(&cmd.args[0], UINT32_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(imap_arg_number(&cmd.args[1], UINT32_MAX, &v), 0);
	assert_int_equal(v, 4294967295ULL);
	assert_int_equal(imap_arg_number(&cmd.args[1], UINT32_MAX - 1, &v), -1);
	assert_int_equal(imap_arg_number(&cmd.args[2], UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(imap_arg_number(&cmd.args[3], UINT64_MAX, &v), -1);
	assert_int_equal(imap_arg_number(&cmd.args[4], UINT64_MAX, &v), -1);
	assert_int_equal(imap_arg_number(&cmd.args[5], UINT64_MAX, &v), -1);
	assert_int_equal(imap_arg_number(&cmd.args[6], UINT64_MAX, &v), -1);
	assert_int_equal(imap_arg_number(&cmd.args[8], 10, &v), 0);
	assert_int_equal(v, 7);
	assert_true(imap_arg_atom_is(&cmd.args[7], "UIDNEXT"));
	assert_false(imap_arg_atom_is(&cmd.args[7], "UIDNEX"));
	assert_false(imap_arg_atom_is(&cmd.args[7], "UIDNEXTS"));
	assert_false(imap_arg_atom_is(&cmd.args[6], "5"));
	assert_false(imap_arg_is_astring(&cmd.args[9]));	/* EOL */
	expect_ok(&cmd, "t X ()\r\n");
	assert_false(imap_arg_is_astring(&cmd.args[0]));
	assert_false(imap_arg_atom_is(&cmd.args[0], ""));
	imap_cmd_free(&cmd);
}

static void
test_put(void **state)
{
	struct strbuf sb;
	char big[1100];

	(void)state;
	strbuf_init(&sb, 4096);
	assert_int_equal(imap_put_string(&sb, "a \"b\" \\c", 8), 0);
	assert_string_equal(sb.data, "\"a \\\"b\\\" \\\\c\"");
	strbuf_reset(&sb);
	assert_int_equal(imap_put_string(&sb, "", 0), 0);
	assert_string_equal(sb.data, "\"\"");
	strbuf_reset(&sb);
	assert_int_equal(imap_put_string(&sb, "a\r\nb", 4), 0);
	assert_string_equal(sb.data, "{4}\r\na\r\nb");
	strbuf_reset(&sb);
	assert_int_equal(imap_put_string(&sb, "\xc3\xa9", 2), 0);
	assert_string_equal(sb.data, "{2}\r\n\xc3\xa9");
	strbuf_reset(&sb);
	assert_int_equal(imap_put_string(&sb, "a\0b", 3), 0);
	assert_int_equal(sb.len, 8);
	assert_memory_equal(sb.data, "{3}\r\na\0b", 8);
	strbuf_reset(&sb);
	memset(big, 'x', sizeof(big));
	assert_int_equal(imap_put_string(&sb, big, sizeof(big)), 0);
	assert_memory_equal(sb.data, "{1100}\r\nxxx", 11);
	strbuf_reset(&sb);
	assert_int_equal(imap_put_nstring(&sb, NULL, 0), 0);
	assert_int_equal(imap_put_nstring(&sb, "NIL", 3), 0);
	assert_string_equal(sb.data, "NIL\"NIL\"");
	strbuf_reset(&sb);
	assert_int_equal(imap_put_astring(&sb, "INBOX", 5), 0);
	assert_int_equal(strbuf_putc(&sb, ' '), 0);
	assert_int_equal(imap_put_astring(&sb, "a b", 3), 0);
	assert_int_equal(strbuf_putc(&sb, ' '), 0);
	assert_int_equal(imap_put_astring(&sb, "", 0), 0);
	assert_int_equal(strbuf_putc(&sb, ' '), 0);
	assert_int_equal(imap_put_astring(&sb, "nil", 3), 0);
	assert_int_equal(strbuf_putc(&sb, ' '), 0);
	assert_int_equal(imap_put_astring(&sb, "a]", 2), 0);
	assert_int_equal(strbuf_putc(&sb, ' '), 0);
	assert_int_equal(imap_put_astring(&sb, "a*", 2), 0);
	assert_string_equal(sb.data, "INBOX \"a b\" \"\" \"nil\" a] \"a*\"");
	strbuf_free(&sb);
	/* all or nothing when the buffer is full */
	strbuf_init(&sb, 8);
	assert_int_equal(strbuf_puts(&sb, "ab"), 0);
	assert_int_equal(imap_put_string(&sb, "\"\"\"\"", 4), -1);
	assert_string_equal(sb.data, "ab");
	assert_int_equal(imap_put_string(&sb, "\r\r\r\r\r\r", 6), -1);
	assert_string_equal(sb.data, "ab");
	strbuf_free(&sb);
}

/* Output helpers and the parser agree: what is written reads back. */
static void
test_put_roundtrip(void **state)
{
	static const char *v[] = { "", "a", "a b", "\"", "\\", "a\r\nb", "NIL",
	    "\xc3\xa9t\xc3\xa9", "(x)", "{3}", "x]", "%*", "se[ame", "[", "a]b[" };
	struct imap_cmd cmd;
	struct strbuf sb;
	size_t i;

	(void)state;
	imap_cmd_init(&cmd);
	strbuf_init(&sb, 4096);
	for (i = 0; i < NELEM(v); i++) {
		strbuf_reset(&sb);
		assert_int_equal(strbuf_puts(&sb, "t X "), 0);
		assert_int_equal(imap_put_astring(&sb, v[i], strlen(v[i])), 0);
		assert_int_equal(strbuf_putc(&sb, ' '), 0);
		assert_int_equal(imap_put_string(&sb, v[i], strlen(v[i])), 0);
		assert_int_equal(strbuf_puts(&sb, "\r\n"), 0);
		assert_int_equal(imap_cmd_parse(&cmd, sb.data, sb.len, err, sizeof(err)),
		    IMAP_READ_OK);
		assert_int_equal(cmd.nargs, 2);
		assert_true(imap_arg_is_astring(&cmd.args[0]));
		assert_int_not_equal(cmd.args[0].type, IMAP_ARG_NIL);
		assert_int_equal(cmd.args[0].len, strlen(v[i]));
		assert_memory_equal(cmd.args[0].str, v[i], strlen(v[i]));
		assert_true(imap_arg_is_string(&cmd.args[1]));
		assert_int_equal(cmd.args[1].len, strlen(v[i]));
		assert_memory_equal(cmd.args[1].str, v[i], strlen(v[i]));
	}
	strbuf_free(&sb);
	imap_cmd_free(&cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3501_sample),
		cmocka_unit_test(test_rfc3501_examples),
		cmocka_unit_test(test_atoms),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_args_max),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_put_roundtrip),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
