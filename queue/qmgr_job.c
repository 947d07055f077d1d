/*
 * qmgr_job: one message in active/. Runs in qmgr (as mail_owner). The
 * plan (alias expansion, routing of each final address: qmgr_route.c)
 * gives one connection per agent and destination: deliver over
 * private/deliver, deliver-user for Unix accounts of system_domains
 * (one request each, after a header with its uid and gid), the smtp
 * client over private/smtp, one connection per destination domain (at
 * most QMGR_SMTP_BATCH recipients each). Every agent gets the open
 * queue file (SCM_RIGHTS) and the same request, and answers one status
 * line per recipient. A failure is recorded durably (qfile_mark +
 * qfile_sync) before anything else is done with it; a success is marked
 * in place and made durable before any further attempt, bounce, wait or
 * move (qmgr_job_sync). Then the file is removed (all done: no sync
 * needed), deferred with back-off, or its failures are bounced
 * (qmgr_bounce.c) and marked B once the bounce is committed.
 *
 * Crash reasoning: every result is on disk before the message is tried
 * again, so a crash at any instant repeats at most the deliveries whose
 * result was not yet recorded (one duplicate at worst). The expansion is written
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

#include "agent.h"
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

/* Postfix-style result line: QID: to=<..>, orig_to=<..>, relay=.., ... */
static void
qmgr_log_result(const struct qmgr_job *j, size_t i, const char *mbox,
    const char *relay, const char *status, const char *text)
{
	char t[700], o[600];
	const char *orig = qmgr_orig(j, i);

	log_sanitize(t, sizeof(t), text, strlen(text));
	o[0] = '\0';
	if (strcmp(orig, mbox) != 0)
		str_fmt(o, sizeof(o), ", orig_to=<%s>", orig);
	log_info("%s: to=<%s>%s, relay=%s, delay=%.2f, status=%s (%s)",
	    j->qid, mbox, o, relay, qmgr_delay(j), status, t);
}

void
qmgr_job_diag(struct qmgr_job *j, size_t i, const char *text, const char *rmta)
{
	char *nd, *nr;
	size_t n;

	if (i >= j->ndiag) {
		n = j->q.nrcpt > i ? j->q.nrcpt : i + 1;
		j->diag = xreallocarray(j->diag, n, sizeof(*j->diag));
		j->rmta = xreallocarray(j->rmta, n, sizeof(*j->rmta));
		memset(j->diag + j->ndiag, 0, (n - j->ndiag) * sizeof(*j->diag));
		memset(j->rmta + j->ndiag, 0, (n - j->ndiag) * sizeof(*j->rmta));
		j->ndiag = n;
	}
	/* text or rmta may be the old values: copy before freeing. */
	nd = xstrdup(text);
	nr = rmta != NULL && *rmta != '\0' ? xstrdup(rmta) : NULL;
	free(j->diag[i]);
	free(j->rmta[i]);
	j->diag[i] = nd;
	j->rmta[i] = nr;
}

/* A temporary failure: the recipient stays pending; remember the text. */
void
qmgr_temp(struct qmgr_job *j, size_t i, const char *mbox, const char *relay,
    const char *text)
{
	char d[800];

	j->ntemp++;
	if (j->errors.len < 65536)
		strbuf_printf(&j->errors, "%s: %s\n", mbox, text);
	str_fmt(d, sizeof(d), "451 %s", text);
	qmgr_job_diag(j, i, d, strcmp(relay, "local") == 0 ? NULL : relay);
	qmgr_log_result(j, i, mbox, relay, "deferred", text);
}

/* A permanent failure decided here: record it, then log it. */
void
qmgr_perm(struct qmgr_job *j, size_t i, const char *mbox, const char *text)
{
	char d[800];

	if (qfile_mark(&j->q, i, QRCPT_FAILED) == -1 || qfile_sync(&j->q) == -1) {
		qmgr_temp(j, i, mbox, "none", "4.3.0 cannot record the result");
		return;
	}
	str_fmt(d, sizeof(d), "550 %s", text);
	qmgr_job_diag(j, i, d, NULL);
	qmgr_log_result(j, i, mbox, "none", "bounced", text);
}

/* deliver (not deliver-user, not smtp): its connections are kept (qmgr_agent.c). */
static int
qmgr_conn_keepable(const struct qmgr_conn *c)
{
	return c->agent == QMGR_AGENT_LOCAL && !c->sysuser;
}

/*
 * Build the request (common/agent.h) and hand it to the agent: deliver on
 * a kept connection when one is idle (qmgr_agent.c), unless fresh is
 * set, else on a new one. 0 or -1.
 */
static int
qmgr_request(struct qmgr_job *j, struct qmgr_conn *c, int fresh)
{
	struct agent_req req;
	size_t k;
	int fd = -1, rv = -1;

	agent_req_init(&req);
	req.fd = j->q.fd;
	str_copy(req.qid, j->qid, sizeof(req.qid));
	req.sender = j->q.sender;
	req.off = j->q.data_off;
	req.size = j->q.size;
	req.rcpt = xreallocarray(NULL, c->ndisp, sizeof(*req.rcpt));
	for (k = 0; k < c->ndisp; k++) {
		req.rcpt[k].idx = c->disp[k].idx;
		req.rcpt[k].addr = c->disp[k].mbox;
	}
	req.nrcpt = c->ndisp;
	c->reused = 0;
	c->rlen = 0;
	/* A kept one that fails the send was closed by deliver: a new one. */
	if (qmgr_conn_keepable(c) && !fresh && (fd = qmgr_agent_take()) != -1) {
		if (agent_req_send(fd, &req) == 0)
			c->reused = 1;
		else {
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1) {
		if ((fd = qmgr_agent_connect(c->sysuser ? QMGR_DELIVER_USER_SOCKET :
		    c->agent == QMGR_AGENT_LOCAL ? QMGR_DELIVER_SOCKET :
		    QMGR_SMTP_SOCKET)) == -1)
			goto out;
		/* deliver-user: the account's uid and gid first (common/agent.h) */
		if ((c->sysuser && agent_user_send(fd, c->sys_uid, c->sys_gid) == -1) ||
		    agent_req_send(fd, &req) == -1) {
			int e = errno;
			close(fd);
			errno = e;
			goto out;
		}
	}
	c->fd = fd;
	c->deadline = now_ms() + (c->agent == QMGR_AGENT_LOCAL ?
	    QMGR_JOB_TIMEOUT_MS : QMGR_SMTP_TIMEOUT_MS);
	rv = 0;
out:
	free(req.rcpt);	/* the rest is borrowed from j and c */
	return rv;
}

/* Every recipient of c that has no answer: temporary (why). */
static void
qmgr_conn_fail(struct qmgr_job *j, struct qmgr_conn *c, const char *why)
{
	size_t k;

	for (k = 0; k < c->ndisp; k++) {
		if (c->disp[k].answered)
			continue;
		c->disp[k].answered = 1;
		qmgr_temp(j, c->disp[k].idx, c->disp[k].mbox, c->relay, why);
	}
}

/*
 * Start every group that gets a slot (on resume: those that were waiting);
 * the others wait (no attempt counted).
 */
static void
qmgr_start_conns(struct qmgr_job *j, int resume)
{
	struct qmgr_conn *c;
	char t[256];
	size_t k;

	for (k = 0; k < j->nconn; k++) {
		c = &j->conn[k];
		if (resume && !c->waiting)
			continue;
		c->waiting = 0;
		if (qmgr_slot_get(c->agent, c->domain) == -1) {
			c->waiting = 1;
			for (size_t d = 0; d < c->ndisp; d++)
				c->disp[d].answered = 1;	/* stays pending */
			if (j->throttle[0] == '\0')
				str_copy(j->throttle, c->agent == QMGR_AGENT_LOCAL ?
				    QMGR_RES_LOCAL : c->domain, sizeof(j->throttle));
			continue;
		}
		if (qmgr_request(j, c, 0) == -1) {
			str_fmt(t, sizeof(t), "4.3.0 cannot reach the %s agent: %s",
			    c->agent == QMGR_AGENT_LOCAL ? "delivery" : "smtp",
			    strerror(errno));
			qmgr_slot_put(c->agent, c->domain);
			qmgr_conn_fail(j, c, t);
			continue;
		}
		j->nopen++;
	}
}

void
qmgr_job_resume(struct qmgr_job *j)
{
	struct qmgr_conn *c;
	size_t k, d;

	j->throttle[0] = '\0';
	for (k = 0; k < j->nconn; k++) {
		c = &j->conn[k];
		for (d = 0; c->waiting && d < c->ndisp; d++)
			c->disp[d].answered = 0;
	}
	qmgr_start_conns(j, 1);
	if (j->nopen == 0 && !qmgr_park(j))
		qmgr_job_finish(j);
}

/*
 * path holds another message's queue id. After a crash that can be an
 * old name of a file that was kept and written over for another message
 * (qfile_free.c), which has its own name too: then this name goes. With
 * one link it is no such name: -1, and the caller holds the file.
 */
static int
qmgr_stale_name(const char *path, const char *qid)
{
	struct stat st;

	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode) || st.st_nlink < 2)
		return -1;
	if (unlink(path) == -1) {
		log_err("%s: unlink %s: %s", qid, path, strerror(errno));
		return -1;
	}
	log_warn("%s: %s was an old name of a queue file reused for another "
	    "message: removed", qid, path);
	return 0;
}

int
qmgr_job_start(struct qmgr_job *j, const char *qid, int retake)
{
	char path[64], hold[64];

	memset(j, 0, sizeof(*j));
	j->retake = retake;
	str_copy(j->qid, qid, sizeof(j->qid));
	str_fmt(path, sizeof(path), "active/%s", qid);
	if (qfile_open(&j->q, path, 1) == -1) {
		int e = errno;

		/* e: qmgr_stale_name's lstat may change errno. */
		if (e == ESTALE && qmgr_stale_name(path, qid) == 0)
			return -1;
		if (e == EINVAL || e == ESTALE) {
			str_fmt(hold, sizeof(hold), "hold/%s", qid);
			log_err("%s: malformed queue file, moved to hold/", qid);
			if (rename(path, hold) == -1)
				log_err("%s: rename to hold/: %s", qid, strerror(errno));
		} else if (e != ENOENT)
			log_err("%s: open %s: %s", qid, path, strerror(e));
		return -1;
	}
	j->used = 1;
	strbuf_init(&j->errors, 128 * 1024);
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", qid,
	    j->q.sender, j->q.size, j->q.nrcpt);
	qmgr_plan(j);
	qmgr_start_conns(j, 0);
	if (j->nopen == 0 && !qmgr_park(j))
		qmgr_job_finish(j);
	return 0;
}

static struct qmgr_disp *
qmgr_find_disp(struct qmgr_conn *c, unsigned long long idx)
{
	size_t k;

	for (k = 0; k < c->ndisp; k++)
		if (c->disp[k].idx == idx && !c->disp[k].answered)
			return &c->disp[k];
	return NULL;
}

/* The host part of "host[ip]:port" for Remote-MTA. */
static void
qmgr_rmta(const struct qmgr_conn *c, char *out, size_t len)
{
	const char *b = strchr(c->relay, '[');

	out[0] = '\0';
	if (c->agent != QMGR_AGENT_SMTP || strcmp(c->relay, "none") == 0)
		return;
	str_copy(out, c->relay, b != NULL && (size_t)(b - c->relay) < len ?
	    (size_t)(b - c->relay) + 1 : len);
}

/* One status line from an agent: "IDX CODE X.Y.Z text". Durable first. */
static int
qmgr_reply(struct qmgr_job *j, struct qmgr_conn *c, char *line)
{
	unsigned long long idx;
	struct qmgr_disp *d;
	char *sp, *text, rmta[300];

	if (strncmp(line, "relay ", 6) == 0 && c->agent == QMGR_AGENT_SMTP) {
		log_sanitize(c->relay, sizeof(c->relay), line + 6, strlen(line + 6));
		return 0;
	}
	if (strcmp(line, "dsn passed") == 0 && c->agent == QMGR_AGENT_SMTP) {
		c->dsn_passed = 1;	/* the next hop reports NOTIFY=SUCCESS itself */
		return 0;
	}
	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp = '\0';
	text = sp + 1;
	if (parse_ullong(line, 0, j->q.nrcpt, &idx) == -1 ||
	    (d = qmgr_find_disp(c, idx)) == NULL || strlen(text) < 4 ||
	    (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[3] != ' ')
		return -1;
	d->answered = 1;
	if (text[0] == '4') {
		qmgr_temp(j, d->idx, d->mbox, c->relay, text + 4);
		return 0;
	}
	/*
	 * A success is marked in place and synced lazily (qmgr_job_sync):
	 * before any further attempt, bounce or move, never later. A message
	 * whose recipients are all done is unlinked without one: a crash
	 * before the unlink reaches the disk delivers it again, which the
	 * durability contract allows, and saves a sync per message. A failure
	 * is synced at once: a bounce depends on it.
	 */
	if (qfile_mark(&j->q, d->idx, text[0] == '2' ?
	    qmgr_dsn_success_status(j, c, d->idx) : QRCPT_FAILED) == -1 ||
	    (text[0] == '2' ? (j->dirty = 1, 0) : qfile_sync(&j->q)) == -1) {
		/* Not recorded: it may be delivered again later (a duplicate). */
		log_err("%s: cannot record a result: %s", j->qid, strerror(errno));
		qmgr_temp(j, d->idx, d->mbox, c->relay, "4.3.0 cannot record the result");
		return 0;
	}
	qmgr_rmta(c, rmta, sizeof(rmta));
	qmgr_job_diag(j, d->idx, text, rmta);	/* for the bounce or success notice */
	text += 4;
	if (text[0] == '2' && (sp = strchr(text, ' ')) != NULL)
		text = sp + 1;	/* "sent (delivered to maildir)", as Postfix logs */
	qmgr_log_result(j, d->idx, d->mbox, c->relay,
	    j->q.rcpt[d->idx].status != QRCPT_FAILED ? "sent" : "bounced", text);
	return 0;
}

/*
 * The connection is done: free its slot (a deliver connection whose
 * statuses all came back is kept for the next request when keep is
 * set); 1 if the job is over too.
 */
static int
qmgr_conn_end(struct qmgr_job *j, struct qmgr_conn *c, int keep)
{
	if (c->fd != -1) {
		if (keep && qmgr_conn_keepable(c))
			qmgr_agent_keep(c->fd);
		else
			close(c->fd);
		c->fd = -1;
		qmgr_slot_put(c->agent, c->domain);
		j->nopen--;
	}
	if (j->nopen > 0)
		return 0;
	qmgr_job_finish(j);
	return 1;
}

static int
qmgr_conn_done(struct qmgr_job *j, struct qmgr_conn *c)
{
	return qmgr_conn_end(j, c, 0);
}

int
qmgr_conn_abort(struct qmgr_job *j, struct qmgr_conn *c, const char *why)
{
	qmgr_conn_fail(j, c, why);
	return qmgr_conn_done(j, c);
}

static int
qmgr_conn_all_answered(const struct qmgr_conn *c)
{
	size_t k;

	for (k = 0; k < c->ndisp; k++)
		if (!c->disp[k].answered)
			return 0;
	return 1;
}

int
qmgr_conn_input(struct qmgr_job *j, struct qmgr_conn *c)
{
	char *nl;
	ssize_t n;
	size_t used;

	/* MSG_DONTWAIT: the socket stays blocking (no fcntl per message). */
	n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0 && qmgr_conn_all_answered(c) && c->rlen == 0)
		return qmgr_conn_done(j, c);
	if (n <= 0 && c->reused) {
		/* Closed before any reply byte: deliver had retired it. Again, new. */
		int old = c->fd;

		if (qmgr_request(j, c, 1) == 0) {
			close(old);
			return 0;
		}
		return qmgr_conn_abort(j, c, "4.3.0 cannot reach the delivery agent");
	}
	if (n <= 0)
		return qmgr_conn_abort(j, c, "4.3.0 the delivery agent ended early");
	c->reused = 0;
	c->rlen += (size_t)n;
	c->deadline = now_ms() + (c->agent == QMGR_AGENT_LOCAL ?
	    QMGR_JOB_TIMEOUT_MS : QMGR_SMTP_TIMEOUT_MS);
	while ((nl = memchr(c->rbuf, '\n', c->rlen)) != NULL) {
		*nl = '\0';
		if (qmgr_reply(j, c, c->rbuf) == -1)
			return qmgr_conn_abort(j, c, "4.3.0 bad reply from the delivery agent");
		used = (size_t)(nl - c->rbuf) + 1;
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
	}
	if (c->rlen >= sizeof(c->rbuf) - 1)
		return qmgr_conn_abort(j, c, "4.3.0 bad reply from the delivery agent");
	if (!qmgr_conn_all_answered(c))
		return 0;
	/*
	 * The smtp agent still ends its remote session (QUIT) after the last
	 * status: its destination slot stays taken until it closes, or a
	 * destination limited to N connections would briefly see N+1.
	 */
	if (c->agent == QMGR_AGENT_SMTP)
		return 0;
	return qmgr_conn_end(j, c, c->rlen == 0);
}

void
qmgr_job_abort(struct qmgr_job *j, const char *why)
{
	size_t k;

	for (k = 0; k < j->nconn && j->used; k++)
		if (j->conn[k].fd != -1)
			qmgr_conn_abort(j, &j->conn[k], why);
}

static void
qmgr_job_free(struct qmgr_job *j)
{
	size_t k, d;

	for (k = 0; k < j->nconn; k++) {
		for (d = 0; d < j->conn[k].ndisp; d++)
			free(j->conn[k].disp[d].mbox);
		free(j->conn[k].disp);
	}
	free(j->conn);
	for (k = 0; k < j->ndiag; k++) {
		free(j->diag[k]);
		free(j->rmta[k]);
	}
	free(j->diag);
	free(j->rmta);
	j->conn = NULL;
	j->diag = j->rmta = NULL;
	j->nconn = j->ndiag = 0;
	strbuf_free(&j->errors);
	qfile_close(&j->q);
	j->used = 0;
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

/* active/ID to dir/ID (deferred, hold). */
static void
qmgr_move(struct qmgr_job *j, const char *dir)
{
	char src[64], dst[64];

	str_fmt(src, sizeof(src), "active/%s", j->qid);
	str_fmt(dst, sizeof(dst), "%s/%s", dir, j->qid);
	if (rename(src, dst) == -1)
		log_err("%s: rename to %s/: %s", j->qid, dir, strerror(errno));
}

static void
qmgr_defer(struct qmgr_job *j, int count_attempt)
{
	unsigned att = j->q.attempts + (count_attempt ? 1 : 0);
	long long d = count_attempt ? qmgr_backoff(att) : 0;

	if (qfile_set_retry(&j->q, att, time(NULL) + d) == -1 ||
	    qfile_sync(&j->q) == -1)
		log_err("%s: cannot record the retry time: %s", j->qid,
		    strerror(errno));
	if (count_attempt)
		qmgr_write_defer(j);
	qmgr_note_retry(time(NULL) + d);
	qmgr_move(j, "deferred");
	if (count_attempt)
		log_info("%s: deferred, attempt %u, next attempt in %llds", j->qid,
		    att, d);
}

/* Past queue_lifetime: every pending recipient fails (4.4.7). */
static void
qmgr_expire(struct qmgr_job *j)
{
	char t[900];
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
		if (j->q.rcpt[i].status != QRCPT_FAILED ||
		    (i < j->ndiag && j->diag[i] != NULL && j->diag[i][0] == '5'))
			continue;
		str_fmt(t, sizeof(t), "4.4.7 message expired after %llds in the "
		    "queue; last error: %s", (long long)(time(NULL) - j->q.arrival),
		    i < j->ndiag && j->diag[i] != NULL ? j->diag[i] + 4 : "none");
		qmgr_log_result(j, i, j->q.rcpt[i].addr, "none", "bounced", t);
		str_fmt(t, sizeof(t), "550 4.4.7 message expired after %llds in the "
		    "queue; last error: %s", (long long)(time(NULL) - j->q.arrival),
		    i < j->ndiag && j->diag[i] != NULL ? j->diag[i] + 4 : "none");
		qmgr_job_diag(j, i, t, i < j->ndiag ? j->rmta[i] : NULL);
	}
}

static void
qmgr_remove(struct qmgr_job *j)
{
	char path[64];
	off_t size;

	/*
	 * defer/ID exists only after a counted attempt, whose count is on
	 * disk before the file is written (qmgr_defer): a message delivered
	 * at its first attempt has none to remove.
	 */
	if (j->q.attempts > 0) {
		str_fmt(path, sizeof(path), "defer/%s", j->qid);
		unlink(path);
	}
	str_fmt(path, sizeof(path), "active/%s", j->qid);
	size = j->q.data_off + (off_t)j->q.size;
	if (j->q.trailer_end > size)
		size = j->q.trailer_end;
	if (j->q.fd != -1) {	/* closed before a writer may have the file */
		close(j->q.fd);
		j->q.fd = -1;
	}
	/* Kept for a later message to write over, or unlinked (qfile_free.c). */
	if (qfile_recycle(path, j->qid, size) == -1)
		log_err("%s: unlink %s: %s", j->qid, path, strerror(errno));
	else
		log_info("%s: removed", j->qid);
}

/* Make the lazily recorded successes durable (see qmgr_reply). */
static void
qmgr_job_sync(struct qmgr_job *j)
{
	if (j->dirty && qfile_sync(&j->q) == -1)
		log_err("%s: cannot record results: %s", j->qid, strerror(errno));
	j->dirty = 0;
}

/* What the admin asked for while the message was being delivered. */
static int
qmgr_admin_finish(struct qmgr_job *j)
{
	if (j->admin == QMGR_ADMIN_DELETE) {
		log_info("%s: deleted by the administrator", j->qid);
		qmgr_remove(j);
	} else if (j->admin == QMGR_ADMIN_HOLD) {
		qmgr_job_sync(j);
		log_info("%s: put on hold by the administrator", j->qid);
		qmgr_move(j, "hold");
	} else
		return 0;
	return 1;
}

static void
qmgr_job_finish(struct qmgr_job *j)
{
	size_t i, pending = 0, failed = 0;

	for (i = 0; i < j->q.nrcpt; i++) {
		pending += j->q.rcpt[i].status == QRCPT_PENDING;
		failed += j->q.rcpt[i].status == QRCPT_FAILED;
	}
	if (qmgr_admin_finish(j))
		goto out;
	if (qmgr_dsn_success(j) == -1) {
		/* Not committed: keep the S/R marks and try again later. */
		qmgr_defer(j, 1);
		goto out;
	}
	if (pending > 0 && j->ntemp == 0 && j->throttle[0] != '\0') {
		/* Only waiting for a slot: stay in active/, no attempt counted. */
		qmgr_job_sync(j);
		if (failed > 0)
			qmgr_bounce(j);
		qmgr_wait_slot(j->qid, j->throttle, j->retake);
		goto out;
	}
	if (pending > 0 &&
	    time(NULL) - j->q.arrival >= (time_t)qmgr_conf.queue_lifetime) {
		qmgr_expire(j);
		failed += pending;
		pending = 0;
	}
	if (failed > 0 && qmgr_bounce(j) == -1) {
		/* Not committed: keep the F marks and try again later. */
		qmgr_defer(j, 1);
		goto out;
	}
	if (pending > 0) {
		qmgr_dsn_delay(j);
		qmgr_defer(j, 1);
	} else
		qmgr_remove(j);
out:
	qmgr_job_free(j);
}
