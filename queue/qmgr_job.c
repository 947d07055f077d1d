/*
 * qmgr_job: one message in active/. Runs in qmgr (as mail_owner). Expands
 * aliases (recording the expansion in the queue file as xrcpt records),
 * hands local recipients to deliver over private/deliver with the open
 * queue file (SCM_RIGHTS), records each result durably (qfile_mark +
 * qfile_sync) before it does anything else with it, then removes the
 * file, defers it with back-off, or keeps it for the bounce.
 *
 * Crash reasoning: a result is on disk before it is logged or acted on,
 * so a crash at any instant repeats at most the deliveries whose result
 * was not yet recorded (one duplicate at worst). The expansion is written
 * (xrcpt records, fsync) before the parent is marked X, so a crash in
 * between finds the records and uses them instead of expanding again.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "util.h"

static void qmgr_job_finish(struct qmgr_job *);

/* Seconds since arrival, with hundredths, for "delay=". */
static double
qmgr_delay(const struct qmgr_job *j)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)(tv.tv_sec - j->q.arrival) + tv.tv_usec / 1e6;
}

/* The original recipient of queue recipient i (itself or its parent). */
static const char *
qmgr_orig(const struct qmgr_job *j, size_t i)
{
	size_t p = j->q.rcpt[i].parent;

	return p == QRCPT_NOPARENT ? j->q.rcpt[i].addr : j->q.rcpt[p].addr;
}

/* Postfix-style result line: QID: to=<..>, orig_to=<..>, relay=local, ... */
static void
qmgr_log_result(const struct qmgr_job *j, size_t i, const char *mbox,
    const char *status, const char *text)
{
	char t[512], o[600];
	const char *orig = qmgr_orig(j, i);

	log_sanitize(t, sizeof(t), text, strlen(text));
	o[0] = '\0';
	if (strcmp(orig, mbox) != 0)
		str_fmt(o, sizeof(o), ", orig_to=<%s>", orig);
	log_info("%s: to=<%s>%s, relay=local, delay=%.2f, status=%s (%s)",
	    j->qid, mbox, o, qmgr_delay(j), status, t);
}

/* A temporary failure: the recipient stays pending; remember the text. */
static void
qmgr_temp(struct qmgr_job *j, size_t i, const char *mbox, const char *text)
{
	j->ntemp++;
	if (j->errors.len < 65536)
		strbuf_printf(&j->errors, "%s: %s\n", mbox, text);
	qmgr_log_result(j, i, mbox, "deferred", text);
}

static void
qmgr_dispatch(struct qmgr_job *j, size_t i, const char *mbox)
{
	j->disp = xreallocarray(j->disp, j->ndisp + 1, sizeof(*j->disp));
	j->disp[j->ndisp].idx = i;
	j->disp[j->ndisp].mbox = xstrdup(mbox);
	j->disp[j->ndisp].answered = 0;
	j->ndisp++;
}

/* Route one final address: local → deliver; anything else → the hook. */
static void
qmgr_route(struct qmgr_job *j, size_t i, const char *mbox)
{
	const char *at = strrchr(mbox, '@');

	if (at != NULL && conf_is_local_domain(&qmgr_conf, at + 1)) {
		qmgr_dispatch(j, i, mbox);
		return;
	}
	/*
	 * HOOK (issue 4, the smtp client): non-local recipients (reachable
	 * only through aliases for now) go to the outbound SMTP client here.
	 * Until it exists they are deferred, so nothing is lost.
	 */
	qmgr_temp(j, i, mbox, "4.4.1 outbound delivery not available yet");
}

static int
qmgr_is_local(const char *domain, void *arg)
{
	(void)arg;
	return conf_is_local_domain(&qmgr_conf, domain);
}

/* Does recipient i already have xrcpt children (a crash after writing them)? */
static int
qmgr_has_children(const struct qmgr_job *j, size_t i)
{
	size_t k;

	for (k = 0; k < j->q.nrcpt; k++)
		if (j->q.rcpt[k].parent == i)
			return 1;
	return 0;
}

/* Expand original recipient i; record the expansion durably. */
static void
qmgr_expand(struct qmgr_job *j, size_t i)
{
	struct alias_list l;
	char err[256];
	const char *addr = j->q.rcpt[i].addr;
	size_t k;

	if (qmgr_has_children(j, i))
		goto mark;
	if (aliases_expand(qmgr_aliases, addr, qmgr_is_local, NULL, &l, err,
	    sizeof(err)) == -1) {
		char t[300];
		str_fmt(t, sizeof(t), "4.3.5 alias expansion failed: %s", err);
		qmgr_temp(j, i, addr, t);
		return;
	}
	if (l.n == 1 && str_ieq(l.addr[0], addr)) {
		qmgr_route(j, i, l.addr[0]);	/* not an alias */
		alias_list_free(&l);
		return;
	}
	for (k = 0; k < l.n; k++)
		if (qfile_add_rcpt(&j->q, i, l.addr[k]) == -1)
			break;
	alias_list_free(&l);
	if (k < l.n || qfile_sync(&j->q) == -1) {
		qmgr_temp(j, i, addr, "4.3.0 cannot record the alias expansion");
		return;
	}
mark:
	if (qfile_mark(&j->q, i, QRCPT_EXPANDED) == -1 || qfile_sync(&j->q) == -1)
		qmgr_temp(j, i, addr, "4.3.0 cannot record the alias expansion");
}

/* Decide what to do with every pending recipient. */
static void
qmgr_plan(struct qmgr_job *j)
{
	size_t i, n = j->q.nrcpt;	/* children added now are routed below */

	for (i = 0; i < n; i++)
		if (j->q.rcpt[i].parent == QRCPT_NOPARENT &&
		    j->q.rcpt[i].status == QRCPT_PENDING)
			qmgr_expand(j, i);
	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].parent == QRCPT_NOPARENT ||
		    j->q.rcpt[i].status != QRCPT_PENDING ||
		    j->q.rcpt[j->q.rcpt[i].parent].status != QRCPT_EXPANDED)
			continue;
		qmgr_route(j, i, j->q.rcpt[i].addr);
	}
}

static int
qmgr_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, QMGR_DELIVER_SOCKET, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send the request with the queue file fd on its first byte. */
static int
qmgr_send(int fd, const struct qmgr_job *j, const struct strbuf *req)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = req->data;
	iov.iov_len = req->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &j->q.fd, sizeof(int));
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	return write_all(fd, req->data + n, req->len - (size_t)n);
}

/* Build the request and hand it to a deliver child. 0 or -1. */
static int
qmgr_request(struct qmgr_job *j)
{
	struct strbuf req;
	size_t k;
	int fd, rv = -1;

	strbuf_init(&req, 1024 * 1024);
	if (strbuf_printf(&req, "qid %s\nsender %s\ndata %lld %llu\n", j->qid,
	    j->q.sender, (long long)j->q.data_off, j->q.size) == -1)
		goto out;
	for (k = 0; k < j->ndisp; k++)
		if (strbuf_printf(&req, "rcpt %zu %s\n", j->disp[k].idx,
		    j->disp[k].mbox) == -1)
			goto out;
	if (strbuf_puts(&req, "end\n") == -1)
		goto out;
	if ((fd = qmgr_connect()) == -1)
		goto out;
	if (qmgr_send(fd, j, &req) == -1 || fd_set_nonblock(fd, 1) == -1) {
		close(fd);
		goto out;
	}
	j->fd = fd;
	j->deadline = now_ms() + QMGR_JOB_TIMEOUT_MS;
	rv = 0;
out:
	strbuf_free(&req);
	return rv;
}

int
qmgr_job_start(struct qmgr_job *j, const char *qid)
{
	char path[64], hold[64];

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	str_copy(j->qid, qid, sizeof(j->qid));
	str_fmt(path, sizeof(path), "active/%s", qid);
	if (qfile_open(&j->q, path, 1) == -1) {
		if (errno == EINVAL) {
			str_fmt(hold, sizeof(hold), "hold/%s", qid);
			log_err("%s: malformed queue file, moved to hold/", qid);
			if (rename(path, hold) == -1)
				log_err("%s: rename to hold/: %s", qid, strerror(errno));
		} else if (errno != ENOENT)
			log_err("%s: open %s: %s", qid, path, strerror(errno));
		return -1;
	}
	strbuf_init(&j->errors, 128 * 1024);
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", qid,
	    j->q.sender, j->q.size, j->q.nrcpt);
	qmgr_plan(j);
	if (j->ndisp > 0 && qmgr_request(j) == -1) {
		char t[256];
		str_fmt(t, sizeof(t), "4.3.0 cannot reach the delivery agent: %s",
		    strerror(errno));
		qmgr_job_abort(j, t);
		return 0;
	}
	if (j->fd == -1)
		qmgr_job_finish(j);
	return 0;
}

static struct qmgr_disp *
qmgr_find_disp(struct qmgr_job *j, unsigned long long idx)
{
	size_t k;

	for (k = 0; k < j->ndisp; k++)
		if (j->disp[k].idx == idx && !j->disp[k].answered)
			return &j->disp[k];
	return NULL;
}

/* One status line from deliver: "IDX CODE X.Y.Z text". Durable first. */
static int
qmgr_reply(struct qmgr_job *j, char *line)
{
	unsigned long long idx;
	struct qmgr_disp *d;
	char *sp, *text;

	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp = '\0';
	text = sp + 1;
	if (parse_ullong(line, 0, j->q.nrcpt, &idx) == -1 ||
	    (d = qmgr_find_disp(j, idx)) == NULL || strlen(text) < 4 ||
	    (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[3] != ' ')
		return -1;
	d->answered = 1;
	if (text[0] == '4') {
		qmgr_temp(j, d->idx, d->mbox, text + 4);
		return 0;
	}
	if (qfile_mark(&j->q, d->idx, text[0] == '2' ? QRCPT_DONE : QRCPT_FAILED) == -1 ||
	    qfile_sync(&j->q) == -1) {
		/* Not recorded: it may be delivered again later (a duplicate). */
		log_err("%s: cannot record a result: %s", j->qid, strerror(errno));
		qmgr_temp(j, d->idx, d->mbox, "4.3.0 cannot record the result");
		return 0;
	}
	text += 4;
	if (text[0] == '2' && (sp = strchr(text, ' ')) != NULL)
		text = sp + 1;	/* "sent (delivered to maildir)", as Postfix logs */
	qmgr_log_result(j, d->idx, d->mbox,
	    j->q.rcpt[d->idx].status == QRCPT_DONE ? "sent" : "bounced", text);
	return 0;
}

int
qmgr_job_input(struct qmgr_job *j)
{
	char *nl;
	ssize_t n;
	size_t used;

	n = read(j->fd, j->rbuf + j->rlen, sizeof(j->rbuf) - 1 - j->rlen);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		qmgr_job_abort(j, "4.3.0 the delivery agent ended early");
		return 1;
	}
	j->rlen += (size_t)n;
	j->deadline = now_ms() + QMGR_JOB_TIMEOUT_MS;
	while ((nl = memchr(j->rbuf, '\n', j->rlen)) != NULL) {
		*nl = '\0';
		if (qmgr_reply(j, j->rbuf) == -1) {
			qmgr_job_abort(j, "4.3.0 bad reply from the delivery agent");
			return 1;
		}
		used = (size_t)(nl - j->rbuf) + 1;
		memmove(j->rbuf, j->rbuf + used, j->rlen - used);
		j->rlen -= used;
	}
	if (j->rlen >= sizeof(j->rbuf) - 1) {
		qmgr_job_abort(j, "4.3.0 bad reply from the delivery agent");
		return 1;
	}
	for (used = 0; used < j->ndisp; used++)
		if (!j->disp[used].answered)
			return 0;
	close(j->fd);
	j->fd = -1;
	qmgr_job_finish(j);
	return 1;
}

void
qmgr_job_abort(struct qmgr_job *j, const char *why)
{
	size_t k;

	if (j->fd != -1)
		close(j->fd);
	j->fd = -1;
	for (k = 0; k < j->ndisp; k++) {
		if (!j->disp[k].answered) {
			j->disp[k].answered = 1;
			qmgr_temp(j, j->disp[k].idx, j->disp[k].mbox, why);
		}
	}
	qmgr_job_finish(j);
}

static void
qmgr_job_free(struct qmgr_job *j)
{
	size_t k;

	for (k = 0; k < j->ndisp; k++)
		free(j->disp[k].mbox);
	free(j->disp);
	j->disp = NULL;
	j->ndisp = 0;
	strbuf_free(&j->errors);
	qfile_close(&j->q);
}

/* Write defer/ID (the last errors) atomically: tmp name, fsync, rename. */
static void
qmgr_write_defer(struct qmgr_job *j)
{
	char tmp[64], dst[64];
	int fd;

	str_fmt(tmp, sizeof(tmp), "defer/%s.tmp", j->qid);
	str_fmt(dst, sizeof(dst), "defer/%s", j->qid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, j->errors.data != NULL ? j->errors.data : "",
	    j->errors.len) == -1 || fsync(fd) == -1 || rename(tmp, dst) == -1) {
		log_warn("%s: cannot write %s: %s", j->qid, dst, strerror(errno));
		unlink(tmp);
	}
	if (fd != -1)
		close(fd);
}

/* Back-off: min(retry_max, retry_min * 2^(attempts-1)). */
static long long
qmgr_backoff(unsigned attempts)
{
	long long d = qmgr_conf.queue_retry_min > 0 ? qmgr_conf.queue_retry_min : 1;

	while (attempts-- > 1 && d < qmgr_conf.queue_retry_max)
		d *= 2;
	return d < qmgr_conf.queue_retry_max ? d : qmgr_conf.queue_retry_max;
}

static void
qmgr_defer(struct qmgr_job *j)
{
	char src[64], dst[64];
	unsigned att = j->q.attempts + 1;
	long long d = qmgr_backoff(att);

	if (qfile_set_retry(&j->q, att, time(NULL) + d) == -1 ||
	    qfile_sync(&j->q) == -1)
		log_err("%s: cannot record the retry time: %s", j->qid,
		    strerror(errno));
	qmgr_write_defer(j);
	qmgr_note_retry(time(NULL) + d);
	str_fmt(src, sizeof(src), "active/%s", j->qid);
	str_fmt(dst, sizeof(dst), "deferred/%s", j->qid);
	if (rename(src, dst) == -1)
		log_err("%s: rename to deferred/: %s", j->qid, strerror(errno));
	log_info("%s: deferred, attempt %u, next attempt in %llds", j->qid, att, d);
}

/*
 * HOOK (issue 4, DSN bounces, RFC 3464): recipients marked F are owed a
 * bounce. Until the bounce writer exists the file is kept in hold/ so the
 * record is not lost; the null sender never gets a bounce.
 */
static int
qmgr_bounce_hook(struct qmgr_job *j, size_t nfailed)
{
	char src[64], dst[64];

	if (j->q.sender[0] == '\0')
		return 0;	/* DESIGN.md: no bounce to the null sender */
	str_fmt(src, sizeof(src), "active/%s", j->qid);
	str_fmt(dst, sizeof(dst), "hold/%s", j->qid);
	if (rename(src, dst) == -1)
		log_err("%s: rename to hold/: %s", j->qid, strerror(errno));
	log_warn("%s: %zu recipient(s) failed; bounce to <%s> owed (DSN not "
	    "implemented yet), message kept in hold/", j->qid, nfailed, j->q.sender);
	return 1;
}

/* Past queue_lifetime: every pending recipient fails. */
static void
qmgr_expire(struct qmgr_job *j)
{
	char t[300];
	size_t i;

	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_PENDING)
			continue;
		if (qfile_mark(&j->q, i, QRCPT_FAILED) == -1)
			log_err("%s: cannot mark a recipient: %s", j->qid,
			    strerror(errno));
	}
	if (qfile_sync(&j->q) == -1)
		log_err("%s: fdatasync: %s", j->qid, strerror(errno));
	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_FAILED)
			continue;
		str_fmt(t, sizeof(t), "4.4.7 message expired after %llds in the queue",
		    (long long)(time(NULL) - j->q.arrival));
		qmgr_log_result(j, i, j->q.rcpt[i].addr, "bounced", t);
	}
}

static void
qmgr_job_finish(struct qmgr_job *j)
{
	char path[64];
	size_t i, pending = 0, failed = 0;

	for (i = 0; i < j->q.nrcpt; i++) {
		pending += j->q.rcpt[i].status == QRCPT_PENDING;
		failed += j->q.rcpt[i].status == QRCPT_FAILED;
	}
	if (pending > 0 &&
	    time(NULL) - j->q.arrival < (time_t)qmgr_conf.queue_lifetime) {
		qmgr_defer(j);
		qmgr_job_free(j);
		return;
	}
	if (pending > 0) {
		qmgr_expire(j);
		failed += pending;
	}
	if (failed == 0 || !qmgr_bounce_hook(j, failed)) {
		str_fmt(path, sizeof(path), "defer/%s", j->qid);
		unlink(path);
		str_fmt(path, sizeof(path), "active/%s", j->qid);
		if (unlink(path) == -1)
			log_err("%s: unlink %s: %s", j->qid, path, strerror(errno));
		else
			log_info("%s: removed", j->qid);
	}
	qmgr_job_free(j);
}
