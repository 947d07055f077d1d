/*
 * imap_store_sync: bring a folder's snapshot up to date with its files
 * (run in the session process as the mail owner). Under the folder lock:
 * re-read the uidlist if another session replaced it, read new/ and cur/
 * once, match the files to the snapshot by key (the base name up to ':'),
 * and work out what changed: files gone (expunged by another session or
 * deleted by pop3d), files renamed (flags changed elsewhere, or moved
 * from new/ to cur/), and files that are new (UIDs from the uidlist when
 * another session numbered them, else assigned here in delivery order).
 * A read-write session then moves new/ files to cur/ and takes \Recent
 * for them (RFC 3501 2.3.2: one session only gets it).
 *
 * Opening is the same pass over an empty snapshot, with the index (when
 * it matches the uidlist's UIDVALIDITY) supplying sizes, dates and
 * modseqs; without it sizes come from the ,W= of the names and modseqs
 * start at the durable counter (RFC 7162: never lower than before).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "util.h"

struct sync_ctx {
	struct imap_folder	*f;
	struct store_priv	*p;
	struct scan		 sc;
	struct store_keymap	 km;
	struct store_index	*ix;		/* at open, or NULL */
	struct imap_changes	*ch;
	uint8_t			*mark;		/* per msg: 1 gone, 2 flags changed */
	size_t			 nold;		/* messages before the pass */
	size_t			 nchg, nexp;
	uint64_t		 modseq;	/* for this pass's changes, 0 until needed */
	size_t			 from_index;
	uint64_t		 current;	/* the counter, read once */
	int			 newonly;	/* the map holds new/ entries only */	/* messages the index described as they are */
	char			*err;
	size_t			 errlen;
};

static const char *
msg_key(void *arg, uint32_t idx, size_t *len)
{
	struct imap_folder *f = arg;
	const char *base = store_name_base(f->msgs[idx].name);

	*len = store_name_keylen(base);
	return base;
}

static void
sync_keymap(struct sync_ctx *c)
{
	size_t i, n = c->newonly ? c->sc.ncur : c->sc.n;

	store_keymap_free(&c->km);
	store_keymap_init(&c->km, n);
	for (i = 0; i < n; i++)
		store_keymap_put(&c->km, scan_key, &c->sc, (uint32_t)i);
}

/* The scan entry of key, -1 when none. */
static long
sync_lookup(struct sync_ctx *c, const char *key, size_t len)
{
	return store_keymap_get(&c->km, scan_key, &c->sc, key, len);
}

/*
 * With nothing to match (an empty snapshot, an empty uidlist: a folder
 * opened for the first time) only a new/ file with a cur/ twin must be
 * found, and the map need only hold new/, usually empty.
 */
static void
sync_twins(struct sync_ctx *c)
{
	size_t i;
	long j;

	for (i = c->sc.ncur; c->sc.ncur > 0 && i < c->sc.n; i++)
		if ((j = sync_lookup(c, c->sc.e[i].name + 4, c->sc.e[i].keylen)) >= 0)
			c->sc.e[j].used = 1;	/* the cur/ one stands */
}

/*
 * A scan name for a message: at open the scan's blocks become the
 * folder's (scan_keep), later a name is copied out of them.
 */
static char *
sync_take(struct sync_ctx *c, struct scan_ent *e)
{
	e->taken = 1;
	return c->ix != NULL ? e->name : xstrdup(e->name);
}

/* One new modseq for every change of this pass (RFC 7162 3.1). */
static uint64_t
sync_modseq(struct sync_ctx *c)
{
	if (c->modseq == 0)
		c->modseq = store_modseq_next(c->p->lockfd, &c->p->ul);
	return c->modseq;
}

#define MARK_GONE	1
#define MARK_CHANGED	2

/* Match one snapshot message to its file; 1 when it is missing. */
static int
sync_match_one(struct sync_ctx *c, size_t i)
{
	struct imap_msg *m = &c->f->msgs[i];
	struct store_name sn;
	const char *key;
	size_t len;
	long j;

	key = msg_key(c->f, (uint32_t)i, &len);
	if ((j = sync_lookup(c, key, len)) < 0) {
		c->mark[i] |= MARK_GONE;
		return 1;
	}
	c->mark[i] &= ~MARK_GONE;
	c->sc.e[j].used = 1;
	if (strcmp(c->sc.e[j].name, m->name) == 0)
		return 0;
	/* renamed: take the scan's copy of the name */
	store_name_release(c->f, m->name);
	m->name = sync_take(c, &c->sc.e[j]);
	store_name_parse(store_name_base(m->name), &sn);
	if (sn.flags != (m->flags & ~IMAP_F_RECENT) || sn.keywords != m->keywords) {
		m->flags = sn.flags | (m->flags & IMAP_F_RECENT);
		m->keywords = sn.keywords;
		c->mark[i] |= MARK_CHANGED;
	}
	return 0;
}

/* Mark each snapshot message gone or renamed; 0 or -1. */
static int
sync_match(struct sync_ctx *c)
{
	size_t i, missing = 0;

	for (i = 0; i < c->f->n; i++)
		missing += (size_t)sync_match_one(c, i);
	if (missing == 0)
		return 0;
	/* A rename during the readdir can hide a file: look once more. */
	scan_free(&c->sc);
	if (scan_dir(&c->sc, c->f->dir, c->err, c->errlen) == -1)
		return -1;
	sync_keymap(c);
	for (i = 0; i < c->f->n; i++)
		(void)sync_match_one(c, i);
	return 0;
}

/* Drop the gone messages (reported in descending order), renumber marks. */
static void
sync_expunge(struct sync_ctx *c)
{
	struct imap_folder *f = c->f;
	struct imap_changes *ch = c->ch;
	size_t i, o;

	for (i = f->n; i-- > 0;)
		if (c->mark[i] & MARK_GONE) {
			ch->expunged_seq[ch->nexpunged] = (uint32_t)(i + 1);
			ch->expunged_uid[ch->nexpunged++] = f->msgs[i].uid;
			c->nexp++;
		}
	for (i = o = 0; i < f->n; i++) {
		if (c->mark[i] & MARK_GONE) {
			store_name_release(f, f->msgs[i].name);
			continue;
		}
		if (c->mark[i] & MARK_CHANGED) {
			f->msgs[i].modseq = sync_modseq(c);
			ch->changed_seq[ch->nchanged++] = (uint32_t)(o + 1);
			c->nchg++;
		}
		f->msgs[o++] = f->msgs[i];
	}
	f->n = o;
}

static void
sync_reserve(struct imap_folder *f, size_t n)
{
	if (f->cap - f->n >= n)
		return;
	f->cap = f->n + n;
	f->msgs = xreallocarray(f->msgs, f->cap, sizeof(*f->msgs));
	store_populate(f->msgs + f->n, n * sizeof(*f->msgs));
}

static void
sync_push(struct imap_folder *f, uint32_t uid, char *name)
{
	struct imap_msg *m;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->msgs = xreallocarray(f->msgs, f->cap, sizeof(*f->msgs));
	}
	m = &f->msgs[f->n++];
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->name = name;
}

static int
rec_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct index_rec *)b)->uid;

	return x < y ? -1 : x > y;
}

/* Sizes, date, modseq of a new snapshot message (sn: its parsed name, or NULL). */
static void
sync_fill(struct sync_ctx *c, struct imap_msg *m, const struct store_name *snp)
{
	char path[STORE_PATH];
	const struct index_rec *r = NULL;
	struct store_name own;
	const struct store_name *sn = snp;

	if (sn == NULL) {
		store_name_parse(store_name_base(m->name), &own);
		sn = &own;
	}
	m->flags = sn->flags;
	m->keywords = sn->keywords;
	if (c->ix != NULL && c->ix->n > 0)
		r = bsearch(&m->uid, c->ix->r, c->ix->n, sizeof(*r), rec_cmp);
	if (r != NULL) {
		m->size = r->size;
		m->internaldate = (time_t)r->internaldate;
		if ((r->flags & INDEX_SYSFLAGS) == m->flags && r->keywords == m->keywords) {
			m->modseq = r->modseq;
			c->from_index++;
		} else
			m->modseq = sync_modseq(c);	/* changed while closed */
		return;
	}
	m->internaldate = sn->time;
	if (sn->has_w)
		m->size = sn->w;
	else {
		c->p->costly = 1;	/* worth an index at once */
		if (store_path(path, sizeof(path), c->f->dir, m->name) == -1 ||
		    store_file_wire(path, &m->size, &m->internaldate) == -1)
			m->size = 0;	/* gone meanwhile: the next sync expunges it */
	}
	if (m->internaldate == 0)
		m->internaldate = time(NULL);
	/* known UID without index data: the durable counter, never lower */
	if (c->ix == NULL)
		m->modseq = sync_modseq(c);
	else {
		if (c->current == 0)
			c->current = store_modseq_current(c->p->lockfd, &c->p->ul);
		m->modseq = c->current;
	}
}

/* Files the uidlist already numbers above the snapshot, in UID order. */
static void
sync_known(struct sync_ctx *c, uint32_t maxuid)
{
	struct uidlist *ul = &c->p->ul;
	size_t lo = 0, hi = ul->n, mid;
	long j;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (ul->e[mid].uid <= maxuid)
			lo = mid + 1;
		else
			hi = mid;
	}
	sync_reserve(c->f, ul->n - lo);
	for (; lo < ul->n; lo++) {
		j = sync_lookup(c, ul->e[lo].key, ul->e[lo].keylen);
		if (j < 0 || c->sc.e[j].used)
			continue;
		c->sc.e[j].used = 1;
		sync_push(c->f, ul->e[lo].uid, sync_take(c, &c->sc.e[j]));
		sync_fill(c, &c->f->msgs[c->f->n - 1], NULL);
	}
}

struct fresh {
	uint64_t	t;	/* delivery time in microseconds */
	uint32_t	i;	/* into the scan and the parsed names */
};

/* Delivery order: the time in the name (then the order found). */
static int
fresh_cmp(const void *a, const void *b)
{
	const struct fresh *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Files nobody numbered yet: UIDs in delivery order. */
static void
sync_fresh(struct sync_ctx *c)
{
	struct store_name *sn;
	struct scan_ent *e;
	struct fresh *v;
	struct imap_msg *m;
	size_t i, n = 0;
	uint32_t uid;

	v = xreallocarray(NULL, c->sc.n ? c->sc.n : 1, sizeof(*v));
	sn = xreallocarray(NULL, c->sc.n ? c->sc.n : 1, sizeof(*sn));
	for (i = 0; i < c->sc.n; i++) {
		/* skip a new/ twin of a cur/ file: the map holds the cur/ one */
		if (c->sc.e[i].used || (!c->newonly &&
		    sync_lookup(c, c->sc.e[i].name + 4, c->sc.e[i].keylen) != (long)i))
			continue;
		store_name_parse(c->sc.e[i].name + 4, &sn[i]);
		v[n].t = (uint64_t)sn[i].time * 1000000 + sn[i].usec;
		v[n++].i = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), fresh_cmp);
	uidlist_reserve(&c->p->ul, n);
	sync_reserve(c->f, n);
	for (i = 0; i < n; i++) {
		e = &c->sc.e[v[i].i];
		/* at open the names live as long as the folder: no copy */
		uid = c->ix != NULL ? uidlist_add_ref(&c->p->ul, e->name + 4, e->keylen) :
		    uidlist_add(&c->p->ul, e->name + 4, e->keylen);
		e->used = 1;
		sync_push(c->f, uid, sync_take(c, e));
		m = &c->f->msgs[c->f->n - 1];
		sync_fill(c, m, &sn[v[i].i]);
		if (c->ix != NULL)	/* new to this folder: a new modseq */
			m->modseq = sync_modseq(c);
	}
	free(sn);
	free(v);
}

/* Read-write: new/X -> cur/X:2,<flags>, \Recent for this session. */
void
store_take_new(struct imap_folder *f, size_t from)
{
	char src[STORE_PATH], dst[STORE_PATH], *name;
	const char *base;
	size_t i;

	for (i = from; i < f->n; i++) {
		if (strncmp(f->msgs[i].name, "new/", 4) != 0)
			continue;
		base = store_name_base(f->msgs[i].name);
		name = store_name_make(base, store_name_keylen(base),
		    f->msgs[i].flags, f->msgs[i].keywords);
		if (store_path(src, sizeof(src), f->dir, f->msgs[i].name) == -1 ||
		    store_path(dst, sizeof(dst), f->dir, name) == -1 ||
		    rename(src, dst) == -1) {
			free(name);	/* taken by another session: not ours */
			continue;
		}
		store_name_release(f, f->msgs[i].name);
		f->msgs[i].name = name;
		f->msgs[i].flags |= IMAP_F_RECENT;
	}
}

static void
sync_changes_alloc(struct sync_ctx *c)
{
	struct store_priv *p = c->p;
	size_t n = c->f->n + p->npend + 1;

	p->ch_seq = xreallocarray(p->ch_seq, n, sizeof(uint32_t));
	p->ch_uid = xreallocarray(p->ch_uid, n, sizeof(uint32_t));
	p->ch_changed = xreallocarray(p->ch_changed, c->f->n + 1, sizeof(uint32_t));
	memset(c->ch, 0, sizeof(*c->ch));
	c->ch->expunged_seq = p->ch_seq;
	c->ch->expunged_uid = p->ch_uid;
	c->ch->changed_seq = p->ch_changed;
	/* our own expunges first, as imap_folder_expunge numbered them */
	if (p->npend > 0) {
		memcpy(p->ch_seq, p->pend_seq, p->npend * sizeof(uint32_t));
		memcpy(p->ch_uid, p->pend_uid, p->npend * sizeof(uint32_t));
		c->ch->nexpunged = p->npend;
		p->npend = 0;
	}
}

/* Keep the uidlist to the live messages when it has grown stale. */
static int
sync_save_uidlist(struct sync_ctx *c)
{
	struct imap_folder *f = c->f;
	struct uidlist *ul = &c->p->ul;
	uint32_t *keep;
	size_t i;

	if (!ul->dirty && ul->ino != 0 &&
	    (ul->n < f->n + 256 || ul->n - f->n < f->n / 4))
		return store_modseq_flush(c->p->lockfd, ul, f->dir, c->err, c->errlen);
	keep = xreallocarray(NULL, f->n ? f->n : 1, sizeof(*keep));
	for (i = 0; i < f->n; i++)
		keep[i] = f->msgs[i].uid;
	uidlist_retain(ul, keep, f->n);
	free(keep);
	ul->dirty = 1;
	return store_modseq_flush(c->p->lockfd, ul, f->dir, c->err, c->errlen);
}

static int
sync_locked(struct sync_ctx *c)
{
	struct imap_folder *f = c->f;
	uint32_t maxuid = f->n ? f->msgs[f->n - 1].uid : 0;

	if (uidlist_load(&c->p->ul, f->dir, c->err, c->errlen) == -1 ||
	    scan_dir(&c->sc, f->dir, c->err, c->errlen) == -1)
		return -1;
	if (c->ix != NULL)
		scan_keep(&c->sc, f);	/* at open the names stay where they are */
	c->newonly = f->n == 0 && c->p->ul.n == 0;
	sync_keymap(c);
	if (c->newonly)
		sync_twins(c);
	c->nold = f->n;
	c->mark = xcalloc(f->n + 1, 1);
	if (c->ix != NULL && c->ix->h.uidvalidity != c->p->ul.uidvalidity)
		c->ix->n = 0;	/* another folder's or an older life's */
	if (sync_match(c) == -1)
		return -1;
	sync_changes_alloc(c);
	sync_expunge(c);
	c->nold = f->n;
	sync_known(c, maxuid);
	sync_fresh(c);
	c->ch->nnew = f->n - c->nold;
	if (c->ix == NULL && (c->ch->nnew > 0 || c->nexp > 0))
		(void)sync_modseq(c);	/* expunges and arrivals move it too */
	if (sync_save_uidlist(c) == -1)
		return -1;
	if (!f->readonly)
		store_take_new(f, c->nold);
	f->uidvalidity = c->p->ul.uidvalidity;
	f->uidnext = c->p->ul.uidnext;
	f->highestmodseq = store_modseq_current(c->p->lockfd, &c->p->ul);
	return 0;
}

/* At open: did the index describe the folder exactly as found? */
static int
sync_index_current(const struct sync_ctx *c)
{
	const struct index_hdr *h = &c->ix->h;

	return c->from_index == c->f->n && c->ix->n == c->f->n &&
	    h->uidnext == c->f->uidnext && h->highestmodseq == c->f->highestmodseq &&
	    h->new_sec == c->sc.new_mtime.tv_sec &&
	    h->new_nsec == c->sc.new_mtime.tv_nsec &&
	    h->cur_sec == c->sc.cur_mtime.tv_sec &&
	    h->cur_nsec == c->sc.cur_mtime.tv_nsec;
}

/*
 * At open: an index that matched but was written too soon after the
 * folder's last change for store_open_cached to trust it is written again
 * once this pass can vouch for the mtimes, or every later open would read
 * the directories again.
 */
static int
sync_index_settles(const struct sync_ctx *c, time_t now)
{
	const struct index_hdr *h = &c->ix->h;

	if (h->new_sec + 1 < h->scan_sec && h->cur_sec + 1 < h->scan_sec)
		return 0;	/* trusted already */
	return c->sc.new_mtime.tv_sec + 1 < now && c->sc.cur_mtime.tv_sec + 1 < now;
}

int
store_sync(struct imap_folder *f, struct store_index *ix, struct imap_changes *ch,
    char *err, size_t errlen)
{
	struct sync_ctx c;
	int rv;

	memset(&c, 0, sizeof(c));
	c.f = f;
	c.p = f->priv;
	c.ix = ix;
	c.ch = ch;
	c.err = err;
	c.errlen = errlen;
	if (store_lock(c.p->lockfd, err, errlen) == -1)
		return -1;
	rv = sync_locked(&c);
	store_unlock(c.p->lockfd);
	if (rv == 0) {
		c.p->new_mtime = c.sc.new_mtime;
		c.p->cur_mtime = c.sc.cur_mtime;
		c.p->scan_start = c.sc.started;
		c.p->scanned_at = c.sc.started.tv_sec;
		if (ix != NULL)
			c.p->dirty = !sync_index_current(&c) ||
			    sync_index_settles(&c, c.p->scanned_at);
		else if (c.nchg + c.nexp + ch->nnew + ch->nexpunged > 0 || c.modseq != 0)
			c.p->dirty = 1;
	}
	free(c.mark);
	store_keymap_free(&c.km);
	scan_free(&c.sc);
	return rv;
}

/* The index's records against the uidlist's keys: names, or -1 when they disagree. */
static int
cached_build(struct imap_folder *f, const struct store_index *ix)
{
	struct store_priv *p = f->priv;
	const struct uidlist *ul = &p->ul;
	const struct index_rec *r;
	struct imap_msg *m;
	size_t i, j = 0, need;
	char *name;

	sync_reserve(f, ix->n);
	/* one block for all the names (ul's keys are at most their lengths) */
	for (i = need = 0; i < ul->n; i++)
		need += STORE_NAME_LEN(ul->e[i].keylen);
	store_arena_reserve(&p->arenas, &p->narenas, need ? need : 1);
	for (i = 0; i < ix->n; i++) {
		r = &ix->r[i];
		while (j < ul->n && ul->e[j].uid < r->uid)
			j++;
		if (j == ul->n || ul->e[j].uid != r->uid || !(r->flags & INDEX_F_CANON))
			return -1;
		name = store_arena_alloc(&p->arenas, &p->narenas,
		    STORE_NAME_LEN(ul->e[j].keylen));
		if (r->flags & INDEX_F_NEW) {
			memcpy(name, "new/", 4);
			memcpy(name + 4, ul->e[j].key, ul->e[j].keylen);
			name[ul->e[j].keylen + 4] = '\0';
		} else
			store_name_write(name, ul->e[j].key, ul->e[j].keylen,
			    r->flags & INDEX_SYSFLAGS, r->keywords);
		sync_push(f, r->uid, name);
		m = &f->msgs[f->n - 1];
		m->flags = r->flags & INDEX_SYSFLAGS;
		m->keywords = r->keywords;
		m->modseq = r->modseq;
		m->size = r->size;
		m->internaldate = (time_t)r->internaldate;
	}
	return 0;
}

/* Would the index describe the folder as it is now? (see imap_store.c) */
int
store_index_fresh(const struct store_index *ix, const char *dir,
    struct timespec *nm, struct timespec *cm)
{
	if (ix->h.uidvalidity == 0 || scan_mtimes(dir, nm, cm) == -1)
		return 0;
	return nm->tv_sec == ix->h.new_sec && nm->tv_nsec == ix->h.new_nsec &&
	    cm->tv_sec == ix->h.cur_sec && cm->tv_nsec == ix->h.cur_nsec &&
	    nm->tv_sec + 1 < ix->h.scan_sec && cm->tv_sec + 1 < ix->h.scan_sec;
}

int
store_open_cached(struct imap_folder *f, const struct store_index *ix,
    char *err, size_t errlen)
{
	struct store_priv *p = f->priv;
	struct timespec nm, cm;
	size_t i;
	int ok;

	if (!store_index_fresh(ix, f->dir, &nm, &cm))
		return 0;
	if (store_lock(p->lockfd, err, errlen) == -1)
		return -1;
	ok = uidlist_load(&p->ul, f->dir, err, errlen) == 0 &&
	    p->ul.ino != 0 && p->ul.uidvalidity == ix->h.uidvalidity &&
	    p->ul.uidnext == ix->h.uidnext && cached_build(f, ix) == 0;
	if (ok) {
		f->uidvalidity = p->ul.uidvalidity;
		f->uidnext = p->ul.uidnext;
		f->highestmodseq = store_modseq_current(p->lockfd, &p->ul);
		if (!f->readonly)
			store_take_new(f, 0);
	}
	store_unlock(p->lockfd);
	if (!ok) {
		for (i = 0; i < f->n; i++)
			store_name_release(f, f->msgs[i].name);
		f->n = 0;
		return 0;
	}
	p->new_mtime = nm;
	p->cur_mtime = cm;
	p->scanned_at = (time_t)ix->h.scan_sec;
	p->scan_start.tv_sec = p->scanned_at;
	p->scan_start.tv_nsec = 0;
	return 1;
}
