/*
 * imap_store_scan: one pass over a folder's new/ and cur/ (run in the
 * session process as the mail owner): one readdir per directory and no
 * per-file system call. new/ is read before cur/ because files only move
 * from new/ to cur/: a file moved during the pass is then seen at least
 * once (twice at worst, and the cur/ name wins). Names go into a few
 * large blocks (store_arena_alloc) rather than a malloc each.
 *
 * A large directory on ext4 is read by several threads at once, each a
 * range of the directory's hash order (the positions telldir reports
 * and seekdir takes: ext4 reads an indexed directory in hash order, one
 * block at a time, so a folder opened with a cold page cache waits for
 * its blocks one by one; the ranges overlap those waits). The threads
 * only read and copy names into blocks of their own; the pass then joins
 * them in order, so the result is that of one readdir.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_store_int.h"
#include "util.h"

#define SCAN_EXT4_MAGIC		0xEF53
#define SCAN_PART_BYTES		(384 * 1024)	/* directory size per reader */
#define SCAN_PARTS_MAX		4
#define SCAN_STACK		(64 * 1024)	/* a reader's stack (plus a guard page) */

/* One reader: the entries of path whose positions lie in [lo, hi). */
struct scan_part {
	const char	*path;		/* dir/new or dir/cur */
	const char	*sub;		/* "new" or "cur" */
	uint64_t	 lo, hi;
	struct scan	 sc;		/* its entries and name blocks */
	int		 err;		/* errno of a failure, else 0 */
	int		 what;		/* which call failed: 0 opendir, 1 readdir */
	char		 first[256];	/* the first name read */
	int		 single;	/* stopped at the first entry (it may lie past hi) */
	int		 kept_first;	/* ... and that entry is sc.e[0] */
	void		*stack;
	pthread_t	 tid;
};

static void
scan_add(struct scan *sc, const char *sub, const char *d_name)
{
	size_t len = strlen(d_name);
	char *name;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->e = xreallocarray(sc->e, sc->cap, sizeof(*sc->e));
	}
	name = store_arena_alloc(&sc->arenas, &sc->narenas, len + 5);
	memcpy(name, sub, 3);
	name[3] = '/';
	memcpy(name + 4, d_name, len + 1);
	sc->e[sc->n].name = name;
	sc->e[sc->n].keylen = (uint32_t)store_name_keylen(d_name);
	sc->e[sc->n].used = 0;
	sc->e[sc->n].taken = 0;
	sc->n++;
}

/*
 * Read one range. Each entry's d_off is the position of the next one, so
 * the entry whose d_off reaches hi is the range's last; only the first
 * entry's own position is unknown (at or after lo), see scan_merge. The
 * last range (hi = UINT64_MAX) reads to the end, whatever d_off says.
 */
static void *
scan_part_run(void *arg)
{
	struct scan_part *p = arg;
	struct dirent *de;
	size_t nread = 0;
	DIR *d;

	if ((d = opendir(p->path)) == NULL) {
		p->err = errno;
		return NULL;
	}
	if (p->lo > 0)
		seekdir(d, (long)p->lo);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (nread++ == 0)
			(void)str_copy(p->first, de->d_name, sizeof(p->first));
		if (de->d_name[0] != '.' && de->d_type != DT_DIR) {
			if (p->sc.n >= STORE_MAXMSGS) {
				errno = EFBIG;
				break;
			}
			scan_add(&p->sc, p->sub, de->d_name);
			if (nread == 1)
				p->kept_first = 1;
		}
		if (p->hi != UINT64_MAX && (uint64_t)de->d_off >= p->hi) {
			p->single = nread == 1;
			errno = 0;
			break;
		}
	}
	if (errno != 0) {
		p->err = errno;
		p->what = 1;
	}
	closedir(d);
	return NULL;
}

/* How many ranges for the directory at path: 1 unless large and on ext4. */
static size_t
scan_nparts(const char *path)
{
	struct statfs fs;
	struct stat st;
	size_t n;

	if (stat(path, &st) == -1 || st.st_size < 2 * SCAN_PART_BYTES ||
	    statfs(path, &fs) == -1 || fs.f_type != SCAN_EXT4_MAGIC)
		return 1;
	n = (size_t)st.st_size / SCAN_PART_BYTES;
	return n > SCAN_PARTS_MAX ? SCAN_PARTS_MAX : n;
}

/* Start part p in a thread of its own (signals blocked by the caller). 0 or -1. */
static int
scan_thread_start(struct scan_part *p)
{
	pthread_attr_t attr;
	int r;

	p->stack = mmap(NULL, SCAN_STACK + 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p->stack == MAP_FAILED) {
		p->stack = NULL;
		return -1;
	}
	(void)mprotect(p->stack, 4096, PROT_NONE);	/* the guard */
	if (pthread_attr_init(&attr) != 0)
		return -1;
	/* our own stack: unmapped after the join, never cached by the library */
	r = pthread_attr_setstack(&attr, (char *)p->stack + 4096, SCAN_STACK);
	if (r == 0)
		r = pthread_create(&p->tid, &attr, scan_part_run, p);
	pthread_attr_destroy(&attr);
	return r == 0 ? 0 : -1;
}

/* Run the parts: all but the first in threads, the first here. */
static void
scan_parts_run(struct scan_part *parts, size_t n)
{
	sigset_t all, old;
	size_t i, started = 1;

	if (n > 1) {
		/* The readers allocate their blocks in the one heap, not in arenas of their own. */
		(void)mallopt(M_ARENA_MAX, 1);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		while (started < n && scan_thread_start(&parts[started]) == 0)
			started++;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	scan_part_run(&parts[0]);
	for (i = 1; i < n; i++) {
		if (i < started)
			pthread_join(parts[i].tid, NULL);
		else
			scan_part_run(&parts[i]);	/* no thread: here, in order */
		if (parts[i].stack != NULL)
			munmap(parts[i].stack, SCAN_STACK + 4096);
	}
}

/* Append part p's entries and blocks to sc; p is emptied. */
static void
scan_take(struct scan *sc, struct scan_part *p, size_t skip)
{
	size_t i;

	if (sc->cap - sc->n < p->sc.n) {
		sc->cap = sc->n + p->sc.n;
		sc->e = xreallocarray(sc->e, sc->cap, sizeof(*sc->e));
	}
	if (p->sc.n > skip)
		memcpy(sc->e + sc->n, p->sc.e + skip, (p->sc.n - skip) * sizeof(*sc->e));
	sc->n += p->sc.n - skip;
	if (p->sc.narenas > 0) {
		sc->arenas = xreallocarray(sc->arenas, sc->narenas + p->sc.narenas,
		    sizeof(*sc->arenas));
		for (i = 0; i < p->sc.narenas; i++)
			sc->arenas[sc->narenas++] = p->sc.arenas[i];
	}
	free(p->sc.arenas);
	free(p->sc.e);
	memset(&p->sc, 0, sizeof(p->sc));
}

/*
 * The parts' entries in range order. A part that stopped at its first
 * entry may have read an entry of a later range (its own was empty): that
 * entry is then the next part's first too, and counts there.
 */
static void
scan_merge(struct scan *sc, struct scan_part *parts, size_t n)
{
	size_t i, skip;

	for (i = 0; i < n; i++) {
		skip = i + 1 < n && parts[i].single && parts[i].kept_first &&
		    strcmp(parts[i].first, parts[i + 1].first) == 0;
		scan_take(sc, &parts[i], skip);
	}
}

/* Plan the ranges of dir/sub into parts (path is theirs to keep). The count. */
static size_t
scan_plan(struct scan_part *parts, char *path, size_t pathlen, const char *dir,
    const char *sub)
{
	uint64_t span;
	size_t i, n;

	if (store_path(path, pathlen, dir, sub) == -1)
		return 0;
	n = scan_nparts(path);
	span = (UINT64_C(1) << 63) / n;
	for (i = 0; i < n; i++) {
		parts[i].path = path;
		parts[i].sub = sub;
		parts[i].lo = i * span;
		parts[i].hi = i + 1 == n ? UINT64_MAX : (i + 1) * span;
	}
	return n;
}

/* The first failure among n parts into *e, *what and *path. Their entries' count. */
static size_t
scan_check(struct scan_part *parts, size_t n, int *e, int *what, const char **path)
{
	size_t i, total = 0;

	for (i = 0; i < n; i++) {
		total += parts[i].sc.n;
		if (parts[i].err != 0 && *e == 0) {
			*e = parts[i].err;
			*what = parts[i].what;
			*path = parts[i].path;
		}
	}
	return total;
}

int
scan_mtimes(const char *dir, struct timespec *new_mtime, struct timespec *cur_mtime)
{
	char path[STORE_PATH];
	struct stat st;

	if (store_path(path, sizeof(path), dir, "new") == -1 || stat(path, &st) == -1)
		return -1;
	*new_mtime = st.st_mtim;
	if (store_path(path, sizeof(path), dir, "cur") == -1 || stat(path, &st) == -1)
		return -1;
	*cur_mtime = st.st_mtim;
	return 0;
}

/*
 * new/ and cur/ are read at the same time, each in up to SCAN_PARTS_MAX
 * ranges: a folder out of the page cache waits for all its directory
 * blocks at once (new/ stays as large as it ever was, even when empty).
 */
int
scan_dir(struct scan *sc, const char *dir, char *err, size_t errlen)
{
	struct scan_part parts[2 * SCAN_PARTS_MAX];
	char npath[STORE_PATH], cpath[STORE_PATH];
	const char *epath = dir;
	size_t i, nn, nc, total;
	int e = 0, what = 0;

	/* mtimes first: a change during the pass makes the next one rescan */
	clock_gettime(CLOCK_REALTIME, &sc->started);
	if (scan_mtimes(dir, &sc->new_mtime, &sc->cur_mtime) == -1)
		return store_err(err, errlen, "stat", dir);
	memset(parts, 0, sizeof(parts));
	if ((nn = scan_plan(parts, npath, sizeof(npath), dir, "new")) == 0 ||
	    (nc = scan_plan(parts + nn, cpath, sizeof(cpath), dir, "cur")) == 0) {
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "scan", dir);
	}
	if (nn + nc == 2) {
		/* two small directories: no thread */
		scan_part_run(&parts[0]);
		scan_part_run(&parts[1]);
	} else {
		scan_parts_run(parts, nn + nc);
	}
	total = sc->n + scan_check(parts, nn + nc, &e, &what, &epath);
	if (e == 0 && total > STORE_MAXMSGS)
		e = EFBIG;
	if (e == 0) {
		scan_merge(sc, parts, nn);
		sc->ncur = sc->n;
		scan_merge(sc, parts + nn, nc);
	}
	for (i = 0; i < nn + nc; i++)
		scan_free(&parts[i].sc);
	if (e != 0) {
		errno = e;
		return store_err(err, errlen, e == EFBIG ? "scan" : what ? "readdir" :
		    "opendir", epath);
	}
	return 0;
}

void
scan_free(struct scan *sc)
{
	store_arenas_free(sc->arenas, sc->narenas);
	free(sc->e);
	memset(sc, 0, sizeof(*sc));
}

const char *
scan_key(void *arg, uint32_t idx, size_t *len)
{
	struct scan *sc = arg;

	*len = sc->e[idx].keylen;
	return sc->e[idx].name + 4;
}

void
scan_keep(struct scan *sc, struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	size_t i;

	for (i = 0; i < sc->narenas; i++) {
		p->arenas = xreallocarray(p->arenas, p->narenas + 1, sizeof(*p->arenas));
		p->arenas[p->narenas++] = sc->arenas[i];
	}
	free(sc->arenas);
	sc->arenas = NULL;
	sc->narenas = 0;
}

/*
 * Memory about to be filled whole (a folder's arrays, name blocks): its
 * pages faulted in by one call, not one fault each (a fault costs far
 * more than the zeroing, on virtual machines most). Small ranges, and
 * kernels without MADV_POPULATE_WRITE (Linux < 5.14), are left alone.
 */
void
store_populate(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)4095;

#ifdef MADV_POPULATE_WRITE
	if (len >= STORE_POPULATE_MIN && e > a)
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
	(void)a;
	(void)e;
#endif
}

/* Room for len more bytes in the last block, in one block of at least len. */
void
store_arena_reserve(struct store_arena **a, size_t *n, size_t len)
{
	struct store_arena *last = *n > 0 ? &(*a)[*n - 1] : NULL;

	if (last != NULL && last->size - last->used >= len)
		return;
	*a = xreallocarray(*a, *n + 1, sizeof(**a));
	last = &(*a)[(*n)++];
	last->base = xmalloc(len);
	last->size = len;
	last->used = 0;
	store_populate(last->base, len);
}

char *
store_arena_alloc(struct store_arena **a, size_t *n, size_t len)
{
	struct store_arena *last = *n > 0 ? &(*a)[*n - 1] : NULL;
	size_t size;
	char *p;

	if (last == NULL || last->size - last->used < len) {
		/* blocks double, so there are few of them to look through */
		size = last != NULL ? last->size * 2 : 65536;
		if (size < len)
			size = len;
		*a = xreallocarray(*a, *n + 1, sizeof(**a));
		last = &(*a)[(*n)++];
		last->base = xmalloc(size);
		last->size = size;
		last->used = 0;
	}
	p = last->base + last->used;
	last->used += len;
	return p;
}

void
store_arenas_free(struct store_arena *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(a[i].base);
	free(a);
}

void
store_name_release(struct imap_folder *f, char *name)
{
	struct store_priv *p = f->priv;
	uintptr_t u = (uintptr_t)name;
	size_t i;

	for (i = 0; p != NULL && i < p->narenas; i++)
		if (u >= (uintptr_t)p->arenas[i].base &&
		    u < (uintptr_t)p->arenas[i].base + p->arenas[i].size)
			return;
	free(name);
}
