/*
 * imap_search_eval: evaluating a SEARCH key tree (RFC 3501 6.4.4, RFC
 * 9051 6.4.4) against the messages of a mailbox, through the
 * imap_search_msgops the caller gives, and writing the SEARCH or
 * ESEARCH response (RFC 4731, RFC 7162 3.1.5, RFC 5182). A message's
 * content is asked for once, and only when a key needs it. Pure
 * computation in imapd's session process (as the mail owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"
#include "imap_search_int.h"

void
search_msg_init(struct search_msg *m, const struct imap_search_msgops *ops, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->ops = ops;
	m->seq = seq;
	strbuf_init(&m->text, SEARCH_STR_MAX);
	strbuf_init(&m->tmp, SEARCH_STR_MAX);
	strbuf_init(&m->tmp2, SEARCH_STR_MAX);
}

void
search_msg_free(struct search_msg *m)
{
	strbuf_free(&m->text);
	strbuf_free(&m->tmp);
	strbuf_free(&m->tmp2);
}

/* The header ends at the first empty line (RFC 5322 2.1). */
static size_t
header_len(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 < len && b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

int
search_msg_content(struct search_msg *m)
{
	if (m->got == 0) {
		m->got = -1;
		if (m->ops->content != NULL &&
		    m->ops->content(m->ops->ctx, m->seq, &m->buf, &m->len) == 0) {
			if (m->buf == NULL)
				m->len = 0;
			m->hdrlen = header_len(m->buf, m->len);
			m->got = 1;
		}
	}
	return m->got == 1 ? 0 : -1;
}

int
search_msg_header(struct search_msg *m, const char *name, struct strbuf *out)
{
	int r;

	if (search_msg_content(m) == -1)
		return -1;
	strbuf_reset(&m->tmp);
	if ((r = imap_hdr_get_all(m->buf, m->hdrlen, name, &m->tmp)) != 1)
		return r < 0 ? -1 : 0;
	strbuf_reset(out);
	if (mime_hdr_decode(m->tmp.data, m->tmp.len, out) == -1)
		return -1;
	return 1;
}

/* The decoded text parts, folded, kept for the other keys of this message. */
static int
msg_text(struct search_msg *m)
{
	struct imap_mime mime;

	if (m->got_text != 0)
		return m->got_text == 1 ? 0 : -1;
	m->got_text = -1;
	if (search_msg_content(m) == -1)
		return -1;
	if (imap_mime_parse(&mime, m->buf, m->len) == -1)
		return -1;
	strbuf_reset(&m->tmp);
	if (imap_mime_text_utf8(&mime, &m->tmp) == -1 ||
	    search_fold(m->tmp.data, m->tmp.len, &m->text) == -1) {
		imap_mime_free(&mime);
		return -1;
	}
	imap_mime_free(&mime);
	m->got_text = 1;
	return 0;
}

static int
contains(const struct strbuf *hay, const struct imap_search_node *n)
{
	if (n->len == 0)
		return 1;
	return hay->len >= n->len && memmem(hay->data, hay->len, n->str, n->len) != NULL;
}

/* Does the folded, decoded text of field n->name hold the needle? */
static int
match_header(const struct imap_search_node *n, struct search_msg *m)
{
	int r;

	if ((r = search_msg_header(m, n->name, &m->tmp2)) != 1)
		return r;
	strbuf_reset(&m->tmp);
	if (search_fold(m->tmp2.data, m->tmp2.len, &m->tmp) == -1)
		return -1;
	return contains(&m->tmp, n);
}

/* RFC 3501 6.4.4 TEXT: the header or the body. */
static int
match_text(const struct imap_search_node *n, struct search_msg *m)
{
	if (search_msg_content(m) == -1)
		return -1;
	strbuf_reset(&m->tmp2);
	strbuf_reset(&m->tmp);
	if (mime_hdr_decode(m->buf, m->hdrlen, &m->tmp2) == -1 ||
	    search_fold(m->tmp2.data, m->tmp2.len, &m->tmp) == -1)
		return -1;
	if (contains(&m->tmp, n))
		return 1;
	if (msg_text(m) == -1)
		return -1;
	return contains(&m->text, n);
}

static int64_t
day_of(time_t t, long off)
{
	int64_t s = (int64_t)t + off;

	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

static int
date_cmp(const struct imap_search_node *n, int64_t day)
{
	if (n->cmp < 0)
		return day < n->day;
	if (n->cmp > 0)
		return day >= n->day;
	return day == n->day;
}

/* RFC 3501 6.4.4 BEFORE/ON/SINCE: the internal date's day in the server's zone. */
static int
match_date(const struct imap_search_node *n, struct search_msg *m)
{
	time_t t = m->ops->internaldate(m->ops->ctx, m->seq);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return date_cmp(n, day_of(t, tm.tm_gmtoff));
}

/* SENTBEFORE/SENTON/SENTSINCE: the Date header's day in its own zone. */
static int
match_sent(const struct imap_search_node *n, struct search_msg *m)
{
	time_t t;
	int r, off;

	if ((r = search_msg_header(m, "Date", &m->tmp2)) != 1)
		return r;
	if (imap_date_parse(m->tmp2.data, m->tmp2.len, &t, &off) == -1)
		return 0;
	return date_cmp(n, day_of(t, off));
}

static int
match_tree(const struct imap_search_node *n, struct search_msg *m)
{
	size_t i;
	int r;

	switch (n->type) {
	case SK_NOT:
		r = search_node_match(n->kids[0], m);
		return r < 0 ? r : !r;
	case SK_OR:
		for (i = 0; i < n->nkids; i++)
			if ((r = search_node_match(n->kids[i], m)) != 0)
				return r;
		return 0;
	default:
		for (i = 0; i < n->nkids; i++)
			if ((r = search_node_match(n->kids[i], m)) != 1)
				return r;
		return 1;
	}
}

/* 1, 0, or -1: the message vanished (it then matches nothing at all). */
int
search_node_match(const struct imap_search_node *n, struct search_msg *m)
{
	const struct imap_search_msgops *o = m->ops;

	switch (n->type) {
	case SK_ALL:
		return 1;
	case SK_FLAGS:
		return (o->flags(o->ctx, m->seq) & n->mask) == n->want;
	case SK_KEYWORD:
		return (o->has_keyword(o->ctx, m->seq, n->str) != 0) == (n->want != 0);
	case SK_LARGER:
		return o->size(o->ctx, m->seq) > n->num;
	case SK_SMALLER:
		return o->size(o->ctx, m->seq) < n->num;
	case SK_DATE:
		return match_date(n, m);
	case SK_SENT:
		return match_sent(n, m);
	case SK_HEADER:
		return match_header(n, m);
	case SK_BODY:
		if (msg_text(m) == -1)
			return -1;
		return contains(&m->text, n);
	case SK_TEXT:
		return match_text(n, m);
	case SK_SEQ:
		return imap_seqset_contains(&n->set, m->seq);
	case SK_UID:
	case SK_SAVED:
		return imap_seqset_contains(&n->set, o->uid(o->ctx, m->seq));
	case SK_MODSEQ:
		return o->modseq != NULL && o->modseq(o->ctx, m->seq) >= n->num;
	default:
		return match_tree(n, m);
	}
}

int
imap_search_match(const struct imap_search *s, const struct imap_search_msgops *ops,
    uint32_t seq)
{
	struct search_msg m;
	int r;

	if (s->root == NULL)
		return 0;
	search_msg_init(&m, ops, seq);
	r = search_node_match(s->root, &m);
	search_msg_free(&m);
	return r == 1;
}

int
imap_search_run(const struct imap_search *s, const struct imap_search_msgops *ops,
    struct imap_seqset *result)
{
	uint32_t seq, n = ops->count(ops->ctx);

	imap_seqset_clear(result);
	for (seq = 1; seq <= n; seq++)
		if (imap_search_match(s, ops, seq) && imap_seqset_add(result, seq, seq) == -1)
			return -1;
	return 0;
}

int
imap_search_save(const struct imap_search_msgops *ops, const struct imap_seqset *seqs,
    struct imap_seqset *uids)
{
	size_t i;
	uint32_t seq;

	imap_seqset_clear(uids);
	for (i = 0; i < seqs->n; i++)
		for (seq = seqs->r[i].lo; seq >= seqs->r[i].lo && seq <= seqs->r[i].hi; seq++)
			if (imap_seqset_add(uids, ops->uid(ops->ctx, seq), ops->uid(ops->ctx, seq)) == -1)
				return -1;
	return 0;
}

struct esearch_acc {
	struct imap_seqset	 all;	/* numbers as returned */
	uint32_t		 min, max, count;
	uint64_t		 ms_all, ms_min, ms_max;
};

static int
esearch_collect(const struct imap_search_msgops *ops, const struct imap_seqset *res, int uid,
    struct esearch_acc *a)
{
	size_t i;
	uint32_t seq, v;
	uint64_t ms;

	for (i = 0; i < res->n; i++)
		for (seq = res->r[i].lo; seq >= res->r[i].lo && seq <= res->r[i].hi; seq++) {
			v = uid ? ops->uid(ops->ctx, seq) : seq;
			ms = ops->modseq != NULL ? ops->modseq(ops->ctx, seq) : 0;
			if (a->count++ == 0) {
				a->min = v;
				a->ms_min = ms;
			}
			a->max = v;
			a->ms_max = ms;
			if (ms > a->ms_all)
				a->ms_all = ms;
			if (imap_seqset_add(&a->all, v, v) == -1)
				return -1;
		}
	return 0;
}

/* RFC 4731 3.2: the mod-sequence of what MIN/MAX return, else of all. */
static uint64_t
esearch_modseq(unsigned ret, const struct esearch_acc *a)
{
	uint64_t ms = 0;

	if (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT))
		return a->ms_all;
	if (ret & IMAP_SEARCH_RET_MIN)
		ms = a->ms_min;
	if ((ret & IMAP_SEARCH_RET_MAX) && a->ms_max > ms)
		ms = a->ms_max;
	return ms;
}

/* RFC 4731 3.1 (and RFC 7162 3.1.10 for MODSEQ). */
static int
esearch_print(const struct imap_search *s, unsigned ret, const struct esearch_acc *a,
    const char *tag, int uid, struct strbuf *out)
{
	int r = strbuf_puts(out, "* ESEARCH");

	if (r == 0 && tag != NULL) {
		r |= strbuf_puts(out, " (TAG ");
		r |= imap_put_string(out, tag, strlen(tag));
		r |= strbuf_putc(out, ')');
	}
	if (uid)
		r |= strbuf_puts(out, " UID");
	if ((ret & IMAP_SEARCH_RET_MIN) && a->count > 0)
		r |= strbuf_printf(out, " MIN %u", a->min);
	if ((ret & IMAP_SEARCH_RET_MAX) && a->count > 0)
		r |= strbuf_printf(out, " MAX %u", a->max);
	if (ret & IMAP_SEARCH_RET_COUNT)
		r |= strbuf_printf(out, " COUNT %u", a->count);
	if ((ret & IMAP_SEARCH_RET_ALL) && a->count > 0) {
		r |= strbuf_puts(out, " ALL ");
		r |= imap_seqset_print(&a->all, out);
	}
	if (s->uses_modseq && a->count > 0)
		r |= strbuf_printf(out, " MODSEQ %llu",
		    (unsigned long long)esearch_modseq(ret, a));
	r |= strbuf_puts(out, "\r\n");
	return r == 0 ? 0 : -1;
}

static int
search_print(const struct imap_search *s, const struct imap_search_msgops *ops,
    const struct imap_seqset *res, int uid, struct strbuf *out)
{
	uint64_t ms, top = 0;
	uint32_t seq;
	size_t i;
	int r = strbuf_puts(out, "* SEARCH");

	for (i = 0; i < res->n && r == 0; i++)
		for (seq = res->r[i].lo; seq >= res->r[i].lo && seq <= res->r[i].hi && r == 0; seq++) {
			r = strbuf_printf(out, " %u", uid ? ops->uid(ops->ctx, seq) : seq);
			ms = ops->modseq != NULL ? ops->modseq(ops->ctx, seq) : 0;
			if (ms > top)
				top = ms;
		}
	/* RFC 7162 3.1.5: the highest mod-sequence of the messages returned. */
	if (r == 0 && s->uses_modseq && res->n > 0)
		r = strbuf_printf(out, " (MODSEQ %llu)", (unsigned long long)top);
	if (r == 0)
		r = strbuf_puts(out, "\r\n");
	return r;
}

int
imap_search_respond(const struct imap_search *s, const struct imap_search_msgops *ops,
    const struct imap_seqset *result, const char *tag, int uid, int rev2,
    struct strbuf *out)
{
	struct esearch_acc a;
	unsigned ret = s->esearch ? s->ret : IMAP_SEARCH_RET_ALL;
	int r;

	if (!s->esearch && !rev2)
		return search_print(s, ops, result, uid, out) == 0 ? 0 : -1;
	/* RFC 5182 2.4: SAVE alone gives no ESEARCH response. */
	if (ret == IMAP_SEARCH_RET_SAVE)
		return 0;
	memset(&a, 0, sizeof(a));
	imap_seqset_init(&a.all);
	r = esearch_collect(ops, result, uid, &a);
	if (r == 0)
		r = esearch_print(s, ret, &a, tag, uid, out);
	imap_seqset_free(&a.all);
	return r;
}
