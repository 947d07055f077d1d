/*
 * imap_store_scan: one pass over a folder's new/ and cur/ (run in the
 * session process as the mail owner): one readdir per directory and no
 * per-file system call. new/ is read before cur/ because files only move
 * from new/ to cur/: a file moved during the pass is then seen at least
 * once (twice at worst, and the cur/ name wins). Names go into a few
 * large blocks (store_arena_alloc) rather than a malloc each.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_store_int.h"
#include "util.h"

static int
scan_one(struct scan *sc, const char *dir, const char *sub, char *err,
    size_t errlen)
{
	char path[STORE_PATH];
	struct dirent *de;
	size_t len;
	char *name;
	DIR *d;

	if (store_path(path, sizeof(path), dir, sub) == -1) {
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "scan", dir);
	}
	if ((d = opendir(path)) == NULL)
		return store_err(err, errlen, "opendir", path);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (sc->n == sc->cap) {
			if (sc->cap >= STORE_MAXMSGS) {
				closedir(d);
				errno = EFBIG;
				return store_err(err, errlen, "scan", path);
			}
			sc->cap = sc->cap ? sc->cap * 2 : 256;
			sc->e = xreallocarray(sc->e, sc->cap, sizeof(*sc->e));
		}
		len = strlen(de->d_name);
		name = store_arena_alloc(&sc->arenas, &sc->narenas, len + 5);
		memcpy(name, sub, 3);
		name[3] = '/';
		memcpy(name + 4, de->d_name, len + 1);
		sc->e[sc->n].name = name;
		sc->e[sc->n].keylen = (uint32_t)store_name_keylen(de->d_name);
		sc->e[sc->n].used = 0;
		sc->e[sc->n].taken = 0;
		sc->n++;
	}
	if (errno != 0) {
		closedir(d);
		return store_err(err, errlen, "readdir", path);
	}
	closedir(d);
	return 0;
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

int
scan_dir(struct scan *sc, const char *dir, char *err, size_t errlen)
{
	/* mtimes first: a change during the pass makes the next one rescan */
	if (scan_mtimes(dir, &sc->new_mtime, &sc->cur_mtime) == -1)
		return store_err(err, errlen, "stat", dir);
	if (scan_one(sc, dir, "new", err, errlen) == -1)
		return -1;
	sc->ncur = sc->n;
	if (scan_one(sc, dir, "cur", err, errlen) == -1)
		return -1;
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
