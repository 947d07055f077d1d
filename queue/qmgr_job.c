/*
 * qmgr_job: one message in active/. Runs in qmgr (as mail_owner). Expands
 * aliases (recording the expansion in the queue file as xrcpt records),
 * routes each final address: a local one (a real user or alias: asked of
 * lookupd, so an alias target that is nobody fails with 5.1.1 instead of
 * creating a Maildir) to deliver over private/deliver, any other to the
 * smtp client over private/smtp, one connection per destination domain
 * (at most QMGR_SMTP_BATCH recipients each). Both agents get the open
 * queue file (SCM_RIGHTS) and the same request, and answer one status
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
#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "lookup.h"
#include "postmaster.h"
#include "qmgr.h"
#include "util.h"

#define QMGR_LOOKUP_MS	5000

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
static void
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
static void
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

static struct qmgr_conn *
qmgr_conn_new(struct qmgr_job *j, enum qmgr_agent a, const char *domain)
{
	struct qmgr_conn *c;

	j->conn = xreallocarray(j->conn, j->nconn + 1, sizeof(*j->conn));
	c = &j->conn[j->nconn++];
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->agent = a;
	str_copy(c->domain, domain, sizeof(c->domain));
	str_copy(c->relay, a == QMGR_AGENT_LOCAL ? "local" : "none", sizeof(c->relay));
	return c;
}

/* Add recipient i to the open group for (agent, domain). */
static void
qmgr_group_add(struct qmgr_job *j, enum qmgr_agent a, const char *domain,
    size_t i, const char *mbox)
{
	struct qmgr_conn *c = NULL;
	size_t k;

	for (k = j->nconn; k > 0; k--) {
		c = &j->conn[k - 1];
		if (c->agent == a && strcmp(c->domain, domain) == 0)
			break;
		c = NULL;
	}
	/* deliver takes at most AGENT_MAX_RCPT per request (alias expansions can be more). */
	if (c == NULL || (a == QMGR_AGENT_SMTP && c->ndisp >= QMGR_SMTP_BATCH) ||
	    (a == QMGR_AGENT_LOCAL && c->ndisp >= AGENT_MAX_RCPT))
		c = qmgr_conn_new(j, a, domain);
	c->disp = xreallocarray(c->disp, c->ndisp + 1, sizeof(*c->disp));
	c->disp[c->ndisp].idx = i;
	c->disp[c->ndisp].mbox = xstrdup(mbox);
	c->disp[c->ndisp].answered = 0;
	c->ndisp++;
}

/*
 * Was recipient i checked with lookupd already? smtpd and submitd ask it
 * at RCPT time (an unknown user gets 550 there), so an original
 * recipient of mail they queued needs no second round trip here. Alias
 * targets, and mail from pickup or from qmgr itself (bounces), are
 * checked here.
 */
static int
qmgr_checked_at_rcpt(const struct qmgr_job *j, size_t i)
{
	const char *proto = j->q.protocol;

	return j->q.rcpt[i].parent == QRCPT_NOPARENT && proto != NULL &&
	    strstr(proto, "SMTP") != NULL;
}

/*
 * RFC 5321 4.5.1: postmaster@ a local domain without an alias or a user of
 * that name goes to postmaster_address or the first user
 * (common/postmaster.h). The address to expand for addr, or NULL when it
 * reaches no mailbox (deferred: `postern check` warns about it).
 */
static const char *
qmgr_postmaster(struct qmgr_job *j, size_t i, const char *addr, char *pm,
    size_t pmlen)
{
	switch (postmaster_target(&qmgr_conf, qmgr_aliases, addr, pm, pmlen)) {
	case 0:
		return addr;
	case 1:
		return pm;
	default:
		qmgr_temp(j, i, addr, "none", "4.3.0 postmaster reaches no mailbox "
		    "(no alias, no user, postmaster_address unset)");
		return NULL;
	}
}

/*
 * Route one final address: local -> deliver (if it exists), else smtp.
 * An alias target that is a bare postmaster@ a local domain goes where
 * qmgr_postmaster sends it (without a second alias expansion).
 */
static void
qmgr_route(struct qmgr_job *j, size_t i, const char *mbox)
{
	const char *at;
	char dom[256], t[700], pm[512];

	if (j->q.rcpt[i].parent != QRCPT_NOPARENT &&
	    (mbox = qmgr_postmaster(j, i, mbox, pm, sizeof(pm))) == NULL)
		return;
	at = strrchr(mbox, '@');
	if (at == NULL || at[1] == '\0' || str_copy(dom, at + 1, sizeof(dom)) == -1) {
		qmgr_perm(j, i, mbox, "5.1.3 bad recipient address syntax");
		return;
	}
	str_lower(dom);
	if (!conf_is_local_domain(&qmgr_conf, dom)) {
		qmgr_group_add(j, QMGR_AGENT_SMTP, dom, i, mbox);
		return;
	}
	if (qmgr_checked_at_rcpt(j, i)) {
		qmgr_group_add(j, QMGR_AGENT_LOCAL, "", i, mbox);
		return;
	}
	switch (lookup_rcpt(LOOKUP_SOCKET, mbox, QMGR_LOOKUP_MS)) {
	case LOOKUP_OK:
		qmgr_group_add(j, QMGR_AGENT_LOCAL, "", i, mbox);
		break;
	case LOOKUP_NOUSER:
	case LOOKUP_NOTLOCAL:
		str_fmt(t, sizeof(t), "5.1.1 <%s>: no such user here", mbox);
		qmgr_perm(j, i, mbox, t);
		break;
	default:
		qmgr_temp(j, i, mbox, "none", "4.3.0 recipient lookup failed (lookupd)");
		break;
	}
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
	char err[256], pm[512];
	const char *addr = j->q.rcpt[i].addr, *what;
	size_t k;

	if (qmgr_has_children(j, i))
		goto mark;
	if ((what = qmgr_postmaster(j, i, addr, pm, sizeof(pm))) == NULL)
		return;
	if (aliases_expand(qmgr_aliases, what, qmgr_is_local, NULL, &l, err,
	    sizeof(err)) == -1) {
		char t[300];
		str_fmt(t, sizeof(t), "4.3.5 alias expansion failed: %s", err);
		qmgr_temp(j, i, addr, "none", t);
		return;
	}
	if (what == addr && l.n == 1 && str_ieq(l.addr[0], addr)) {
		qmgr_route(j, i, l.addr[0]);	/* not an alias */
		alias_list_free(&l);
		return;
	}
	for (k = 0; k < l.n; k++)
		if (qfile_add_rcpt(&j->q, i, l.addr[k]) == -1)
			break;
	alias_list_free(&l);
	if (k < l.n || qfile_sync(&j->q) == -1) {
		qmgr_temp(j, i, addr, "none", "4.3.0 cannot record the alias expansion");
		return;
	}
mark:
	if (qfile_mark(&j->q, i, QRCPT_EXPANDED) == -1 || qfile_sync(&j->q) == -1)
		qmgr_temp(j, i, addr, "none", "4.3.0 cannot record the alias expansion");
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
qmgr_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
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

/* Build the request (common/agent.h) and hand it to the agent. 0 or -1. */
static int
qmgr_request(struct qmgr_job *j, struct qmgr_conn *c)
{
	struct agent_req req;
	size_t k;
	int fd, rv = -1;

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
	if ((fd = qmgr_connect(c->agent == QMGR_AGENT_LOCAL ? QMGR_DELIVER_SOCKET :
	    QMGR_SMTP_SOCKET)) == -1)
		goto out;
	if (agent_req_send(fd, &req) == -1 || fd_set_nonblock(fd, 1) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		goto out;
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

/* Start every group that gets a slot; the others wait (no attempt counted). */
static void
qmgr_start_conns(struct qmgr_job *j)
{
	struct qmgr_conn *c;
	char t[256];
	size_t k;

	for (k = 0; k < j->nconn; k++) {
		c = &j->conn[k];
		if (qmgr_slot_get(c->agent, c->domain) == -1) {
			for (size_t d = 0; d < c->ndisp; d++)
				c->disp[d].answered = 1;	/* stays pending */
			if (j->throttle[0] == '\0')
				str_copy(j->throttle, c->agent == QMGR_AGENT_LOCAL ?
				    QMGR_RES_LOCAL : c->domain, sizeof(j->throttle));
			continue;
		}
		if (qmgr_request(j, c) == -1) {
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

int
qmgr_job_start(struct qmgr_job *j, const char *qid, int retake)
{
	char path[64], hold[64];

	memset(j, 0, sizeof(*j));
	j->retake = retake;
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
	j->used = 1;
	strbuf_init(&j->errors, 128 * 1024);
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", qid,
	    j->q.sender, j->q.size, j->q.nrcpt);
	qmgr_plan(j);
	qmgr_start_conns(j);
	if (j->nopen == 0)
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
	if (qfile_mark(&j->q, d->idx, text[0] == '2' ? QRCPT_DONE : QRCPT_FAILED) == -1 ||
	    (text[0] == '2' ? (j->dirty = 1, 0) : qfile_sync(&j->q)) == -1) {
		/* Not recorded: it may be delivered again later (a duplicate). */
		log_err("%s: cannot record a result: %s", j->qid, strerror(errno));
		qmgr_temp(j, d->idx, d->mbox, c->relay, "4.3.0 cannot record the result");
		return 0;
	}
	qmgr_rmta(c, rmta, sizeof(rmta));
	if (text[0] == '5')
		qmgr_job_diag(j, d->idx, text, rmta);
	text += 4;
	if (text[0] == '2' && (sp = strchr(text, ' ')) != NULL)
		text = sp + 1;	/* "sent (delivered to maildir)", as Postfix logs */
	qmgr_log_result(j, d->idx, d->mbox, c->relay,
	    j->q.rcpt[d->idx].status == QRCPT_DONE ? "sent" : "bounced", text);
	return 0;
}

/* The connection is done: free its slot; 1 if the job is over too. */
static int
qmgr_conn_done(struct qmgr_job *j, struct qmgr_conn *c)
{
	if (c->fd != -1) {
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

	n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0 && qmgr_conn_all_answered(c) && c->rlen == 0)
		return qmgr_conn_done(j, c);
	if (n <= 0)
		return qmgr_conn_abort(j, c, "4.3.0 the delivery agent ended early");
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
	return qmgr_conn_done(j, c);
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

	str_fmt(path, sizeof(path), "defer/%s", j->qid);
	unlink(path);
	str_fmt(path, sizeof(path), "active/%s", j->qid);
	if (unlink(path) == -1)
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
	if (pending > 0)
		qmgr_defer(j, 1);
	else
		qmgr_remove(j);
out:
	qmgr_job_free(j);
}
