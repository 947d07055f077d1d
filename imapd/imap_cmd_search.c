/*
 * imap_cmd_search: SEARCH / UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4,
 * ESEARCH RFC 4731, SEARCHRES RFC 5182, MODSEQ RFC 7162 3.1.5), SORT and
 * THREAD (RFC 5256) wired to imap_search.c over the selected folder: the
 * cheap message attributes come from the snapshot, content through the
 * session's one-message cache. Runs in imapd's session process as the
 * mail owner, cwd = the user's Maildir.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "imap_search.h"
#include "log.h"
#include "stream.h"
#include "util.h"

#define SEARCH_OUT_MAX	((size_t)1 << 30)

static const struct imap_msg *
msg(void *ctx, uint32_t seq)
{
	struct imap_session *s = ctx;

	return &s->sel.msgs[seq - 1];
}

static uint32_t
ops_count(void *ctx)
{
	return (uint32_t)((struct imap_session *)ctx)->sel.n;
}

static uint32_t
ops_uid(void *ctx, uint32_t seq)
{
	return msg(ctx, seq)->uid;
}

static unsigned
ops_flags(void *ctx, uint32_t seq)
{
	return msg(ctx, seq)->flags;
}

static int
ops_has_keyword(void *ctx, uint32_t seq, const char *kw)
{
	struct imap_session *s = ctx;
	int k = imap_keyword_index(&s->sel, kw, 0);	/* lookup only */

	return k >= 0 && ((msg(ctx, seq)->keywords >> k) & 1);
}

static uint64_t
ops_modseq(void *ctx, uint32_t seq)
{
	return msg(ctx, seq)->modseq;
}

static uint64_t
ops_size(void *ctx, uint32_t seq)
{
	return msg(ctx, seq)->size;
}

static time_t
ops_internaldate(void *ctx, uint32_t seq)
{
	return msg(ctx, seq)->internaldate;
}

static int
ops_content(void *ctx, uint32_t seq, const char **buf, size_t *len)
{
	return imap_session_msg(ctx, seq - 1, buf, len);
}

static void
ops_init(struct imap_search_msgops *ops, struct imap_session *s)
{
	ops->ctx = s;
	ops->count = ops_count;
	ops->uid = ops_uid;
	ops->flags = ops_flags;
	ops->has_keyword = ops_has_keyword;
	ops->modseq = ops_modseq;
	ops->size = ops_size;
	ops->internaldate = ops_internaldate;
	ops->content = ops_content;
}

static uint32_t
max_uid(const struct imap_session *s)
{
	return s->sel.n ? s->sel.msgs[s->sel.n - 1].uid : 0;
}

/* Write out and free a response built in out. 0 or -1. */
static int
send_out(struct imap_session *s, struct strbuf *out, int r)
{
	if (r == 0 && out->len > 0 && stream_write(s->s, out->data, out->len) == -1)
		r = -1;
	strbuf_free(out);
	return r;
}

/* RFC 5182 2.4: SAVE keeps all results, or only MIN/MAX when those alone are asked. */
static int
search_save(struct imap_session *s, const struct imap_search_msgops *ops,
    const struct imap_seqset *res, unsigned ret)
{
	struct imap_seqset pick;
	int rc = 0;

	if (res->n == 0 || (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) ||
	    !(ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)))
		return imap_search_save(ops, res, &s->searchres);
	imap_seqset_init(&pick);
	if (ret & IMAP_SEARCH_RET_MIN)
		rc |= imap_seqset_add(&pick, res->r[0].lo, res->r[0].lo);
	if (ret & IMAP_SEARCH_RET_MAX)
		rc |= imap_seqset_add(&pick, res->r[res->n - 1].hi, res->r[res->n - 1].hi);
	if (rc == 0)
		rc = imap_search_save(ops, &pick, &s->searchres);
	imap_seqset_free(&pick);
	return rc;
}

static int
search_run(struct imap_session *s, struct imap_cmd *cmd, const struct imap_search *q,
    int uid)
{
	struct imap_search_msgops ops;
	struct imap_seqset res;
	struct strbuf out;
	int r;

	ops_init(&ops, s);
	imap_seqset_init(&res);
	strbuf_init(&out, SEARCH_OUT_MAX);
	r = imap_search_run(q, &ops, &res);
	if (r == 0 && q->esearch && (q->ret & IMAP_SEARCH_RET_SAVE))
		r = search_save(s, &ops, &res, q->ret);
	if (r == 0)
		r = imap_search_respond(q, &ops, &res, cmd->tag, uid,
		    (s->enabled & IMAP_EN_REV2) != 0, &out);
	imap_seqset_free(&res);
	return send_out(s, &out, r);
}

/* RFC 5182 2.1: a refused SEARCH that asked for SAVE leaves "$" empty. */
static void
search_failed_save(struct imap_session *s, const struct imap_arg *a)
{
	size_t i;

	if (!imap_arg_atom_is(&a[0], "RETURN") || a[1].type != IMAP_ARG_LIST)
		return;
	for (i = 0; i < a[1].n; i++)
		if (imap_arg_atom_is(&a[1].list[i], "SAVE"))
			imap_seqset_clear(&s->searchres);
}

/* SEARCH / UID SEARCH: RFC 3501 6.4.4, RFC 9051 6.4.4, RFC 4731, RFC 5182. */
int
imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	struct imap_search q;
	char err[256];
	int rc;

	memset(&q, 0, sizeof(q));
	rc = imap_search_parse(&q, cmd->args, (uint32_t)s->sel.n, max_uid(s), &s->searchres,
	    err, sizeof(err));
	if (rc != 0) {
		search_failed_save(s, cmd->args);
		if (rc == -2)
			imap_reply(s, cmd, "NO", "BADCHARSET (US-ASCII UTF-8)", "Unsupported charset");
		else
			imap_reply(s, cmd, "BAD", NULL, "%s", err);
		imap_search_free(&q);
		return 0;
	}
	if (q.uses_modseq)
		s->condstore_seen = 1;	/* RFC 7162 3.1 */
	rc = search_run(s, cmd, &q, uid);
	imap_search_free(&q);
	if (rc == 0)
		imap_reply(s, cmd, "OK", NULL, "%sSEARCH completed", uid ? "UID " : "");
	return rc;
}

/* SORT / UID SORT: RFC 5256 3. */
int
imap_cmd_sort(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	struct imap_sort *q = NULL;
	struct imap_search_msgops ops;
	struct strbuf out;
	uint32_t *seqs = NULL;
	size_t n = 0;
	char err[256];
	int rc;

	rc = imap_sort_parse(&q, cmd->args, (uint32_t)s->sel.n, max_uid(s), &s->searchres,
	    err, sizeof(err));
	if (rc != 0) {
		if (rc == -2)
			imap_reply(s, cmd, "NO", "BADCHARSET (US-ASCII UTF-8)", "Unsupported charset");
		else
			imap_reply(s, cmd, "BAD", NULL, "%s", err);
		if (q != NULL)
			imap_sort_free(q);
		return 0;
	}
	ops_init(&ops, s);
	strbuf_init(&out, SEARCH_OUT_MAX);
	rc = imap_sort_run(q, &ops, &seqs, &n);
	if (rc == 0)
		rc = imap_sort_respond(q, &ops, seqs, n, uid, &out);
	rc = send_out(s, &out, rc);
	free(seqs);
	imap_sort_free(q);
	if (rc == 0)
		imap_reply(s, cmd, "OK", NULL, "%sSORT completed", uid ? "UID " : "");
	return rc;
}

/* THREAD / UID THREAD: RFC 5256 4. */
int
imap_cmd_thread(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	struct imap_search_msgops ops;
	struct strbuf out;
	char err[256] = "Invalid THREAD arguments";
	int rc;

	ops_init(&ops, s);
	strbuf_init(&out, SEARCH_OUT_MAX);
	if (strbuf_puts(&out, "* THREAD ") == -1)
		rc = -1;
	else
		rc = imap_thread(cmd->args, uid, &ops, max_uid(s),
		    &s->searchres, &out, err, sizeof(err));
	if (rc == -2)
		imap_reply(s, cmd, "NO", "BADCHARSET (US-ASCII UTF-8)", "Unsupported charset");
	else if (rc == -1)
		imap_reply(s, cmd, "BAD", NULL, "%s", err);
	if (rc != 0) {
		strbuf_free(&out);
		return 0;
	}
	if (out.data[out.len - 1] == ' ')
		out.len--;	/* no threads: "* THREAD" */
	rc = 0;
	if (strbuf_puts(&out, "\r\n") == -1 || stream_write(s->s, out.data, out.len) == -1)
		rc = -1;
	else
		imap_reply(s, cmd, "OK", NULL, "%sTHREAD completed", uid ? "UID " : "");
	strbuf_free(&out);
	return rc;
}
