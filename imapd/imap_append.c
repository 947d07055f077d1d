/*
 * imap_append: APPEND and COPY into a folder that need not be open (run in
 * the session process as the mail owner, cwd = the Maildir). A message is
 * written to tmp/, fsynced, renamed into cur/ with its flags, cur/
 * fsynced, and then numbered in the uidlist (durably) while the folder
 * lock is held, so the UID is known at once (RFC 4315 APPENDUID,
 * COPYUID) and no other session can number it differently. COPY hard-links
 * the source file under a new name when it can. On any failure what was
 * made is removed again, so a full disk leaves nothing behind.
 *
 * Files are stored with LF line ends and named like deliver's
 * "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>", where
 * <sec> is the internal date, so that a cold open needs no stat().
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "maildir.h"
#include "util.h"

static unsigned long append_seq;

int
store_new_base(char *out, size_t outlen, time_t sec)
{
	char host[256], *p;
	struct timeval tv;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (p = host; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',' || *p == '\\' ||
		    (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			*p = '_';
	gettimeofday(&tv, NULL);
	return str_fmt(out, outlen, "%lld.M%06ldP%ldQ%lu.%s", (long long)sec,
	    (long)tv.tv_usec, (long)getpid(), ++append_seq, host) == -1 ? -1 : 0;
}

/* The folder's directory, which must exist (INBOX is made). */
static int
append_dir(const char *name, char *dir, size_t dirlen, char *err, size_t errlen)
{
	char path[STORE_PATH];
	struct stat st;

	if (store_folder_dir(name, dir, dirlen) == -1) {
		errno = ENOENT;
		return store_err(err, errlen, "no such folder", name);
	}
	if (strcmp(dir, ".") == 0)
		return maildir_create(".", err, errlen) == MAILDIR_OK ? 0 : -1;
	if (store_path(path, sizeof(path), dir, "cur") == -1 ||
	    stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		errno = ENOENT;
		return store_err(err, errlen, "no such folder", name);
	}
	return 0;
}

int
store_assign_uids(const char *dir, int lockfd, char *const *keys,
    const size_t *keylens, size_t n, uint32_t *uidvalidity, uint32_t *uids,
    char *err, size_t errlen)
{
	struct uidlist ul;
	size_t i;
	int rv;

	memset(&ul, 0, sizeof(ul));
	if (uidlist_load(&ul, dir, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i++)
		uids[i] = uidlist_add(&ul, keys[i], keylens[i]);
	/* RFC 7162 3.1.10: the folder changed, so does its HIGHESTMODSEQ */
	(void)store_modseq_next(lockfd, &ul);
	rv = store_modseq_flush(lockfd, &ul, dir, err, errlen);
	*uidvalidity = ul.uidvalidity;
	uidlist_free(&ul);
	return rv;
}

/* A light folder (keyword table and lock only) for a folder not open. */
static int
light_open(struct imap_folder *f, struct store_priv *p, const char *dir,
    char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	memset(p, 0, sizeof(*p));
	str_copy(f->dir, dir, sizeof(f->dir));
	f->priv = p;
	p->notifyfd = -1;
	if ((p->lockfd = store_lock_open(dir, err, errlen)) == -1)
		return -1;
	return kw_load(f, err, errlen);
}

static void
light_close(struct imap_folder *f)
{
	struct store_priv *p = f->priv;
	size_t k;

	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		free(f->keywords[k]);
	if (p->lockfd != -1)
		close(p->lockfd);
}

/* Write data with LF line ends to a new tmp/ file; S and W for the name. */
static int
append_tmp(const char *dir, const char *base, const char *data, size_t len,
    time_t date, char *tmp, size_t tmplen, uint64_t *s, uint64_t *w)
{
	char *lf = xmalloc(len + 1);
	struct timespec ts[2];
	size_t i, o;
	int fd, e;

	for (i = o = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
			lf[o++] = data[i];
	*s = o;
	*w = store_wire_len(lf, o);
	if (str_fmt(tmp, tmplen, "%s/tmp/%s", dir, base) == -1) {
		free(lf);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		free(lf);
		return -1;
	}
	ts[0].tv_sec = ts[1].tv_sec = date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (write_all(fd, lf, o) == -1 || futimens(fd, ts) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1) {
		e = errno;
		close(fd);
		unlink(tmp);
		free(lf);
		errno = e;
		return -1;
	}
	free(lf);
	return 0;
}

static uint32_t
append_keywords(struct imap_folder *lf, const char *const *kw, size_t nkw)
{
	uint32_t bits = 0;
	size_t i;
	int k;

	for (i = 0; i < nkw; i++)
		if ((k = imap_keyword_index(lf, kw[i], 1)) >= 0)
			bits |= 1U << k;
	return bits;
}

/* tmp -> cur/<key>:2,<flags>, numbered under the lock. */
static int
append_commit(struct imap_folder *lf, const char *tmp, const char *key,
    unsigned flags, uint32_t kwbits, uint32_t *uidvalidity, uint32_t *uid,
    char *err, size_t errlen)
{
	struct store_priv *p = lf->priv;
	char dst[STORE_PATH], curdir[STORE_PATH], *name, *k = (char *)key;
	size_t keylen = strlen(key);
	int rv = -1;

	name = store_name_make(key, keylen, flags, kwbits);
	if (store_path(dst, sizeof(dst), lf->dir, name) == -1 ||
	    store_path(curdir, sizeof(curdir), lf->dir, "cur") == -1) {
		free(name);
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "append", lf->dir);
	}
	if (store_lock(p->lockfd, err, errlen) == -1) {
		free(name);
		return -1;
	}
	if (rename(tmp, dst) == -1)
		store_err(err, errlen, "rename", dst);
	else if (fsync_dir(curdir) == -1) {
		store_err(err, errlen, "fsync", curdir);
		unlink(dst);
	} else if (store_assign_uids(lf->dir, p->lockfd, &k, &keylen, 1,
	    uidvalidity, uid, err, errlen) == -1)
		unlink(dst);
	else
		rv = 0;
	store_unlock(p->lockfd);
	free(name);
	return rv;
}

int
imap_append(const char *name, const char *data, size_t len, unsigned flags,
    const char *const *kw, size_t nkw, time_t internaldate,
    uint32_t *uidvalidity, uint32_t *uid, char *err, size_t errlen)
{
	char dir[IMAP_NAME_MAX + 8], base[512], key[600], tmp[STORE_PATH];
	struct imap_folder *lf;
	struct store_priv lp;
	uint64_t s, w;
	int rv = -1;

	if (internaldate <= 0)
		internaldate = time(NULL);
	if (append_dir(name, dir, sizeof(dir), err, errlen) == -1 ||
	    store_new_base(base, sizeof(base), internaldate) == -1)
		return -1;
	if (append_tmp(dir, base, data, len, internaldate, tmp, sizeof(tmp), &s, &w) == -1)
		return store_err(err, errlen, "write", dir);
	if (str_fmt(key, sizeof(key), "%s,S=%llu,W=%llu", base,
	    (unsigned long long)s, (unsigned long long)w) == -1) {
		unlink(tmp);
		errno = ENAMETOOLONG;
		return store_err(err, errlen, "append", dir);
	}
	lf = xmalloc(sizeof(*lf));
	if (light_open(lf, &lp, dir, err, errlen) == 0)
		rv = append_commit(lf, tmp, key, flags & ~IMAP_F_RECENT,
		    append_keywords(lf, kw, nkw), uidvalidity, uid, err, errlen);
	if (rv == -1)
		unlink(tmp);
	light_close(lf);
	free(lf);
	return rv;
}

/* Copy the bytes of src into a new tmp/ file of dir, then rename to dst. */
static int
copy_bytes(const char *src, const char *dir, const char *base, const char *dst,
    time_t date)
{
	char tmp[STORE_PATH], buf[65536];
	struct timespec ts[2];
	int in, out, e, rv = -1;
	ssize_t r;

	if (str_fmt(tmp, sizeof(tmp), "%s/tmp/%s", dir, base) == -1)
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		close(in);
		return -1;
	}
	while ((r = read(in, buf, sizeof(buf))) > 0 || (r == -1 && errno == EINTR))
		if (r > 0 && write_all(out, buf, (size_t)r) == -1)
			break;
	ts[0].tv_sec = ts[1].tv_sec = date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (r == 0 && futimens(out, ts) == 0 && fsync(out) == 0 && close(out) == 0) {
		out = -1;
		rv = rename(tmp, dst);
	}
	e = errno;
	if (out != -1)
		close(out);
	close(in);
	if (rv == -1)
		unlink(tmp);
	errno = e;
	return rv;
}

/* Link (else copy) message i of src into lf's cur/; key gets the new key. */
static int
copy_one(struct imap_folder *src, size_t i, struct imap_folder *lf,
    uint32_t kwbits, char **key, char **made)
{
	struct imap_msg *m = &src->msgs[i];
	char base[512], k[600], from[STORE_PATH], to[STORE_PATH];
	struct store_name sn;
	int tries;

	store_name_parse(store_name_base(m->name), &sn);
	if (store_new_base(base, sizeof(base), m->internaldate) == -1 ||
	    (sn.has_s ? str_fmt(k, sizeof(k), "%s,S=%llu,W=%llu", base,
	    (unsigned long long)sn.s, (unsigned long long)m->size) :
	    str_fmt(k, sizeof(k), "%s,W=%llu", base, (unsigned long long)m->size)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*made = store_name_make(k, strlen(k), m->flags & ~IMAP_F_RECENT, kwbits);
	*key = xstrdup(k);
	if (store_path(to, sizeof(to), lf->dir, *made) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		if (store_path(from, sizeof(from), src->dir, m->name) == -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (link(from, to) == 0)
			return 0;
		if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP)
			return copy_bytes(from, lf->dir, base, to, m->internaldate);
		if (errno != ENOENT || store_msg_locate(src, i) == -1)
			return -1;
	}
	return -1;
}

/* The destination's keyword bits of src's keyword bits (adding names there). */
static uint32_t
copy_kwmap(struct imap_folder *src, struct imap_folder *lf, uint32_t bits)
{
	uint32_t out = 0;
	size_t k;
	int d;

	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if ((bits & (1U << k)) && src->keywords[k] != NULL &&
		    (d = imap_keyword_index(lf, src->keywords[k], 1)) >= 0)
			out |= 1U << d;
	return out;
}

static int
copy_locked(struct imap_folder *src, const size_t *idx, size_t n,
    struct imap_folder *lf, uint32_t *kw, char **keys, size_t *keylens,
    char **made, uint32_t *uidvalidity, uint32_t *uids, char *err, size_t errlen)
{
	char path[STORE_PATH];
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] >= src->n) {
			errno = ENOENT;
			break;
		}
		if (copy_one(src, idx[i], lf, kw[i], &keys[i], &made[i]) == -1)
			break;
		keylens[i] = strlen(keys[i]);
	}
	if (i == n && store_path(path, sizeof(path), lf->dir, "cur") == 0 &&
	    fsync_dir(path) == 0 && store_assign_uids(lf->dir,
	    ((struct store_priv *)lf->priv)->lockfd, keys, keylens, n,
	    uidvalidity, uids, err, errlen) == 0)
		return 0;
	if (i < n)
		store_err(err, errlen, "copy", src->name);
	/* nothing half copied: remove what was made */
	for (i = 0; i < n && made[i] != NULL; i++)
		if (store_path(path, sizeof(path), lf->dir, made[i]) == 0)
			unlink(path);
	return -1;
}

int
imap_copy(struct imap_folder *src, const size_t *idx, size_t n, const char *dst,
    uint32_t *uidvalidity, uint32_t *dst_uids, char *err, size_t errlen)
{
	char dir[IMAP_NAME_MAX + 8];
	struct imap_folder *lf;
	struct store_priv lp;
	char **keys, **made;
	size_t *keylens, i;
	uint32_t *kw;
	int rv = -1;

	if (append_dir(dst, dir, sizeof(dir), err, errlen) == -1)
		return -1;
	lf = xmalloc(sizeof(*lf));
	keys = xcalloc(n + 1, sizeof(*keys));
	made = xcalloc(n + 1, sizeof(*made));
	keylens = xcalloc(n + 1, sizeof(*keylens));
	kw = xcalloc(n + 1, sizeof(*kw));
	if (light_open(lf, &lp, dir, err, errlen) == 0) {
		/* keywords first: adding one takes the lock itself */
		for (i = 0; i < n; i++)
			if (idx[i] < src->n)
				kw[i] = copy_kwmap(src, lf, src->msgs[idx[i]].keywords);
		if (store_lock(lp.lockfd, err, errlen) == 0) {
			rv = copy_locked(src, idx, n, lf, kw, keys, keylens, made,
			    uidvalidity, dst_uids, err, errlen);
			store_unlock(lp.lockfd);
		}
	}
	for (i = 0; i < n; i++) {
		free(keys[i]);
		free(made[i]);
	}
	free(keys);
	free(made);
	free(keylens);
	free(kw);
	light_close(lf);
	free(lf);
	return rv;
}
