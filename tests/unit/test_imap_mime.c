/*
 * Unit tests of imapd's MIME module: the parser (imap_mime.c, with the
 * header and RFC 2231 parameters of imap_mime_hdr.c), BODY and
 * BODYSTRUCTURE byte for byte, ENVELOPE, FETCH sections and BINARY,
 * transfer and charset decoding, RFC 2047 words, dates, and bounded
 * cost on hostile input.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strbuf.h"
#include "util.h"
#include "imap_mime.h"
#include "imap_mime_int.h"

/* Test messages are written with LF; the module sees CRLF as imap_msg_read gives it. */
static char *
crlf(const char *s)
{
	struct strbuf b;

	strbuf_init(&b, 1 << 26);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			assert_int_equal(strbuf_putc(&b, '\r'), 0);
		assert_int_equal(strbuf_putc(&b, *s), 0);
	}
	return b.data != NULL ? b.data : xstrdup("");
}

struct msg {
	char		*text;
	struct imap_mime m;
	struct strbuf	 out;
};

static void
msg_open(struct msg *g, const char *lf)
{
	g->text = crlf(lf);
	assert_int_equal(imap_mime_parse(&g->m, g->text, strlen(g->text)), 0);
	strbuf_init(&g->out, 1 << 26);
}

static void
msg_close(struct msg *g)
{
	imap_mime_free(&g->m);
	strbuf_free(&g->out);
	free(g->text);
}

static void
check_bs(const char *lf, const char *body, const char *bodystructure)
{
	struct msg g;

	msg_open(&g, lf);
	assert_int_equal(imap_mime_bodystructure(&g.m, 0, &g.out), 0);
	assert_string_equal(g.out.data, body);
	strbuf_reset(&g.out);
	assert_int_equal(imap_mime_bodystructure(&g.m, 1, &g.out), 0);
	assert_string_equal(g.out.data, bodystructure);
	msg_close(&g);
}

static void
test_bs_simple(void **state)
{
	(void)state;
	check_bs("From: a@example.org\nSubject: hi\n\nhello\nworld\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2"
	    " NIL NIL NIL NIL)");
	/* No header at all, no final line end. */
	check_bs("\nabc",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0"
	    " NIL NIL NIL NIL)");
	/* Parameters, comments, folding, an id, a description and an MD5. */
	check_bs("Content-Type: TEXT/Plain (comment); charset=\"UTF-8\";\n"
	    "\tformat=flowed (ff)\nContent-Transfer-Encoding: Quoted-Printable\n"
	    "Content-ID: <id1@x>\nContent-Description: A \"note\"\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nx=3D1\n",
	    "(\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\")"
	    " \"<id1@x>\" \"A \\\"note\\\"\" \"Quoted-Printable\" 7 1)",
	    "(\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\")"
	    " \"<id1@x>\" \"A \\\"note\\\"\" \"Quoted-Printable\" 7 1"
	    " \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL NIL NIL)");
	/* A non-text type has no line count; an invalid Content-Type is text/plain. */
	check_bs("Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBO\n",
	    "(\"image\" \"png\" NIL NIL NIL \"base64\" 6)",
	    "(\"image\" \"png\" NIL NIL NIL \"base64\" 6 NIL NIL NIL NIL)");
	check_bs("Content-type: text/plain; format=flowed\n\nx\n",
	    "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL"
	    " \"7bit\" 3 1)",
	    "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL"
	    " \"7bit\" 3 1 NIL NIL NIL NIL)");
	check_bs("Content-Type: garbage\n\nx\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1"
	    " NIL NIL NIL NIL)");
}

static const char alt_msg[] =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"XX\"\n"
    "\n"
    "This is the preamble.\n"
    "--XX\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "plain\n"
    "--XX  \n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "<p>html</p>\n"
    "\n"
    "--XX--\n"
    "epilogue\n";

static void
test_bs_alternative(void **state)
{
	(void)state;
	check_bs(alt_msg,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 13 1)"
	    " \"alternative\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0"
	    " NIL NIL NIL NIL)"
	    "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 13 1"
	    " NIL NIL NIL NIL)"
	    " \"alternative\" (\"boundary\" \"XX\") NIL NIL NIL)");
}

static const char mixed_msg[] =
    "From: \"Doe, John\" <john@example.org>\n"
    "To: Mary <mary@example.net>\n"
    "Subject: report\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
    "Message-ID: <m1@example.org>\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "caf=E9 =\n"
    "ok\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment;\n"
    " filename*0*=utf-8''na%C3%AF;\n"
    " filename*1*=ve.pdf; size=4\n"
    "Content-Language: en, de (German)\n"
    "Content-Location: http://example.org/r.pdf\n"
    "\n"
    "aGVs\n"
    "bG8=\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: Inner <in@example.com>\n"
    "Subject: inner\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "one\n"
    "--inner\n"
    "Content-Type: text/enriched\n"
    "\n"
    "two\n"
    "--inner--\n"
    "\n"
    "--outer--\n";

static void
test_bs_mixed(void **state)
{
	(void)state;
	check_bs(mixed_msg,
	    "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL"
	    " \"quoted-printable\" 12 1)"
	    "(\"application\" \"pdf\" (\"name\" \"r.pdf\") NIL NIL \"base64\" 10)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 173"
	    " (NIL \"inner\" ((\"Inner\" NIL \"in\" \"example.com\"))"
	    " ((\"Inner\" NIL \"in\" \"example.com\"))"
	    " ((\"Inner\" NIL \"in\" \"example.com\")) NIL NIL NIL NIL NIL)"
	    " ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	    "(\"text\" \"enriched\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	    " \"alternative\") 12)"
	    " \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL"
	    " \"quoted-printable\" 12 1 NIL NIL NIL NIL)"
	    "(\"application\" \"pdf\" (\"name\" \"r.pdf\") NIL NIL \"base64\" 10"
	    " NIL (\"attachment\" (\"size\" \"4\" \"filename*\""
	    " \"utf-8''na%C3%AFve.pdf\")) (\"en\" \"de\")"
	    " \"http://example.org/r.pdf\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 173"
	    " (NIL \"inner\" ((\"Inner\" NIL \"in\" \"example.com\"))"
	    " ((\"Inner\" NIL \"in\" \"example.com\"))"
	    " ((\"Inner\" NIL \"in\" \"example.com\")) NIL NIL NIL NIL NIL)"
	    " ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0"
	    " NIL NIL NIL NIL)"
	    "(\"text\" \"enriched\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0"
	    " NIL NIL NIL NIL)"
	    " \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL) 12"
	    " NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
}

static void
test_bs_malformed(void **state)
{
	(void)state;
	/* multipart without a boundary: one empty text part. */
	check_bs("Content-Type: multipart/mixed\n\nfoo\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	    " \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	    " NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)");
	/* No close delimiter: the last part runs to the end. */
	check_bs("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b\n\nyz\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
	    " \"mixed\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0"
	    " NIL NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1"
	    " NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
	/* "--bb" is not a delimiter of "b"; an inner boundary ends at the outer one. */
	check_bs("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/mixed; boundary=bb\n\n--bb\n\nin\n"
	    "--b\n\nout\n--b--\n",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)"
	    " \"mixed\")"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
	    " \"mixed\")",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0"
	    " NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"bb\") NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0"
	    " NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)");
	/* A base64 message/rfc822 cannot be parsed in place: opaque. */
	check_bs("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp5DQo=\n",
	    "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 26)",
	    "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 26"
	    " NIL NIL NIL NIL)");
	/* Other message subtypes are basic; message/global is a message (RFC 9051). */
	check_bs("Content-Type: message/partial; id=\"x\"; number=1\n\nabc\n",
	    "(\"message\" \"partial\" (\"id\" \"x\" \"number\" \"1\") NIL NIL \"7bit\" 5)",
	    "(\"message\" \"partial\" (\"id\" \"x\" \"number\" \"1\") NIL NIL \"7bit\" 5"
	    " NIL NIL NIL NIL)");
	check_bs("Content-Type: message/global\nContent-Language: en\n\nSubject: \xc3\xa9\n\nb\n",
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 18"
	    " (NIL {2}\r\n\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1) 3)",
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 18"
	    " (NIL {2}\r\n\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1"
	    " NIL NIL NIL NIL) 3 NIL NIL (\"en\") NIL)");
	/* Empty parts, delimiters without line ends, no preamble. */
	check_bs("Content-Type: multipart/related; boundary=\"a b\"\n\n--a b\n--a b\n\nx\n--a b--",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)"
	    " \"related\")",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	    " NIL NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0"
	    " NIL NIL NIL NIL)"
	    " \"related\" (\"boundary\" \"a b\") NIL NIL NIL)");
	/* Header only, no body. */
	check_bs("Subject: x\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
	    " NIL NIL NIL NIL)");
}

static void
test_digest(void **state)
{
	struct msg g;

	(void)state;
	msg_open(&g, "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
	    "Subject: one\n\nbody\n--d\nContent-Type: text/plain\n\nnote\n--d--\n");
	assert_int_equal(imap_mime_bodystructure(&g.m, 0, &g.out), 0);
	assert_string_equal(g.out.data,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20"
	    " (NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) 2)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0)"
	    " \"digest\")");
	msg_close(&g);
}

static void
check_env(const char *hdr_lf, const char *want)
{
	struct strbuf o;
	char *h = crlf(hdr_lf);

	strbuf_init(&o, 1 << 20);
	assert_int_equal(imap_envelope(h, strlen(h), &o), 0);
	assert_string_equal(o.data, want);
	strbuf_free(&o);
	free(h);
}

static void
test_envelope(void **state)
{
	(void)state;
	/* RFC 3501 7.4.2's example message, more or less. */
	check_env("Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
	    "From: Terry Gray <gray@cac.washington.edu>\n"
	    "Subject: IMAP4rev1 WG mtg summary and minutes\n"
	    "To: imap@cac.washington.edu\n"
	    "cc: minutes@CNRI.Reston.VA.US,\n"
	    "   John Klensin <KLENSIN@MIT.EDU>\n"
	    "Message-Id: <B27397-0100000@cac.washington.edu>\n\n",
	    "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\""
	    " \"IMAP4rev1 WG mtg summary and minutes\""
	    " ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))"
	    " ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))"
	    " ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))"
	    " ((NIL NIL \"imap\" \"cac.washington.edu\"))"
	    " ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
	    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL"
	    " \"<B27397-0100000@cac.washington.edu>\")");
	/* Groups, quoted names and local parts, comments, routes, encoded words. */
	check_env("From: \"Doe, \\\"J\\\"\" <j@x.org>\n"
	    "Sender: (none)\n"
	    "Reply-To: r@x.org (Reply Box)\n"
	    "To: undisclosed-recipients:;\n"
	    "Cc: Team: a@x.org, \"b c\"@y.org;, =?utf-8?Q?J=C3=B6rg?= <jo@z.de>\n"
	    "Bcc: <@relay.net,@r2.net:u@w.net>, postmaster\n"
	    "Subject: =?iso-8859-1?q?caf=E9?=\n"
	    "In-Reply-To: <p@x>\n\n",
	    "(NIL \"=?iso-8859-1?q?caf=E9?=\""
	    " ((\"Doe, \\\"J\\\"\" NIL \"j\" \"x.org\"))"
	    " ((\"Doe, \\\"J\\\"\" NIL \"j\" \"x.org\"))"
	    " ((\"Reply Box\" NIL \"r\" \"x.org\"))"
	    " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
	    " ((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")"
	    "(NIL NIL \"\\\"b c\\\"\" \"y.org\")(NIL NIL NIL NIL)"
	    "(\"=?utf-8?Q?J=C3=B6rg?=\" NIL \"jo\" \"z.de\"))"
	    " ((NIL \"@relay.net,@r2.net\" \"u\" \"w.net\")"
	    "(NIL NIL \"postmaster\" \"\"))"
	    " \"<p@x>\" NIL)");
	/* Nothing at all; an unterminated group still gets its end marker. */
	check_env("\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	check_env("To: G: a@b\nSubject:\n\n",
	    "(NIL \"\" NIL NIL NIL ((NIL NIL \"G\" NIL)(NIL NIL \"a\" \"b\")"
	    "(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
}

static void
test_addr_first(void **state)
{
	struct strbuf mb, dn;
	const char *v = "=?utf-8?B?SsO2cmc=?= =?utf-8?B?IE0=?= <jm@x.de>, b@y";

	(void)state;
	strbuf_init(&mb, 4096);
	strbuf_init(&dn, 4096);
	assert_int_equal(imap_addr_first(v, strlen(v), &mb, &dn), 1);
	assert_string_equal(mb.data, "jm");
	assert_string_equal(dn.data, "J\xc3\xb6rg M");
	v = "list:; x@y";
	assert_int_equal(imap_addr_first(v, strlen(v), &mb, &dn), 1);
	assert_string_equal(mb.data, "x");
	assert_int_equal(dn.len, 0);
	assert_int_equal(imap_addr_first("", 0, &mb, &dn), 0);
	strbuf_free(&mb);
	strbuf_free(&dn);
}

static void
check_sect(struct msg *g, const char *spec, const char *want_lf)
{
	const char *o;
	size_t ol;
	char *want = crlf(want_lf);

	assert_int_equal(imap_mime_section(&g->m, spec, strlen(spec), &o, &ol,
	    &g->out), 0);
	if (ol != strlen(want) || memcmp(o, want, ol) != 0)
		fail_msg("section %s: got \"%.*s\"", spec, (int)ol, o);
	free(want);
}

static void
test_sections(void **state)
{
	struct msg g;
	const char *o;
	size_t ol;
	static const char *const bad[] = { "0", "1.", ".1", "01", "FOO", "1.2.",
	    "HEADER.FIELDS", "HEADER.FIELDS ()", "HEADER.FIELDS (A", "MIME",
	    "HEADER.FIELDS (A) x", "1.MIME.TEXT", "TEXT.1", "99999999999" };
	size_t i;

	(void)state;
	msg_open(&g, mixed_msg);
	check_sect(&g, "", mixed_msg);
	check_sect(&g, "1", "caf=E9 =\nok");
	check_sect(&g, "1.MIME", "Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n");
	check_sect(&g, "2", "aGVs\nbG8=");
	check_sect(&g, "3.HEADER", "From: Inner <in@example.com>\nSubject: inner\n"
	    "Content-Type: multipart/alternative; boundary=inner\n\n");
	check_sect(&g, "3.1", "one");
	check_sect(&g, "3.2.MIME", "Content-Type: text/enriched\n\n");
	check_sect(&g, "3.2", "two");
	check_sect(&g, "3.TEXT", "--inner\n\none\n--inner\nContent-Type: text/enriched\n"
	    "\ntwo\n--inner--\n");
	check_sect(&g, "3.header.fields (subject FROM)",
	    "From: Inner <in@example.com>\nSubject: inner\n\n");
	check_sect(&g, "HEADER.FIELDS (\"To\" X-None)", "To: Mary <mary@example.net>\n\n");
	check_sect(&g, "HEADER.FIELDS.NOT (From To Subject Date Message-ID)",
	    "Content-Type: multipart/mixed; boundary=outer\n\n");
	check_sect(&g, "4", "");
	check_sect(&g, "1.1", "");
	check_sect(&g, "2.HEADER", "");
	check_sect(&g, "3.3", "");
	check_sect(&g, "4.HEADER.FIELDS (A)", "");
	assert_int_equal(imap_mime_section(&g.m, "HEADER", 6, &o, &ol, &g.out), 0);
	assert_true(ol > 100 && memcmp(o + ol - 4, "\r\n\r\n", 4) == 0);
	assert_int_equal(imap_mime_section(&g.m, "TEXT", 4, &o, &ol, &g.out), 0);
	assert_memory_equal(o, "--outer\r\n", 9);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (imap_mime_section(&g.m, bad[i], strlen(bad[i]), &o, &ol,
		    &g.out) != -1)
			fail_msg("section %s accepted", bad[i]);
	msg_close(&g);

	/* A single-part message has a part 1, itself. */
	msg_open(&g, "Subject: s\n\nbody\n");
	check_sect(&g, "1", "body\n");
	check_sect(&g, "TEXT", "body\n");
	check_sect(&g, "1.MIME", "Subject: s\n\n");
	check_sect(&g, "2", "");
	msg_close(&g);
}

static void
test_binary(void **state)
{
	struct msg g;
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 1 << 20);
	msg_open(&g, mixed_msg);
	assert_int_equal(imap_mime_binary(&g.m, "1", 1, &b), 0);
	assert_string_equal(b.data, "caf\xe9 ok");
	assert_int_equal(imap_mime_binary(&g.m, "2", 1, &b), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	assert_int_equal(imap_mime_binary(&g.m, "3.2", 3, &b), 0);
	assert_string_equal(b.data, "two");
	assert_int_equal(imap_mime_binary(&g.m, "9", 1, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_mime_binary(&g.m, "1.MIME", 6, &b), -1);
	assert_int_equal(imap_mime_binary(&g.m, "TEXT", 4, &b), -1);
	assert_int_equal(imap_mime_binary(&g.m, "", 0, &b), 0);
	assert_int_equal(b.len, strlen(g.text));
	msg_close(&g);
	msg_open(&g, "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n");
	assert_int_equal(imap_mime_binary(&g.m, "1", 1, &b), -2);
	msg_close(&g);
	strbuf_free(&b);
}

static void
check_date(const char *s, long long want, int wantoff)
{
	time_t t;
	int off;

	if (imap_date_parse(s, strlen(s), &t, &off) != 0)
		fail_msg("date \"%s\" refused", s);
	if ((long long)t != want || off != wantoff)
		fail_msg("date \"%s\": %lld %d", s, (long long)t, off);
}

static void
test_dates(void **state)
{
	static const char *const bad[] = { "", "yesterday", "32 Jan 2020 10:00",
	    "29 Feb 2023 10:00:00 +0000", "1 Foo 2020 10:00", "1 Jan 2020 25:00",
	    "1 Jan 2020 10:00 +01", "1 Jan 2020" };
	time_t t;
	int off;
	size_t i;

	(void)state;
	check_date("Thu, 01 Jan 1970 00:00:00 +0000", 0, 0);
	check_date("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -28800);
	check_date("7 Feb 1994 21:52:25 -0800", 760686745, -28800);
	check_date("Mon, 7 Feb 94 21:52 PST", 760686720, -28800);
	check_date("Fri, 21 Nov 1997 09:55:06 GMT", 880106106, 0);
	check_date("21 Nov 097 05:55:06 EDT", 880106106, -14400);
	check_date("Sat, 29 Feb 2020 23:59:60 +0130", 1583020799 - 5400, 5400);
	check_date("  Tue (comment) , 1 Jan 2030 00:00:00 Z", 1893456000, 0);
	check_date("1 Jan 2030 00:00:00", 1893456000, 0);
	check_date("1 Jan 20 00:00 CEST", 1577836800, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (imap_date_parse(bad[i], strlen(bad[i]), &t, &off) == 0)
			fail_msg("date \"%s\" accepted", bad[i]);
}

static void
check_decode(const char *enc, const char *in, const char *want, size_t wantlen)
{
	struct strbuf b;

	strbuf_init(&b, 1 << 20);
	assert_int_equal(mime_decode_body(enc, in, strlen(in), &b), 0);
	assert_int_equal(b.len, wantlen);
	if (wantlen > 0)
		assert_memory_equal(b.data, want, wantlen);
	strbuf_free(&b);
}

static void
check_utf8(const char *cs, const char *in, const char *want)
{
	struct strbuf b;

	strbuf_init(&b, 1 << 20);
	assert_int_equal(mime_to_utf8(cs, cs != NULL ? strlen(cs) : 0, in,
	    strlen(in), &b), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	strbuf_free(&b);
}

static void
check_hdr(const char *in, const char *want)
{
	struct strbuf b;

	strbuf_init(&b, 1 << 20);
	assert_int_equal(mime_hdr_decode(in, strlen(in), &b), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	strbuf_free(&b);
}

static void
test_decode(void **state)
{
	struct strbuf b;

	(void)state;
	check_decode("BASE64", "aGVs\r\n bG8g\td29y bGQ=\r\n", "hello world", 11);
	check_decode("base64", "AAE=", "\0\1", 2);
	check_decode("base64", "YWJj\r\nZA", "abcd", 4);
	check_decode("quoted-printable", "a=3Db =\r\nc  \r\nd=\nx=4g=", "a=b c\r\ndx=4g", 12);
	check_decode("quoted-printable", "soft=  \r\nbreak=c3=A9", "softbreak\xc3\xa9", 11);
	check_decode(NULL, "as is=3D", "as is=3D", 8);
	check_decode("8bit", "\xff", "\xff", 1);
	strbuf_init(&b, 100);
	assert_int_equal(mime_decode_body("x-gzip", "a", 1, &b), -2);
	strbuf_free(&b);

	check_utf8(NULL, "plain", "plain");
	check_utf8("UTF-8", "ok \xc3\xa9 bad \xff\xc3", "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd");
	check_utf8("ISO-8859-1", "caf\xe9", "caf\xc3\xa9");
	check_utf8("iso-8859-15", "\xa4", "\xe2\x82\xac");
	check_utf8("windows-1252", "\x80\x93x\x94", "\xe2\x82\xac\xe2\x80\x9cx\xe2\x80\x9d");
	check_utf8("koi8-r", "\xd0\xd2\xc9", "\xd0\xbf\xd1\x80\xd0\xb8");
	strbuf_init(&b, 100);
	assert_int_equal(mime_to_utf8("x-no-such", 9, "a", 1, &b), -2);
	assert_int_equal(b.len, 0);
	strbuf_free(&b);

	check_hdr("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
	check_hdr("=?utf-8?b?SsO2?=   \r\n =?UTF-8?B?cmc=?= x", "J\xc3\xb6rg x");
	/* A character split over two words (RFC 2047 5 forbids it; it happens). */
	check_hdr("=?utf-8?B?ww==?= =?utf-8?B?qQ==?=", "\xc3\xa9");
	check_hdr("=?utf-8?q?a_b?= c =?utf-8?q?d?=", "a b c d");
	check_hdr("=?x-unknown?q?a?= b", "=?x-unknown?q?a?= b");
	check_hdr("=?utf-8?x?bad?= =? =?utf-8*en?q?ok?=", "=?utf-8?x?bad?= =? ok");
	check_hdr("no words", "no words");
}

static void
test_text_utf8(void **state)
{
	struct msg g;

	(void)state;
	msg_open(&g, mixed_msg);
	assert_int_equal(imap_mime_text_utf8(&g.m, &g.out), 0);
	/* The text part, the attached message's header (RFC 3501 6.4.4
	 * TEXT covers it), then the attached message's text parts. */
	assert_true(strncmp(g.out.data, "caf\xc3\xa9 ok\nFrom: Inner <in@example.com>", 37) == 0);
	assert_non_null(strstr(g.out.data, "\r\nSubject: inner\r\n"));
	assert_true(g.out.len > 8 && strcmp(g.out.data + g.out.len - 8, "\none\ntwo") == 0);
	msg_close(&g);
}

/* Found by fuzz_imap_mime: an attached message's header with raw 8-bit
 * bytes (a base64 "header", Latin-1) gave SEARCH text that was not UTF-8. */
static void
test_text_utf8_raw_header(void **state)
{
	struct msg g;

	(void)state;
	msg_open(&g, "Content-Type: message/rfc822\n\nSubject: caf\xe9 \x8b\n\nx\n");
	assert_int_equal(imap_mime_text_utf8(&g.m, &g.out), 0);
	assert_non_null(strstr(g.out.data, "Subject: caf\xef\xbf\xbd \xef\xbf\xbd\r\n"));
	msg_close(&g);
}

static void
test_hdr_get(void **state)
{
	struct strbuf b;
	char *h = crlf("Subject: a\n b\nX: 1\nx : 2\nBad line\nX:3\n\nX: body\n");

	(void)state;
	strbuf_init(&b, 4096);
	assert_int_equal(imap_hdr_get(h, strlen(h), "subject", &b), 1);
	assert_string_equal(b.data, "a b");
	assert_int_equal(imap_hdr_get_all(h, strlen(h), "X", &b), 1);
	assert_string_equal(b.data, "1\n2\n3");
	assert_int_equal(imap_hdr_get(h, strlen(h), "To", &b), 0);
	strbuf_free(&b);
	free(h);
	h = crlf("Subject:\n\n");
	strbuf_init(&b, 4096);
	assert_int_equal(imap_hdr_get(h, strlen(h), "subject", &b), 1);
	assert_int_equal(b.len, 0);
	strbuf_free(&b);
	free(h);
}

static void
test_rfc2231(void **state)
{
	char *t = NULL, *s = NULL;
	struct imap_mime_param *p = NULL;
	size_t n = 0;
	const char *v = "application/x-stuff; title*2=\"third\"; "
	    "title*0*=us-ascii'en'This%20is%20; title*1=\"even more \"; "
	    "gap*1=x; name=\"a\\\"b\"; plain*=utf-8''%E2%82%AC";

	(void)state;
	assert_int_equal(mime_parse_ctype(v, strlen(v), 1, &t, &s, &p, &n), 0);
	assert_string_equal(t, "application");
	assert_string_equal(s, "x-stuff");
	assert_int_equal(n, 3);
	assert_string_equal(p[0].name, "name");
	assert_string_equal(p[0].value, "a\"b");
	assert_string_equal(p[1].name, "plain*");
	assert_string_equal(p[1].value, "utf-8''%E2%82%AC");
	assert_string_equal(p[2].name, "title*");
	assert_string_equal(p[2].value, "us-ascii'en'This%20is%20even%20more%20third");
	free(t);
	free(s);
	mime_params_free(p, n);
	assert_int_equal(mime_parse_ctype("text", 4, 1, &t, &s, &p, &n), 1);
	assert_int_equal(mime_parse_ctype("/x", 2, 1, &t, &s, &p, &n), 1);
}

/* Deep nesting and many parts are bounded; hostile shapes stay fast. */
static void
test_limits(void **state)
{
	struct strbuf b, o;
	struct imap_mime m;
	const struct imap_mime_part *p;
	int i, depth;
	int64_t t0;

	(void)state;
	strbuf_init(&b, 1 << 26);
	strbuf_init(&o, 1 << 26);
	for (i = 0; i < 100; i++)
		assert_int_equal(strbuf_printf(&b, "Content-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", i, i), 0);
	assert_int_equal(strbuf_puts(&b, "\r\ntext\r\n"), 0);
	assert_int_equal(imap_mime_parse(&m, b.data, b.len), 0);
	for (depth = 0, p = &m.root; p->nchildren > 0; p = p->children)
		depth++;
	assert_int_equal(depth, IMAP_MIME_DEPTH_MAX);
	assert_int_equal(imap_mime_bodystructure(&m, 1, &o), 0);
	imap_mime_free(&m);

	strbuf_reset(&b);
	assert_int_equal(strbuf_puts(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (i = 0; i < 5000; i++)
		assert_int_equal(strbuf_puts(&b, "--x\r\n\r\na\r\n"), 0);
	assert_int_equal(imap_mime_parse(&m, b.data, b.len), 0);
	assert_true(m.root.nchildren < IMAP_MIME_PARTS_MAX);
	assert_true(m.root.nchildren > 1000);
	imap_mime_free(&m);

	/* 4 MB of nested message/rfc822 and boundary-like lines. */
	strbuf_reset(&b);
	for (i = 0; i < 40; i++)
		assert_int_equal(strbuf_puts(&b, "Content-Type: message/rfc822\r\n\r\n"), 0);
	assert_int_equal(strbuf_puts(&b, "Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n"), 0);
	while (b.len < 4 << 20)
		assert_int_equal(strbuf_puts(&b, "--a \r\n--ab\r\n=?x?q?=?\r\n("), 0);
	t0 = now_ms();
	assert_int_equal(imap_mime_parse(&m, b.data, b.len), 0);
	strbuf_reset(&o);
	assert_int_equal(imap_mime_bodystructure(&m, 1, &o), 0);
	assert_int_equal(imap_mime_text_utf8(&m, &o), 0);
	imap_mime_free(&m);
	assert_true(now_ms() - t0 < 5000);
	strbuf_free(&b);
	strbuf_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bs_simple),
		cmocka_unit_test(test_bs_alternative),
		cmocka_unit_test(test_bs_mixed),
		cmocka_unit_test(test_bs_malformed),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_addr_first),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test(test_text_utf8_raw_header),
		cmocka_unit_test(test_hdr_get),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
