/*
 * Unit tests of imapd's SEARCH (imapd/imap_search.c, imap_search_eval.c):
 * every RFC 3501 6.4.4 key over a fake mailbox of four messages
 * (imap_search_fixture.c), NOT/OR nesting, sequence sets, "$" (RFC 5182),
 * MODSEQ (RFC 7162), CHARSET and BADCHARSET, the SEARCH and ESEARCH
 * responses (RFC 4731), the limits, and that content is asked for only
 * when a key needs it. SORT and THREAD are in test_imap_sort.c.
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

/* Run SEARCH keys; the matches as "1,3:4" ("" for none), or "BAD"/"NO". */
static const char *
search(const char *keys)
{
	static char out[512];
	char text[8192], err[256];
	struct imap_search s;
	struct imap_seqset res;
	struct strbuf b;
	int r;

	snprintf(text, sizeof(text), "a SEARCH %s\r\n", keys);
	r = imap_search_parse(&s, args_of(text), (uint32_t)B.n, B.m[B.n - 1].uid, &saved, err,
	    sizeof(err));
	if (r == -1)
		return "BAD";
	if (r == -2)
		return "NO";
	imap_seqset_init(&res);
	assert_int_equal(imap_search_run(&s, &ops, &res), 0);
	strbuf_init(&b, 4096);
	assert_int_equal(imap_seqset_print(&res, &b), 0);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	strbuf_free(&b);
	imap_seqset_free(&res);
	imap_search_free(&s);
	return out;
}

static void
test_flag_keys(void **st)
{
	assert_string_equal(search("ALL"), "1:4");
	assert_string_equal(search("ANSWERED"), "1");
	assert_string_equal(search("UNANSWERED"), "2:4");
	assert_string_equal(search("DELETED"), "3");
	assert_string_equal(search("UNDELETED"), "1:2,4");
	assert_string_equal(search("DRAFT"), "3");
	assert_string_equal(search("UNDRAFT"), "1:2,4");
	assert_string_equal(search("FLAGGED"), "2");
	assert_string_equal(search("UNFLAGGED"), "1,3:4");
	assert_string_equal(search("SEEN"), "1");
	assert_string_equal(search("unseen"), "2:4");
	assert_string_equal(search("RECENT"), "2");
	assert_string_equal(search("NEW"), "2");
	assert_string_equal(search("OLD"), "1,3:4");
	assert_string_equal(search("KEYWORD $work"), "1");
	assert_string_equal(search("KEYWORD Junk"), "3");
	assert_string_equal(search("UNKEYWORD Junk"), "1:2,4");
	assert_string_equal(search("KEYWORD nothere"), "");
}

static void
test_header_keys(void **st)
{
	assert_string_equal(search("FROM alice"), "1");
	assert_string_equal(search("FROM \"MÜLLER\""), "2");	/* RFC 2047, Latin-1 fold */
	assert_string_equal(search("FROM \"jürgen\""), "2");
	assert_string_equal(search("TO alice"), "2:3");
	assert_string_equal(search("TO BOB"), "1,4");
	assert_string_equal(search("CC carol"), "1");
	assert_string_equal(search("BCC secret"), "2");
	assert_string_equal(search("SUBJECT \"ÉTÉ\""), "2");	/* ISO-8859-1 word */
	assert_string_equal(search("SUBJECT hello"), "1,3");
	assert_string_equal(search("SUBJECT {5}\r\nWORLD"), "1,3");
	assert_string_equal(search("SUBJECT \"\""), "1:3");	/* has a Subject */
	assert_string_equal(search("HEADER X-Priority \"\""), "3");
	assert_string_equal(search("HEADER x-priority 1"), "3");
	assert_string_equal(search("HEADER Message-ID m2@"), "2");
	assert_string_equal(search("HEADER In-Reply-To m1"), "2");
	assert_string_equal(search("HEADER X-None \"\""), "");
}

static void
test_body_keys(void **st)
{
	assert_string_equal(search("BODY kaffee"), "1");
	assert_string_equal(search("BODY \"KÖLN\""), "2");	/* base64, folded */
	assert_string_equal(search("BODY \"grüße\""), "2");
	assert_string_equal(search("BODY secretbinary"), "");	/* not a text part */
	assert_string_equal(search("BODY \"café\""), "3");	/* quoted-printable */
	assert_string_equal(search("BODY hello"), "");	/* header only */
	assert_string_equal(search("TEXT hello"), "1,3");
	assert_string_equal(search("TEXT short"), "4");
	assert_string_equal(search("TEXT \"Müller\""), "2");
	assert_string_equal(search("TEXT zzzz"), "");
}

static void
test_size_date_keys(void **st)
{
	assert_true(strlen(B.crlf[3]) < 100);
	assert_string_equal(search("SMALLER 100"), "4");
	assert_string_equal(search("LARGER 100"), "1:3");
	assert_string_equal(search("LARGER 18446744073709551615"), "BAD");
	assert_string_equal(search("LARGER 0"), "1:4");
	/* internal date, server zone (UTC here) */
	assert_string_equal(search("BEFORE 1-Feb-2024"), "3");
	assert_string_equal(search("ON 3-feb-2024"), "1");
	assert_string_equal(search("ON \"02-FEB-2024\""), "2");
	assert_string_equal(search("SINCE 2-Feb-2024"), "1:2,4");
	/* Date header in its own zone: 01:30 +0200 is still 1 Feb */
	assert_string_equal(search("SENTON 1-Feb-2024"), "1");
	assert_string_equal(search("SENTBEFORE 1-Feb-2024"), "");
	assert_string_equal(search("SENTBEFORE 2-Feb-2024"), "1");
	assert_string_equal(search("SENTSINCE 2-Feb-2024"), "2");
	assert_string_equal(search("SENTON 2-Feb-2024"), "2");
	assert_string_equal(search("BEFORE 32-Feb-2024"), "BAD");
	assert_string_equal(search("BEFORE 1-Fev-2024"), "BAD");
	assert_string_equal(search("BEFORE 2024-02-01"), "BAD");
	assert_string_equal(search("ON 1-Feb-24"), "BAD");
}

static void
test_sets(void **st)
{
	assert_string_equal(search("2:*"), "2:4");
	assert_string_equal(search("1,3"), "1,3");
	assert_string_equal(search("*"), "4");
	assert_string_equal(search("3:1"), "1:3");
	assert_string_equal(search("9"), "");
	assert_string_equal(search("UID 20:30"), "2:3");
	assert_string_equal(search("UID 35:*"), "4");
	assert_string_equal(search("UID *"), "4");
	assert_string_equal(search("UID 1:15"), "1");
	assert_string_equal(search("0"), "BAD");
	assert_string_equal(search("1:"), "BAD");
	assert_string_equal(search("UID"), "BAD");
	assert_string_equal(search("UID x"), "BAD");
	/* "$": the saved UIDs (RFC 5182) */
	assert_string_equal(search("$"), "");
	assert_int_equal(imap_seqset_add(&saved, 20, 20), 0);
	assert_int_equal(imap_seqset_add(&saved, 40, 40), 0);
	assert_string_equal(search("$"), "2,4");
	assert_string_equal(search("UID $"), "2,4");
	assert_string_equal(search("NOT $"), "1,3");
	assert_string_equal(search("$ UNSEEN FLAGGED"), "2");
}

static void
test_modseq(void **st)
{
	assert_string_equal(search("MODSEQ 9"), "2,4");
	assert_string_equal(search("MODSEQ \"/flags/\\\\Seen\" all 9"), "2,4");
	assert_string_equal(search("MODSEQ \"/flags/$Work\" priv 10"), "4");
	assert_string_equal(search("MODSEQ \"/flags/x\" shared 0"), "1:4");
	assert_string_equal(search("MODSEQ \"/flags/x\" bogus 1"), "BAD");
	assert_string_equal(search("MODSEQ \"x\" all 1"), "BAD");
	assert_string_equal(search("MODSEQ"), "BAD");
	assert_string_equal(search("MODSEQ x"), "BAD");
}

static void
test_logic(void **st)
{
	assert_string_equal(search("NOT SEEN"), "2:4");
	assert_string_equal(search("OR SEEN FLAGGED"), "1:2");
	assert_string_equal(search("NOT (OR SEEN FLAGGED)"), "3:4");
	assert_string_equal(search("NOT OR SEEN FLAGGED"), "3:4");
	assert_string_equal(search("(SEEN ANSWERED)"), "1");
	assert_string_equal(search("SEEN ANSWERED"), "1");
	assert_string_equal(search("OR (FROM bob) (NOT TO alice)"), "1,3:4");
	assert_string_equal(search("OR OR DELETED FLAGGED SEEN"), "1:3");
	assert_string_equal(search("OR DELETED OR FLAGGED SEEN"), "1:3");
	assert_string_equal(search("NOT NOT NOT SEEN"), "2:4");
	assert_string_equal(search("((((SEEN))))"), "1");
	assert_string_equal(search("(UNSEEN (OR BODY \"köln\" BODY \"café\")) NOT 3"), "2");
	assert_string_equal(search("OR SEEN"), "BAD");
	assert_string_equal(search("NOT"), "BAD");
	assert_string_equal(search("()"), "BAD");
	assert_string_equal(search("FOO"), "BAD");
	assert_string_equal(search("SUBJECT"), "BAD");
	assert_string_equal(search("HEADER Subject"), "BAD");
	assert_string_equal(search("HEADER \"a:b\" x"), "BAD");
}

static void
test_charset(void **st)
{
	assert_string_equal(search("CHARSET UTF-8 SUBJECT \"été\""), "2");
	assert_string_equal(search("CHARSET us-ascii SEEN"), "1");
	assert_string_equal(search("CHARSET \"utf-8\" SEEN"), "1");
	assert_string_equal(search("CHARSET ISO-8859-1 SEEN"), "NO");
	assert_string_equal(search("CHARSET KOI8-R SUBJECT x"), "NO");
	assert_string_equal(search("CHARSET"), "BAD");
	assert_string_equal(search("CHARSET UTF-8"), "BAD");
}

static void
test_limits(void **st)
{
	struct strbuf b;
	int i;

	/* IMAP_SEARCH_DEPTH_MAX: NOT chains and nested lists */
	strbuf_init(&b, 1 << 20);
	for (i = 0; i < 31; i++)
		strbuf_puts(&b, "NOT ");
	strbuf_puts(&b, "SEEN");
	assert_string_equal(search(b.data), "2:4");
	strbuf_reset(&b);
	for (i = 0; i < IMAP_SEARCH_DEPTH_MAX + 1; i++)
		strbuf_puts(&b, "NOT ");
	strbuf_puts(&b, "SEEN");
	assert_string_equal(search(b.data), "BAD");
	/* IMAP_SEARCH_NODES_MAX */
	strbuf_reset(&b);
	for (i = 0; i < IMAP_SEARCH_NODES_MAX - 1; i++)
		strbuf_puts(&b, "SEEN ");
	assert_string_equal(search(b.data), "1");
	strbuf_puts(&b, "SEEN SEEN");
	assert_string_equal(search(b.data), "BAD");
	strbuf_free(&b);
}

/* Content is read only when a key needs it, once per message. */
static void
test_lazy(void **st)
{
	B.content_calls = 0;
	assert_string_equal(search("SEEN UID 1:* LARGER 1 SINCE 1-Jan-2000 MODSEQ 1 KEYWORD x"), "");
	assert_int_equal(B.content_calls, 0);
	assert_string_equal(search("BODY \"köln\" FLAGGED"), "2");
	assert_int_equal(B.content_calls, 1);
	B.content_calls = 0;
	assert_string_equal(search("OR BODY nothing SEEN"), "1");
	assert_int_equal(B.content_calls, 3);	/* SEEN first: message 1 is not read */
	B.content_calls = 0;
	assert_string_equal(search("SUBJECT hello BODY kaffee TEXT world FROM zzz"), "");
	assert_int_equal(B.content_calls, 4);
	B.content_calls = 0;
	B.vanished = 2;
	assert_string_equal(search("NOT BODY zzz"), "1,3:4");
	assert_string_equal(search("OR SEEN NOT SUBJECT zzz"), "1,3:4");
	assert_string_equal(search("NOT SEEN"), "2:4");
	B.vanished = 0;
}

/* The untagged responses. */
static const char *
respond(const char *keys, int uid, int rev2)
{
	static char out[512];
	char text[1024], err[256];
	struct imap_search s;
	struct imap_seqset res;
	struct strbuf b;

	snprintf(text, sizeof(text), "A1 SEARCH %s\r\n", keys);
	assert_int_equal(imap_search_parse(&s, args_of(text), 4, 40, &saved, err, sizeof(err)), 0);
	imap_seqset_init(&res);
	assert_int_equal(imap_search_run(&s, &ops, &res), 0);
	strbuf_init(&b, 4096);
	assert_int_equal(imap_search_respond(&s, &ops, &res, "A1", uid, rev2, &b), 0);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	strbuf_free(&b);
	imap_seqset_free(&res);
	imap_search_free(&s);
	return out;
}

static void
test_responses(void **st)
{
	assert_string_equal(respond("UNSEEN", 0, 0), "* SEARCH 2 3 4\r\n");
	assert_string_equal(respond("UNSEEN", 1, 0), "* SEARCH 20 30 40\r\n");
	assert_string_equal(respond("DELETED FLAGGED", 0, 0), "* SEARCH\r\n");
	assert_string_equal(respond("MODSEQ 9", 0, 0), "* SEARCH 2 4 (MODSEQ 12)\r\n");
	assert_string_equal(respond("MODSEQ 99", 0, 0), "* SEARCH\r\n");
	assert_string_equal(respond("RETURN (MIN MAX COUNT) UNSEEN", 1, 0),
	    "* ESEARCH (TAG \"A1\") UID MIN 20 MAX 40 COUNT 3\r\n");
	assert_string_equal(respond("RETURN () UNSEEN", 0, 0),
	    "* ESEARCH (TAG \"A1\") ALL 2:4\r\n");
	assert_string_equal(respond("RETURN (ALL) OR SEEN DRAFT", 1, 0),
	    "* ESEARCH (TAG \"A1\") UID ALL 10,30\r\n");
	assert_string_equal(respond("RETURN (COUNT ALL MIN) DELETED FLAGGED", 0, 0),
	    "* ESEARCH (TAG \"A1\") COUNT 0\r\n");
	assert_string_equal(respond("RETURN (ALL) MODSEQ 1", 0, 0),
	    "* ESEARCH (TAG \"A1\") ALL 1:4 MODSEQ 12\r\n");
	/* RFC 4731 3.2: with MIN/MAX only, the mod-sequence of those returned */
	assert_string_equal(respond("RETURN (MIN) MODSEQ 1 NOT 4", 0, 0),
	    "* ESEARCH (TAG \"A1\") MIN 1 MODSEQ 5\r\n");
	assert_string_equal(respond("UNSEEN", 0, 1), "* ESEARCH (TAG \"A1\") ALL 2:4\r\n");
	assert_string_equal(respond("UNSEEN", 1, 1), "* ESEARCH (TAG \"A1\") UID ALL 20,30,40\r\n");
	assert_string_equal(respond("KEYWORD none", 1, 1), "* ESEARCH (TAG \"A1\") UID\r\n");
	assert_string_equal(respond("RETURN (SAVE) UNSEEN", 0, 0), "");
	assert_string_equal(respond("RETURN (SAVE COUNT) UNSEEN", 0, 0),
	    "* ESEARCH (TAG \"A1\") COUNT 3\r\n");
	assert_string_equal(search("RETURN (BOGUS) ALL"), "BAD");
	assert_string_equal(search("RETURN ALL"), "BAD");
	assert_string_equal(search("RETURN (MIN)"), "BAD");
}

static void
test_searchres(void **st)
{
	char err[256];
	struct imap_search s;
	struct imap_seqset res, uids;

	assert_int_equal(imap_search_parse(&s, args_of("a SEARCH RETURN (SAVE) OR 1 3\r\n"), 4, 40,
	    NULL, err, sizeof(err)), 0);
	assert_true(s.esearch);
	assert_int_equal(s.ret, IMAP_SEARCH_RET_SAVE);
	imap_seqset_init(&res);
	imap_seqset_init(&uids);
	assert_int_equal(imap_search_run(&s, &ops, &res), 0);
	assert_int_equal(imap_search_save(&ops, &res, &uids), 0);
	assert_true(imap_seqset_contains(&uids, 10));
	assert_true(imap_seqset_contains(&uids, 30));
	assert_int_equal(imap_seqset_count(&uids), 2);
	imap_search_free(&s);
	/* then "$" uses it, and the flags tell the caller */
	assert_int_equal(imap_search_parse(&s, args_of("a SEARCH $ MODSEQ 1\r\n"), 4, 40, &uids,
	    err, sizeof(err)), 0);
	assert_true(s.uses_dollar);
	assert_true(s.uses_modseq);
	assert_int_equal(imap_search_run(&s, &ops, &res), 0);
	assert_int_equal(imap_seqset_count(&res), 2);
	assert_true(imap_seqset_contains(&res, 1) && imap_seqset_contains(&res, 3));
	assert_int_equal(imap_search_match(&s, &ops, 3), 1);
	assert_int_equal(imap_search_match(&s, &ops, 2), 0);
	imap_search_free(&s);
	imap_seqset_free(&res);
	imap_seqset_free(&uids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flag_keys, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_header_keys, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_body_keys, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_size_date_keys, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_modseq, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_logic, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_charset, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_lazy, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_responses, setup_mail, teardown),
		cmocka_unit_test_setup_teardown(test_searchres, setup_mail, teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
