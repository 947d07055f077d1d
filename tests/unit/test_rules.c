/*
 * Unit tests of the delivery rules (common/rules_parse.c and
 * deliver/rules_*.c, postern.rules(5)):
 * the parser (good files, bad files with their line numbers), every test
 * and action, and/or/not precedence, elsif/else, the limits (file size,
 * nodes, depth, strings, header fields, regex failures), the message view
 * (unfolding, RFC 2047), folder names in modified UTF-7, folder creation
 * with subscriptions, and the plus-addressing folder lookup.
 */
#include "config.h"

#include <sys/stat.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rules_eval.h"
#include "strbuf.h"
#include "util.h"

static const char MSG[] =
    "From: Alice <alice@example.test>\n"
    "To: bob@example.test,\n"
    "\tcarol@example.org\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= =?UTF-8?B?IGNyw6htZQ==?= [list] weekly\n"
    "List-Id: <dev.lists.example.test>\n"
    "X-Spam-Flag: YES\n"
    "Delivered-To: carol@example.org\n"
    "\n"
    "Subject: not a header\n";

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct run {
	struct rules_result res;
	struct rules_msg m;
};

/* Parse text (must succeed), evaluate it on MSG; the caller frees. */
static void
run(struct run *x, const char *text, unsigned long long size)
{
	char err[512] = "";
	struct rules *r = rules_parse(text, strlen(text), "rules", err, sizeof(err));

	if (r == NULL)
		print_message("# parse error: %s\n", err);
	assert_non_null(r);
	rules_msg_init(&x->m, MSG, sizeof(MSG) - 1, "sender@remote.test",
	    "alice+lists@example.test", size);
	rules_result_init(&x->res);
	rules_eval(r, &x->m, &x->res);
	rules_free(r);
}

static void
done(struct run *x)
{
	rules_msg_free(&x->m);
	rules_result_free(&x->res);
}

/* Does cond hold on MSG (size 5000)? */
static int
holds(const char *cond)
{
	char text[2048];
	struct run x;
	int r;

	str_fmt(text, sizeof(text), "if %s { fileinto \"Yes\"; }\n", cond);
	run(&x, text, 5000);
	r = x.res.nfolder == 1;
	done(&x);
	return r;
}

/* Parse must fail with an error starting "rules:LINE:" and holding what. */
static void
bad(const char *text, unsigned line, const char *what)
{
	char err[512] = "", want[32];
	struct rules *r = rules_parse(text, strlen(text), "rules", err, sizeof(err));

	str_fmt(want, sizeof(want), "rules:%u:", line);
	if (r != NULL || strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, what) == NULL)
		print_message("# text: %s\n# err: %s (want %s ... %s)\n", text,
		    err, want, what);
	assert_null(r);
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strstr(err, what));
}

static void
test_parse_good(void **state)
{
	static const char *const good[] = {
		"",
		"# only a comment\n",
		"keep;",
		"if true { }",
		"if header \"Subject\" contains \"x\" { fileinto \"A\"; stop; }\n"
		"elsif from is \"a@b\" { discard; } else { keep; }\n",
		"IF NOT (size over 1M OR size under 10) AND exists \"X\" "
		"{ redirect bob@example.test; }",
		"redirect \"<bob@example.test>\";",
		"if to matches /^alice\\+.*@/i { fileinto \"INBOX.Lists.Dev\"; }",
		"if header \"Subject\" matches /a\\/b/ { keep; }",
		"if header \"Subject\" is \"say \\\"hi\\\" \\\\\" { keep; }",
		"fileinto \"Caf\xc3\xa9\";",
	};
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(good); i++) {
		struct rules *r = rules_parse(good[i], strlen(good[i]), "rules",
		    err, sizeof(err));
		if (r == NULL)
			print_message("# %zu: %s\n", i, err);
		assert_non_null(r);
		assert_string_equal(rules_file(r), "rules");
		rules_free(r);
	}
}

static void
test_parse_bad(void **state)
{
	(void)state;
	bad("frobnicate;", 1, "a statement expected");
	bad("keep;\n\nkeep\n", 4, "';' expected");
	bad("keep;\nif header \"Subject\" { keep; }", 2, "'contains'");
	bad("if header Subject contains \"x\" { keep; }", 1, "quoted string");
	bad("\n\nif header \"Sub ject\" is \"x\" { keep; }", 3, "bad header field name");
	bad("if from contains \"x { keep; }\n", 1, "unterminated string");
	bad("if from matches /abc { keep; }", 1, "unterminated regex");
	bad("if from matches /a(b/ { keep; }", 1, "bad regex");
	bad("if from matches /ab/q { keep; }", 1, "unknown regex flag");
	bad("if size over lots { keep; }", 1, "a size expected");
	bad("if size above 1M { keep; }", 1, "'over' or 'under'");
	bad("if true { keep;\n", 2, "'}' expected before the end");
	bad("if true keep;", 1, "'{' expected");
	bad("if (true { keep; }", 1, "')' expected");
	bad("if { keep; }", 1, "a test expected");
	bad("fileinto \"a..b\";", 1, "bad folder name");
	bad("fileinto \".hidden\";", 1, "bad folder name");
	bad("fileinto \"a/b\";", 1, "bad folder name");
	bad("redirect nobody;", 1, "bad redirect address");
	bad("redirect \"a b@c\";", 1, "bad redirect address");
	bad("\n\n\n\n\nif true { discard; } else { frob; }", 6, "a statement expected");
	{
		char err[256];
		assert_null(rules_parse("keep;\0keep;", 11, "rules", err, sizeof(err)));
		assert_string_equal(err, "rules:0: file contains a NUL byte");
	}
}

static void
test_conditions(void **state)
{
	(void)state;
	assert_true(holds("true"));
	assert_false(holds("false"));
	assert_true(holds("header \"subject\" contains \"[LIST]\""));
	assert_false(holds("header \"Subject\" contains \"not there\""));
	assert_true(holds("header \"Subject\" is \"caf\xc3\xa9 cr\xc3\xa8me [list] weekly\""));
	assert_false(holds("header \"Subject\" is \"caf\""));
	assert_true(holds("header \"Subject\" matches /^caf\xc3\xa9 cr/"));
	assert_true(holds("header \"To\" matches /bob@example\\.test,\\tcarol@/"));
	assert_true(holds("header \"X-Spam-Flag\" is \"yes\""));
	assert_false(holds("header \"X-Spam-Flag\" matches /yes/"));
	assert_true(holds("header \"X-Spam-Flag\" matches /yes/i"));
	assert_true(holds("exists \"list-id\""));
	assert_false(holds("exists \"X-Missing\""));
	assert_true(holds("from is \"SENDER@remote.test\""));
	assert_true(holds("from contains \"@remote\""));
	assert_false(holds("from is \"other@remote.test\""));
	assert_true(holds("to matches /^alice\\+lists@/"));
	assert_true(holds("to is \"alice+lists@example.test\""));
	assert_true(holds("size over 4K"));
	assert_false(holds("size over 5000"));
	assert_true(holds("size under 5001"));
	assert_false(holds("size under 1K"));
	assert_false(holds("size over 1M"));
	assert_false(holds("header \"Subject\" contains \"not a header\""));
}

static void
test_precedence(void **state)
{
	(void)state;
	/* and binds tighter than or */
	assert_true(holds("true or false and false"));
	assert_true(holds("false and false or true"));
	assert_false(holds("(true or false) and false"));
	/* not binds tighter than and/or */
	assert_true(holds("not false and true"));
	assert_true(holds("not true or true"));
	assert_false(holds("not (true or false)"));
	assert_true(holds("not not true"));
	assert_true(holds("((((true))))"));
}

static void
test_actions(void **state)
{
	struct run x;

	(void)state;
	/* no action: implicit keep */
	run(&x, "if false { discard; }", 10);
	assert_true(rules_result_keep(&x.res));
	assert_int_equal(x.res.nfolder, 0);
	done(&x);
	/* fileinto cancels the implicit keep; duplicates collapse */
	run(&x, "fileinto \"A\"; fileinto \"B\"; fileinto \"A\";", 10);
	assert_false(rules_result_keep(&x.res));
	assert_int_equal(x.res.nfolder, 2);
	assert_string_equal(x.res.folder[0], "A");
	assert_string_equal(x.res.folder[1], "B");
	done(&x);
	/* fileinto INBOX is keep */
	run(&x, "fileinto \"inbox\";", 10);
	assert_true(rules_result_keep(&x.res));
	assert_int_equal(x.res.nfolder, 0);
	done(&x);
	/* discard, then keep: keep wins */
	run(&x, "discard;", 10);
	assert_false(rules_result_keep(&x.res));
	done(&x);
	run(&x, "discard; keep;", 10);
	assert_true(rules_result_keep(&x.res));
	done(&x);
	/* redirect, case-insensitive duplicates */
	run(&x, "redirect bob@example.test; redirect <BOB@example.test>;", 10);
	assert_false(rules_result_keep(&x.res));
	assert_int_equal(x.res.nredirect, 1);
	assert_string_equal(x.res.redirect[0], "bob@example.test");
	done(&x);
	/* stop ends everything, inside a block too */
	run(&x, "if true { fileinto \"A\"; stop; fileinto \"B\"; }\nfileinto \"C\";", 10);
	assert_true(x.res.stop);
	assert_int_equal(x.res.nfolder, 1);
	done(&x);
	/* elsif and else */
	run(&x, "if false { fileinto \"A\"; } elsif true { fileinto \"B\"; } "
	    "else { fileinto \"C\"; }", 10);
	assert_int_equal(x.res.nfolder, 1);
	assert_string_equal(x.res.folder[0], "B");
	done(&x);
	run(&x, "if false { fileinto \"A\"; } elsif false { fileinto \"B\"; } "
	    "else { fileinto \"C\"; }", 10);
	assert_string_equal(x.res.folder[0], "C");
	done(&x);
}

/* A second file adds to the first; stop in the first skips it. */
static void
test_two_files(void **state)
{
	struct rules *a, *b;
	struct rules_result res;
	struct rules_msg m;
	char err[256];

	(void)state;
	a = rules_parse("fileinto \"G\";", 13, "global", err, sizeof(err));
	b = rules_parse("keep;", 5, "user", err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	rules_msg_init(&m, MSG, sizeof(MSG) - 1, "", "a@b", 1);
	rules_result_init(&res);
	rules_eval(a, &m, &res);
	rules_eval(b, &m, &res);
	assert_int_equal(res.nfolder, 1);
	assert_true(rules_result_keep(&res));
	rules_result_free(&res);
	rules_free(a);
	a = rules_parse("discard; stop;", 14, "global", err, sizeof(err));
	rules_result_init(&res);
	rules_eval(a, &m, &res);
	rules_eval(b, &m, &res);
	assert_true(res.stop);
	assert_false(rules_result_keep(&res));
	rules_result_free(&res);
	rules_msg_free(&m);
	rules_free(a);
	rules_free(b);
}

static void
test_limits(void **state)
{
	struct strbuf sb;
	char err[512];
	struct rules *r;
	int i;

	(void)state;
	/* file size */
	strbuf_init(&sb, 1024 * 1024);
	while (sb.len <= RULES_FILE_MAX)
		strbuf_puts(&sb, "# padding padding padding padding padding\n");
	r = rules_parse(sb.data, sb.len, "rules", err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "rules:0: file larger"));
	/* nodes */
	strbuf_reset(&sb);
	for (i = 0; i < RULES_NODES_MAX + 1; i++)
		strbuf_puts(&sb, "keep;\n");
	bad(sb.data, RULES_NODES_MAX + 1, "too many statements");
	/* depth: parentheses, not, blocks */
	strbuf_reset(&sb);
	strbuf_puts(&sb, "if ");
	for (i = 0; i < RULES_DEPTH_MAX + 1; i++)
		strbuf_puts(&sb, "(");
	strbuf_puts(&sb, "true");
	bad(sb.data, 1, "nested too deeply");
	strbuf_reset(&sb);
	strbuf_puts(&sb, "if ");
	for (i = 0; i < RULES_DEPTH_MAX + 1; i++)
		strbuf_puts(&sb, "not ");
	strbuf_puts(&sb, "true { keep; }");
	bad(sb.data, 1, "nested too deeply");
	strbuf_reset(&sb);
	for (i = 0; i < RULES_DEPTH_MAX + 1; i++)
		strbuf_puts(&sb, "if true {\n");
	bad(sb.data, RULES_DEPTH_MAX + 1, "nested too deeply");
	/* just inside the depth limit parses */
	strbuf_reset(&sb);
	strbuf_puts(&sb, "if ");
	for (i = 0; i < RULES_DEPTH_MAX - 1; i++)
		strbuf_puts(&sb, "(");
	strbuf_puts(&sb, "true");
	for (i = 0; i < RULES_DEPTH_MAX - 1; i++)
		strbuf_puts(&sb, ")");
	strbuf_puts(&sb, " { keep; }");
	r = rules_parse(sb.data, sb.len, "rules", err, sizeof(err));
	assert_non_null(r);
	rules_free(r);
	/* string length */
	strbuf_reset(&sb);
	strbuf_puts(&sb, "if from is \"");
	for (i = 0; i < RULES_STRING_MAX + 1; i++)
		strbuf_putc(&sb, 'x');
	strbuf_puts(&sb, "\" { keep; }");
	bad(sb.data, 1, "string longer");
	strbuf_free(&sb);
}

/* The header fields examined are bounded; later ones are not seen. */
static void
test_header_limits(void **state)
{
	struct rules_msg m;
	struct strbuf sb;
	int i;

	(void)state;
	strbuf_init(&sb, 1024 * 1024);
	for (i = 0; i < RULES_FIELDS_MAX + 10; i++)
		strbuf_printf(&sb, "X-%d: v\n", i);
	strbuf_puts(&sb, "Subject: late\n\n");
	rules_msg_init(&m, sb.data, sb.len, "", "", 0);
	assert_int_equal(m.nf, RULES_FIELDS_MAX);
	rules_msg_free(&m);
	strbuf_reset(&sb);
	strbuf_puts(&sb, "Subject: ");
	while (sb.len < RULES_HDR_MAX + 100)
		strbuf_puts(&sb, "aaaaaaaaaaaaaaaa");
	strbuf_puts(&sb, "\nX-After: 1\n\n");
	rules_msg_init(&m, sb.data, sb.len, "", "", 0);
	assert_int_equal(m.nf, 1);
	assert_true(m.f[0].vlen < RULES_HDR_MAX);
	rules_msg_free(&m);
	strbuf_free(&sb);
}

/* A catastrophic regex on a hostile value: no match, logged, bounded. */
static void
test_regex_budget(void **state)
{
	char text[4096], hdr[40000];
	struct rules *r;
	struct rules_result res;
	struct rules_msg m;
	char err[256];
	size_t n;
	int i;

	(void)state;
	n = (size_t)str_fmt(hdr, sizeof(hdr), "Subject: ");
	while (n < 30000)
		hdr[n++] = 'a';
	memcpy(hdr + n, "!\n\n", 4);
	text[0] = '\0';
	for (i = 0; i < 10; i++) {
		size_t l = strlen(text);
		str_fmt(text + l, sizeof(text) - l,
		    "if header \"Subject\" matches /^(a+)+$/ { fileinto \"Bad\"; }\n");
	}
	n = strlen(text);
	str_fmt(text + n, sizeof(text) - n,
	    "if header \"Subject\" contains \"aaa!\" { fileinto \"Ok\"; }\n");
	r = rules_parse(text, strlen(text), "rules", err, sizeof(err));
	assert_non_null(r);
	rules_msg_init(&m, hdr, strlen(hdr), "", "", 1);
	rules_result_init(&res);
	rules_eval(r, &m, &res);
	assert_int_equal(res.errors, RULES_REGEX_FAILS_MAX);
	assert_int_equal(res.nfolder, 1);
	assert_string_equal(res.folder[0], "Ok");
	rules_result_free(&res);
	/* the time budget: once past it, no regex runs (contains still does) */
	rules_result_init(&res);
	res.deadline = 0;
	rules_eval(r, &m, &res);
	assert_int_equal(res.errors, RULES_REGEX_FAILS_MAX);
	assert_int_equal(res.nfolder, 1);
	rules_result_free(&res);
	rules_msg_free(&m);
	rules_free(r);
}

static void
test_msg(void **state)
{
	static const char h[] =
	    "Subject: =?iso-8859-1?q?a_b?=   =?utf-8?b?Yw==?= d =?x?Q?=3D?=\r\n"
	    "X-Bad: =?utf-8?Q?=ZZ?= =?utf-8?B?***?=\r\n"
	    "Folded: one\r\n  two\r\n\tthree\r\n"
	    "not a field\r\n"
	    "Delivered-To: <Bob@Example.test>\r\n"
	    "\r\n"
	    "Body: x\r\n";
	struct rules_msg m;

	(void)state;
	rules_msg_init(&m, h, sizeof(h) - 1, "", "", 0);
	assert_int_equal(m.nf, 4);
	assert_string_equal(m.f[0].name, "Subject");
	/* Decoded to UTF-8 as imapd's SEARCH does (common/mime_decode): an
	 * unknown charset's word is left as written. */
	assert_string_equal(m.f[0].value, "a bc d =?x?Q?=3D?=");
	/* Lenient like imapd: a bad escape stays, bytes outside base64 go. */
	assert_string_equal(m.f[1].value, "=ZZ");
	assert_string_equal(m.f[2].value, "one  two\tthree");
	assert_true(rules_msg_has(&m, "delivered-to", "bob@example.TEST"));
	assert_false(rules_msg_has(&m, "delivered-to", "alice@example.test"));
	rules_msg_free(&m);
}

/* Found by fuzz_rules: a decoded word holding a NUL (=00) made the value
 * shorter than its length, and "contains" read past it. */
static void
test_msg_nul(void **state)
{
	static const char h[] = "Subject: =?utf-8?q?a=00bcdefgh?=\r\n\r\n";
	static const char text[] = "if header \"Subject\" contains \"FGH\" { fileinto \"Yes\"; }\n";
	char err[512] = "";
	struct rules *r = rules_parse(text, strlen(text), "rules", err, sizeof(err));
	struct rules_result res;
	struct rules_msg m;

	(void)state;
	assert_non_null(r);
	rules_msg_init(&m, h, sizeof(h) - 1, "", "", 0);
	assert_int_equal(m.nf, 1);
	assert_int_equal(m.f[0].vlen, 9);
	assert_memory_equal(m.f[0].value, "a\0bcdefgh", 10);
	rules_result_init(&res);
	rules_eval(r, &m, &res);
	assert_int_equal(res.nfolder, 1);
	rules_result_free(&res);
	rules_msg_free(&m);
	rules_free(r);
}

static void
test_folder_names(void **state)
{
	char dir[256];

	(void)state;
	assert_int_equal(rules_folder_dir("Lists", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".Lists");
	assert_int_equal(rules_folder_dir("INBOX", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "");
	assert_int_equal(rules_folder_dir("inbox.A.B", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".A.B");
	/* RFC 3501 5.1.3 */
	assert_int_equal(rules_folder_dir("Caf\xc3\xa9", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".Caf&AOk-");
	assert_int_equal(rules_folder_dir("A&B", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".A&-B");
	assert_int_equal(rules_folder_dir("\xe5\x8f\xb0\xe5\x8c\x97", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".&U,BTFw-");
	assert_int_equal(rules_folder_dir("\xf0\x9f\x98\x80", dir, sizeof(dir)), 0);
	assert_string_equal(dir, ".&2D3eAA-");
	assert_int_equal(rules_folder_dir("", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("a.", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("a..b", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("a/b", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("a*", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("bad\xc3(", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("\xed\xa0\x80", dir, sizeof(dir)), -1);
	assert_int_equal(rules_folder_dir("Lists", dir, 4), -1);
}

static void
test_folder_make(void **state)
{
	char tmpl[] = "/tmp/test_rules.XXXXXX", md[300], p[400], dir[64];
	char err[512], buf[256];
	struct stat st;
	FILE *fp;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	str_fmt(md, sizeof(md), "%s/Maildir", tmpl);
	assert_int_equal(rules_folder_ensure(md, ".Lists.Dev", err, sizeof(err)), 0);
	assert_int_equal(rules_folder_ensure(md, ".Lists.Dev", err, sizeof(err)), 0);
	assert_int_equal(rules_folder_ensure(md, ".Caf&AOk-", err, sizeof(err)), 0);
	str_fmt(p, sizeof(p), "%s/.Lists.Dev/maildirfolder", md);
	assert_int_equal(stat(p, &st), 0);
	str_fmt(p, sizeof(p), "%s/.Lists.Dev/new", md);
	assert_int_equal(stat(p, &st), 0);
	str_fmt(p, sizeof(p), "%s/subscriptions", md);
	assert_non_null(fp = fopen(p, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_string_equal(buf, "Lists.Dev\nCaf&AOk-\n");
	/* plus-addressing lookup: exact, then any case */
	assert_int_equal(rules_folder_find(md, "lists.dev", dir, sizeof(dir)), 1);
	assert_string_equal(dir, ".Lists.Dev");
	assert_int_equal(rules_folder_find(md, "Lists.Dev", dir, sizeof(dir)), 1);
	assert_int_equal(rules_folder_find(md, "Lists", dir, sizeof(dir)), 0);
	assert_int_equal(rules_folder_find(md, "..", dir, sizeof(dir)), 0);
	assert_int_equal(rules_folder_find(md, "INBOX", dir, sizeof(dir)), 0);
	assert_int_equal(nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* rules_load: missing file, a file, an unreadable one. */
static void
test_load(void **state)
{
	char tmpl[] = "/tmp/test_rules.XXXXXX", p[300], err[512];
	struct rules *r;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	str_fmt(p, sizeof(p), "%s/rules", tmpl);
	assert_int_equal(rules_load(p, &r, err, sizeof(err)), 0);
	assert_null(r);
	assert_non_null(fp = fopen(p, "w"));
	fputs("keep;\n\nif junk\n", fp);
	fclose(fp);
	assert_int_equal(rules_load(p, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/rules:3: a test expected"));
	assert_int_equal(rules_load(tmpl, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":0: not a regular file"));
	assert_non_null(fp = fopen(p, "w"));
	fputs("keep;\n", fp);
	fclose(fp);
	assert_int_equal(rules_load(p, &r, err, sizeof(err)), 1);
	rules_free(r);
	unlink(p);
	rmdir(tmpl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_two_files),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_regex_budget),
		cmocka_unit_test(test_msg),
		cmocka_unit_test(test_msg_nul),
		cmocka_unit_test(test_folder_names),
		cmocka_unit_test(test_folder_make),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
