/*
 * imap_index: the per-folder cache "postern-index" (run in the session
 * process as the mail owner). It saves a reopen from reading files
 * without ,W= in their names, keeps modseqs and internal dates, and lets
 * STATUS answer from two stat()s when the folder did not change. It holds
 * nothing that cannot be rebuilt: flags come from the file names, UIDs
 * from postern-uidlist, so it may be deleted at any time.
 *
 * Format (native byte order; a foreign one fails the check and is
 * rebuilt):
 *   0  "PSTNIDX1"   8  u32 version (1)   12 u32 0x01020304
 *   16 u32 uidvalidity   20 u32 uidnext   24 u64 highestmodseq
 *   32 i64 new/ mtime sec, nsec   48 i64 cur/ mtime sec, nsec
 *   64 i64 time of that scan   72 u64 count    80 count records of 40 bytes:
 *      u32 uid, u32 flags, u32 keywords, u32 0, u64 modseq, u64 size,
 *      i64 internal date
 *   then u64 FNV-1a 64 of every byte before it.
 * Written to a temporary file and renamed (no fsync: it is a cache).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "util.h"

#define INDEX_MAGIC	"PSTNIDX1"
#define INDEX_VERSION	1
#define INDEX_ENDIAN	0x01020304U
#define INDEX_HDRLEN	80
#define INDEX_RECLEN	40
#define INDEX_FLAGS	(INDEX_SYSFLAGS | INDEX_F_NEW | INDEX_F_CANON)

static uint64_t
index_sum(const unsigned char *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int
index_header(struct store_index *ix, const unsigned char *b, size_t len,
    uint64_t *count)
{
	if (len < INDEX_HDRLEN + 8 || memcmp(b, INDEX_MAGIC, 8) != 0 ||
	    get32(b + 8) != INDEX_VERSION || get32(b + 12) != INDEX_ENDIAN)
		return -1;
	ix->h.uidvalidity = get32(b + 16);
	ix->h.uidnext = get32(b + 20);
	ix->h.highestmodseq = get64(b + 24);
	ix->h.new_sec = (int64_t)get64(b + 32);
	ix->h.new_nsec = (int64_t)get64(b + 40);
	ix->h.cur_sec = (int64_t)get64(b + 48);
	ix->h.cur_nsec = (int64_t)get64(b + 56);
	ix->h.scan_sec = (int64_t)get64(b + 64);
	*count = get64(b + 72);
	if (ix->h.uidvalidity == 0 || *count > STORE_MAXMSGS ||
	    *count > (len - INDEX_HDRLEN - 8) / INDEX_RECLEN ||
	    len != INDEX_HDRLEN + *count * INDEX_RECLEN + 8)
		return -1;
	return 0;
}

/* Is record i (r, in ix->r) one that index_save can have written? */
static int
index_rec_ok(const struct store_index *ix, const struct index_rec *r, uint64_t i)
{
	return !(r->uid == 0 || r->uid >= ix->h.uidnext ||
	    (i > 0 && r->uid <= r[-1].uid) ||
	    (r->flags & ~INDEX_FLAGS) != 0 || r->modseq == 0 ||
	    r->modseq > ix->h.highestmodseq || r->pad != 0);
}

/* The records as struct index_rec, in place: the file's layout is the struct's. */
_Static_assert(sizeof(struct index_rec) == INDEX_RECLEN &&
    offsetof(struct index_rec, pad) == 12 && offsetof(struct index_rec, modseq) == 16 &&
    offsetof(struct index_rec, size) == 24 &&
    offsetof(struct index_rec, internaldate) == 32, "index_rec is the record");

/* Check buf and its header into ix; the record count in *count. 0 or -1. */
static int
index_check(struct store_index *ix, const unsigned char *b, size_t len, uint64_t *count)
{
	memset(ix, 0, sizeof(*ix));
	if (index_header(ix, b, len, count) == -1 ||
	    get64(b + len - 8) != index_sum(b, len - 8))
		return -1;
	return 0;
}

int
index_parse(struct store_index *ix, const void *buf, size_t len)
{
	const unsigned char *b = buf, *p;
	uint64_t count, i;
	struct index_rec *r;

	if (index_check(ix, b, len, &count) == -1)
		return -1;
	ix->r = xcalloc(count ? (size_t)count : 1, sizeof(*ix->r));
	for (i = 0; i < count; i++) {
		p = b + INDEX_HDRLEN + i * INDEX_RECLEN;
		r = &ix->r[i];
		r->uid = get32(p);
		r->flags = get32(p + 4);
		r->keywords = get32(p + 8);
		r->pad = get32(p + 12);
		r->modseq = get64(p + 16);
		r->size = get64(p + 24);
		r->internaldate = (int64_t)get64(p + 32);
		if (!index_rec_ok(ix, r, i)) {
			index_free(ix);
			return -1;
		}
	}
	ix->n = (size_t)count;
	return 0;
}

/*
 * index_parse on a mapping of the file (page-aligned, so the records at
 * offset INDEX_HDRLEN are aligned): the records are used where they are,
 * not copied, and ix keeps the mapping until index_free.
 */
static int
index_parse_map(struct store_index *ix, void *map, size_t len)
{
	uint64_t count, i;
	struct index_rec *r;

	if (index_check(ix, map, len, &count) == -1)
		return -1;
	r = (struct index_rec *)(void *)((unsigned char *)map + INDEX_HDRLEN);
	for (i = 0; i < count; i++)
		if (!index_rec_ok(ix, &r[i], i)) {
			memset(ix, 0, sizeof(*ix));
			return -1;
		}
	ix->r = r;
	ix->n = (size_t)count;
	ix->map = map;
	ix->maplen = len;
	return 0;
}

void
index_free(struct store_index *ix)
{
	if (ix->map != NULL)
		munmap(ix->map, ix->maplen);
	else
		free(ix->r);
	memset(ix, 0, sizeof(*ix));
}

int
index_load(struct store_index *ix, const char *dir)
{
	char path[STORE_PATH];
	struct stat st;
	void *map;
	int fd, rv;

	memset(ix, 0, sizeof(*ix));
	if (store_path(path, sizeof(path), dir, STORE_INDEX) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_size < INDEX_HDRLEN + 8 ||
	    (uint64_t)st.st_size > INDEX_HDRLEN + 8 +
	    (uint64_t)STORE_MAXMSGS * INDEX_RECLEN) {
		close(fd);
		return -1;
	}
	/* mapped and prefaulted in one go: no copy, no fault per page */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	if ((rv = index_parse_map(ix, map, (size_t)st.st_size)) == -1)
		munmap(map, (size_t)st.st_size);
	return rv;
}

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
index_format(const struct store_index *ix, unsigned char *b, size_t len)
{
	unsigned char *p;
	size_t i;

	memset(b, 0, len);
	memcpy(b, INDEX_MAGIC, 8);
	put32(b + 8, INDEX_VERSION);
	put32(b + 12, INDEX_ENDIAN);
	put32(b + 16, ix->h.uidvalidity);
	put32(b + 20, ix->h.uidnext);
	put64(b + 24, ix->h.highestmodseq);
	put64(b + 32, (uint64_t)ix->h.new_sec);
	put64(b + 40, (uint64_t)ix->h.new_nsec);
	put64(b + 48, (uint64_t)ix->h.cur_sec);
	put64(b + 56, (uint64_t)ix->h.cur_nsec);
	put64(b + 64, (uint64_t)ix->h.scan_sec);
	put64(b + 72, ix->n);
	for (i = 0; i < ix->n; i++) {
		p = b + INDEX_HDRLEN + i * INDEX_RECLEN;
		put32(p, ix->r[i].uid);
		put32(p + 4, ix->r[i].flags);
		put32(p + 8, ix->r[i].keywords);
		put64(p + 16, ix->r[i].modseq);
		put64(p + 24, ix->r[i].size);
		put64(p + 32, (uint64_t)ix->r[i].internaldate);
	}
	put64(b + len - 8, index_sum(b, len - 8));
}

int
index_save(const struct store_index *ix, const char *dir)
{
	char path[STORE_PATH], tmp[STORE_PATH + 32], base[64];
	unsigned char *b;
	size_t len;
	int fd, rv = -1;

	if (ix->n > STORE_MAXMSGS)
		return -1;
	len = INDEX_HDRLEN + ix->n * INDEX_RECLEN + 8;
	str_fmt(base, sizeof(base), "%s.tmp.%ld", STORE_INDEX, (long)getpid());
	if (store_path(path, sizeof(path), dir, STORE_INDEX) == -1 ||
	    store_path(tmp, sizeof(tmp), dir, base) == -1)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return -1;
	b = xmalloc(len);
	index_format(ix, b, len);
	if (write_all(fd, b, len) == 0 && close(fd) == 0) {
		fd = -1;
		rv = rename(tmp, path);
	}
	if (fd != -1)
		close(fd);
	if (rv == -1)
		unlink(tmp);
	free(b);
	return rv;
}
