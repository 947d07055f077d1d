/*
 * qfile: the queue file format. The writer runs in smtpd (as `postern`,
 * chrooted to the queue directory) and later in submitd and the pickup;
 * the reader runs in qmgr (as `postern`) and in the queue tools. No
 * privileges of its own; every path is relative to the queue directory.
 *
 * On-disk format, version 1 (one record per line, "name SP value LF"):
 *
 *   postern-queue 1
 *   id QID
 *   size NNNNNNNNNNNNNNNNNNNN          20 digits: content bytes (pwrite at commit)
 *   retry AAAAAAAAAA NNNNNNNNNNNNNNNNNNNN  attempts (10), next attempt (20; epoch s)
 *   arrival SECONDS
 *   attr NAME VALUE                    any number, NAME in [a-z_]
 *   sender VALUE                       exactly once; empty value = null sender
 *   rcpt S ADDRESS                     one or more; S is the status byte
 *   orcpt VALUE                        optional, belongs to the rcpt above
 *   notify VALUE                       optional, belongs to the rcpt above
 *   data
 *   <size bytes of content, LF line ends>
 *   xrcpt S PARENT ADDRESS             appended by qmgr: alias expansions
 *
 * Values never hold CR, LF or NUL: the writer refuses them (EINVAL), so no
 * value can forge a record, and the reader refuses any line that holds
 * them. The status byte and the retry digits sit at fixed offsets and are
 * rewritten in place with pwrite(2) (Postfix's way). An xrcpt record torn
 * by a crash (no final LF) is ignored and overwritten by the next append.
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
#include "util.h"

#define QFILE_MAGIC	"postern-queue 1"
#define QFILE_BUFSZ	65536
#define QFILE_LINE_MAX	4096		/* longest record line */
#define QFILE_VALUE_MAX	2048		/* longest attribute value */
#define QFILE_RCPT_MAX	100000		/* recipients (and expansions) per file */
#define QFILE_HDR_MAX	(16 * 1024 * 1024)
#define QFILE_WAKE	"private/qmgr"
#define SIZE_DIGITS	20
#define ATT_DIGITS	10
#define NEXT_DIGITS	20

static const char qid_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Write v in base 36 into n chars (most significant first, zero padded). */
static void
qid_b36(char *out, size_t n, unsigned long long v)
{
	while (n > 0) {
		out[--n] = qid_chars[v % 36];
		v /= 36;
	}
}

void
qfile_new_id(char out[QID_LEN + 1])
{
	struct timeval tv;
	uint32_t r;

	/* 7 chars of seconds, 4 of microseconds, 5 of pid, 4 random: 20. */
	gettimeofday(&tv, NULL);
	random_bytes(&r, sizeof(r));
	qid_b36(out, 7, (unsigned long long)tv.tv_sec);
	qid_b36(out + 7, 4, (unsigned long long)tv.tv_usec);
	qid_b36(out + 11, 5, (unsigned long long)getpid());
	qid_b36(out + 16, 4, r);
	out[QID_LEN] = '\0';
}

/* A value may not hold CR, LF or NUL (it could forge a record). */
static int
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
	for (tries = 0; tries < 20; tries++) {
		qfile_new_id(w->qid);
		if (str_fmt(w->tmppath, sizeof(w->tmppath), "tmp/%s", w->qid) == -1)
			return -1;
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

/* Best effort: one byte into the FIFO wakes qmgr (no reader: ENXIO). */
static void
qfile_wake(void)
{
	int fd = open(QFILE_WAKE, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1)
		return;
	if (write(fd, "w", 1) == -1) {
		/* EAGAIN: the FIFO is full, so qmgr is awake anyway. */
	}
	close(fd);
}

/*
 * The commit path. Crash windows: before rename the file is only in tmp/
 * and the client has no 250, so nothing is lost; after rename but before
 * the directory fsync the entry may vanish, but again no 250 was given.
 * Only after fsync(incoming/) do we return 0 and the caller says 250.
 */
/* Commit into dir (incoming, or hold for a content check's HOLD). */
static int
qfile_commit_dir(struct qfile_writer *w, const char *dir)
{
	char dst[64], digits[SIZE_DIGITS + 1];
	int e;

	if (w->fd == -1 || !w->in_data) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_flush(w) == -1)
		goto fail;
	if (str_fmt(digits, sizeof(digits), "%0*llu", SIZE_DIGITS, w->size) == -1 ||
	    pwrite(w->fd, digits, SIZE_DIGITS, w->size_off) != SIZE_DIGITS)
		goto fail;
	if (fsync(w->fd) == -1)
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
	if (gcommit_fsync_dir(dir) == -1) {	/* shared by concurrent workers */
		/* Not durable: take it back so the client's retry is the only copy. */
		e = errno;
		unlink(dst);
		errno = e;
		goto fail;
	}
	free(w->buf);
	w->buf = NULL;
	if (strcmp(dir, "incoming") == 0)
		qfile_wake();	/* qmgr never looks into hold/ by itself */
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
		close(w->fd);
		unlink(w->tmppath);
		w->fd = -1;
	}
	free(w->buf);
	w->buf = NULL;
	errno = e;
}

/* Reader: a line reader over pread(2), so the fd's offset does not matter. */
struct qrd {
	int	 fd;
	off_t	 off;		/* file offset of buf[0] */
	char	 buf[QFILE_LINE_MAX * 2];
	size_t	 len, pos;
	int	 eof;
	int	 ioerr;		/* errno of a failed read */
};

/*
 * Next line (without LF, NUL-terminated in place). 1 a line, 0 end of file
 * (*torn set when bytes without a final LF remain), -1 error (EINVAL for a
 * line too long or holding CR/NUL).
 */
static int
qrd_line(struct qrd *r, char **line, off_t *loff, int *torn)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (nl != NULL)
			break;
		if (r->len - r->pos >= QFILE_LINE_MAX) {
			errno = EINVAL;
			return -1;
		}
		if (r->eof) {
			*torn = r->len > r->pos;
			*loff = r->off + (off_t)r->pos;
			return 0;
		}
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->off += (off_t)r->pos;
		r->len -= r->pos;
		r->pos = 0;
		n = pread(r->fd, r->buf + r->len, sizeof(r->buf) - r->len - 1,
		    r->off + (off_t)r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r->ioerr = errno;
			return -1;
		}
		if (n == 0)
			r->eof = 1;
		r->len += (size_t)n;
	}
	*nl = '\0';
	*line = r->buf + r->pos;
	*loff = r->off + (off_t)r->pos;
	if (memchr(*line, '\0', (size_t)(nl - *line)) != NULL ||
	    memchr(*line, '\r', (size_t)(nl - *line)) != NULL) {
		errno = EINVAL;
		return -1;
	}
	r->pos = (size_t)(nl - r->buf) + 1;
	return 1;
}

/* Reposition the reader at file offset off. */
static void
qrd_seek(struct qrd *r, off_t off)
{
	r->off = off;
	r->len = r->pos = 0;
	r->eof = 0;
}

static off_t
qrd_tell(const struct qrd *r)
{
	return r->off + (off_t)r->pos;
}

/* "name value": the value after "name " or NULL. */
static const char *
qfile_field(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) == 0 && line[n] == ' ')
		return line + n + 1;
	return NULL;
}

static int
qfile_status_ok(char c)
{
	return c == QRCPT_PENDING || c == QRCPT_DONE || c == QRCPT_FAILED ||
	    c == QRCPT_BOUNCED || c == QRCPT_EXPANDED;
}

/* Exactly n digits, then end or space. */
static int
qfile_digits(const char *s, size_t n, unsigned long long max,
    unsigned long long *out)
{
	char tmp[32];
	size_t i;

	if (n >= sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (s[n] != '\0' && s[n] != ' ')
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return parse_ullong(tmp, 0, max, out);
}

static struct qfile_rcpt *
qfile_new_rcpt(struct qfile *q, const char *addr, char status, off_t soff,
    size_t parent)
{
	struct qfile_rcpt *rc;

	if (q->nrcpt >= QFILE_RCPT_MAX || *addr == '\0' ||
	    strlen(addr) > QFILE_ADDR_MAX || !qfile_status_ok(status))
		return NULL;
	q->rcpt = xreallocarray(q->rcpt, q->nrcpt + 1, sizeof(*q->rcpt));
	rc = &q->rcpt[q->nrcpt++];
	memset(rc, 0, sizeof(*rc));
	rc->addr = xstrdup(addr);
	rc->status = status;
	rc->status_off = soff;
	rc->parent = parent;
	return rc;
}

/* The fixed prelude: magic, id, size, retry, arrival. */
static int
qfile_parse_prelude(struct qfile *q, struct qrd *r)
{
	unsigned long long v;
	char *line;
	const char *val;
	off_t loff;
	int torn = 0, i;

	for (i = 0; i < 5; i++) {
		if (qrd_line(r, &line, &loff, &torn) != 1)
			return -1;
		if (i == 0 && strcmp(line, QFILE_MAGIC) != 0)
			return -1;
		if (i == 1) {
			if ((val = qfile_field(line, "id")) == NULL ||
			    strlen(val) != QID_LEN ||
			    strspn(val, qid_chars) != QID_LEN)
				return -1;
			memcpy(q->qid, val, QID_LEN + 1);
		}
		if (i == 2 && ((val = qfile_field(line, "size")) == NULL ||
		    strlen(val) != SIZE_DIGITS ||
		    qfile_digits(val, SIZE_DIGITS, (unsigned long long)LLONG_MAX,
		    &q->size) == -1))
			return -1;
		if (i == 3) {
			if ((val = qfile_field(line, "retry")) == NULL ||
			    strlen(val) != ATT_DIGITS + 1 + NEXT_DIGITS ||
			    qfile_digits(val, ATT_DIGITS, UINT_MAX, &v) == -1)
				return -1;
			q->attempts = (unsigned)v;
			if (qfile_digits(val + ATT_DIGITS + 1, NEXT_DIGITS,
			    (unsigned long long)LLONG_MAX, &v) == -1)
				return -1;
			q->next_attempt = (time_t)v;
			q->retry_off = loff + 6;
		}
		if (i == 4 && ((val = qfile_field(line, "arrival")) == NULL ||
		    parse_ullong(val, 0, (unsigned long long)LLONG_MAX, &v) == -1))
			return -1;
		if (i == 4)
			q->arrival = (time_t)v;
	}
	return 0;
}

/* "attr NAME VALUE": known names fill the struct, unknown ones are skipped. */
static int
qfile_parse_attr(struct qfile *q, const char *s)
{
	static const struct {
		const char *name;
		size_t off;
	} attrs[] = {
		{ "client_addr", offsetof(struct qfile, client_addr) },
		{ "client_name", offsetof(struct qfile, client_name) },
		{ "helo", offsetof(struct qfile, helo) },
		{ "protocol", offsetof(struct qfile, protocol) },
		{ "auth_user", offsetof(struct qfile, auth_user) },
		{ "body", offsetof(struct qfile, body) },
		{ "envid", offsetof(struct qfile, envid) },
		{ "ret", offsetof(struct qfile, ret) },
	};
	const char *sp = strchr(s, ' ');
	size_t i, n;
	char **field;

	if (sp == NULL || sp == s)
		return -1;
	n = (size_t)(sp - s);
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return -1;
	if (n == 8 && strncmp(s, "smtputf8", 8) == 0) {
		q->smtputf8 = strcmp(sp + 1, "yes") == 0;
		return 0;
	}
	for (i = 0; i < NELEM(attrs); i++) {
		if (strlen(attrs[i].name) != n || strncmp(s, attrs[i].name, n) != 0)
			continue;
		field = (char **)((char *)q + attrs[i].off);
		if (*field != NULL)
			return -1;	/* twice */
		*field = xstrdup(sp + 1);
		return 0;
	}
	return 0;
}

/* orcpt/notify: at most once each, right after their rcpt. */
static int
qfile_parse_rcpt_extra(struct qfile *q, const char *line)
{
	const char *val;
	struct qfile_rcpt *rc;

	if (q->nrcpt == 0)
		return -1;
	rc = &q->rcpt[q->nrcpt - 1];
	if ((val = qfile_field(line, "orcpt")) != NULL) {
		if (rc->orcpt != NULL || rc->notify != NULL)
			return -1;
		rc->orcpt = xstrdup(val);
		return 0;
	}
	if ((val = qfile_field(line, "notify")) != NULL) {
		if (rc->notify != NULL)
			return -1;
		rc->notify = xstrdup(val);
		return 0;
	}
	return -1;
}

/* Envelope records up to and including "data". */
static int
qfile_parse_envelope(struct qfile *q, struct qrd *r)
{
	char *line;
	const char *val;
	off_t loff;
	int torn = 0, last_rcpt = 0;

	for (;;) {
		if (qrd_line(r, &line, &loff, &torn) != 1 || loff > QFILE_HDR_MAX)
			return -1;
		if (strcmp(line, "data") == 0)
			break;
		if ((val = qfile_field(line, "attr")) != NULL) {
			if (q->nrcpt > 0 || q->sender != NULL ||
			    qfile_parse_attr(q, val) == -1)
				return -1;
			last_rcpt = 0;
		} else if ((val = qfile_field(line, "sender")) != NULL) {
			if (q->sender != NULL || strlen(val) > QFILE_ADDR_MAX)
				return -1;
			q->sender = xstrdup(val);
			last_rcpt = 0;
		} else if ((val = qfile_field(line, "rcpt")) != NULL) {
			if (q->sender == NULL || val[0] == '\0' || val[1] != ' ' ||
			    qfile_new_rcpt(q, val + 2, val[0], loff + 5,
			    QRCPT_NOPARENT) == NULL)
				return -1;
			last_rcpt = 1;
		} else if (!last_rcpt || qfile_parse_rcpt_extra(q, line) == -1)
			return -1;
	}
	if (q->sender == NULL || q->nrcpt == 0)
		return -1;
	q->data_off = qrd_tell(r);
	return 0;
}

/* xrcpt records after the content; a torn last record is ignored. */
static int
qfile_parse_trailer(struct qfile *q, struct qrd *r, off_t fsize)
{
	unsigned long long parent;
	char *line, *sp;
	const char *val;
	off_t loff;
	int torn = 0, n;

	if (q->size > (unsigned long long)(fsize - q->data_off))
		return -1;
	q->trailer_end = q->data_off + (off_t)q->size;
	qrd_seek(r, q->trailer_end);
	while ((n = qrd_line(r, &line, &loff, &torn)) == 1) {
		if ((val = qfile_field(line, "xrcpt")) == NULL || val[0] == '\0' ||
		    val[1] != ' ' || (sp = strchr(val + 2, ' ')) == NULL)
			return -1;
		*sp = '\0';
		if (parse_ullong(val + 2, 0, q->nrcpt - 1, &parent) == -1 ||
		    q->rcpt[parent].parent != QRCPT_NOPARENT ||
		    qfile_new_rcpt(q, sp + 1, val[0], loff + 6, (size_t)parent) == NULL)
			return -1;
		q->trailer_end = qrd_tell(r);
	}
	return n;
}

int
qfile_open_fd(struct qfile *q, int fd)
{
	struct qrd *r;
	struct stat st;
	int rv = -1;

	memset(q, 0, sizeof(*q));
	q->fd = fd;
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	if (fstat(fd, &st) == -1) {
		r->ioerr = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out;
	if (qfile_parse_prelude(q, r) == -1 || qfile_parse_envelope(q, r) == -1 ||
	    qfile_parse_trailer(q, r, st.st_size) == -1)
		goto out;
	rv = 0;
out:
	if (rv == -1) {
		int e = r->ioerr != 0 ? r->ioerr : EINVAL;
		q->fd = -1;
		qfile_close(q);
		errno = e;
	}
	free(r);
	return rv;
}

int
qfile_open(struct qfile *q, const char *path, int writable)
{
	const char *base = strrchr(path, '/');
	int fd, e;

	base = base != NULL ? base + 1 : path;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return -1;
	if (qfile_open_fd(q, fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (strcmp(base, q->qid) != 0) {
		/* A file named for another message: refuse, do not guess. */
		qfile_close(q);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
qfile_pwrite(int fd, const void *p, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pwrite(fd, p, len, off);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int
qfile_mark(struct qfile *q, size_t i, char status)
{
	if (i >= q->nrcpt || !qfile_status_ok(status)) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_pwrite(q->fd, &status, 1, q->rcpt[i].status_off) == -1)
		return -1;
	q->rcpt[i].status = status;
	return 0;
}

int
qfile_set_retry(struct qfile *q, unsigned attempts, time_t next)
{
	char buf[ATT_DIGITS + 1 + NEXT_DIGITS + 1];

	if (next < 0)
		next = 0;
	if (str_fmt(buf, sizeof(buf), "%0*u %0*lld", ATT_DIGITS, attempts,
	    NEXT_DIGITS, (long long)next) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_pwrite(q->fd, buf, sizeof(buf) - 1, q->retry_off) == -1)
		return -1;
	q->attempts = attempts;
	q->next_attempt = next;
	return 0;
}

int
qfile_sync(struct qfile *q)
{
	return fdatasync(q->fd);
}

long
qfile_add_rcpt(struct qfile *q, size_t parent, const char *addr)
{
	char line[QFILE_ADDR_MAX + 64];
	int n;

	if (parent >= q->nrcpt || q->rcpt[parent].parent != QRCPT_NOPARENT ||
	    !qfile_value_ok(addr, QFILE_ADDR_MAX) || *addr == '\0' ||
	    q->nrcpt >= QFILE_RCPT_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((n = str_fmt(line, sizeof(line), "xrcpt %c %zu %s\n", QRCPT_PENDING,
	    parent, addr)) == -1) {
		errno = EINVAL;
		return -1;
	}
	/* Overwrite a torn record left by a crash, then cut what is past us. */
	if (qfile_pwrite(q->fd, line, (size_t)n, q->trailer_end) == -1 ||
	    ftruncate(q->fd, q->trailer_end + n) == -1)
		return -1;
	if (qfile_new_rcpt(q, addr, QRCPT_PENDING, q->trailer_end + 6,
	    parent) == NULL) {
		errno = EINVAL;
		return -1;
	}
	q->trailer_end += n;
	return (long)(q->nrcpt - 1);
}

void
qfile_close(struct qfile *q)
{
	size_t i;

	if (q->fd != -1)
		close(q->fd);
	q->fd = -1;
	for (i = 0; i < q->nrcpt; i++) {
		free(q->rcpt[i].addr);
		free(q->rcpt[i].orcpt);
		free(q->rcpt[i].notify);
	}
	free(q->rcpt);
	q->rcpt = NULL;
	q->nrcpt = 0;
	free(q->sender);
	free(q->client_addr);
	free(q->client_name);
	free(q->helo);
	free(q->protocol);
	free(q->auth_user);
	free(q->body);
	free(q->envid);
	free(q->ret);
	q->sender = q->client_addr = q->client_name = q->helo = NULL;
	q->protocol = q->auth_user = q->body = q->envid = q->ret = NULL;
}
