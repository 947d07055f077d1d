/*
 * imap_thread: the THREAD command (RFC 5256 4): ORDEREDSUBJECT and
 * REFERENCES (message-id linking, dummy pruning, subject merging, the
 * sent-date sorts), printed as a thread list. Works on indexes into one
 * node array without recursion, so a long chain of replies costs heap,
 * never stack. Pure computation in imapd's session process (as the mail
 * owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"
#include "imap_search_int.h"

#define THREAD_REFS_MAX	256	/* last References ids used per message */
#define NONE		(-1)
#define NOSTR		SIZE_MAX

struct tnode {
	uint32_t	 seq;		/* 0: a dummy */
	time_t		 date;		/* sent date (RFC 5256 2.2) */
	size_t		 subj;		/* folded base subject in pool, messages only */
	size_t		 id;		/* normalised Message-ID in pool, or NOSTR */
	int		 isreply;
	int		 parent, first, next;
};

struct htab {
	int	*slot;		/* node index or NONE */
	size_t	 cap, used;
};

struct thr {
	struct tnode	*n;
	size_t		 nn, cap;
	struct htab	 ids, subjs;
	struct strbuf	 pool;		/* the strings, NUL-terminated, at offsets */
	const struct imap_search_msgops *ops;
	int		 uid;
};

static int
terr(char *err, size_t errlen, const char *msg)
{
	if (errlen > 0)
		str_copy(err, msg, errlen);
	return -1;
}

static int
node_new(struct thr *t, uint32_t seq)
{
	struct tnode *n;

	if (t->nn == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if ((n = reallocarray(t->n, cap, sizeof(*n))) == NULL)
			return NONE;
		t->n = n;
		t->cap = cap;
	}
	n = &t->n[t->nn];
	memset(n, 0, sizeof(*n));
	n->seq = seq;
	n->parent = n->first = n->next = NONE;
	n->subj = n->id = NOSTR;
	return (int)t->nn++;
}

/* Keep s (len bytes) in the pool: its offset in *off. 0 or -1. */
static int
pool_add(struct thr *t, const char *s, size_t len, size_t *off)
{
	size_t at = t->pool.len;

	if (strbuf_append(&t->pool, s, len) == -1 || strbuf_putc(&t->pool, '\0') == -1)
		return -1;
	*off = at;
	return 0;
}

/* FNV-1a */
static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The thread subject of node i (RFC 5256 4 (5)(B)(i)): a dummy's comes from its first child. */
static const char *
thread_subj(const struct thr *t, int i)
{
	if (t->n[i].seq == 0)
		i = t->n[i].first;
	return i != NONE && t->n[i].subj != NOSTR ? t->pool.data + t->n[i].subj : "";
}

static const char *
hkey(const struct thr *t, const struct htab *h, int i)
{
	return h == &t->ids ? t->pool.data + t->n[i].id : thread_subj(t, i);
}

static int
htab_grow(struct thr *t, struct htab *h)
{
	size_t i, j, cap = h->cap ? h->cap * 2 : 256;
	int *s = reallocarray(NULL, cap, sizeof(*s));

	if (s == NULL)
		return -1;
	for (i = 0; i < cap; i++)
		s[i] = NONE;
	for (j = 0; j < h->cap; j++)
		if (h->slot[j] != NONE) {
			for (i = hash(hkey(t, h, h->slot[j])) & (cap - 1); s[i] != NONE;
			    i = (i + 1) & (cap - 1))
				;
			s[i] = h->slot[j];
		}
	free(h->slot);
	h->slot = s;
	h->cap = cap;
	return 0;
}

/*
 * The slot of key: holding its node, or NONE when absent, in which case
 * (with create) the caller must fill it. NULL: absent and !create, or
 * out of memory.
 */
static int *
htab_slot(struct thr *t, struct htab *h, const char *key, int create)
{
	size_t i;

	if (create && (h->used + 1) * 2 > h->cap && htab_grow(t, h) == -1)
		return NULL;
	if (h->cap == 0)
		return NULL;
	for (i = hash(key) & (h->cap - 1); h->slot[i] != NONE; i = (i + 1) & (h->cap - 1))
		if (strcmp(hkey(t, h, h->slot[i]), key) == 0)
			return &h->slot[i];
	if (!create)
		return NULL;
	h->used++;
	return &h->slot[i];
}

static void
htab_reset(struct htab *h)
{
	free(h->slot);
	memset(h, 0, sizeof(*h));
}

/* Child list operations. */
static void
unlink_child(struct thr *t, int c)
{
	int p = t->n[c].parent, *pp;

	if (p == NONE)
		return;
	for (pp = &t->n[p].first; *pp != NONE; pp = &t->n[*pp].next)
		if (*pp == c) {
			*pp = t->n[c].next;
			break;
		}
	t->n[c].parent = t->n[c].next = NONE;
}

/*
 * Children are put first: sibling order is set by the date sorts, and a
 * subject-merged child always has its new parent's thread subject, so
 * the subject table's keys stay valid. O(1) but for the unlinking.
 */
static void
add_child(struct thr *t, int p, int c)
{
	unlink_child(t, c);
	t->n[c].parent = p;
	t->n[c].next = t->n[p].first;
	t->n[p].first = c;
}

/* Is a the same as b or below it? */
static int
is_under(const struct thr *t, int a, int b)
{
	for (; a != NONE; a = t->n[a].parent)
		if (a == b)
			return 1;
	return 0;
}

/*
 * RFC 5256 4 note: msg-ids are normalised (quoting and whitespace
 * removed). The next "<...>" of s from *pos into out: 1, or 0 at the end.
 */
static int
next_msgid(const char *s, size_t len, size_t *pos, struct strbuf *out)
{
	size_t i, b;

	for (;;) {
		for (i = *pos; i < len && s[i] != '<'; i++)
			;
		if (i >= len)
			return 0;
		for (b = ++i; i < len && s[i] != '>' && s[i] != '<'; i++)
			;
		*pos = i;
		if (i >= len || s[i] == '<')
			continue;
		strbuf_reset(out);
		for (; b < i; b++) {
			if (s[b] == '"' || s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')
				continue;
			if (s[b] == '\\' && b + 1 < i)
				b++;
			if (strbuf_putc(out, s[b]) == -1)
				return 0;
		}
		if (out->len > 0)
			return 1;
	}
}

/* The container of id, a new dummy when it is not known yet. */
static int
id_node(struct thr *t, const char *id)
{
	int i, *sl;

	if ((sl = htab_slot(t, &t->ids, id, 1)) == NULL)
		return -2;
	if (*sl != NONE)
		return *sl;
	if ((i = node_new(t, 0)) == NONE || pool_add(t, id, strlen(id), &t->n[i].id) == -1)
		return -2;
	*sl = i;	/* no node_new between: sl still valid */
	return i;
}

/* RFC 5256 4 REFERENCES (1)(A) and (B) for message node me. */
static int
link_refs(struct thr *t, int me, char **refs, size_t nr)
{
	int prev = NONE, c = NONE;
	size_t i;

	for (i = 0; i < nr; i++) {
		if ((c = id_node(t, refs[i])) < 0)
			return -1;
		/* keep existing links; no loops */
		if (prev != NONE && t->n[c].parent == NONE && !is_under(t, prev, c))
			add_child(t, prev, c);
		prev = c;
	}
	if (prev != NONE && is_under(t, prev, me))
		return 0;
	unlink_child(t, me);
	if (prev != NONE)
		add_child(t, prev, me);
	return 0;
}

/* The references of m: References ids (the last THREAD_REFS_MAX), else the first In-Reply-To id. */
static int
msg_refs(struct search_msg *m, char ***refs, size_t *nr)
{
	struct strbuf v, id;
	size_t pos = 0, n = 0, max = THREAD_REFS_MAX;
	char **r = NULL, **nrp;
	int ok = 0;

	strbuf_init(&v, SEARCH_STR_MAX);
	strbuf_init(&id, SEARCH_STR_MAX);
	if (imap_hdr_get(m->buf, m->hdrlen, "References", &v) != 1 ||
	    !next_msgid(v.data, v.len, &pos, &id)) {
		strbuf_reset(&v);
		max = 1;
		if (imap_hdr_get(m->buf, m->hdrlen, "In-Reply-To", &v) != 1)
			strbuf_reset(&v);
	}
	for (pos = 0; next_msgid(v.data, v.len, &pos, &id); ) {
		if (n == max) {
			if (max == 1)
				break;
			free(r[0]);
			memmove(r, r + 1, (n - 1) * sizeof(*r));
			n--;
		}
		if ((nrp = reallocarray(r, n + 1, sizeof(*r))) == NULL)
			goto out;
		r = nrp;
		if ((r[n] = strdup(id.data)) == NULL)
			goto out;
		n++;
	}
	ok = 1;
out:
	*refs = r;
	*nr = n;
	strbuf_free(&v);
	strbuf_free(&id);
	return ok ? 0 : -1;
}

static int
node_set_id(struct thr *t, int i, const char *id)
{
	return pool_add(t, id, strlen(id), &t->n[i].id) == 0 ? i : NONE;
}

/* Message node for seq: its Message-ID's dummy when one was made (RFC 5256 4 (1)(A)). */
static int
msg_node(struct thr *t, struct search_msg *m, int refs)
{
	struct strbuf v, id;
	size_t pos = 0;
	int i = NONE, *sl = NULL;

	strbuf_init(&v, SEARCH_STR_MAX);
	strbuf_init(&id, SEARCH_STR_MAX);
	if (refs && m->got == 1 && imap_hdr_get(m->buf, m->hdrlen, "Message-ID", &v) == 1 &&
	    next_msgid(v.data, v.len, &pos, &id)) {
		if ((sl = htab_slot(t, &t->ids, id.data, 1)) == NULL)
			goto out;
		if (*sl != NONE && t->n[*sl].seq == 0) {
			i = *sl;	/* a dummy until now */
			t->n[i].seq = m->seq;
			goto out;
		}
		if (*sl != NONE)
			sl = NULL;	/* a duplicate: this one gets no id */
	}
	if ((i = node_new(t, m->seq)) == NONE)
		goto out;
	if (sl != NULL && (i = node_set_id(t, i, id.data)) != NONE)
		*sl = i;
out:
	strbuf_free(&v);
	strbuf_free(&id);
	return i;
}

/* The folded base subject of m, and whether it was a reply or forward. */
static int
msg_subject(struct thr *t, int i, struct search_msg *m)
{
	struct strbuf v, d, b;
	int r = 0;

	strbuf_init(&v, SEARCH_STR_MAX);
	strbuf_init(&d, SEARCH_STR_MAX);
	strbuf_init(&b, SEARCH_STR_MAX);
	if (m->got == 1 && imap_hdr_get(m->buf, m->hdrlen, "Subject", &v) == 1)
		r = mime_hdr_decode(v.data, v.len, &d);
	strbuf_reset(&v);
	if (r == 0)
		r = search_base_subject(d.data != NULL ? d.data : "", d.len, &b, &t->n[i].isreply);
	if (r == 0)
		r = search_fold(b.data != NULL ? b.data : "", b.len, &v);
	if (r == 0)
		r = pool_add(t, v.data != NULL ? v.data : "", v.len, &t->n[i].subj);
	strbuf_free(&v);
	strbuf_free(&d);
	strbuf_free(&b);
	return r;
}

static int
thread_add(struct thr *t, uint32_t seq, int refs)
{
	struct search_msg m;
	char **rl = NULL;
	size_t nr = 0, k;
	int i, r = -1;

	search_msg_init(&m, t->ops, seq);
	(void)search_msg_content(&m);	/* vanished: no headers, still threaded */
	if ((i = msg_node(t, &m, refs)) == NONE)
		goto out;
	t->n[i].date = search_sent_date(&m);
	if (msg_subject(t, i, &m) == -1)
		goto out;
	if (refs && m.got == 1 && (msg_refs(&m, &rl, &nr) == -1 || link_refs(t, i, rl, nr) == -1))
		goto out;
	r = 0;
out:
	for (k = 0; k < nr; k++)
		free(rl[k]);
	free(rl);
	search_msg_free(&m);
	return r;
}

/* Sort key of node i: a dummy sorts as its first child (RFC 5256 4 (4), (6)). */
static const struct tnode *
sort_key(const struct thr *t, int i)
{
	while (t->n[i].seq == 0 && t->n[i].first != NONE)
		i = t->n[i].first;
	return &t->n[i];
}

static int
node_cmp(const void *x, const void *y, void *arg)
{
	const struct thr *t = arg;
	const struct tnode *a = sort_key(t, *(const int *)x), *b = sort_key(t, *(const int *)y);

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort the children of p by sent date; tmp holds at least t->nn ints. */
static void
sort_children(struct thr *t, int p, int *tmp)
{
	size_t n = 0, k;
	int c;

	for (c = t->n[p].first; c != NONE; c = t->n[c].next)
		tmp[n++] = c;
	if (n < 2)
		return;
	qsort_r(tmp, n, sizeof(*tmp), node_cmp, t);
	t->n[p].first = tmp[0];
	for (k = 0; k + 1 < n; k++)
		t->n[tmp[k]].next = tmp[k + 1];
	t->n[tmp[n - 1]].next = NONE;
}

/* RFC 5256 4 (6): grandchildren before children, the root last. */
static int
sort_all(struct thr *t)
{
	int *tmp = reallocarray(NULL, t->nn, sizeof(*tmp));
	size_t i;
	int pass;

	if (tmp == NULL)
		return -1;
	/* twice: a dummy sorts as its first child, which must be in place */
	for (pass = 0; pass < 2; pass++)
		for (i = 1; i < t->nn; i++)
			sort_children(t, (int)i, tmp);
	sort_children(t, 0, tmp);
	free(tmp);
	return 0;
}

/* RFC 5256 4 (3): prune dummies, without recursion. Node 0 is the root. */
static int
prune(struct thr *t)
{
	int *stack = reallocarray(NULL, t->nn, sizeof(*stack)), *pp, c, p, k, last;
	size_t sp = 0;

	if (stack == NULL)
		return -1;
	stack[sp++] = 0;
	while (sp > 0) {
		p = stack[--sp];
		for (pp = &t->n[p].first; (c = *pp) != NONE; ) {
			if (t->n[c].seq == 0 && (t->n[c].first == NONE ||
			    p != 0 || t->n[t->n[c].first].next == NONE)) {
				/* delete it, splicing its children in its place */
				last = NONE;
				for (k = t->n[c].first; k != NONE; k = t->n[k].next) {
					t->n[k].parent = p;
					last = k;
				}
				if (last != NONE) {
					t->n[last].next = t->n[c].next;
					*pp = t->n[c].first;
				} else
					*pp = t->n[c].next;
				t->n[c].first = t->n[c].next = t->n[c].parent = NONE;
				continue;
			}
			stack[sp++] = c;
			pp = &t->n[c].next;
		}
	}
	free(stack);
	return 0;
}

/* Move every child of dummy from in front of dummy to's children. */
static void
adopt_all(struct thr *t, int to, int from)
{
	int k, last = NONE;

	for (k = t->n[from].first; k != NONE; k = t->n[k].next) {
		t->n[k].parent = to;
		last = k;
	}
	if (last == NONE)
		return;
	t->n[last].next = t->n[to].first;
	t->n[to].first = t->n[from].first;
	t->n[from].first = NONE;
}

/* RFC 5256 4 (5)(B): one thread per base subject in the subject table. */
static int
subjects_fill(struct thr *t, const int *top, size_t n)
{
	size_t i;
	int c, *sl;

	for (i = 0; i < n; i++) {
		c = top[i];
		if (*thread_subj(t, c) == '\0')
			continue;
		if ((sl = htab_slot(t, &t->subjs, thread_subj(t, c), 1)) == NULL)
			return -1;
		if (*sl == NONE || (t->n[*sl].seq != 0 && (t->n[c].seq == 0 ||
		    (t->n[*sl].isreply && !t->n[c].isreply))))
			*sl = c;
	}
	return 0;
}

/* RFC 5256 4 (5)(C) for top-level node c; new dummies go to top[*n]. */
static int
subject_merge(struct thr *t, int c, int *top, size_t *n)
{
	int *sl, tb, d;

	if (t->n[c].parent != NONE || (t->n[c].seq == 0 && t->n[c].first == NONE) ||
	    *thread_subj(t, c) == '\0')
		return 0;
	if ((sl = htab_slot(t, &t->subjs, thread_subj(t, c), 0)) == NULL || *sl == c)
		return 0;
	tb = *sl;
	if (t->n[tb].seq == 0 && t->n[c].seq == 0)
		adopt_all(t, tb, c);
	else if (t->n[tb].seq == 0 || (t->n[c].isreply && !t->n[tb].isreply))
		add_child(t, tb, c);
	else {
		if ((d = node_new(t, 0)) == NONE)
			return -1;
		add_child(t, d, tb);
		add_child(t, d, c);
		*sl = d;	/* same key: d's first child is tb */
		top[(*n)++] = d;
	}
	return 0;
}

/* RFC 5256 4 (5): the root's children are taken off, merged, then put back. */
static int
merge_subjects(struct thr *t)
{
	size_t n = 0, i, m;
	int *top, c, *pp;

	for (c = t->n[0].first; c != NONE; c = t->n[c].next)
		n++;
	if ((top = reallocarray(NULL, 2 * n + 1, sizeof(*top))) == NULL)
		return -1;
	for (n = 0, c = t->n[0].first; c != NONE; c = t->n[c].next) {
		top[n++] = c;
		t->n[c].parent = NONE;
	}
	t->n[0].first = NONE;
	if (subjects_fill(t, top, n) == -1) {
		free(top);
		return -1;
	}
	for (m = n, i = 0; i < n; i++)
		if (subject_merge(t, top[i], top, &m) == -1) {
			free(top);
			return -1;
		}
	pp = &t->n[0].first;
	for (i = 0; i < m; i++) {
		c = top[i];
		if (t->n[c].parent != NONE || (t->n[c].seq == 0 && t->n[c].first == NONE))
			continue;
		t->n[c].parent = 0;
		t->n[c].next = NONE;
		*pp = c;
		pp = &t->n[c].next;
	}
	free(top);
	return 0;
}

static int
print_members(struct thr *t, int c, int *stack, size_t *sp, struct strbuf *out)
{
	size_t nk = 0, j, base;
	int k, r = 0;

	if (t->n[c].seq != 0)
		r = strbuf_printf(out, "%u", t->uid ? t->ops->uid(t->ops->ctx, t->n[c].seq) :
		    t->n[c].seq);
	for (k = t->n[c].first; k != NONE; k = t->n[k].next)
		nk++;
	if (nk > 0 && t->n[c].seq != 0)
		r |= strbuf_putc(out, ' ');
	if (nk == 1) {
		stack[(*sp)++] = t->n[c].first;
		return r;
	}
	/* thread-nested: each child its own "(...)", in order */
	base = *sp;
	*sp += 3 * nk;
	for (j = 0, k = t->n[c].first; k != NONE; k = t->n[k].next, j++) {
		stack[base + 3 * (nk - 1 - j)] = -2;
		stack[base + 3 * (nk - 1 - j) + 1] = k;
		stack[base + 3 * (nk - 1 - j) + 2] = -1;
	}
	return r;
}

/* RFC 5256 4: thread-list = "(" (thread-members / thread-nested) ")". */
static int
print_threads(struct thr *t, struct strbuf *out)
{
	int *stack = reallocarray(NULL, 3 * t->nn + 4, sizeof(*stack)), c, x;
	size_t sp;
	int r = 0;

	if (stack == NULL)
		return -1;
	for (c = t->n[0].first; c != NONE && r == 0; c = t->n[c].next) {
		sp = 0;
		stack[sp++] = -2;
		stack[sp++] = c;
		stack[sp++] = -1;
		while (sp > 0 && r == 0) {
			x = stack[--sp];
			if (x == -1)
				r = strbuf_putc(out, '(');
			else if (x == -2)
				r = strbuf_putc(out, ')');
			else
				r = print_members(t, x, stack, &sp, out);
		}
	}
	free(stack);
	return r == 0 ? 0 : -1;
}

static int
subj_cmp(const void *x, const void *y, void *arg)
{
	const struct thr *t = arg;
	int c = strcmp(thread_subj(t, *(const int *)x), thread_subj(t, *(const int *)y));

	if (c != 0)
		return c;
	return node_cmp(x, y, arg);
}

/* RFC 5256 4 ORDEREDSUBJECT: by base subject, then sent date; one level of children. */
static int
ordered_subject(struct thr *t)
{
	int *idx, *rp = &t->n[0].first, *cp = NULL, head = NONE;
	size_t n = t->nn - 1, i;

	if (n == 0)
		return 0;
	if ((idx = reallocarray(NULL, n, sizeof(*idx))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		idx[i] = (int)i + 1;
	qsort_r(idx, n, sizeof(*idx), subj_cmp, t);
	for (i = 0; i < n; i++) {
		int c = idx[i];

		if (head == NONE || strcmp(thread_subj(t, head), thread_subj(t, c)) != 0) {
			head = c;
			*rp = c;
			rp = &t->n[c].next;
			t->n[c].parent = 0;
			cp = &t->n[c].first;
		} else {
			*cp = c;
			cp = &t->n[c].next;
			t->n[c].parent = head;
		}
	}
	free(idx);
	return sort_all(t);
}

/* RFC 5256 4 REFERENCES, steps (2) to (6) over the linked nodes. */
static int
references(struct thr *t)
{
	size_t i;

	for (i = t->nn; i-- > 1; )
		if (t->n[i].parent == NONE) {
			t->n[i].parent = 0;
			t->n[i].next = t->n[0].first;
			t->n[0].first = (int)i;
		}
	if (prune(t) == -1 || sort_all(t) == -1 || merge_subjects(t) == -1)
		return -1;
	return sort_all(t);
}

static void
thr_free(struct thr *t)
{
	free(t->n);
	strbuf_free(&t->pool);
	htab_reset(&t->ids);
	htab_reset(&t->subjs);
}

static int
thread_build(struct thr *t, const struct imap_seqset *res, int refs)
{
	size_t j;
	uint32_t seq;

	if (node_new(t, 0) == NONE)
		return -1;
	for (j = 0; j < res->n; j++)
		for (seq = res->r[j].lo; seq >= res->r[j].lo && seq <= res->r[j].hi; seq++)
			if (thread_add(t, seq, refs) == -1)
				return -1;
	return refs ? references(t) : ordered_subject(t);
}

int
imap_thread(const struct imap_arg *args, int uid, const struct imap_search_msgops *ops,
    uint32_t maxuid, const struct imap_seqset *saved, struct strbuf *out, char *err,
    size_t errlen)
{
	struct imap_search s;
	struct imap_seqset res;
	struct thr t;
	int refs, r;

	if (imap_arg_atom_is(args, "REFERENCES"))
		refs = 1;
	else if (imap_arg_atom_is(args, "ORDEREDSUBJECT"))
		refs = 0;
	else
		return terr(err, errlen, "Unknown threading algorithm");
	memset(&s, 0, sizeof(s));
	r = search_parse_keys(&s, args + 1, 1, ops->count(ops->ctx), maxuid, saved, err, errlen);
	if (r != 0)
		return r;
	memset(&t, 0, sizeof(t));
	strbuf_init(&t.pool, SEARCH_STR_MAX);
	t.ops = ops;
	t.uid = uid;
	imap_seqset_init(&res);
	r = imap_search_run(&s, ops, &res);
	if (r == 0)
		r = thread_build(&t, &res, refs);
	if (r == 0)
		r = print_threads(&t, out);
	if (r == -1)
		terr(err, errlen, "Out of memory");
	thr_free(&t);
	imap_seqset_free(&res);
	imap_search_free(&s);
	return r;
}
