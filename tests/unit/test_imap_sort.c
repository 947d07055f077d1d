/*
 * Unit tests of imapd's SORT and THREAD (imapd/imap_subject.c,
 * imap_sort.c, imap_thread.c) over the fake mailbox of
 * imap_search_fixture.c: the base subject (RFC 5256 2.1), SORT (RFC 5256,
 * 5957) and THREAD ORDEREDSUBJECT and REFERENCES (RFC 5256 4, dummies,
 * loops, subject merging). Split out of test_imap_search.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cmocka.h>

#include "strbuf.h"
#include "imap_parse.h"
#include "imap_seqset.h"
#include "imap_store.h"
#include "imap_search.h"
#include "imap_search_fixture.h"

static void
base_is(const char *in, const char *want)
{
	struct strbuf b;

	strbuf_init(&b, 4096);
	assert_int_equal(imap_base_subject(in, strlen(in), &b), 0);
	if (strcmp(b.data != NULL ? b.data : "", want) != 0)
		fail_msg("base subject of \"%s\": \"%s\", want \"%s\"", in, b.data, want);
	strbuf_free(&b);
}

static void
test_base_subject(void **st)
{
	base_is("Re: [list] Fwd: subj (fwd)", "subj");
	base_is("Hello world", "Hello world");
	base_is("Re: Re: RE: fw: FWD: x", "x");
	base_is("re:x", "x");
	base_is("Re[2]: x", "x");
	base_is("Re [ml]: x", "x");
	base_is("[fwd: Re: hello]", "hello");
	base_is("[Fwd: [fwd: a]]", "a");
	base_is("[PATCH] fix it", "fix it");
	base_is("[PATCH]", "[PATCH]");
	base_is("[a] [b]", "[b]");
	base_is("[a] [b] Re: c", "c");
	base_is("Re:   spaced\t\tout  ", "spaced out");
	base_is("Subject (fwd) (FWD)", "Subject");
	base_is("Refactor: not a reply", "Refactor: not a reply");
	base_is("Fwd:Re:(fwd)", "");
	base_is("", "");
	base_is("   ", "");
	base_is("=?UTF-8?Q?Re=3A_caf=C3=A9?=", "café");
	base_is("Re: =?ISO-8859-1?Q?=E9t=E9?= (fwd)", "été");
	base_is("Re:\r\n folded\r\n\tsubject", "folded subject");
}

static const char *
sort(const char *args, int uid)
{
	static char out[512];
	char text[1024], err[256];
	struct imap_sort *s;
	struct strbuf b;
	uint32_t *seqs;
	size_t n;
	int r;

	snprintf(text, sizeof(text), "a SORT %s\r\n", args);
	r = imap_sort_parse(&s, args_of(text), (uint32_t)B.n, 40, &saved, err, sizeof(err));
	if (r != 0)
		return r == -2 ? "NO" : "BAD";
	assert_int_equal(imap_sort_run(s, &ops, &seqs, &n), 0);
	strbuf_init(&b, 4096);
	assert_int_equal(imap_sort_respond(s, &ops, seqs, n, uid, &b), 0);
	snprintf(out, sizeof(out), "%s", b.data);
	strbuf_free(&b);
	free(seqs);
	imap_sort_free(s);
	return out;
}

static void
test_sort(void **st)
{
	/* base subjects: "hello world", "été plans", "hello world", "" */
	assert_string_equal(sort("(SUBJECT) UTF-8 ALL", 0), "* SORT 4 1 3 2\r\n");
	assert_string_equal(sort("(REVERSE SUBJECT) UTF-8 ALL", 0), "* SORT 2 1 3 4\r\n");
	/* sent dates; 3 and 4 fall back to the internal date */
	assert_string_equal(sort("(DATE) UTF-8 ALL", 0), "* SORT 3 1 2 4\r\n");
	assert_string_equal(sort("(REVERSE DATE) US-ASCII ALL", 1), "* SORT 40 20 10 30\r\n");
	assert_string_equal(sort("(ARRIVAL) UTF-8 ALL", 0), "* SORT 3 2 1 4\r\n");
	assert_string_equal(sort("(FROM) UTF-8 ALL", 0), "* SORT 1 3 2 4\r\n");
	assert_string_equal(sort("(DISPLAYFROM) UTF-8 ALL", 0), "* SORT 3 2 1 4\r\n");
	assert_string_equal(sort("(TO) UTF-8 ALL", 0), "* SORT 2 3 1 4\r\n");
	assert_string_equal(sort("(DISPLAYTO) UTF-8 ALL", 0), "* SORT 2 3 1 4\r\n");
	assert_string_equal(sort("(CC) UTF-8 ALL", 0), "* SORT 2 3 4 1\r\n");
	assert_string_equal(sort("(CC REVERSE ARRIVAL) UTF-8 ALL", 0), "* SORT 4 2 3 1\r\n");
	assert_string_equal(sort("(SIZE) UTF-8 ALL", 0), "* SORT 4 1 3 2\r\n");
	assert_string_equal(sort("(REVERSE SIZE) UTF-8 ALL", 0), "* SORT 2 3 1 4\r\n");
	assert_string_equal(sort("(TO SUBJECT) UTF-8 ALL", 0), "* SORT 3 2 4 1\r\n");
	assert_string_equal(sort("(DATE) UTF-8 UNSEEN", 0), "* SORT 3 2 4\r\n");
	assert_string_equal(sort("(DATE) UTF-8 MODSEQ 5", 0), "* SORT 1 2 4 (MODSEQ 12)\r\n");
	assert_string_equal(sort("(DATE) UTF-8 KEYWORD none", 0), "* SORT\r\n");
	assert_string_equal(sort("() UTF-8 ALL", 0), "BAD");
	assert_string_equal(sort("(FOO) UTF-8 ALL", 0), "BAD");
	assert_string_equal(sort("(REVERSE) UTF-8 ALL", 0), "BAD");
	assert_string_equal(sort("(DATE REVERSE) UTF-8 ALL", 0), "BAD");
	assert_string_equal(sort("DATE UTF-8 ALL", 0), "BAD");
	assert_string_equal(sort("(DATE) ALL", 0), "NO");
	assert_string_equal(sort("(DATE)", 0), "BAD");
	assert_string_equal(sort("(DATE) UTF-8", 0), "BAD");
	assert_string_equal(sort("(DATE) ISO-8859-1 ALL", 0), "NO");
}

/* Thread test messages: headers only. */
#define TM(uid, day, rest) { uid, 0, NULL, uid, "2024-05-" day " 00:00", rest "\n\nx\n" }
static const struct tmsg tmail[] = {
	TM(10, "01", "Message-ID: <a>\nSubject: Topic A\nDate: Wed, 1 May 2024 10:00:00 +0000"),
	TM(20, "01", "Message-ID: <b>\nReferences: <a>\nSubject: Re: Topic A\n"
	    "Date: Thu, 2 May 2024 10:00:00 +0000"),
	TM(30, "01", "Message-ID: <c>\nReferences: <a>\n <b>\nSubject: Re: Topic A\n"
	    "Date: Fri, 3 May 2024 10:00:00 +0000"),
	TM(40, "01", "Message-ID: <d>\nSubject: Other\nDate: Sat, 4 May 2024 10:00:00 +0000"),
	TM(50, "01", "Message-ID: <e>\nReferences: <x>\nSubject: Lost parent\n"
	    "Date: Sun, 5 May 2024 10:00:00 +0000"),
	TM(60, "01", "Message-ID: <f>\nIn-Reply-To: <y> (sent by someone)\nSubject: Sibling\n"
	    "Date: Mon, 6 May 2024 10:00:00 +0000"),
	TM(70, "01", "Message-ID: <g>\nReferences: junk\nIn-Reply-To: <y>\nSubject: Sibling\n"
	    "Date: Tue, 7 May 2024 10:00:00 +0000"),
	TM(80, "01", "Message-ID: <h>\nSubject: Re: Other\nDate: Wed, 8 May 2024 10:00:00 +0000"),
	TM(90, "01", "Message-ID: <i>\nSubject: Fresh\nDate: Thu, 9 May 2024 10:00:00 +0000"),
	TM(100, "01", "Message-ID: <j>\nSubject: fresh\nDate: Fri, 10 May 2024 10:00:00 +0000"),
	TM(110, "01", "Message-ID: <a>\nSubject: Dup\nDate: Sat, 11 May 2024 10:00:00 +0000"),
	TM(120, "01", "Message-ID: <k>\nReferences: <a> <\"b\"> <c>\nSubject: Re: Topic A\n"
	    "Date: Sun, 12 May 2024 10:00:00 +0000"),
	TM(130, "01", "Message-ID: <l>\nReferences: <a>\nSubject: Re: Topic A\n"
	    "Date: Mon, 13 May 2024 10:00:00 +0000"),
};

static const char *
thread(const char *args, int uid)
{
	static char out[1024];
	char text[1024], err[256];
	struct strbuf b;
	int r;

	snprintf(text, sizeof(text), "a THREAD %s\r\n", args);
	strbuf_init(&b, 1 << 20);
	r = imap_thread(args_of(text), uid, &ops, B.m[B.n - 1].uid, &saved, &b, err, sizeof(err));
	snprintf(out, sizeof(out), "%s", r == -1 ? "BAD" : r == -2 ? "NO" :
	    b.data != NULL ? b.data : "");
	strbuf_free(&b);
	return out;
}

static int
setup_threads(void **st)
{
	box_open(tmail, sizeof(tmail) / sizeof(tmail[0]));
	imap_seqset_init(&saved);
	imap_cmd_init(&cmd);
	return 0;
}

static void
test_thread_refs(void **st)
{
	assert_string_equal(thread("REFERENCES UTF-8 ALL", 0),
	    "(1 (2 3 12)(13))(4 8)(5)((6)(7))((9)(10))(11)");
	assert_string_equal(thread("REFERENCES US-ASCII 1:7", 1),
	    "(10 20 30)(40)(50)((60)(70))");
	/* a missing parent with one child is promoted; threads sort by date */
	assert_string_equal(thread("REFERENCES UTF-8 3,12", 0), "(3 12)");
	assert_string_equal(thread("REFERENCES UTF-8 2:3,12", 0), "(2 3 12)");
	/* two orphans of the same missing parent keep the dummy */
	assert_string_equal(thread("REFERENCES UTF-8 6:7", 0), "((6)(7))");
	assert_string_equal(thread("REFERENCES UTF-8 KEYWORD none", 0), "");
	assert_string_equal(thread("BOGUS UTF-8 ALL", 0), "BAD");
	assert_string_equal(thread("REFERENCES", 0), "BAD");
	assert_string_equal(thread("REFERENCES KOI8-R ALL", 0), "NO");
}

static void
test_thread_ordered(void **st)
{
	assert_string_equal(thread("ORDEREDSUBJECT UTF-8 ALL", 0),
	    "(1 (2)(3)(12)(13))(4 8)(5)(6 7)(9 10)(11)");
	assert_string_equal(thread("ORDEREDSUBJECT UTF-8 ALL", 1),
	    "(10 (20)(30)(120)(130))(40 80)(50)(60 70)(90 100)(110)");
	assert_string_equal(thread("ORDEREDSUBJECT UTF-8 NOT 1", 0),
	    "(2 (3)(12)(13))(4 8)(5)(6 7)(9 10)(11)");
}

/* Loops in References are not linked (RFC 5256 4 (1)(A)). */
static const struct tmsg loopmail[] = {
	TM(1, "01", "Message-ID: <p>\nReferences: <q>\nSubject: loop\nDate: 1 May 2024 10:00 +0000"),
	TM(2, "01", "Message-ID: <q>\nReferences: <p>\nSubject: loop\nDate: 2 May 2024 10:00 +0000"),
	TM(3, "01", "Message-ID: <r>\nReferences: <r>\nSubject: self\nDate: 3 May 2024 10:00 +0000"),
	TM(4, "01", "Subject: Re: loop\nDate: 4 May 2024 10:00 +0000"),
	TM(5, "01", "Subject: self (fwd)\nDate: 5 May 2024 10:00 +0000"),
	TM(6, "01", "Subject: Re: self\nDate: 6 May 2024 10:00 +0000"),
};

static void
test_thread_loops(void **st)
{
	box_close();
	box_open(loopmail, 6);
	/*
	 * 1 is 2's child, so 2 is not linked under 1 (a loop), nor 3 under
	 * itself; the replies 4, 5 ("(fwd)") and 6 join by subject.
	 */
	assert_string_equal(thread("REFERENCES UTF-8 ALL", 0), "(2 (1)(4))(3 (5)(6))");
}

/* RFC 5256 4 (5): merging by subject, dummies with dummies. */
static const struct tmsg mergemail[] = {
	TM(1, "01", "Message-ID: <p1>\nReferences: <y>\nSubject: Sibling\nDate: 1 May 2024 10:00 +0000"),
	TM(2, "01", "Message-ID: <p2>\nReferences: <y>\nSubject: Sibling\nDate: 2 May 2024 10:00 +0000"),
	TM(3, "01", "Message-ID: <p3>\nReferences: <z>\nSubject: Re: Sibling\nDate: 3 May 2024 10:00 +0000"),
	TM(4, "01", "Message-ID: <p4>\nReferences: <z>\nSubject: Re: sibling\nDate: 4 May 2024 10:00 +0000"),
	TM(5, "01", "Message-ID: <p5>\nSubject: Sibling\nDate: 5 May 2024 10:00 +0000"),
	TM(6, "01", "Message-ID: <p6>\nSubject: Re: Sibling\nDate: 30 Apr 2024 10:00 +0000"),
	TM(7, "01", "Subject: Re: X\nDate: 7 May 2024 10:00 +0000"),
	TM(8, "01", "Subject: X\nDate: 8 May 2024 10:00 +0000"),
	TM(9, "01", "Date: 9 May 2024 10:00 +0000"),
	TM(10, "01", "Subject: Re:\nDate: 10 May 2024 10:00 +0000"),
	TM(11, "01", "Subject: Re: [x]\nDate: 11 May 2024 10:00 +0000"),
	TM(12, "01", "Subject: [x]\nDate: 12 May 2024 10:00 +0000"),
};

static void
test_thread_merge(void **st)
{
	box_close();
	box_open(mergemail, sizeof(mergemail) / sizeof(mergemail[0]));
	/*
	 * Dummies <y> and <z> share a subject: z's children go to y; the
	 * lone messages join y. A non-reply "X" takes the table from the
	 * reply "Re: X", which becomes its child. Empty subjects never merge.
	 */
	assert_string_equal(thread("REFERENCES UTF-8 ALL", 0),
	    "((6)(1)(2)(3)(4)(5))(8 7)(9)(10)(12 11)");
	assert_string_equal(thread("REFERENCES UTF-8 1:2,5", 0), "((1)(2)(5))");
	assert_string_equal(thread("REFERENCES UTF-8 5:6", 0), "(5 6)");
	assert_string_equal(thread("REFERENCES UTF-8 1,5", 0), "((1)(5))");
	assert_string_equal(thread("ORDEREDSUBJECT UTF-8 ALL", 0),
	    "(6 (1)(2)(3)(4)(5))(7 8)(9 10)(11 12)");
}

/* A reply chain longer than any stack would allow recursion for. */
static void
test_thread_deep(void **st)
{
	enum { N = 3000 };
	struct tmsg *m = calloc(N, sizeof(*m));
	char **texts = calloc(N, sizeof(*texts));
	struct strbuf want;
	size_t i;

	strbuf_init(&want, 1 << 20);
	for (i = 0; i < N; i++) {
		texts[i] = malloc(128);
		snprintf(texts[i], 128, "Message-ID: <%zu>\nIn-Reply-To: <%zu>\n"
		    "Subject: deep\n\nx\n", i + 1, i);
		m[i].uid = (uint32_t)(i + 1);
		m[i].idate = "2024-05-01 00:00";
		m[i].text = texts[i];
		strbuf_printf(&want, i == 0 ? "%zu" : " %zu", i + 1);
	}
	box_close();
	box_open(m, N);
	{
		char err[256];
		struct strbuf out;

		strbuf_init(&out, 1 << 20);
		assert_int_equal(imap_thread(args_of("a THREAD REFERENCES UTF-8 ALL\r\n"), 0, &ops,
		    N, NULL, &out, err, sizeof(err)), 0);
		assert_int_equal(out.len, want.len + 2);
		assert_memory_equal(out.data + 1, want.data, want.len);
		strbuf_reset(&out);
		assert_int_equal(imap_thread(args_of("a THREAD ORDEREDSUBJECT UTF-8 ALL\r\n"), 0,
		    &ops, N, NULL, &out, err, sizeof(err)), 0);
		assert_true(strncmp(out.data, "(1 (2)(3)(4)", 12) == 0);
		strbuf_free(&out);
	}
	box_close();
	for (i = 0; i < N; i++)
		free(texts[i]);
	free(texts);
	free(m);
	strbuf_free(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test_setup_teardown(test_sort, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_thread_refs, setup_threads, teardown),
		cmocka_unit_test_setup_teardown(test_thread_ordered, setup_threads, teardown),
		cmocka_unit_test_setup_teardown(test_thread_loops, setup_threads, teardown),
		cmocka_unit_test_setup_teardown(test_thread_merge, setup_threads, teardown),
		cmocka_unit_test_setup_teardown(test_thread_deep, setup_threads, teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
