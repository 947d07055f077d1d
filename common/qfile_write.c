/*
 * qfile_write: the writer of the queue file format (qfile.c describes
 * it). It runs in smtpd and submitd (as `postern`, smtpd chrooted to the
 * queue directory) and in pickup: create in tmp/, records, content, then
 * commit (fsync, rename into incoming/ or hold/, fsync of that directory
 * shared with concurrent writers through gcommit) before the caller says
 * 250. No privileges of its own; every path is relative to the queue
 * directory.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcommit.h"
#include "qfile.h"
#include "qfile_int.h"
#include "util.h"


/* Write v in base 36 into n chars (most significant first, zero padded). */
static void
qid_b36(char *out, size_t n, unsigned long long v)
{
	while (n > 0) {
		out[--n] = QFILE_QID_CHARS[v % 36];
		v /= 36;
	}
}

void
qfile_new_id(char out[QID_LEN + 1])
{
	static uint32_t seq;
	static pid_t seq_pid;
	struct timeval tv;
	uint32_t r;

	/*
	 * 7 chars of seconds, 4 of microseconds, 5 of pid, 4 of a counter
	 * that starts at a random value in each process: 20. Two ids of one
	 * process in one microsecond differ by the counter; no getrandom(2)
	 * per message (issue 12). An id is unique, not secret.
	 */
	gettimeofday(&tv, NULL);
	if (seq_pid != proc_pid()) {
		random_bytes(&seq, sizeof(seq));
		seq_pid = proc_pid();
	}
	r = seq++;
	qid_b36(out, 7, (unsigned long long)tv.tv_sec);
	qid_b36(out + 7, 4, (unsigned long long)tv.tv_usec);
	qid_b36(out + 11, 5, (unsigned long long)proc_pid());
	qid_b36(out + 16, 4, r);
	out[QID_LEN] = '\0';
}

/* A value may not hold CR, LF or NUL (it could forge a record). */
int
qfile_value_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max || strpbrk(v, "\r\n") != NULL)
		return 0;
	return 1;
}

static int
qfile_wfail(struct qfile_writer *w, int err)
{
	if (!w->failed) {
		w->failed = 1;
		w->saved_errno = err;
	}
	errno = w->saved_errno;
	return -1;
}

static int
qfile_flush(struct qfile_writer *w)
{
	if (w->failed)
		return qfile_wfail(w, w->saved_errno);
	if (w->blen == 0)
		return 0;
	if (write_all(w->fd, w->buf, w->blen) == -1)
		return qfile_wfail(w, errno);
	w->flushed += (off_t)w->blen;
	w->blen = 0;
	return 0;
}

static int
qfile_append(struct qfile_writer *w, const void *p, size_t len)
{
	if (w->failed)
		return qfile_wfail(w, w->saved_errno);
	if (len > w->bcap - w->blen && qfile_flush(w) == -1)
		return -1;
	if (len >= w->bcap) {
		if (write_all(w->fd, p, len) == -1)
			return qfile_wfail(w, errno);
		w->flushed += (off_t)len;
		return 0;
	}
	memcpy(w->buf + w->blen, p, len);
	w->blen += len;
	return 0;
}

/* Append "name SP value LF" after checking the value. */
static int
qfile_record(struct qfile_writer *w, const char *name, const char *value,
    size_t max)
{
	if (w->fd == -1 || w->in_data || !qfile_value_ok(value, max)) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_append(w, name, strlen(name)) == -1 ||
	    qfile_append(w, " ", 1) == -1 ||
	    qfile_append(w, value, strlen(value)) == -1 ||
	    qfile_append(w, "\n", 1) == -1)
		return -1;
	return 0;
}

/* The prelude: magic, id, the fixed-width size and retry fields, arrival. */
static int
qfile_prelude(struct qfile_writer *w)
{
	char line[128];
	int n;

	if ((n = str_fmt(line, sizeof(line), "%s\nid %s\nsize ", QFILE_MAGIC,
	    w->qid)) == -1 || qfile_append(w, line, (size_t)n) == -1)
		return -1;
	w->size_off = w->flushed + (off_t)w->blen;
	if ((n = str_fmt(line, sizeof(line), "%0*d\nretry %0*d %0*d\narrival %lld\n",
	    SIZE_DIGITS, 0, ATT_DIGITS, 0, NEXT_DIGITS, 0,
	    (long long)time(NULL))) == -1)
		return -1;
	return qfile_append(w, line, (size_t)n);
}

int
qfile_create(struct qfile_writer *w)
{
	int tries;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->oldsize = -1;
	for (tries = 0; tries < 20; tries++) {
		qfile_new_id(w->qid);
		if (str_fmt(w->tmppath, sizeof(w->tmppath), "tmp/%s", w->qid) == -1)
			return -1;
		/* A spent file to write over, before a new one (qfile_free.c). */
		if (tries == 0 && (w->fd = qfile_claim(w->tmppath,
		    sizeof(w->tmppath), &w->oldsize)) != -1)
			break;
		w->fd = open(w->tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd != -1 || errno != EEXIST)
			break;
	}
	if (w->fd == -1)
		return -1;
	w->bcap = QFILE_BUFSZ;
	w->buf = xmalloc(w->bcap);
	if (qfile_prelude(w) == -1) {
		int e = errno;
		qfile_abort(w);
		errno = e;
		return -1;
	}
	return 0;
}

int
qfile_put_attr(struct qfile_writer *w, const char *name, const char *value)
{
	static const char *const names[] = { "client_addr", "client_name",
		"helo", "protocol", "auth_user", "body", "smtputf8", "envid", "ret" };
	char rec[64];
	size_t i;

	for (i = 0; i < NELEM(names); i++)
		if (strcmp(name, names[i]) == 0)
			break;
	if (i == NELEM(names) || str_fmt(rec, sizeof(rec), "attr %s", name) == -1) {
		errno = EINVAL;
		return -1;
	}
	return qfile_record(w, rec, value, QFILE_VALUE_MAX);
}

int
qfile_put_sender(struct qfile_writer *w, const char *sender)
{
	if (w->have_sender) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_record(w, "sender", sender, QFILE_ADDR_MAX) == -1)
		return -1;
	w->have_sender = 1;
	return 0;
}

int
qfile_put_rcpt(struct qfile_writer *w, const char *rcpt, const char *orcpt,
    const char *notify)
{
	if (*rcpt == '\0' || w->nrcpt >= QFILE_RCPT_MAX ||
	    (orcpt != NULL && !qfile_value_ok(orcpt, QFILE_VALUE_MAX)) ||
	    (notify != NULL && !qfile_value_ok(notify, QFILE_VALUE_MAX))) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_record(w, "rcpt -", rcpt, QFILE_ADDR_MAX) == -1)
		return -1;
	if (orcpt != NULL && qfile_record(w, "orcpt", orcpt, QFILE_VALUE_MAX) == -1)
		return -1;
	if (notify != NULL && qfile_record(w, "notify", notify, QFILE_VALUE_MAX) == -1)
		return -1;
	w->nrcpt++;
	return 0;
}

int
qfile_begin_data(struct qfile_writer *w)
{
	if (w->fd == -1 || w->in_data || !w->have_sender || w->nrcpt == 0) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_append(w, "data\n", 5) == -1)
		return -1;
	w->in_data = 1;
	return 0;
}

int
qfile_write(struct qfile_writer *w, const void *p, size_t len)
{
	if (w->fd == -1 || !w->in_data) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_append(w, p, len) == -1)
		return -1;
	w->size += len;
	return 0;
}

unsigned long long
qfile_size(const struct qfile_writer *w)
{
	return w->size;
}

/*
 * Best effort: one line into the FIFO wakes qmgr (no reader: ENXIO). The
 * queue id spares qmgr a scan of incoming/ (any other line asks for one).
 * A line is far below PIPE_BUF, so writes never mix.
 */
static void
qfile_wake_line(const char *line, size_t len)
{
	static int fd = -1;	/* kept: one open(2) per worker, not per message */

	if (fd == -1 &&
	    (fd = open(QFILE_WAKE, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return;		/* ENXIO: no qmgr reading; it scans when it starts */
	if (write(fd, line, len) == -1 && errno != EAGAIN) {
		/* EPIPE: qmgr went away; open again next time. EAGAIN: the
		 * FIFO is full, so qmgr is awake anyway and scans (qmgr.c). */
		close(fd);
		fd = -1;
	}
}

void
qfile_wake_id(const char *qid)
{
	char line[QID_LEN + 2];
	size_t n = strnlen(qid, QID_LEN);

	memcpy(line, qid, n);
	line[n] = '\n';
	qfile_wake_line(line, n + 1);
}

/*
 * The commit path. Crash windows: before rename the file is only in tmp/
 * and the client has no 250, so nothing is lost; after rename but before
 * the directory fsync the entry may vanish, but again no 250 was given.
 * Only after fsync(incoming/) do we return 0 and the caller says 250.
 */
/* Commit into dir (incoming, or hold for a content check's HOLD). */
/*
 * fsync(dir) through gcommit, on a descriptor opened once per process for
 * each of incoming/ and hold/ (the queue directory never moves under a
 * running daemon; the master makes it before any writer starts).
 */
struct qw_dir {
	int	 fd;
	dev_t	 dev;
	ino_t	 ino;
};

static int
qfile_fsync_dir(const char *dir)
{
	static struct qw_dir d_in = { -1, 0, 0 }, d_hold = { -1, 0, 0 };
	struct qw_dir *d = strcmp(dir, "incoming") == 0 ? &d_in :
	    strcmp(dir, "hold") == 0 ? &d_hold : NULL;
	struct stat st;

	if (d == NULL)
		return gcommit_fsync_dir(dir);
	if (d->fd == -1) {
		if ((d->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			return -1;
		if (fstat(d->fd, &st) == -1) {
			close(d->fd);
			d->fd = -1;
			return -1;
		}
		d->dev = st.st_dev;
		d->ino = st.st_ino;
	}
	/* Its identity is known: no fstat(2) per message (issue 12). */
	return gcommit_fsync_known(d->fd, d->dev, d->ino);
}

/*
 * A reused file (qfile_free.c) holds the old message's bytes past ours.
 * Where they leave room, a pad record "pad N" after the content covers
 * them to the end of the file, so the file keeps its length; otherwise
 * (*cut) the file is cut to ours after the write. Its length is what
 * fstat(2) says, not what was announced: a torn trailer record can lie
 * past that. Old bytes must never read as trailer records.
 */
static int
qfile_pad(struct qfile_writer *w, int *cut)
{
	char line[QFILE_PAD_LEN + 1];
	struct stat st;
	off_t end = w->flushed + (off_t)w->blen, gap;

	*cut = 0;
	if (fstat(w->fd, &st) == -1)
		return qfile_wfail(w, errno);
	if ((gap = st.st_size - end) <= 0)
		return 0;
	if (gap < QFILE_PAD_LEN) {
		*cut = 1;
		return 0;
	}
	if (str_fmt(line, sizeof(line), "pad %0*lld\n", PAD_DIGITS,
	    (long long)(gap - QFILE_PAD_LEN)) != QFILE_PAD_LEN) {
		*cut = 1;	/* a tail too long to name: cut it */
		return 0;
	}
	return qfile_append(w, line, QFILE_PAD_LEN);
}

static int
qfile_commit_dir(struct qfile_writer *w, const char *dir)
{
	char dst[64], digits[SIZE_DIGITS + 1];
	int e, cut = 0;

	if (w->fd == -1 || !w->in_data) {
		errno = EINVAL;
		return -1;
	}
	if (str_fmt(digits, sizeof(digits), "%0*llu", SIZE_DIGITS, w->size) == -1)
		goto fail;
	if (w->oldsize >= 0 && qfile_pad(w, &cut) == -1)
		goto fail;
	if (w->size_off >= w->flushed) {
		/* Still in the buffer (most messages): one write(2) for the file. */
		memcpy(w->buf + (w->size_off - w->flushed), digits, SIZE_DIGITS);
		if (qfile_flush(w) == -1)
			goto fail;
	} else if (qfile_flush(w) == -1 ||
	    pwrite(w->fd, digits, SIZE_DIGITS, w->size_off) != SIZE_DIGITS)
		goto fail;
	if (cut && ftruncate(w->fd, w->flushed) == -1)
		goto fail;
	/*
	 * fdatasync(2): the data and what reading it needs (the size, the
	 * blocks), not the times. A reused file that kept its length (the
	 * pad) has no such change, so on a journalling file system this is
	 * a data write and a cache flush, not a journal commit.
	 */
	if (fdatasync(w->fd) == -1)
		goto fail;
	if (str_fmt(dst, sizeof(dst), "%s/%s", dir, w->qid) == -1 ||
	    rename(w->tmppath, dst) == -1)
		goto fail;
	if (close(w->fd) == -1) {
		w->fd = -1;
		e = errno;
		unlink(dst);
		errno = e;
		goto fail;
	}
	w->fd = -1;
	if (qfile_fsync_dir(dir) == -1) {	/* shared by concurrent workers */
		/* Not durable: take it back so the client's retry is the only copy. */
		e = errno;
		unlink(dst);
		errno = e;
		goto fail;
	}
	free(w->buf);
	w->buf = NULL;
	if (strcmp(dir, "incoming") == 0 && !w->defer_wake)
		qfile_wake_id(w->qid);	/* hold/ is not qmgr's */
	return 0;
fail:
	e = errno;
	qfile_abort(w);
	errno = e;
	return -1;
}

int
qfile_commit(struct qfile_writer *w)
{
	return qfile_commit_dir(w, "incoming");
}

int
qfile_commit_hold(struct qfile_writer *w)
{
	return qfile_commit_dir(w, "hold");
}

void
qfile_abort(struct qfile_writer *w)
{
	int e = errno;

	if (w->fd != -1) {
		/* Before close: a kept file's lock (qfile_claim) covers it. */
		unlink(w->tmppath);
		close(w->fd);
		w->fd = -1;
	}
	free(w->buf);
	w->buf = NULL;
	errno = e;
}

