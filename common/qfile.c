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
 *   pad NNNNNNNNNN                     10 digits: that many bytes follow to
 *                                      skip (a reused file's old tail, so
 *                                      the file keeps its length); only
 *                                      here, written before the commit
 *   xrcpt S PARENT ADDRESS             appended by qmgr: alias expansions
 *   delayed SECONDS                    appended by qmgr: the delay notice
 *                                      went then (RFC 3464; at most once)
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

#include "qfile.h"
#include "qfile_int.h"
#include "util.h"

/* Reader: a line reader over pread(2), so the fd's offset does not matter. */
struct qrd {
	int	 fd;
	off_t	 off;		/* file offset of buf[0] */
	char	 buf[QFILE_LINE_MAX * 2];
	size_t	 len, pos;
	int	 eof;
	int	 ioerr;		/* errno of a failed read */
	off_t	 size;		/* the file's size at open (fstat): no read past it */
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
		r->len += (size_t)n;
		/* At the size fstat gave: the end, without a pread(2) saying so. */
		if (n == 0 || r->off + (off_t)r->len >= r->size)
			r->eof = 1;
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
	r->eof = off >= r->size;
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
	    c == QRCPT_BOUNCED || c == QRCPT_EXPANDED ||
	    c == QRCPT_DELIVERED_DSN || c == QRCPT_RELAYED_DSN;
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
			    strspn(val, QFILE_QID_CHARS) != QID_LEN)
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

/* "delayed SECONDS": once, a time after the epoch. */
static int
qfile_parse_delayed(struct qfile *q, const char *val)
{
	unsigned long long v;

	if (q->delay_notice != 0 || strlen(val) > 20 ||
	    strspn(val, "0123456789") != strlen(val) ||
	    parse_ullong(val, 1, (unsigned long long)LLONG_MAX, &v) == -1)
		return -1;
	q->delay_notice = (time_t)v;
	return 0;
}

/*
 * The trailer: a pad record first if the writer left one, then xrcpt and
 * delayed records; a torn last record is ignored.
 */
static int
qfile_parse_trailer(struct qfile *q, struct qrd *r, off_t fsize)
{
	unsigned long long parent, pad;
	char *line, *sp;
	const char *val;
	off_t loff;
	int torn = 0, n;

	if (q->size > (unsigned long long)(fsize - q->data_off))
		return -1;
	q->trailer_end = q->data_off + (off_t)q->size;
	qrd_seek(r, q->trailer_end);
	while ((n = qrd_line(r, &line, &loff, &torn)) == 1) {
		if ((val = qfile_field(line, "pad")) != NULL) {
			/* Only first: the writer's, over a reused file's tail. */
			if (loff != q->data_off + (off_t)q->size ||
			    qrd_tell(r) > fsize || strlen(val) != PAD_DIGITS ||
			    qfile_digits(val, PAD_DIGITS, (unsigned long long)
			    (fsize - qrd_tell(r)), &pad) == -1)
				return -1;
			q->trailer_end = qrd_tell(r) + (off_t)pad;
			qrd_seek(r, q->trailer_end);
			continue;
		}
		if ((val = qfile_field(line, "delayed")) != NULL) {
			if (qfile_parse_delayed(q, val) == -1)
				return -1;
			q->trailer_end = qrd_tell(r);
			continue;
		}
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
	r->size = st.st_size;
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
		errno = ESTALE;
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

int
qfile_mark_delay_notice(struct qfile *q, time_t when)
{
	char line[64];
	int n;

	if (when <= 0 || q->delay_notice != 0 ||
	    (n = str_fmt(line, sizeof(line), "delayed %lld\n", (long long)when)) == -1) {
		errno = EINVAL;
		return -1;
	}
	/* As qfile_add_rcpt: over a torn record, then cut what is past us. */
	if (qfile_pwrite(q->fd, line, (size_t)n, q->trailer_end) == -1 ||
	    ftruncate(q->fd, q->trailer_end + n) == -1)
		return -1;
	q->trailer_end += n;
	q->delay_notice = when;
	return 0;
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
