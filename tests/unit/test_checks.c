/*
 * Unit tests of the content checks (common/checks.c, checks_scan.c): the
 * rules parser (good and bad lines, flags, negation, continuation lines,
 * comments, $n references), and the streaming matcher (headers matched
 * unfolded, MIME part headers apart from the message's, body lines, the
 * body size cap, action precedence, PREPEND/REPLACE/IGNORE edits, $1
 * substitution, byte-at-a-time feeding).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "checks.h"
#include "strbuf.h"

static struct strbuf out;

static void
collect(void *arg, const char *buf, size_t n)
{
	(void)arg;
	assert_int_equal(strbuf_append(&out, buf, n), 0);
}

/* Load one table (0 or -1), err filled. */
static int
load(struct checks *c, enum checks_kind k, const char *text, char *err, size_t errlen)
{
	return checks_parse(c, k, "t", text, strlen(text), err, errlen);
}

/* Run msg through c, chunk bytes at a time (0: all at once); output in out. */
static enum checks_action
run(const struct checks *c, const char *msg, size_t chunk, const char **text)
{
	static char vtext[CHECKS_TEXT_MAX];
	struct checks_scan *s;
	enum checks_action v;
	size_t len = strlen(msg), i, n;
	const char *t;

	strbuf_free(&out);
	strbuf_init(&out, 1 << 20);
	assert_non_null(s = checks_scan_new(c, "TESTQID", collect, NULL));
	if (chunk == 0)
		chunk = len;
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		checks_scan_feed(s, msg + i, n);
	}
	checks_scan_end(s);
	v = checks_scan_verdict(s, &t);
	snprintf(vtext, sizeof(vtext), "%s", t);
	if (text != NULL)
		*text = vtext;
	checks_scan_free(s);
	return v;
}

static struct checks *
one(enum checks_kind k, const char *rules)
{
	struct checks *c = checks_new();
	char err[1024];

	assert_non_null(c);
	if (load(c, k, rules, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return c;
}

static void
test_parse_good(void **state)
{
	struct checks *c = checks_new();
	char err[1024];

	(void)state;
	assert_int_equal(load(c, CHECKS_HEADER,
	    "# comment\n"
	    "\n"
	    "/^Subject: spam/ REJECT no spam\n"
	    "!/^From:/ WARN no from\n"
	    "/^X-A:/i DISCARD\n"
	    "/^X-B:/mx HOLD held\n"
	    "/^X-C: (.*)/ REPLACE X-C-Was: $1\n"
	    "/^X-D:/ PREPEND X-Seen: yes\n"
	    "/^X-E:/ ignore\n"
	    "#/^X-F:/ REJECT\n"
	    "/^X-G:/\n"
	    "   REJECT split\n"
	    "    over lines\n"
	    "|^X-H: a/b| DUNNO\n"
	    "/^X-I:/ OK\n", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_false(checks_empty(c));
	checks_free(c);
}

static void
test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"/unclosed REJECT\n",
		"/x/ FROB\n",
		"/x/\n",
		"/(x/ REJECT\n",
		"/x/q REJECT\n",
		"/x/ PREPEND\n",
		"/x/ PREPEND not a header\n",
		"/x/ REPLACE\n",
		"/x/ IGNORE text\n",
		"/(x)/ REJECT $2\n",
		"!/(x)/ REJECT $1\n",
		"/x/ REJECT $x\n",
		"regex REJECT\n",
		"  /x/ REJECT\n",
	};
	char err[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct checks *c = checks_new();

		if (load(c, CHECKS_HEADER, bad[i], err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "t:1: "));
		checks_free(c);
	}
}

static void
test_parse_lines(void **state)
{
	struct checks *c = checks_new();
	char err[1024];

	(void)state;
	/* Every problem is reported with its line; good rules stay. */
	assert_int_equal(load(c, CHECKS_HEADER,
	    "/ok/ REJECT\n"
	    "# c\n"
	    "/bad(/ REJECT\n"
	    "/ok2/\n"
	    "  WARN\n"
	    "/x/ NOPE\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t:3: "));
	assert_non_null(strstr(err, "t:6: unknown action"));
	assert_null(strstr(err, "t:4"));
	assert_false(checks_empty(c));
	checks_free(c);
	/* Body PREPEND text need not be a header. */
	c = checks_new();
	assert_int_equal(load(c, CHECKS_BODY, "/x/ PREPEND any text\n", err, sizeof(err)), 0);
	checks_free(c);
}

static void
test_load_file(void **state)
{
	struct checks *c = checks_new();
	char path[] = "/tmp/test_checks.XXXXXX", err[1024];
	int fd;

	(void)state;
	assert_true(checks_empty(NULL));
	assert_int_equal(checks_load(c, CHECKS_BODY, "", err, sizeof(err)), 0);
	assert_int_equal(checks_load(c, CHECKS_BODY, "/nonexistent/checks", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/checks: "));
	assert_true(checks_empty(c));
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, "/a/ WARN\n\n/b(/ HOLD\n", 20), 20);
	close(fd);
	assert_int_equal(checks_load(c, CHECKS_BODY, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: "));
	assert_non_null(strstr(err, path));
	assert_false(checks_empty(c));
	unlink(path);
	checks_free(c);
}

static void
test_header_unfolded(void **state)
{
	struct checks *c = one(CHECKS_HEADER, "/^Subject: hello world$/ REJECT folded\n");
	const char *t;

	(void)state;
	assert_int_equal(run(c, "From: a@b\nSubject: hello\n world\n\nbody\n", 0, &t),
	    CHECKS_REJECT);
	assert_string_equal(t, "folded");
	/* The same byte by byte. */
	assert_int_equal(run(c, "From: a@b\nSubject: hello\n world\n\nbody\n", 1, NULL),
	    CHECKS_REJECT);
	assert_string_equal(out.data, "From: a@b\nSubject: hello\n world\n\nbody\n");
	/* A body line is not a header. */
	assert_int_equal(run(c, "From: a@b\n\nSubject: hello world\n", 0, NULL),
	    CHECKS_NONE);
	checks_free(c);
}

static void
test_case_flag(void **state)
{
	struct checks *c = one(CHECKS_HEADER, "/^subject: ABC/ REJECT\n/^X-Y: abc/i HOLD\n");

	(void)state;
	/* Postfix: case-insensitive by default, 'i' makes it case-sensitive. */
	assert_int_equal(run(c, "SUBJECT: abc\n\n", 0, NULL), CHECKS_REJECT);
	assert_int_equal(run(c, "X-Y: ABC\n\n", 0, NULL), CHECKS_NONE);
	assert_int_equal(run(c, "X-Y: abc\n\n", 0, NULL), CHECKS_HOLD);
	checks_free(c);
}

static void
test_negation(void **state)
{
	struct checks *c = one(CHECKS_HEADER, "!/^(From|To):/ WARN\n/^From: evil/ HOLD\n");

	(void)state;
	/* First match wins: the From line matches no WARN and goes on. */
	assert_int_equal(run(c, "From: evil\nTo: x\n\n", 0, NULL), CHECKS_HOLD);
	checks_free(c);
}

static void
test_precedence(void **state)
{
	struct checks *c = one(CHECKS_HEADER,
	    "/^X-Hold:/ HOLD h\n/^X-Discard:/ DISCARD d\n/^X-Reject:/ REJECT r\n");
	const char *t;

	(void)state;
	assert_int_equal(run(c, "X-Hold: 1\nX-Discard: 1\nX-Hold: 2\n\n", 0, &t),
	    CHECKS_DISCARD);
	assert_string_equal(t, "d");
	assert_int_equal(run(c, "X-Reject: 1\nX-Discard: 1\n\n", 0, &t), CHECKS_REJECT);
	assert_string_equal(t, "r");
	assert_int_equal(run(c, "X-Hold: 1\n\n", 0, NULL), CHECKS_HOLD);
	assert_int_equal(run(c, "X-Other: 1\n\n", 0, NULL), CHECKS_NONE);
	checks_free(c);
}

static void
test_edits(void **state)
{
	struct checks *c = one(CHECKS_HEADER,
	    "/^Subject: (.*)/ PREPEND X-Subject-Seen: <$1>\n"
	    "/^X-Mailer: ([a-z]+) (.*)/ REPLACE X-Mailer: ${1}-$2 $$5\n"
	    "/^X-Drop:/ IGNORE\n"
	    "/^X-Warn:/ WARN careful\n");

	(void)state;
	assert_int_equal(run(c, "Subject: hi\n there\nX-Mailer: foo bar\n"
	    "X-Drop: a\n b\nX-Warn: w\n\nbody\n", 3, NULL), CHECKS_NONE);
	assert_string_equal(out.data,
	    "X-Subject-Seen: <hi there>\nSubject: hi\n there\n"
	    "X-Mailer: foo-bar $5\nX-Warn: w\n\nbody\n");
	checks_free(c);
}

static const char mime_msg[] =
    "From: a@b\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble bad\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello bad\n"
    "--outer\n"
    "Content-Type: multipart/alternative;\n"
    " boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: application/x-msdownload; name=\"evil.exe\"\n"
    "\n"
    "TVqQAAMAAAAEAAAA\n"
    "--inner--\n"
    "--outer--\n"
    "epilogue\n";

static void
test_mime(void **state)
{
	struct checks *c = checks_new();
	char err[1024];
	const char *t;

	(void)state;
	assert_int_equal(load(c, CHECKS_MIME,
	    "/^Content-Type:.*name=\"?([^\"]*\\.exe)/ REJECT no $1\n", err, sizeof(err)), 0);
	/* A message header is not a MIME part header. */
	assert_int_equal(run(c, "Content-Type: text/plain; name=\"x.exe\"\n\nx\n", 0, NULL),
	    CHECKS_NONE);
	assert_int_equal(run(c, mime_msg, 0, &t), CHECKS_REJECT);
	assert_string_equal(t, "no evil.exe");
	assert_int_equal(run(c, mime_msg, 1, &t), CHECKS_REJECT);
	assert_string_equal(out.data, mime_msg);
	checks_free(c);
	/* Part headers are not body lines; body lines are matched in every part. */
	c = one(CHECKS_BODY, "/^Content-Type/ REJECT\n/^TVqQ/ HOLD exe\n/^--/ DISCARD\n");
	assert_int_equal(run(c, mime_msg, 7, &t), CHECKS_HOLD);
	assert_string_equal(t, "exe");
	checks_free(c);
	/* ... and header_checks do not see part headers. */
	c = one(CHECKS_HEADER, "/name=/ REJECT\n");
	assert_int_equal(run(c, mime_msg, 0, NULL), CHECKS_NONE);
	checks_free(c);
}

static void
test_body_and_cap(void **state)
{
	struct checks *c = one(CHECKS_BODY,
	    "/^buy now/ REJECT spam\n/^line (\\d+)$/ WARN saw $1\n/^drop me$/ IGNORE\n");
	struct strbuf msg;
	int i;

	(void)state;
	assert_int_equal(run(c, "Subject: x\n\nhello\nbuy now!\n", 0, NULL), CHECKS_REJECT);
	/* CRLF kept in the stored text does not hide a line's end. */
	assert_int_equal(run(c, "Subject: x\n\nline 7\r\ndrop me\nend\n", 0, NULL), CHECKS_NONE);
	assert_string_equal(out.data, "Subject: x\n\nline 7\r\nend\n");
	/* Only body_checks_size_limit bytes of a segment are looked at. */
	strbuf_init(&msg, 1 << 20);
	assert_int_equal(strbuf_puts(&msg, "Subject: x\n\n"), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(strbuf_puts(&msg, "0123456789012345678901234567890123456789\n"), 0);
	assert_int_equal(strbuf_puts(&msg, "buy now\n"), 0);
	assert_int_equal(run(c, msg.data, 0, NULL), CHECKS_REJECT);
	checks_set_body_limit(c, 1000);
	assert_int_equal(run(c, msg.data, 0, NULL), CHECKS_NONE);
	assert_string_equal(out.data, msg.data);
	assert_int_equal(run(c, msg.data, 5, NULL), CHECKS_NONE);
	assert_string_equal(out.data, msg.data);
	checks_set_body_limit(c, 0);
	assert_int_equal(run(c, "Subject: x\n\nbuy now\n", 0, NULL), CHECKS_NONE);
	strbuf_free(&msg);
	checks_free(c);
}

static void
test_long_lines(void **state)
{
	struct checks *c = one(CHECKS_HEADER, "/^X-Long:/ REJECT\n/^X-After:/ HOLD\n");
	struct strbuf msg;
	int i;

	(void)state;
	/* A header longer than the scanner holds passes unchecked, intact. */
	strbuf_init(&msg, 1 << 20);
	assert_int_equal(strbuf_puts(&msg, "X-Long: "), 0);
	for (i = 0; i < 2000; i++)
		assert_int_equal(strbuf_puts(&msg, "0123456789012345678901234567890123456789\n "), 0);
	assert_int_equal(strbuf_puts(&msg, "end\nX-After: 1\n\nbody\n"), 0);
	assert_int_equal(run(c, msg.data, 1000, NULL), CHECKS_HOLD);
	assert_string_equal(out.data, msg.data);
	strbuf_free(&msg);
	checks_free(c);
}

static void
test_no_newline(void **state)
{
	struct checks *c = one(CHECKS_HEADER, "/^Subject: last$/ REJECT\n");

	(void)state;
	assert_int_equal(run(c, "From: a\nSubject: last", 0, NULL), CHECKS_REJECT);
	assert_string_equal(out.data, "From: a\nSubject: last");
	assert_int_equal(run(c, "", 0, NULL), CHECKS_NONE);
	checks_free(c);
}

static void
test_pathological(void **state)
{
	struct checks *c = one(CHECKS_BODY, "/^(a+)+$/ REJECT\n/^ok/ WARN\n");
	struct strbuf msg;
	int i;

	(void)state;
	/* The limit is hit: logged, no match, the rule is off for the message. */
	strbuf_init(&msg, 1 << 20);
	assert_int_equal(strbuf_puts(&msg, "Subject: x\n\n"), 0);
	for (i = 0; i < 200; i++)
		assert_int_equal(strbuf_puts(&msg, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n"), 0);
	assert_int_equal(strbuf_puts(&msg, "ok\n"), 0);
	assert_int_equal(run(c, msg.data, 0, NULL), CHECKS_NONE);
	assert_string_equal(out.data, msg.data);
	strbuf_free(&msg);
	checks_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_header_unfolded),
		cmocka_unit_test(test_case_flag),
		cmocka_unit_test(test_negation),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_body_and_cap),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_no_newline),
		cmocka_unit_test(test_pathological),
	};
	int r;

	r = cmocka_run_group_tests(tests, NULL, NULL);
	strbuf_free(&out);
	return r;
}
