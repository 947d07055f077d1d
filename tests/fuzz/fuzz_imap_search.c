/*
 * libFuzzer target for imapd's SEARCH, SORT and THREAD: the first byte
 * picks the command (SEARCH, SORT, THREAD; UID or not; IMAP4rev2), the
 * rest is its argument text, parsed with imap_cmd_parse as a client's
 * command line, then given to imap_search_parse / imap_sort_parse /
 * imap_thread and run over a few fixed messages (multipart, encoded
 * words, References). Checks: a search result lies within the mailbox
 * and agrees with imap_search_match, the responses end in CRLF, SORT
 * returns each match exactly once, a THREAD list balances its
 * parentheses and names each message at most once. The input is also
 * taken as a Subject for imap_base_subject.
 *
 * Build (from a configured build tree with common/libpostern.a made):
 *   S=/work/main; I="$S/imapd"
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -I$S -I$S/common -I$I \
 *     $S/tests/fuzz/fuzz_imap_search.c $I/imap_search.c $I/imap_search_eval.c \
 *     $I/imap_subject.c $I/imap_sort.c $I/imap_thread.c $I/imap_parse.c \
 *     $I/imap_seqset.c $I/imap_mime.c $I/imap_mime_hdr.c $I/imap_bodystruct.c \
 *     $I/imap_envelope.c $I/imap_section.c $I/imap_decode.c common/mime_decode.c $I/imap_date.c \
 *     $S/common/strbuf.c $S/common/util.c $S/common/log.c \
 *     common/libpostern.a -lz -o /tmp/fuzz_imap_search
 *   /tmp/fuzz_imap_search -max_total_time=60
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "imap_parse.h"
#include "imap_seqset.h"
#include "imap_store.h"
#include "imap_search.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *msgs[] = {
	"From: Xavier <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Hello\r\n"
	"Date: Thu, 01 Feb 2024 01:30:00 +0200\r\nMessage-ID: <a@x>\r\n\r\nbody text\r\n",
	"From: =?UTF-8?Q?J=C3=BCrgen?= <jm@example.de>\r\nSubject: Re: Hello\r\n"
	"References: <a@x>\r\nMessage-ID: <b@x>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZQ==\r\n--b--\r\n",
	"Subject: [list] Fwd: other (fwd)\r\nIn-Reply-To: <zz@x>\r\nMessage-ID: <a@x>\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n",
	"Subject: other\r\nDate: garbage\r\nReferences: <b@x> <c@x>\r\n\r\n",
	"no header at all",
};
#define NMSG	(sizeof(msgs) / sizeof(msgs[0]))

static uint32_t f_count(void *c) { return NMSG; }
static uint32_t f_uid(void *c, uint32_t seq) { return seq * 3; }
static unsigned f_flags(void *c, uint32_t seq) { return (seq * 7) & 0x3f; }
static int f_kw(void *c, uint32_t seq, const char *kw) { return seq == 2 && strcasecmp(kw, "k") == 0; }
static uint64_t f_modseq(void *c, uint32_t seq) { return seq * 11 % 7; }
static uint64_t f_size(void *c, uint32_t seq) { return strlen(msgs[seq - 1]); }
static time_t f_idate(void *c, uint32_t seq) { return 1700000000 + (time_t)seq * 86400 * (seq % 2 ? 1 : -1); }

static int
f_content(void *c, uint32_t seq, const char **buf, size_t *len)
{
	if (seq < 1 || seq > NMSG)
		abort();
	*buf = msgs[seq - 1];
	*len = strlen(*buf);
	return 0;
}

static const struct imap_search_msgops ops = {
	NULL, f_count, f_uid, f_flags, f_kw, f_modseq, f_size, f_idate, f_content
};

static void
check_crlf(const struct strbuf *b)
{
	if (b->len > 0 && (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0))
		abort();
}

static void
do_search(const struct imap_arg *a, int uid, int rev2, struct imap_seqset *saved)
{
	char err[256];
	struct imap_search s;
	struct imap_seqset res, uids;
	struct strbuf b;
	uint32_t seq;

	if (imap_search_parse(&s, a, NMSG, NMSG * 3, saved, err, sizeof(err)) != 0)
		return;
	imap_seqset_init(&res);
	imap_seqset_init(&uids);
	strbuf_init(&b, 1 << 20);
	if (imap_search_run(&s, &ops, &res) == 0) {
		for (seq = 0; seq <= NMSG + 1; seq++)
			if (imap_seqset_contains(&res, seq) !=
			    (seq >= 1 && seq <= NMSG && imap_search_match(&s, &ops, seq)))
				abort();
		if (imap_search_respond(&s, &ops, &res, "t", uid, rev2, &b) != 0)
			abort();
		check_crlf(&b);
		if ((s.ret & IMAP_SEARCH_RET_SAVE) && imap_search_save(&ops, &res, &uids) == 0 &&
		    imap_seqset_count(&uids) != imap_seqset_count(&res))
			abort();
	}
	strbuf_free(&b);
	imap_seqset_free(&res);
	imap_seqset_free(&uids);
	imap_search_free(&s);
}

static void
do_sort(const struct imap_arg *a, int uid, struct imap_seqset *saved)
{
	char err[256], seen[NMSG + 1];
	struct imap_sort *s;
	struct strbuf b;
	uint32_t *seqs;
	size_t n, i;

	if (imap_sort_parse(&s, a, NMSG, NMSG * 3, saved, err, sizeof(err)) != 0)
		return;
	if (imap_sort_run(s, &ops, &seqs, &n) == 0) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < n; i++) {
			if (seqs[i] < 1 || seqs[i] > NMSG || seen[seqs[i]]++)
				abort();
		}
		strbuf_init(&b, 1 << 20);
		if (imap_sort_respond(s, &ops, seqs, n, uid, &b) != 0)
			abort();
		check_crlf(&b);
		strbuf_free(&b);
		free(seqs);
	}
	imap_sort_free(s);
}

static void
do_thread(const struct imap_arg *a, int uid, struct imap_seqset *saved)
{
	char err[256], seen[NMSG * 3 + 1];
	struct strbuf b;
	size_t i;
	long depth = 0;
	unsigned v;

	strbuf_init(&b, 1 << 20);
	if (imap_thread(a, uid, &ops, NMSG * 3, saved, &b, err, sizeof(err)) == 0) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < b.len; i++) {
			if (b.data[i] == '(')
				depth++;
			else if (b.data[i] == ')' && --depth < 0)
				abort();
			else if (b.data[i] >= '0' && b.data[i] <= '9') {
				for (v = 0; i < b.len && b.data[i] >= '0' && b.data[i] <= '9'; i++)
					v = v * 10 + (unsigned)(b.data[i] - '0');
				i--;
				if (v == 0 || v > NMSG * 3 || seen[v]++)
					abort();
			}
		}
		if (depth != 0)
			abort();
	}
	strbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *verbs[] = { "SEARCH", "SORT", "THREAD" };
	char err[256];
	struct imap_cmd cmd;
	struct imap_seqset saved;
	struct strbuf line;
	unsigned mode;

	if (size < 1 || size > 8192)
		return 0;
	mode = data[0];
	strbuf_init(&line, 1 << 16);
	if (strbuf_printf(&line, "a %s ", verbs[(mode & 3) % 3]) == -1 ||
	    strbuf_append(&line, data + 1, size - 1) == -1 || strbuf_puts(&line, "\r\n") == -1) {
		strbuf_free(&line);
		return 0;
	}
	imap_seqset_init(&saved);
	(void)imap_seqset_add(&saved, 3, 6);
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, line.data, line.len, err, sizeof(err)) == IMAP_READ_OK) {
		if ((mode & 3) % 3 == 0)
			do_search(cmd.args, (mode >> 2) & 1, (mode >> 3) & 1, &saved);
		else if ((mode & 3) % 3 == 1)
			do_sort(cmd.args, (mode >> 2) & 1, &saved);
		else
			do_thread(cmd.args, (mode >> 2) & 1, &saved);
	}
	imap_cmd_free(&cmd);
	strbuf_reset(&line);
	(void)imap_base_subject((const char *)data, size, &line);
	strbuf_free(&line);
	imap_seqset_free(&saved);
	return 0;
}
