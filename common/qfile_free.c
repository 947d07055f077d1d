/*
 * qfile_free: spent queue files kept for the next message (issue 12).
 *
 * When every recipient of a message is done, qmgr does not unlink its
 * file: it renames it to tmp/f.ID (ID is the spent message's queue id,
 * never used again) and writes one fixed-size record, "ID SIZE\n", to the
 * FIFO private/free. A writer (smtpd, submitd, pickup, qmgr's bounces)
 * that starts a message reads one record and claims the file where it
 * is: it opens tmp/f.ID and holds an flock(2) on it until it closes it
 * (qfree_take). It then writes over the old content in place and, before
 * its fdatasync, covers what is left of the old content with a pad
 * record, so the file keeps its length, or cuts it off where there is no
 * room for one (qfile_pad; by the length fstat gives: SIZE, what qmgr
 * read, can miss a torn trailer record). Its commit renames tmp/f.ID
 * into incoming/NEWID (qfile_write.c). A record is read by one reader
 * only (each read of exactly one record's length from a pipe takes one
 * whole record), and qmgr announces each file once, so a file is never
 * claimed twice. A qmgr that starts again removes the kept files (their
 * records went with the FIFO's old content), but not one a writer holds:
 * it takes the lock before the unlink (qfree_restore_one), so a writer
 * either finds the lock taken or, holding it, finds the file without a
 * name, and then makes a new file, as without a kept one.
 *
 * Why no rename to claim (it was tmp/f.ID to tmp/NEWID until the
 * fourteenth session): each one changed tmp/ twice more per message, and
 * on ext4 without a journal the commit's fdatasync also writes the
 * changed blocks of the directory that just named the file (it is new
 * there: ext4_sync_parent() in its fsync.c). Pairs of two instances,
 * this code against the one before it: 0.8, 1.0 and 0.25 fewer disk
 * writes per message at 1, 4 and 16 sessions, and the rate 1.06, 1.00
 * and 1.01 times (medians; bench/README, fourteenth session).
 *
 * Why: every create and unlink makes the file system allocate and free
 * an inode and its blocks. ext4 without a journal also skips every inode
 * freed in the last one to six minutes when it allocates one
 * (recently_deleted() in its ialloc.c, a buffer lookup for each), so at
 * a thousand messages a second each create in the queue or a Maildir on
 * that file system walked past thousands of them, and a mount with
 * `discard` sends every freed block to the device. perf put more than a
 * third of smtpd's and deliver's CPU there. Writing over a kept file
 * allocates and frees nothing.
 *
 * Durability is untouched: a file in tmp/ is no message; the new one
 * still reaches incoming/ only by fsync, rename and the fsync of
 * incoming/ (qfile_write.c). A file is written over only after every
 * name it had as a message is gone for good: qmgr announces spent files
 * in batches (at most QFREE_BATCH_MS after the first, qfile_free_flush),
 * each batch only after an fsync of every directory a message is named
 * in (incoming/, active/, deferred/, hold/; those that changed since
 * their last fsync, qfree_sync_dirs), so that no crash can bring
 * back an old name of a file whose pages are being written over: a write
 * torn by a power cut could otherwise mix the old message's first page
 * with the new one's body under the old name. After such a crash the
 * only names left are tmp/ ones (removed at start) and, defensively,
 * qfile_open() still refuses a file whose queue id record differs from
 * its name (ESTALE), which qmgr removes (qmgr_job.c).
 *
 * Bounds: only files of at most QFREE_MAX_SIZE bytes are kept, and at
 * most as many as the FIFO holds records (QFREE_PIPE bytes), and
 * QFREE_PENDING more waiting to be announced; beyond that the file is
 * unlinked. Kept files hold disk space that deliveries may need: only
 * while the queue's file system has QFREE_MIN_FREE bytes free (256 MiB,
 * over three times the most they can take: 2304 files of 32 KiB) are
 * files kept, and
 * below that qmgr gives back what is kept within a second
 * (qfile_free_check). qmgr removes every tmp/f.* when it starts and
 * empties the FIFO, so nothing announced before survives it.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "qfile.h"
#include "qfile_int.h"
#include "util.h"

#define QFREE_SIZE_DIGITS 10
#define QFREE_REC	(QID_LEN + 1 + QFREE_SIZE_DIGITS + 1)	/* "ID SIZE\n" */
#define QFREE_PIPE	65536		/* FIFO capacity: 2048 records */
#define QFREE_MAX_SIZE	(32 * 1024)	/* larger files are unlinked */
#define QFREE_RETRY_S	10		/* no FIFO: look again this late */
/* Keep files only with this much free: four times what the FIFO holds. */
#define QFREE_MIN_FREE	(4ULL * (QFREE_PIPE / QFREE_REC) * QFREE_MAX_SIZE)
#define QFREE_BATCH_MS	200		/* spent files wait this long at most */
#define QFREE_PENDING	256		/* or until this many wait */

/* Spent files renamed to tmp/f.ID, not yet announced (qfile_free_flush). */
static struct qfree_spent {
	char	 qid[QID_LEN + 1];
	off_t	 size;
} qfree_pending[QFREE_PENDING];
static size_t qfree_npending;
static int64_t qfree_since;		/* now_ms() of the oldest one */

/* The directories a message is named in while it is one. */
static const char *const qfree_dirs[] = {
	"incoming", "active", "deferred", "hold"
};

static int
qfree_id_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(QFILE_QID_CHARS, s[i]) == NULL)
			return 0;
	return 1;
}

/* The name of a kept file: tmp/f.<qid>. 0 or -1. */
static int
qfree_name(char *buf, size_t len, const char *qid)
{
	return str_fmt(buf, len, "tmp/f.%s", qid) == -1 ? -1 : 0;
}

/* Give a kept file back to the file system. */
static void
qfree_unlink(const char *qid)
{
	char path[64];

	if (qfree_name(path, sizeof(path), qid) == 0)
		unlink(path);
}

/*
 * Open the FIFO with flags into *fd, at most once per QFREE_RETRY_S
 * while it is missing (inetd setups, tests). 0, or -1 with *fd -1.
 */
static int
qfree_open(int *fd, time_t *next_try, int flags)
{
	time_t now;

	if (*fd != -1)
		return 0;
	if ((now = time(NULL)) < *next_try)
		return -1;
	if ((*fd = open(QFILE_FREE_FIFO, flags | O_NONBLOCK | O_CLOEXEC)) == -1) {
		*next_try = now + QFREE_RETRY_S;
		return -1;
	}
	return 0;
}

/*
 * Read one record from fd into qid (QID_LEN + 1 bytes) and *size. 1 a
 * record, 0 one that is not well formed (cannot happen with whole
 * records), -1 none (EAGAIN: the pool is empty; 0 bytes: no writer).
 */
static int
qfree_read(int fd, char *qid, unsigned long long *size)
{
	char rec[QFREE_REC + 1];

	if (read(fd, rec, QFREE_REC) != QFREE_REC)
		return -1;
	rec[QFREE_REC] = '\0';
	if (rec[QID_LEN] != ' ' || rec[QFREE_REC - 1] != '\n' ||
	    !qfree_id_ok(rec, QID_LEN))
		return 0;
	rec[QID_LEN] = '\0';
	rec[QFREE_REC - 1] = '\0';
	if (parse_ullong(rec + QID_LEN + 1, 0, QFREE_MAX_SIZE, size) == -1)
		return 0;
	memcpy(qid, rec, QID_LEN + 1);
	return 1;
}

/*
 * Take the file tmp/f.<qid> for writing: open, an flock(2) held until the
 * writer closes it (after its rename, or its unlink), and a check that the
 * name still leads to it. The descriptor, or -1: the file is gone or going
 * (qmgr started again and removes every tmp/f.* no writer holds,
 * qfile_free_restore; it takes the lock before it unlinks and keeps it
 * until after, so a writer either finds the lock taken or, once it has the
 * lock, the file without a name).
 */
static int
qfree_take(const char *path)
{
	struct stat st;
	int qf;

	if ((qf = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (flock(qf, LOCK_EX | LOCK_NB) == -1 || fstat(qf, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_nlink == 0) {
		close(qf);
		return -1;
	}
	return qf;
}

int
qfile_claim(char *tmppath, size_t len, off_t *oldsize)
{
	static int fd = -1;
	static time_t next_try;
	char qid[QID_LEN + 1], src[64];
	unsigned long long size;
	int qf, tries, r;

	if (qfree_open(&fd, &next_try, O_RDONLY) == -1)
		return -1;
	for (tries = 0; tries < 4; tries++) {
		if ((r = qfree_read(fd, qid, &size)) == -1)
			return -1;
		if (r == 0 || qfree_name(src, sizeof(src), qid) == -1)
			continue;
		if (strlen(src) >= len || (qf = qfree_take(src)) == -1)
			continue;	/* removed when qmgr started again */
		memcpy(tmppath, src, strlen(src) + 1);
		*oldsize = (off_t)size;
		return qf;
	}
	return -1;
}

/* The FIFO, open for writing in qmgr; -1 when it is missing. */
static int
qfree_fifo(void)
{
	static int fd = -1;
	static time_t next_try;

	if (fd != -1)
		return fd;
	/* O_RDWR: never ENXIO while no writer holds it open for reading. */
	if (qfree_open(&fd, &next_try, O_RDWR) == -1)
		return -1;
	(void)fcntl(fd, F_SETPIPE_SZ, QFREE_PIPE);	/* bounds the pool */
	return fd;
}

/* Is the queue's file system short of space? statvfs(2) once a second. */
static int
qfree_short(void)
{
	static time_t checked;
	static int low;
	struct statvfs sv;
	time_t now = time(NULL);

	if (now != checked) {
		checked = now;
		low = statvfs(".", &sv) == 0 &&
		    (unsigned long long)sv.f_bavail * sv.f_frsize < QFREE_MIN_FREE;
	}
	return low;
}

/* Unlink the spent files not yet announced. */
static void
qfree_drop_pending(void)
{
	size_t i;

	for (i = 0; i < qfree_npending; i++)
		qfree_unlink(qfree_pending[i].qid);
	qfree_npending = 0;
}

void
qfile_free_check(void)
{
	char qid[QID_LEN + 1];
	unsigned long long size;
	int fd, r;

	if (!qfree_short() || (fd = qfree_fifo()) == -1)
		return;
	/* Short of space: every kept file goes (read once: ours alone). */
	qfree_drop_pending();
	while ((r = qfree_read(fd, qid, &size)) != -1)
		if (r == 1)
			qfree_unlink(qid);
}

/*
 * fsync every directory a message is named in; -1 if one fails. One
 * whose mtime is the same as at its last fsync, taken at least
 * QFREE_QUIET_S after that mtime (so that a later change cannot share
 * its clock tick), has lost no name since and is skipped: deferred/ and
 * hold/ mostly, and every one of them when mail is not moving.
 */
#define QFREE_QUIET_S	2

static int
qfree_sync_dirs(void)
{
	static struct {
		int		 fd;
		struct timespec	 mtime;	/* at the last fsync */
		time_t		 when;	/* time(NULL) just before its fstat */
	} d[NELEM(qfree_dirs)] = {
		{ -1, { 0, 0 }, 0 }, { -1, { 0, 0 }, 0 },
		{ -1, { 0, 0 }, 0 }, { -1, { 0, 0 }, 0 }
	};
	/* One initializer per directory: a missing one would be fd 0. */
	_Static_assert(NELEM(qfree_dirs) == 4, "qfree_dirs and d[] differ");
	struct stat st;
	time_t now;
	size_t i;

	for (i = 0; i < NELEM(qfree_dirs); i++) {
		if (d[i].fd == -1 && (d[i].fd = open(qfree_dirs[i],
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			if (errno == ENOENT)
				continue;	/* a queue without hold/ yet */
			return -1;
		}
		now = time(NULL);
		if (fstat(d[i].fd, &st) == -1)
			return -1;
		if (d[i].when != 0 &&
		    st.st_mtim.tv_sec == d[i].mtime.tv_sec &&
		    st.st_mtim.tv_nsec == d[i].mtime.tv_nsec &&
		    d[i].when >= d[i].mtime.tv_sec + QFREE_QUIET_S)
			continue;
		if (fsync(d[i].fd) == -1) {
			log_warn("fsync %s: %s", qfree_dirs[i], strerror(errno));
			d[i].when = 0;
			return -1;
		}
		d[i].mtime = st.st_mtim;
		d[i].when = now;
	}
	return 0;
}

int64_t
qfile_free_due(void)
{
	return qfree_npending == 0 ? -1 : qfree_since + QFREE_BATCH_MS;
}

void
qfile_free_flush(int force)
{
	char rec[QFREE_REC + 1];
	size_t i;
	int fd;

	if (qfree_npending == 0 ||
	    (!force && qfree_npending < QFREE_PENDING &&
	    now_ms() < qfree_since + QFREE_BATCH_MS))
		return;
	if (qfree_short() || (fd = qfree_fifo()) == -1 ||
	    qfree_sync_dirs() == -1) {
		qfree_drop_pending();
		return;
	}
	for (i = 0; i < qfree_npending; i++) {
		/* Written whole or not at all (below PIPE_BUF); EAGAIN: full. */
		if (str_fmt(rec, sizeof(rec), "%s %0*lld\n",
		    qfree_pending[i].qid, QFREE_SIZE_DIGITS,
		    (long long)qfree_pending[i].size) != QFREE_REC ||
		    write(fd, rec, QFREE_REC) != QFREE_REC)
			qfree_unlink(qfree_pending[i].qid);
	}
	qfree_npending = 0;
}

int
qfile_recycle(const char *path, const char *qid, off_t size)
{
	char dst[64];
	struct qfree_spent *p;

	if (size < 0 || size > QFREE_MAX_SIZE || strlen(qid) != QID_LEN ||
	    qfree_short() ||
	    qfree_fifo() == -1 ||
	    qfree_name(dst, sizeof(dst), qid) == -1 ||
	    rename(path, dst) == -1)
		return unlink(path);
	if (qfree_npending == QFREE_PENDING)
		qfile_free_flush(1);
	if (qfree_npending == 0)
		qfree_since = now_ms();
	p = &qfree_pending[qfree_npending++];
	str_copy(p->qid, qid, sizeof(p->qid));
	p->size = size;
	return 0;
}

/*
 * Remove the kept file path unless a writer holds it (its flock, taken in
 * qfree_take): that one is a message being written, which goes to
 * incoming/ by its rename. The lock is held across the unlink.
 */
static void
qfree_restore_one(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("open %s: %s", path, strerror(errno));
		return;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			log_warn("flock %s: %s", path, strerror(errno));
	} else if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s: %s", path, strerror(errno));
	close(fd);
}

void
qfile_free_restore(void)
{
	char buf[4096], path[64];
	struct dirent *de;
	DIR *d;
	int fd = qfree_fifo();

	/* Records from before (readers kept the FIFO open): their files go. */
	if (fd != -1)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	if ((d = opendir("tmp")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "f.", 2) != 0 ||
		    str_fmt(path, sizeof(path), "tmp/%s", de->d_name) == -1)
			continue;
		qfree_restore_one(path);
	}
	closedir(d);
}
