/*
 * maildir: Maildir delivery, run by a deliver worker after it has dropped
 * to the virtual-mail user (or to a system account, or as the invoking
 * user when not root). The protocol is qmail's maildir_child: write a
 * uniquely named file in tmp/, fsync it, move it into new/ never
 * overwriting (renameat2 RENAME_NOREPLACE, else link + unlink), fsync
 * new/ (shared with concurrent workers: gcommit). A crash before the move
 * leaves only a tmp/ file (removed by readers after 36 hours:
 * maildir_clean_tmp, called by pop3d and imapd); after the new/ fsync the
 * message is safe. A Maildir with tmp/ but no new/ (its making cut short
 * by a crash) is completed when the move finds new/ missing.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcommit.h"
#include "maildir.h"
#include "log.h"
#include "util.h"

#define MAILDIR_COPYBUF	65536

static unsigned long maildir_seq;	/* the Q<n> of the name: per process */

int
maildir_component_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0' || *p == '.')
		return 0;
	for (; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Space, quota and I/O trouble can pass; a path that cannot exist cannot. */
static int
maildir_errno_status(int e)
{
	switch (e) {
	case ENAMETOOLONG:
	case ELOOP:
	case ENOTDIR:
		return MAILDIR_PERM;
	default:
		return MAILDIR_TEMP;	/* ENOSPC, EDQUOT, EIO, EACCES, ... */
	}
}

static int
maildir_fail(int e, const char *what, const char *path, char *err,
    size_t errlen)
{
	str_fmt(err, errlen, "%s %s: %s", what, path, strerror(e));
	errno = e;	/* maildir_deliver's callers read it (ENOSPC, EDQUOT) */
	return maildir_errno_status(e);
}

/* mkdir one directory if missing; fsync its parent when we made it. */
static int
maildir_mkdir(char *path, char *err, size_t errlen)
{
	struct stat st;
	char *slash;
	int r;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return MAILDIR_OK;
		return maildir_fail(ENOTDIR, "mkdir", path, err, errlen);
	}
	if (mkdir(path, 0700) == -1) {
		if (errno == EEXIST)
			return MAILDIR_OK;	/* a concurrent delivery made it */
		return maildir_fail(errno, "mkdir", path, err, errlen);
	}
	if ((slash = strrchr(path, '/')) == NULL)
		return fsync_dir(".") == -1 ?
		    maildir_fail(errno, "fsync", ".", err, errlen) : MAILDIR_OK;
	if (slash == path)
		return MAILDIR_OK;
	*slash = '\0';
	r = MAILDIR_OK;
	if (fsync_dir(path) == -1)
		r = maildir_fail(errno, "fsync", path, err, errlen);
	*slash = '/';
	return r;
}

int
maildir_create(const char *path, char *err, size_t errlen)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char buf[PATH_MAX];
	char *p;
	size_t i;
	int r;

	if (str_copy(buf, path, sizeof(buf)) == -1)
		return maildir_fail(ENAMETOOLONG, "maildir", path, err, errlen);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		r = maildir_mkdir(buf, err, errlen);
		*p = '/';
		if (r != MAILDIR_OK)
			return r;
	}
	if ((r = maildir_mkdir(buf, err, errlen)) != MAILDIR_OK)
		return r;
	for (i = 0; i < NELEM(sub); i++) {
		if (str_fmt(buf, sizeof(buf), "%s/%s", path, sub[i]) == -1)
			return maildir_fail(ENAMETOOLONG, "maildir", path, err, errlen);
		if ((r = maildir_mkdir(buf, err, errlen)) != MAILDIR_OK)
			return r;
	}
	return MAILDIR_OK;
}

/* The host part of the name: '/' ':' ',' escaped as Dovecot does (\057). */
static void
maildir_host(char *out, size_t outlen, const char *host)
{
	size_t o = 0;

	for (; *host && o + 5 < outlen; host++) {
		unsigned char c = (unsigned char)*host;
		if (c == '/' || c == ':' || c == ',' || c == '\\' || c < 0x21 ||
		    c > 0x7e) {
			str_fmt(out + o, outlen - o, "\\%03o", c);
			o += 4;
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	if (o == 0)
		str_copy(out, "localhost", outlen);
}

/* LFs in n bytes at p. */
static unsigned long long
maildir_lfs(const void *p, size_t n)
{
	const char *c = p, *end = c + n;
	unsigned long long k = 0;

	while (c < end && (c = memchr(c, '\n', (size_t)(end - c))) != NULL) {
		k++;
		c++;
	}
	return k;
}

/* Write all of the iov (short writes go on). 0 or -1. */
static int
maildir_writev(int out, struct iovec *iov, int n)
{
	ssize_t w;

	while (n > 0) {
		w = writev(out, iov, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * Write prefix + content to fd out; count LFs. The content's first hlen
 * bytes are at head (the caller read them); the rest is read from in at
 * off + hlen. A message that fits goes out in one writev(2).
 */
static int
maildir_copy(int out, const void *prefix, size_t plen, const void *head,
    size_t hlen, int in, off_t off, unsigned long long len,
    unsigned long long *lfs)
{
	struct iovec iov[2];
	char *buf = NULL;
	size_t want;
	ssize_t n;
	int rv = -1, niov = 0;

	if (head == NULL)
		hlen = 0;
	else if (hlen > len)
		hlen = (size_t)len;
	*lfs = maildir_lfs(prefix, plen) + maildir_lfs(head, hlen);
	iov[niov].iov_base = (void *)(uintptr_t)prefix;
	iov[niov++].iov_len = plen;
	if (hlen > 0) {
		iov[niov].iov_base = (void *)(uintptr_t)head;
		iov[niov++].iov_len = hlen;
	}
	if (maildir_writev(out, iov, niov) == -1)
		return -1;
	off += (off_t)hlen;
	len -= hlen;
	if (len > 0)
		buf = xmalloc(MAILDIR_COPYBUF);
	while (len > 0) {
		want = len > MAILDIR_COPYBUF ? MAILDIR_COPYBUF : (size_t)len;
		n = pread(in, buf, want, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* the queue file is shorter than said */
			goto out;
		}
		*lfs += maildir_lfs(buf, (size_t)n);
		if (write_all(out, buf, (size_t)n) == -1)
			goto out;
		off += n;
		len -= (unsigned long long)n;
	}
	rv = 0;
out:
	free(buf);
	return rv;
}

/* Open a fresh tmp/ file; create the Maildir on first delivery. */
static int
maildir_open_tmp(const char *path, char *tmp, size_t tmplen, char *base,
    size_t baselen, const char *hostname, char *err, size_t errlen)
{
	char host[256];
	struct timeval tv;
	int fd, r, tries;

	maildir_host(host, sizeof(host), hostname);
	for (tries = 0; tries < 2; tries++) {
		gettimeofday(&tv, NULL);
		if (str_fmt(base, baselen, "%lld.M%06ldP%ldQ%lu.%s",
		    (long long)tv.tv_sec, (long)tv.tv_usec, (long)proc_pid(),
		    ++maildir_seq, host) == -1 ||
		    str_fmt(tmp, tmplen, "%s/tmp/%s", path, base) == -1) {
			maildir_fail(ENAMETOOLONG, "maildir", path, err, errlen);
			return -MAILDIR_PERM;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != ENOENT || tries > 0)
			break;
		if ((r = maildir_create(path, err, errlen)) != MAILDIR_OK)
			return -r;
	}
	return -maildir_fail(errno, "open", tmp, err, errlen);
}

/*
 * fsync(new/) through gcommit on a descriptor kept per directory (the
 * last MAILDIR_DIRS a worker delivered to), so that a delivery costs a
 * stat(2) of new/ instead of open, fstat and close (issue 12). The stat
 * tells whether the path is still that directory (dev, ino): a Maildir
 * removed or replaced gets a fresh descriptor, as the open by path did.
 */
#define MAILDIR_DIRS	8
#define MAILDIR_DIRPATH	512		/* longer paths are not kept */

static struct maildir_dir {
	int	 fd;			/* valid when used */
	int	 used;
	dev_t	 dev;
	ino_t	 ino;
	uint64_t last;			/* LRU clock */
	char	 path[MAILDIR_DIRPATH];
} maildir_dirs[MAILDIR_DIRS];

static int
maildir_fsync_new(const char *newdir)
{
	static uint64_t clock;
	struct maildir_dir *d, *lru = &maildir_dirs[0];
	struct stat st;
	size_t i;
	int fd;

	if (strlen(newdir) >= MAILDIR_DIRPATH)
		return gcommit_fsync_dir(newdir);
	if (stat(newdir, &st) == -1)
		return -1;
	for (i = 0; i < MAILDIR_DIRS; i++) {
		d = &maildir_dirs[i];
		if (d->used && d->dev == st.st_dev && d->ino == st.st_ino &&
		    strcmp(d->path, newdir) == 0) {
			d->last = ++clock;
			return gcommit_fsync_known(d->fd, d->dev, d->ino);
		}
		if (!d->used || (lru->used && d->last < lru->last))
			lru = d;
	}
	if ((fd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (lru->used)
		close(lru->fd);
	lru->used = 1;
	lru->fd = fd;
	lru->dev = st.st_dev;
	lru->ino = st.st_ino;
	lru->last = ++clock;
	str_copy(lru->path, newdir, sizeof(lru->path));
	return gcommit_fsync_known(fd, st.st_dev, st.st_ino);
}

/*
 * Move tmp into dst, never over an existing name. 0, or -1 with errno
 * and *what the call that failed.
 */
static int
maildir_move(const char *tmp, const char *dst, const char **what)
{
	/*
	 * The Maildir protocol's link()+unlink(), in one step where the file
	 * system can: a rename that never replaces an existing name.
	 */
	*what = "rename";
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	*what = "link";
	if (link(tmp, dst) == 0) {
		unlink(tmp);
		return 0;
	}
	if ((errno == EPERM || errno == ENOTSUP || errno == EXDEV) &&
	    access(dst, F_OK) == -1 && errno == ENOENT) {
		*what = "rename";
		return rename(tmp, dst);
	}
	return -1;
}

/* Move tmp/ into new/: link (never overwrites), else rename. */
static int
maildir_publish(const char *tmp, const char *dst, const char *path, char *err,
    size_t errlen)
{
	char newdir[PATH_MAX];
	const char *what;
	int r;

	if (maildir_move(tmp, dst, &what) == -1) {
		/*
		 * new/ missing while tmp/ is there: a Maildir whose making was
		 * cut short (a crash between the mkdir of tmp/ and of new/), or
		 * whose new/ was removed. Make what is missing and move again,
		 * once; without this, every later delivery failed the same way.
		 */
		if (errno != ENOENT || access(tmp, F_OK) == -1)
			return maildir_fail(errno, what, dst, err, errlen);
		if ((r = maildir_create(path, err, errlen)) != MAILDIR_OK)
			return r;
		if (maildir_move(tmp, dst, &what) == -1)
			return maildir_fail(errno, what, dst, err, errlen);
	}
	if (str_fmt(newdir, sizeof(newdir), "%s/new", path) == -1 ||
	    maildir_fsync_new(newdir) == -1) {	/* shared by deliver's workers */
		/* Delivered but maybe not durable: a retry may duplicate. */
		int e = errno;

		unlink(dst);
		return maildir_fail(e, "fsync", newdir, err, errlen);
	}
	return MAILDIR_OK;
}

int
maildir_deliver(const char *path, const char *hostname, const void *prefix,
    size_t plen, const void *head, size_t headlen, int fd, off_t off,
    unsigned long long len, char *name, size_t namelen, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX], base[512], fname[600];
	unsigned long long lfs, size;
	int out, r;

	out = maildir_open_tmp(path, tmp, sizeof(tmp), base, sizeof(base),
	    hostname, err, errlen);
	if (out < 0)
		return -out;
	if (maildir_copy(out, prefix, plen, head, headlen, fd, off, len,
	    &lfs) == -1 ||
	    fsync(out) == -1) {
		r = errno;
		close(out);
		unlink(tmp);
		return maildir_fail(r, "write", tmp, err, errlen);
	}
	if (close(out) == -1) {
		r = errno;
		unlink(tmp);
		return maildir_fail(r, "close", tmp, err, errlen);
	}
	size = (unsigned long long)plen + len;
	if (str_fmt(fname, sizeof(fname), "%s,S=%llu,W=%llu", base, size,
	    size + lfs) == -1 ||
	    str_fmt(dst, sizeof(dst), "%s/new/%s", path, fname) == -1) {
		unlink(tmp);
		return maildir_fail(ENAMETOOLONG, "maildir", path, err, errlen);
	}
	if ((r = maildir_publish(tmp, dst, path, err, errlen)) != MAILDIR_OK) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return r;
	}
	if (name != NULL)
		str_copy(name, fname, namelen);
	return MAILDIR_OK;
}

int
maildir_clean_tmp(const char *dir, time_t now)
{
	struct timespec ts[2];
	struct dirent *de;
	struct stat st;
	char path[4096];
	DIR *d;
	int dfd, n = 0;

	if (str_fmt(path, sizeof(path), "%s/tmp", dir) == -1 ||
	    stat(path, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    now - st.st_atime < MAILDIR_TMP_SCAN_SECS)
		return 0;
	if ((d = opendir(path)) == NULL)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) ||
		    now - st.st_mtime <= MAILDIR_TMP_MAX_AGE ||
		    now - st.st_ctime <= MAILDIR_TMP_MAX_AGE)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	}
	/* The scan's time, for the next reader: tmp/'s atime (mtime untouched). */
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	(void)futimens(dfd, ts);
	closedir(d);
	if (n > 0)
		log_info("%s: removed %d file(s) older than %d hours", path, n,
		    MAILDIR_TMP_MAX_AGE / 3600);
	return n;
}
