/*
 * The fake mailbox of the SEARCH, SORT and THREAD unit tests: see
 * imap_search_fixture.h.
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

const struct tmsg mail[] = {
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

struct box B;

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

void
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

void
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

const struct imap_search_msgops ops = {
	NULL, f_count, f_uid, f_flags, f_has_keyword, f_modseq, f_size, f_idate, f_content
};

/* Parse "tag CMD args" and give the arguments after the command name. */
struct imap_cmd cmd;

const struct imap_arg *
args_of(const char *text)
{
	char err[256];

	imap_cmd_free(&cmd);
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, text, strlen(text), err, sizeof(err)) != IMAP_READ_OK)
		fail_msg("parse %s: %s", text, err);
	return cmd.args;
}

struct imap_seqset saved;

int
setup_mail(void **st)
{
	box_open(mail, 4);
	imap_seqset_init(&saved);
	imap_cmd_init(&cmd);
	return 0;
}

int
teardown(void **st)
{
	box_close();
	imap_seqset_free(&saved);
	imap_cmd_free(&cmd);
	return 0;
}

