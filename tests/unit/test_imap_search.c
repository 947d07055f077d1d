/*
 * Unit tests of imapd's SEARCH, SORT and THREAD (imapd/imap_search.c,
 * imap_search_eval.c, imap_subject.c, imap_sort.c, imap_thread.c): every
 * RFC 3501 6.4.4 key over a fake mailbox of four messages, NOT/OR
 * nesting, sequence sets, "$" (RFC 5182), MODSEQ (RFC 7162), CHARSET and
 * BADCHARSET, the SEARCH and ESEARCH responses (RFC 4731), the limits,
 * that content is asked for only when a key needs it, the base subject
 * (RFC 5256 2.1), SORT (RFC 5256, 5957) and THREAD ORDEREDSUBJECT and
 * REFERENCES (RFC 5256 4, dummies, loops, subject merging).
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

struct tmsg {
	uint32_t	 uid;
	unsigned	 flags;
	const char	*kw;
	uint64_t	 modseq;
	const char	*idate;	/* "YYYY-MM-DD HH:MM" UTC */
	const char	*text;	/* LF line ends, made CRLF */
};

struct box {
	const struct tmsg	*m;
	size_t			 n;
	char			**crlf;
	unsigned		 content_calls;
	uint32_t		 vanished;	/* this seq's content is gone */
};

static const struct tmsg mail[] = {
	{ 10, IMAP_F_SEEN | IMAP_F_ANSWERED, "$Work", 5, "2024-02-03 10:00",
	  "From: Xavier Example <alice@example.org>\n"
	  "To: Bob <bob@example.net>\n"
	  "Cc: carol@example.com\n"
	  "Subject: Hello world\n"
	  "Date: Thu, 01 Feb 2024 01:30:00 +0200\n"
	  "Message-ID: <m1@example.org>\n"
	  "\n"
	  "Plain body with Kaffee and some more words to make it long.\n" },
	{ 20, IMAP_F_FLAGGED | IMAP_F_RECENT, NULL, 9, "2024-02-02 00:30",
	  "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\n"
	  "To: alice@example.org\n"
	  "Bcc: secret@example.org\n"
	  "Subject: =?ISO-8859-1?Q?=C9t=E9?= plans\n"
	  "Date: Fri, 02 Feb 2024 12:00:00 -0500\n"
	  "Message-ID: <m2@example.de>\n"
	  "In-Reply-To: <m1@example.org>\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	  "\n"
	  "--b1\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "R3LDvMOfZSBhdXMgS8O2bG4NCg==\n"
	  "--b1\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "c2VjcmV0YmluYXJ5\n"
	  "--b1--\n" },
	{ 30, IMAP_F_DELETED | IMAP_F_DRAFT, "Junk", 3, "2024-01-15 12:00",
	  "From: bob@example.net\n"
	  "To: alice@example.org\n"
	  "Subject: Re: Hello world\n"
	  "Date: garbage\n"
	  "X-Priority: 1\n"
	  "References: <m1@example.org>\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "caf=C3=A9 time, a quoted-printable body of some length\n" },
	{ 40, 0, NULL, 12, "2024-03-01 08:00",
	  "From: \"Zed\" <zed@example.com>\n"
	  "To: bob@example.net\n"
	  "\n"
	  "short\n" },
};

static struct box B;

static char *
to_crlf(const char *s)
{
	struct strbuf b;

	strbuf_init(&b, 1 << 20);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			assert_int_equal(strbuf_putc(&b, '\r'), 0);
		assert_int_equal(strbuf_putc(&b, *s), 0);
	}
	return b.data;
}

static void
box_open(const struct tmsg *m, size_t n)
{
	size_t i;

	B.m = m;
	B.n = n;
	B.crlf = calloc(n, sizeof(*B.crlf));
	for (i = 0; i < n; i++)
		B.crlf[i] = to_crlf(m[i].text);
	B.content_calls = 0;
	B.vanished = 0;
}

static void
box_close(void)
{
	size_t i;

	for (i = 0; i < B.n; i++)
		free(B.crlf[i]);
	free(B.crlf);
	memset(&B, 0, sizeof(B));
}

static uint32_t
f_count(void *ctx)
{
	return (uint32_t)B.n;
}

static uint32_t
f_uid(void *ctx, uint32_t seq)
{
	return B.m[seq - 1].uid;
}

static unsigned
f_flags(void *ctx, uint32_t seq)
{
	return B.m[seq - 1].flags;
}

static int
f_has_keyword(void *ctx, uint32_t seq, const char *kw)
{
	return B.m[seq - 1].kw != NULL && strcasecmp(B.m[seq - 1].kw, kw) == 0;
}

static uint64_t
f_modseq(void *ctx, uint32_t seq)
{
	return B.m[seq - 1].modseq;
}

static uint64_t
f_size(void *ctx, uint32_t seq)
{
	return strlen(B.crlf[seq - 1]);
}

static time_t
f_idate(void *ctx, uint32_t seq)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(B.m[seq - 1].idate, "%Y-%m-%d %H:%M", &tm));
	return timegm(&tm);
}

static int
f_content(void *ctx, uint32_t seq, const char **buf, size_t *len)
{
	B.content_calls++;
	if (seq == B.vanished)
		return -1;
	*buf = B.crlf[seq - 1];
	*len = strlen(*buf);
	return 0;
}

static const struct imap_search_msgops ops = {
	NULL, f_count, f_uid, f_flags, f_has_keyword, f_modseq, f_size, f_idate, f_content
};

/* Parse "tag CMD args" and give the arguments after the command name. */
static struct imap_cmd cmd;

static const struct imap_arg *
args_of(const char *text)
{
	char err[256];

	imap_cmd_free(&cmd);
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, text, strlen(text), err, sizeof(err)) != IMAP_READ_OK)
		fail_msg("parse %s: %s", text, err);
	return cmd.args;
}

static struct imap_seqset saved;

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

static int
setup_mail(void **st)
{
	box_open(mail, 4);
	imap_seqset_init(&saved);
	imap_cmd_init(&cmd);
	return 0;
}

static int
teardown(void **st)
{
	box_close();
	imap_seqset_free(&saved);
	imap_cmd_free(&cmd);
	return 0;
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
