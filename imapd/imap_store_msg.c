/*
 * imap_store_msg: what a session does to the messages of its open folder
 * (imap_store.h): change flags (a rename of the file, under the folder
 * lock so that the modseq and the name change together), read a message
 * with CRLF line ends, and expunge. Runs in the session process as the
 * mail owner, cwd = the Maildir.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_store_int.h"
#include "util.h"

#define MSG_SYSFLAGS	(IMAP_F_SEEN | IMAP_F_ANSWERED | IMAP_F_FLAGGED | \
			 IMAP_F_DELETED | IMAP_F_DRAFT)
#define MSG_MAXREAD	((size_t)1 << 30)

static uint32_t
kw_defined(const struct imap_folder *f)
{
	uint32_t mask = 0;
	size_t k;

	for (k = 0; k < IMAP_KEYWORDS_MAX; k++)
		if (f->keywords[k] != NULL)
			mask |= 1U << k;
	return mask;
}

static void
flags_apply(int mode, unsigned cur, uint32_t curkw, unsigned flags, uint32_t kw,
    unsigned *nf, uint32_t *nk)
{
	switch (mode) {
	case '+':
		*nf = cur | flags;
		*nk = curkw | kw;
		break;
	case '-':
		*nf = cur & ~flags;
		*nk = curkw & ~kw;
		break;
	default:
		*nf = flags;
		*nk = kw;
		break;
	}
}

/*
 * Take the folder lock and re-read the uidlist if another session
 * replaced it: the modseq ceiling and the entries saved must be current.
 */
static int
msg_lock(struct imap_folder *f, char *err, size_t errlen)
{
	struct store_priv *p = f->priv;

	if (store_lock(p->lockfd, err, errlen) == -1)
		return -1;
	if (uidlist_load(&p->ul, f->dir, err, errlen) == -1) {
		store_unlock(p->lockfd);
		return -1;
	}
	return 0;
}

/* Rename message i to carry nf/nk (under the lock). 1 done, 0 gone, -1 error. */
static int
msg_rename(struct imap_folder *f, size_t i, int mode, unsigned flags, uint32_t kw,
    char **newname, char *err, size_t errlen)
{
	struct imap_msg *m = &f->msgs[i];
	char src[STORE_PATH], dst[STORE_PATH];
	struct store_name sn;
	const char *base;
	unsigned nf;
	uint32_t nk;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		base = store_name_base(m->name);
		/* from the file's own flags: another session may have changed them */
		store_name_parse(base, &sn);
		flags_apply(mode, sn.flags, sn.keywords, flags, kw, &nf, &nk);
		*newname = store_name_make(base, sn.keylen, nf, nk);
		if (strcmp(*newname, m->name) == 0)
			return 1;
		if (store_path(src, sizeof(src), f->dir, m->name) == -1 ||
		    store_path(dst, sizeof(dst), f->dir, *newname) == -1) {
			free(*newname);
			errno = ENAMETOOLONG;
			return store_err(err, errlen, "rename", m->name);
		}
		if (rename(src, dst) == 0)
			return 1;
		free(*newname);
		*newname = NULL;
		if (errno != ENOENT)
			return store_err(err, errlen, "rename", src);
		if (store_msg_locate(f, i) == -1)
			return 0;	/* expunged by someone else */
	}
	return 0;
}

int
imap_msg_set_flags(struct imap_folder *f, size_t i, int mode, unsigned flags,
    uint32_t keywords, char *err, size_t errlen)
{
	struct store_priv *p = f->priv;
	struct imap_msg *m;
	struct store_name sn;
	unsigned nf;
	uint32_t nk;
	char *name = NULL;
	int r;

	if (i >= f->n)
		return 0;
	m = &f->msgs[i];
	flags &= MSG_SYSFLAGS;
	keywords &= mode == '-' ? ~0U : kw_defined(f);
	flags_apply(mode, m->flags & MSG_SYSFLAGS, m->keywords, flags, keywords, &nf, &nk);
	if (nf == (m->flags & MSG_SYSFLAGS) && nk == m->keywords)
		return 0;
	if (f->readonly) {
		errno = EROFS;
		return store_err(err, errlen, "store", f->name);
	}
	if (msg_lock(f, err, errlen) == -1)
		return -1;
	if ((r = msg_rename(f, i, mode, flags, keywords, &name, err, errlen)) == 1) {
		store_name_release(f, m->name);
		m->name = name;
		store_name_parse(store_name_base(name), &sn);
		m->flags = sn.flags | (m->flags & IMAP_F_RECENT);
		m->keywords = sn.keywords;
		/* RFC 7162 3.1: every metadata change gets a new modseq */
		m->modseq = store_modseq_next(p->lockfd, &p->ul);
		if (store_modseq_flush(p->lockfd, &p->ul, f->dir, err, errlen) == -1)
			r = -1;
		if (m->modseq > f->highestmodseq)
			f->highestmodseq = m->modseq;
		p->dirty = 1;
	}
	store_unlock(p->lockfd);
	return r == -1 ? -1 : 0;
}

/* The file's bytes with every bare LF made CRLF. */
static int
msg_crlf(int fd, size_t fsize, char **buf, size_t *len)
{
	char *raw = xmalloc(fsize + 1), *out;
	size_t off = 0, i, o;
	ssize_t r;

	while (off < fsize) {
		r = read(fd, raw + off, fsize - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;	/* shorter now: what is there */
		off += (size_t)r;
	}
	out = xmalloc((size_t)store_wire_len(raw, off) + 1);
	for (i = o = 0; i < off; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = raw[i];
	}
	out[o] = '\0';
	free(raw);
	*buf = out;
	*len = o;
	return 0;
}

int
imap_msg_read(struct imap_folder *f, size_t i, char **buf, size_t *len,
    char *err, size_t errlen)
{
	char path[STORE_PATH];
	struct stat st;
	int fd = -1, tries;

	if (i >= f->n) {
		errno = ENOENT;
		return store_err(err, errlen, "read", "no such message");
	}
	for (tries = 0; tries < 2 && fd == -1; tries++) {
		if (store_path(path, sizeof(path), f->dir, f->msgs[i].name) == -1) {
			errno = ENAMETOOLONG;
			return store_err(err, errlen, "read", f->msgs[i].name);
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1 && (errno != ENOENT || store_msg_locate(f, i) == -1))
			return store_err(err, errlen, "open", path);
	}
	if (fd == -1 || fstat(fd, &st) == -1 || (uint64_t)st.st_size > MSG_MAXREAD) {
		if (fd != -1)
			close(fd);
		errno = fd == -1 ? ENOENT : EFBIG;
		return store_err(err, errlen, "read", path);
	}
	msg_crlf(fd, (size_t)st.st_size, buf, len);
	close(fd);
	if (f->msgs[i].size != *len) {
		f->msgs[i].size = *len;	/* a wrong ,W=: the content is the truth */
		((struct store_priv *)f->priv)->dirty = 1;
	}
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Unlink message i's file; 0 also when it is gone already. */
static int
msg_unlink(struct imap_folder *f, size_t i, char *err, size_t errlen)
{
	char path[STORE_PATH];
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (store_path(path, sizeof(path), f->dir, f->msgs[i].name) == -1) {
			errno = ENAMETOOLONG;
			return store_err(err, errlen, "unlink", f->msgs[i].name);
		}
		if (unlink(path) == 0)
			return 0;
		if (errno != ENOENT)
			return store_err(err, errlen, "unlink", path);
		if (store_msg_locate(f, i) == -1)
			return 0;
	}
	return 0;
}

int
imap_folder_expunge(struct imap_folder *f, const uint32_t *uids, size_t nuids,
    char *err, size_t errlen)
{
	struct store_priv *p = f->priv;
	size_t i, o, done = 0;
	uint8_t *gone;
	int rv = 0;

	if (f->readonly) {
		errno = EROFS;
		return store_err(err, errlen, "expunge", f->name);
	}
	gone = xcalloc(f->n + 1, 1);
	/* descending, so that each sequence number holds as it was */
	for (i = f->n; i-- > 0;) {
		if (!(f->msgs[i].flags & IMAP_F_DELETED) || (uids != NULL &&
		    bsearch(&f->msgs[i].uid, uids, nuids, sizeof(*uids), uid_cmp) == NULL))
			continue;
		if (msg_unlink(f, i, err, errlen) == -1) {
			rv = -1;
			continue;
		}
		store_pend_expunge(f, (uint32_t)(i + 1), f->msgs[i].uid);
		gone[i] = 1;
		done++;
	}
	for (i = o = 0; i < f->n; i++) {
		if (gone[i])
			store_name_release(f, f->msgs[i].name);
		else
			f->msgs[o++] = f->msgs[i];
	}
	f->n = o;
	free(gone);
	if (done > 0 && msg_lock(f, err, errlen) == 0) {
		f->highestmodseq = store_modseq_next(p->lockfd, &p->ul);
		if (store_modseq_flush(p->lockfd, &p->ul, f->dir, err, errlen) == -1)
			rv = -1;
		store_unlock(p->lockfd);
		p->dirty = 1;
	}
	return rv;
}
