/*
 * imap_sort: the SORT command (RFC 5256 3) with the criteria ARRIVAL,
 * CC, DATE, FROM, REVERSE, SIZE, SUBJECT, TO, and DISPLAYFROM /
 * DISPLAYTO (RFC 5957). The messages a search selects are given their
 * sort values once each (a message is read only when a criterion needs
 * its header), then ordered, ties going to the lower sequence number
 * (RFC 5256 3). Pure computation in imapd's session process (as the
 * mail owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"
#include "imap_search_int.h"

#define SORT_KEYS_MAX	16

enum sortk {
	SO_ARRIVAL, SO_DATE, SO_SIZE,
	/* string keys: the index is the slot in sortent.str */
	SO_CC, SO_FROM, SO_SUBJECT, SO_TO, SO_DISPLAYFROM, SO_DISPLAYTO
};
#define SO_STR0		SO_CC
#define SO_NSTR		6

static const struct {
	const char	*name;
	enum sortk	 key;
} sortnames[] = {
	{ "ARRIVAL", SO_ARRIVAL }, { "CC", SO_CC }, { "DATE", SO_DATE },
	{ "FROM", SO_FROM }, { "SIZE", SO_SIZE }, { "SUBJECT", SO_SUBJECT },
	{ "TO", SO_TO }, { "DISPLAYFROM", SO_DISPLAYFROM }, { "DISPLAYTO", SO_DISPLAYTO },
};

struct imap_sort {
	struct imap_search	 search;
	struct {
		enum sortk	 key;
		int		 reverse;
	}			 keys[SORT_KEYS_MAX];
	size_t			 nkeys;
	unsigned		 need;	/* 1 << sortk */
};

struct sortent {
	uint32_t	 seq;
	time_t		 arrival, date;
	uint64_t	 size;
	char		*str[SO_NSTR];	/* folded; NULL = not needed */
};

static int
serr(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		str_copy(err, msg, errlen);
	return -1;
}

/* RFC 5256 3: sort-criteria = "(" sort-criterion *(SP sort-criterion) ")". */
static int
parse_criteria(struct imap_sort *s, const struct imap_arg *l, char *err, size_t errlen)
{
	size_t i, j;
	int rev = 0;

	if (l->type != IMAP_ARG_LIST || l->n == 0)
		return serr(err, errlen, "Missing sort criteria");
	for (i = 0; i < l->n; i++) {
		if (imap_arg_atom_is(&l->list[i], "REVERSE")) {
			rev = 1;
			continue;
		}
		for (j = 0; j < NELEM(sortnames); j++)
			if (imap_arg_atom_is(&l->list[i], sortnames[j].name))
				break;
		if (j == NELEM(sortnames))
			return serr(err, errlen, "Unknown sort criterion");
		if (s->nkeys == SORT_KEYS_MAX)
			return serr(err, errlen, "Too many sort criteria");
		s->keys[s->nkeys].key = sortnames[j].key;
		s->keys[s->nkeys++].reverse = rev;
		s->need |= 1u << sortnames[j].key;
		rev = 0;
	}
	if (rev)
		return serr(err, errlen, "REVERSE without a criterion");
	return 0;
}

int
imap_sort_parse(struct imap_sort **sp, const struct imap_arg *args, uint32_t nmsgs,
    uint32_t maxuid, const struct imap_seqset *saved, char *err, size_t errlen)
{
	struct imap_sort *s;
	int r;

	*sp = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return serr(err, errlen, "Out of memory");
	if (parse_criteria(s, args, err, errlen) == -1) {
		free(s);
		return -1;
	}
	r = search_parse_keys(&s->search, args + 1, 1, nmsgs, maxuid, saved, err, errlen);
	if (r != 0) {
		free(s);
		return r;
	}
	*sp = s;
	return 0;
}

void
imap_sort_free(struct imap_sort *s)
{
	if (s == NULL)
		return;
	imap_search_free(&s->search);
	free(s);
}

static char *
folded_dup(const char *s, size_t len)
{
	struct strbuf b;
	char *r;

	strbuf_init(&b, SEARCH_STR_MAX);
	if (search_fold(s, len, &b) == -1) {
		strbuf_free(&b);
		return NULL;
	}
	r = strndup(b.data != NULL ? b.data : "", b.len);
	strbuf_free(&b);
	return r;
}

/* One string criterion of message m: folded, "" when the field is missing. */
static char *
sort_string(struct search_msg *m, enum sortk k)
{
	static const char *fields[] = { "Cc", "From", "Subject", "To", "From", "To" };
	struct strbuf v, mbox, disp;
	const struct strbuf *use;
	char *r = NULL;

	strbuf_init(&v, SEARCH_STR_MAX);
	strbuf_init(&mbox, SEARCH_STR_MAX);
	strbuf_init(&disp, SEARCH_STR_MAX);
	if (search_msg_content(m) == -1 ||
	    imap_hdr_get(m->buf, m->hdrlen, fields[k - SO_STR0], &v) != 1) {
		r = strdup("");
		goto out;
	}
	if (k == SO_SUBJECT) {
		/* RFC 5256 2.1 */
		if (imap_base_subject(v.data, v.len, &mbox) == 0)
			r = folded_dup(mbox.data != NULL ? mbox.data : "", mbox.len);
		goto out;
	}
	if (imap_addr_first(v.data, v.len, &mbox, &disp) == -1) {
		r = strdup("");
		goto out;
	}
	/* RFC 5256 3: addr-mailbox; RFC 5957 3: the display name, else the mailbox. */
	use = (k == SO_DISPLAYFROM || k == SO_DISPLAYTO) && disp.len > 0 ? &disp : &mbox;
	r = folded_dup(use->data != NULL ? use->data : "", use->len);
out:
	strbuf_free(&v);
	strbuf_free(&mbox);
	strbuf_free(&disp);
	return r;
}

static int
sortent_fill(const struct imap_sort *s, const struct imap_search_msgops *ops,
    struct sortent *e, uint32_t seq)
{
	struct search_msg m;
	int k, r = 0;

	memset(e, 0, sizeof(*e));
	e->seq = seq;
	search_msg_init(&m, ops, seq);
	if (s->need & (1u << SO_ARRIVAL))
		e->arrival = ops->internaldate(ops->ctx, seq);
	if (s->need & (1u << SO_SIZE))
		e->size = ops->size(ops->ctx, seq);
	if (s->need & (1u << SO_DATE))
		e->date = search_sent_date(&m);
	for (k = SO_STR0; k < SO_STR0 + SO_NSTR && r == 0; k++)
		if ((s->need & (1u << k)) && (e->str[k - SO_STR0] = sort_string(&m, k)) == NULL)
			r = -1;
	search_msg_free(&m);
	return r;
}

static int
cmp_num(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
sortent_cmp(const void *x, const void *y, void *arg)
{
	const struct imap_sort *s = arg;
	const struct sortent *a = x, *b = y;
	size_t i;
	int c = 0;

	for (i = 0; i < s->nkeys && c == 0; i++) {
		enum sortk k = s->keys[i].key;

		if (k == SO_ARRIVAL)
			c = cmp_num(a->arrival, b->arrival);
		else if (k == SO_DATE)
			c = cmp_num(a->date, b->date);
		else if (k == SO_SIZE)
			c = a->size < b->size ? -1 : a->size > b->size;
		else
			c = strcmp(a->str[k - SO_STR0], b->str[k - SO_STR0]);
		if (s->keys[i].reverse)
			c = -c;
	}
	/* RFC 5256 3: exact matches keep their mailbox order. */
	return c != 0 ? c : cmp_num(a->seq, b->seq);
}

static void
sortents_free(struct sortent *e, size_t n)
{
	size_t i;
	int k;

	for (i = 0; i < n; i++)
		for (k = 0; k < SO_NSTR; k++)
			free(e[i].str[k]);
	free(e);
}

int
imap_sort_run(struct imap_sort *s, const struct imap_search_msgops *ops, uint32_t **out,
    size_t *n)
{
	struct imap_seqset res;
	struct sortent *e = NULL;
	uint64_t cnt;
	size_t i = 0, j;
	uint32_t seq;

	*out = NULL;
	*n = 0;
	imap_seqset_init(&res);
	if (imap_search_run(&s->search, ops, &res) == -1)
		goto fail;
	cnt = imap_seqset_count(&res);
	if (cnt > 0 && (e = calloc((size_t)cnt, sizeof(*e))) == NULL)
		goto fail;
	for (j = 0; j < res.n; j++)
		for (seq = res.r[j].lo; seq >= res.r[j].lo && seq <= res.r[j].hi && i < cnt; seq++)
			if (sortent_fill(s, ops, &e[i++], seq) == -1)
				goto fail;
	if (i > 1)
		qsort_r(e, i, sizeof(*e), sortent_cmp, s);
	if (i > 0 && (*out = reallocarray(NULL, i, sizeof(**out))) == NULL)
		goto fail;
	for (j = 0; j < i; j++)
		(*out)[j] = e[j].seq;
	*n = i;
	sortents_free(e, i);
	imap_seqset_free(&res);
	return 0;
fail:
	sortents_free(e, i);
	imap_seqset_free(&res);
	return -1;
}

/* "* SORT 3 1 2 [(MODSEQ n)]" (RFC 5256 4, RFC 7162 3.1.5), UIDs when uid. */
int
imap_sort_respond(const struct imap_sort *s, const struct imap_search_msgops *ops,
    const uint32_t *seqs, size_t n, int uid, struct strbuf *out)
{
	uint64_t ms, top = 0;
	size_t i;
	int r = strbuf_puts(out, "* SORT");

	for (i = 0; i < n && r == 0; i++) {
		r = strbuf_printf(out, " %u", uid ? ops->uid(ops->ctx, seqs[i]) : seqs[i]);
		ms = ops->modseq != NULL ? ops->modseq(ops->ctx, seqs[i]) : 0;
		if (ms > top)
			top = ms;
	}
	if (r == 0 && s->search.uses_modseq && n > 0)
		r = strbuf_printf(out, " (MODSEQ %llu)", (unsigned long long)top);
	if (r == 0)
		r = strbuf_puts(out, "\r\n");
	return r == 0 ? 0 : -1;
}
