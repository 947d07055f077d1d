/*
 * imap_store: open, sync and close one folder of the user's Maildir++
 * (imap_store.h), in imapd's session process, running as the mail owner
 * with the Maildir as working directory. The pass that matches files to
 * UIDs is imap_store_sync.c; flags, reads and expunges are
 * imap_store_msg.c; the on-disk state is imap_uidlist.c (durable) and
 * imap_index.c (cache).
 *
 * A sync skips the readdir when neither new/ nor cur/ changed its mtime
 * since the last pass, and the last pass read those mtimes well after
 * they were set (file system timestamps are coarse: a change in the same
 * tick as the stat would otherwise go unseen; mtime_settled: 50 ms with
 * nanosecond timestamps, 2 s without). By the same rule, in whole
 * seconds, an open needs no readdir at all when the index was written
 * after a pass whose mtimes still hold (store_open_cached): the uidlist
 * is read once and the names are made from its keys and the index's
 * flags.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "maildir.h"
#include "util.h"

/* INBOX is made on demand; another folder must exist (its subdirectories are mended). */
static int
folder_ready(const char *dir, char *err, size_t errlen)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char path[STORE_PATH];
	struct stat st;
	size_t i;

	if (strcmp(dir, ".") == 0) {
		if (maildir_create(".", err, errlen) != MAILDIR_OK)
			return -1;
		return 0;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		errno = ENOENT;
		return store_err(err, errlen, "no such folder", dir + 1);
	}
	for (i = 0; i < NELEM(sub); i++) {
		if (store_path(path, sizeof(path), dir, sub[i]) == -1)
			return -1;
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return store_err(err, errlen, "mkdir", path);
	}
	return 0;
}

static void
folder_notify_setup(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;
	char path[STORE_PATH];

	if ((p->notifyfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return;
	if (store_path(path, sizeof(path), f->dir, "new") == -1 ||
	    inotify_add_watch(p->notifyfd, path, mask) == -1 ||
	    store_path(path, sizeof(path), f->dir, "cur") == -1 ||
	    inotify_add_watch(p->notifyfd, path, mask) == -1) {
		close(p->notifyfd);
		p->notifyfd = -1;
	}
}

static void
folder_notify_drain(struct store_priv *p)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (p->notifyfd == -1)
		return;
	while (read(p->notifyfd, buf, sizeof(buf)) > 0)
		;
}

int
imap_folder_open(struct imap_folder *f, const char *name, int readonly,
    char *err, size_t errlen)
{
	struct store_index ix;
	struct imap_changes ch;
	struct store_priv *p;
	int r;

	memset(f, 0, sizeof(*f));
	if (store_folder_dir(name, f->dir, sizeof(f->dir)) == -1) {
		errno = ENOENT;
		return store_err(err, errlen, "no such folder", name);
	}
	str_copy(f->name, str_ieq(name, "INBOX") ? "INBOX" : name, sizeof(f->name));
	if (folder_ready(f->dir, err, errlen) == -1)
		return -1;
	(void)maildir_clean_tmp(f->dir, time(NULL));	/* what a killed writer left */
	f->readonly = readonly;
	f->priv = p = xcalloc(1, sizeof(*p));
	p->notifyfd = -1;
	if ((p->lockfd = store_lock_open(f->dir, err, errlen)) == -1 ||
	    kw_load(f, err, errlen) == -1) {
		imap_folder_close(f);
		return -1;
	}
	(void)index_load(&ix, f->dir);	/* a missing or broken one is rebuilt */
	if ((r = store_open_cached(f, &ix, err, errlen)) == 0)
		r = store_sync(f, &ix, &ch, err, errlen);
	if (r == -1) {
		index_free(&ix);
		imap_folder_close(f);
		return -1;
	}
	index_free(&ix);
	p->seen_modseq = f->highestmodseq;
	/* the index is written at close, or now if rebuilding it read files */
	if (p->dirty && p->costly)
		(void)store_write_index(f);
	p->costly = 0;
	folder_notify_setup(f);
	return 0;
}

static void
folder_free(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	size_t i;

	for (i = 0; i < f->n; i++)
		store_name_release(f, f->msgs[i].name);
	free(f->msgs);
	if (p != NULL)
		store_arenas_free(p->arenas, p->narenas);
	for (i = 0; i < IMAP_KEYWORDS_MAX; i++)
		free(f->keywords[i]);
	if (p != NULL) {
		if (p->lockfd != -1)
			close(p->lockfd);
		if (p->notifyfd != -1)
			close(p->notifyfd);
		uidlist_free(&p->ul);
		free(p->pend_seq);
		free(p->pend_uid);
		free(p->ch_seq);
		free(p->ch_uid);
		free(p->ch_changed);
		free(p);
	}
	memset(f, 0, sizeof(*f));
}

void
imap_folder_close(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	struct imap_changes ch;
	char err[256];

	if (p != NULL && p->dirty && p->lockfd != -1) {
		/* a last look so that the cache is current for STATUS; \Recent stays */
		f->readonly = 1;
		if (imap_folder_sync(f, &ch, err, sizeof(err)) == 0 || p->dirty)
			(void)store_write_index(f);
	}
	folder_free(f);
}

static int
ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Was the directory time m, read at the clock's at, old enough then that
 * any later change must give another one? File times come from a coarse
 * clock that lags by up to a tick (1-10 ms): 50 ms of slack. A file
 * system whose times have no nanoseconds (ext3, vfat: 1 or 2 s) gets 2 s.
 */
static int
mtime_settled(const struct timespec *m, const struct timespec *at)
{
	int64_t age = ((int64_t)at->tv_sec - (int64_t)m->tv_sec) * 1000000000 +
	    (at->tv_nsec - m->tv_nsec);

	return age > (m->tv_nsec != 0 ? 50000000 : 2000000000);
}

/* Nothing can have changed since the last pass (see the top). */
static int
folder_unchanged(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	struct timespec nm, cm;

	if (p->npend > 0 || p->scanned_at == 0 ||
	    scan_mtimes(f->dir, &nm, &cm) == -1)
		return 0;
	return ts_eq(&nm, &p->new_mtime) && ts_eq(&cm, &p->cur_mtime) &&
	    mtime_settled(&nm, &p->scan_start) && mtime_settled(&cm, &p->scan_start);
}

int
imap_folder_sync(struct imap_folder *f, struct imap_changes *ch, char *err,
    size_t errlen)
{
	struct store_priv *p = f->priv;

	memset(ch, 0, sizeof(*ch));
	folder_notify_drain(p);
	if (kw_load(f, err, errlen) == -1)
		return -1;
	if (folder_unchanged(f))
		return 0;
	if (store_sync(f, NULL, ch, err, errlen) == -1)
		return -1;
	p->seen_modseq = f->highestmodseq;
	return 0;
}

int
imap_folder_notify_fd(struct imap_folder *f)
{
	struct store_priv *p = f->priv;

	return p != NULL ? p->notifyfd : -1;
}

ssize_t
imap_folder_find_uid(const struct imap_folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* cur/ entry whose key is key, into a malloc'd "cur/..." name, or NULL. */
static char *
locate_in_cur(const char *dir, const char *key, size_t keylen)
{
	char path[STORE_PATH], *name = NULL;
	struct dirent *de;
	DIR *d;

	if (store_path(path, sizeof(path), dir, "cur") == -1 ||
	    (d = opendir(path)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, key, keylen) == 0 &&
		    (de->d_name[keylen] == ':' || de->d_name[keylen] == '\0')) {
			name = xmalloc(strlen(de->d_name) + 5);
			memcpy(name, "cur/", 4);
			memcpy(name + 4, de->d_name, strlen(de->d_name) + 1);
			break;
		}
	}
	closedir(d);
	return name;
}

int
store_msg_locate(struct imap_folder *f, size_t i)
{
	char path[STORE_PATH], *name;
	const char *base = store_name_base(f->msgs[i].name);
	size_t keylen = store_name_keylen(base);
	struct stat st;

	/* still in new/ under its plain key? */
	if (str_fmt(path, sizeof(path), "%s/new/%.*s", f->dir, (int)keylen, base) != -1 &&
	    stat(path, &st) == 0) {
		name = xmalloc(keylen + 5);
		memcpy(name, "new/", 4);
		memcpy(name + 4, base, keylen);
		name[keylen + 4] = '\0';
	} else if ((name = locate_in_cur(f->dir, base, keylen)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	/* only the name: a flag difference is the next sync's to report */
	store_name_release(f, f->msgs[i].name);
	f->msgs[i].name = name;
	return 0;
}

void
store_pend_expunge(struct imap_folder *f, uint32_t seq, uint32_t uid)
{
	struct store_priv *p = f->priv;

	if (p->npend == p->pendcap) {
		p->pendcap = p->pendcap ? p->pendcap * 2 : 64;
		p->pend_seq = xreallocarray(p->pend_seq, p->pendcap, sizeof(uint32_t));
		p->pend_uid = xreallocarray(p->pend_uid, p->pendcap, sizeof(uint32_t));
	}
	p->pend_seq[p->npend] = seq;
	p->pend_uid[p->npend++] = uid;
}

int
store_write_index(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	struct store_index ix;
	size_t i;
	int rv;

	memset(&ix, 0, sizeof(ix));
	ix.h.uidvalidity = f->uidvalidity;
	ix.h.uidnext = f->uidnext;
	ix.h.highestmodseq = f->highestmodseq;
	ix.h.new_sec = p->new_mtime.tv_sec;
	ix.h.new_nsec = p->new_mtime.tv_nsec;
	ix.h.cur_sec = p->cur_mtime.tv_sec;
	ix.h.cur_nsec = p->cur_mtime.tv_nsec;
	ix.h.scan_sec = p->scanned_at;
	ix.r = xcalloc(f->n ? f->n : 1, sizeof(*ix.r));
	ix.n = f->n;
	for (i = 0; i < f->n; i++) {
		ix.r[i].uid = f->msgs[i].uid;
		ix.r[i].flags = f->msgs[i].flags & ~IMAP_F_RECENT;
		if (strncmp(f->msgs[i].name, "new/", 4) == 0)
			ix.r[i].flags |= INDEX_F_NEW;
		if (store_name_canonical(f->msgs[i].name, ix.r[i].flags & INDEX_SYSFLAGS,
		    f->msgs[i].keywords))
			ix.r[i].flags |= INDEX_F_CANON;
		ix.r[i].keywords = f->msgs[i].keywords;
		ix.r[i].modseq = f->msgs[i].modseq;
		ix.r[i].size = f->msgs[i].size;
		ix.r[i].internaldate = f->msgs[i].internaldate;
	}
	rv = index_save(&ix, f->dir);
	index_free(&ix);
	if (rv == 0)
		p->dirty = 0;
	return rv;
}
