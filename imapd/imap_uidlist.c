/*
 * imap_uidlist: the durable part of a folder's IMAP state, the file
 * "postern-uidlist" (run in the session process as the mail owner):
 *
 *   P1 V<uidvalidity> N<uidnext> M<modseq ceiling>\n
 *   <uid> <key>\n              one line per message, UIDs ascending
 *
 * where key is the Maildir base name up to ':' (flag changes keep it).
 * It is only ever replaced whole (written to a temporary file, fsynced,
 * renamed, the directory fsynced), so a crash leaves the old or the new
 * one; writers hold the folder's lock (postern-uidlist.lock), so UIDs are
 * handed out once. UIDVALIDITY is new only when the file is lost.
 *
 * Modseqs (RFC 7162): the counter lives in the lock file (cheap, not
 * durable); the uidlist holds a ceiling above every modseq handed out,
 * moved up STORE_MODSEQ_RESERVE at a time, so that after a crash or the
 * loss of the index modseqs restart from the ceiling and never go back.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "log.h"
#include "util.h"

#define UIDLIST_MAXFILE	(1024UL * 1024 * 1024)
#define COUNTER_LEN	21	/* 20 digits and a newline */

/* A decimal number up to the next byte not a digit, at most max. */
static int
ul_num(const char **pp, const char *e, uint64_t max, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= e || *p < '0' || *p > '9' || (*p == '0' && p + 1 < e &&
	    p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -1;
	}
	*pp = p;
	*out = v;
	return 0;
}

static int
ul_header(struct uidlist *ul, const char **pp, const char *e)
{
	const char *p = *pp;
	uint64_t v, n, m;

	if (e - p < 4 || memcmp(p, "P1 V", 4) != 0)
		return -1;
	p += 4;
	if (ul_num(&p, e, UINT32_MAX, &v) == -1 || v == 0 ||
	    e - p < 2 || memcmp(p, " N", 2) != 0)
		return -1;
	p += 2;
	if (ul_num(&p, e, UINT32_MAX, &n) == -1 || n == 0 ||
	    e - p < 2 || memcmp(p, " M", 2) != 0)
		return -1;
	p += 2;
	if (ul_num(&p, e, INT64_MAX, &m) == -1 || p >= e || *p != '\n')
		return -1;
	ul->uidvalidity = (uint32_t)v;
	ul->uidnext = (uint32_t)n;
	ul->modseq = m;
	*pp = p + 1;
	return 0;
}

static void
ul_push(struct uidlist *ul, uint32_t uid, const char *key, size_t keylen)
{
	if (ul->n == ul->cap) {
		ul->cap = ul->cap ? ul->cap * 2 : 64;
		ul->e = xreallocarray(ul->e, ul->cap, sizeof(*ul->e));
	}
	ul->e[ul->n].uid = uid;
	ul->e[ul->n].keylen = (uint32_t)keylen;
	ul->e[ul->n].key = key;
	ul->n++;
}

int
uidlist_parse(struct uidlist *ul, const char *buf, size_t len)
{
	const char *p = buf, *e = buf + len, *nl, *k;
	uint64_t uid, last = 0;

	memset(ul, 0, sizeof(*ul));
	if (ul_header(ul, &p, e) == -1)
		return -1;
	/* one entry a line: the array at its size at once */
	for (k = p; k < e && (k = memchr(k, '\n', (size_t)(e - k))) != NULL; k++)
		ul->cap++;
	if (ul->cap > STORE_MAXMSGS)
		ul->cap = STORE_MAXMSGS;
	ul->e = xreallocarray(NULL, ul->cap ? ul->cap : 1, sizeof(*ul->e));
	store_populate(ul->e, ul->cap * sizeof(*ul->e));
	while (p < e) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			goto bad;	/* a torn line: never written by us */
		if (ul_num(&p, nl, UINT32_MAX, &uid) == -1 || uid <= last ||
		    uid >= ul->uidnext || p >= nl || *p != ' ' || p + 1 == nl)
			goto bad;
		for (k = p + 1; k < nl; k++)
			if (*k == '/' || *k == ':' || *k == '\0' || *k == '\r')
				goto bad;
		if (nl - p - 1 > 4096 || ul->n >= STORE_MAXMSGS)
			goto bad;
		ul_push(ul, (uint32_t)uid, p + 1, (size_t)(nl - p - 1));
		last = uid;
		p = nl + 1;
	}
	return 0;
bad:
	free(ul->e);
	memset(ul, 0, sizeof(*ul));
	return -1;
}

void
uidlist_free(struct uidlist *ul)
{
	size_t i;

	for (i = 0; i < ul->nextra; i++)
		free(ul->extra[i]);
	free(ul->extra);
	free(ul->e);
	if (ul->buf != NULL)
		munmap(ul->buf, ul->buflen);
	memset(ul, 0, sizeof(*ul));
}

/* A fresh list: the old one is lost, so UIDs start again under a new UIDVALIDITY. */
static void
ul_fresh(struct uidlist *ul)
{
	uidlist_free(ul);
	ul->uidvalidity = (uint32_t)time(NULL);
	if (ul->uidvalidity == 0)
		ul->uidvalidity = 1;
	ul->uidnext = 1;
	ul->modseq = 0;
	ul->loaded = 1;
	ul->ino = 0;	/* not on disk: the next save writes it */
	ul->dirty = 1;
}

/* The file mapped (private, prefaulted in one go): keys point into it. */
static int
ul_map(int fd, const struct stat *st, char **out)
{
	void *p;

	if (st->st_size == 0) {
		errno = EINVAL;	/* empty: broken, like a bad header */
		return -1;
	}
	p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*out = p;
	return 0;
}

int
uidlist_load(struct uidlist *ul, const char *dir, char *err, size_t errlen)
{
	char path[STORE_PATH], *buf;
	struct uidlist nu;
	struct stat st;
	int fd;

	if (store_path(path, sizeof(path), dir, STORE_UIDLIST) == -1) {
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "uidlist", dir);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return store_err(err, errlen, "open", path);
		if (!ul->loaded)
			ul_fresh(ul);
		ul->dirty = 1;	/* lost while open: ours is written back */
		return 0;
	}
	if (fstat(fd, &st) == -1 || (size_t)st.st_size > UIDLIST_MAXFILE) {
		if (errno == 0)
			errno = EFBIG;
		close(fd);
		return store_err(err, errlen, "stat", path);
	}
	if (ul->loaded && ul->ino != 0 && st.st_ino == ul->ino &&
	    st.st_dev == ul->dev && st.st_size == ul->size &&
	    st.st_mtim.tv_sec == ul->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == ul->mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	if (ul_map(fd, &st, &buf) == -1) {
		close(fd);
		if (errno != EINVAL)
			return store_err(err, errlen, "mmap", path);
		if (!ul->loaded)
			ul_fresh(ul);
		ul->dirty = 1;
		return 0;
	}
	close(fd);
	if (uidlist_parse(&nu, buf, (size_t)st.st_size) == -1) {
		munmap(buf, (size_t)st.st_size);
		if (!ul->loaded)
			ul_fresh(ul);
		ul->dirty = 1;	/* broken: ours (or a new one) replaces it */
		return 0;
	}
	uidlist_free(ul);
	*ul = nu;
	ul->buf = buf;
	ul->buflen = (size_t)st.st_size;
	ul->loaded = 1;
	ul->dev = st.st_dev;
	ul->ino = st.st_ino;
	ul->size = st.st_size;
	ul->mtime = st.st_mtim;
	return 0;
}

/* Decimal of v at p; returns the end. */
static char *
ul_put_u32(char *p, uint32_t v)
{
	char tmp[10];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* The whole file into one buffer sized up front. NULL when too big. */
static char *
ul_format(const struct uidlist *ul, size_t *len)
{
	size_t i, need = 64;
	char *buf, *p;
	int n;

	for (i = 0; i < ul->n; i++) {
		need += ul->e[i].keylen + 12;
		if (need > UIDLIST_MAXFILE)
			return NULL;
	}
	buf = xmalloc(need);
	n = str_fmt(buf, 64, "P1 V%u N%u M%llu\n", ul->uidvalidity, ul->uidnext,
	    (unsigned long long)ul->modseq);
	if (n == -1) {
		free(buf);
		return NULL;
	}
	p = buf + n;
	for (i = 0; i < ul->n; i++) {
		p = ul_put_u32(p, ul->e[i].uid);
		*p++ = ' ';
		memcpy(p, ul->e[i].key, ul->e[i].keylen);
		p += ul->e[i].keylen;
		*p++ = '\n';
	}
	*len = (size_t)(p - buf);
	return buf;
}

/* Write buf to tmp, fsync, rename over path, fsync the directory. */
static int
ul_commit(struct uidlist *ul, const char *buf, size_t len, const char *dir,
    const char *tmp, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, e;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return store_err(err, errlen, "open", tmp);
	if (write_all(fd, buf, len) == -1 || fsync(fd) == -1 ||
	    fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return store_err(err, errlen, "write", tmp);
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		e = errno;
		unlink(tmp);
		errno = e;
		return store_err(err, errlen, "rename", path);
	}
	if (fsync_dir(dir) == -1)
		return store_err(err, errlen, "fsync", dir);
	ul->dirty = 0;
	ul->dev = st.st_dev;
	ul->ino = st.st_ino;
	ul->size = st.st_size;
	ul->mtime = st.st_mtim;
	return 0;
}

int
uidlist_save(struct uidlist *ul, const char *dir, char *err, size_t errlen)
{
	char path[STORE_PATH], tmp[STORE_PATH + 32], base[64], *buf;
	size_t len;
	int r;

	str_fmt(base, sizeof(base), "%s.tmp.%ld", STORE_UIDLIST, (long)getpid());
	if (store_path(path, sizeof(path), dir, STORE_UIDLIST) == -1 ||
	    store_path(tmp, sizeof(tmp), dir, base) == -1) {
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "uidlist", dir);
	}
	if ((buf = ul_format(ul, &len)) == NULL) {
		errno = EFBIG;
		return store_err(err, errlen, "uidlist", path);
	}
	r = ul_commit(ul, buf, len, dir, tmp, path, err, errlen);
	free(buf);
	return r;
}

void
uidlist_reserve(struct uidlist *ul, size_t n)
{
	if (ul->cap - ul->n >= n)
		return;
	ul->cap = ul->n + n;
	ul->e = xreallocarray(ul->e, ul->cap, sizeof(*ul->e));
}

uint32_t
uidlist_add_ref(struct uidlist *ul, const char *key, size_t keylen)
{
	uint32_t uid = ul->uidnext++;

	ul_push(ul, uid, key, keylen);
	ul->dirty = 1;
	return uid;
}

uint32_t
uidlist_add(struct uidlist *ul, const char *key, size_t keylen)
{
	uint32_t uid = ul->uidnext++;
	size_t want = keylen + 1;
	char *k;

	/* keys live in 64 KB chunks: no allocation per key */
	if (ul->nextra == 0 || ul->extra_size - ul->extra_used < want) {
		ul->extra = xreallocarray(ul->extra, ul->nextra + 1, sizeof(*ul->extra));
		ul->extra_size = want > 65536 ? want : 65536;
		ul->extra[ul->nextra++] = xmalloc(ul->extra_size);
		ul->extra_used = 0;
	}
	k = ul->extra[ul->nextra - 1] + ul->extra_used;
	memcpy(k, key, keylen);
	k[keylen] = '\0';
	ul->extra_used += want;
	ul_push(ul, uid, k, keylen);
	ul->dirty = 1;
	return uid;
}

void
uidlist_retain(struct uidlist *ul, const uint32_t *keep, size_t n)
{
	size_t i, j = 0, o = 0;

	/* both ascending: one merge pass */
	for (i = 0; i < ul->n; i++) {
		while (j < n && keep[j] < ul->e[i].uid)
			j++;
		if (j < n && keep[j] == ul->e[i].uid)
			ul->e[o++] = ul->e[i];
	}
	ul->n = o;
}

int
store_lock_open(const char *dir, char *err, size_t errlen)
{
	char path[STORE_PATH];
	int fd;

	if (store_path(path, sizeof(path), dir, STORE_LOCK) == -1) {
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "lock", dir);
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return store_err(err, errlen, "open", path);
	return fd;
}

int
store_lock(int fd, char *err, size_t errlen)
{
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR)
			return store_err(err, errlen, "flock", STORE_LOCK);
	return 0;
}

void
store_unlock(int fd)
{
	flock(fd, LOCK_UN);
}

uint64_t
store_modseq_current(int lockfd, const struct uidlist *ul)
{
	char buf[COUNTER_LEN];
	uint64_t c = 0;
	int i, ok;

	if (ul->pending != 0)
		return ul->pending;
	/* A lost or torn counter: the durable ceiling is above it. */
	ok = pread(lockfd, buf, sizeof(buf), 0) == COUNTER_LEN &&
	    buf[COUNTER_LEN - 1] == '\n';
	for (i = 0; ok && i < COUNTER_LEN - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9' || c > INT64_MAX / 10)
			ok = 0;
		else
			c = c * 10 + (uint64_t)(buf[i] - '0');
	}
	if (!ok || c > ul->modseq)
		c = ul->modseq;
	return c == 0 ? 1 : c;
}

uint64_t
store_modseq_next(int lockfd, struct uidlist *ul)
{
	uint64_t n = store_modseq_current(lockfd, ul) + 1;

	if (n > ul->modseq) {
		ul->modseq = n + STORE_MODSEQ_RESERVE;
		ul->dirty = 1;
	}
	ul->pending = n;
	return n;
}

int
store_modseq_flush(int lockfd, struct uidlist *ul, const char *dir, char *err,
    size_t errlen)
{
	char buf[COUNTER_LEN + 1];

	if (ul->dirty && uidlist_save(ul, dir, err, errlen) == -1)
		return -1;
	if (ul->pending == 0)
		return 0;
	/* fixed width, so that a shorter number never leaves a tail */
	str_fmt(buf, sizeof(buf), "%020llu\n", (unsigned long long)ul->pending);
	if (pwrite(lockfd, buf, COUNTER_LEN, 0) != COUNTER_LEN)
		log_warn("imap: modseq counter of %s not written", dir);
	ul->pending = 0;	/* the ceiling covers it either way */
	return 0;
}
