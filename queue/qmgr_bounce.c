/*
 * qmgr_bounce: delivery status notifications (RFC 3464, RFC 3461,
 * RFC 6522). Runs in qmgr (as mail_owner, cwd the queue directory).
 * The failed (F) recipients of a message are reported to its sender in
 * a new queue file from the null sender, written with the qfile writer
 * (tmp/, fsync, rename into incoming/, fsync incoming/). Only after that
 * commit are the recipients marked B (and synced): a crash in between
 * sends the bounce twice at worst, never zero times.
 *
 * No bounce goes to the null sender (DESIGN.md). A bounce we wrote that
 * cannot be delivered is reported once to the postmaster (a double
 * bounce, also from the null sender); a failed double bounce is dropped.
 * NOTIFY (RFC 3461 4.1) without FAILURE suppresses a recipient's report;
 * RET=FULL returns the whole message, otherwise only its header.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "util.h"

#define QB_HDR_MAX	(1024 * 1024)	/* original header returned at most */
#define QB_CHUNK	65536
#define QB_PROTO	"bounce"
#define QB_PROTO2	"double-bounce"

static void
qb_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		str_copy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", len);
}

/* The recipient whose envelope data (NOTIFY, ORCPT) applies to i. */
static const struct qfile_rcpt *
qb_orig(const struct qmgr_job *j, size_t i)
{
	size_t p = j->q.rcpt[i].parent;

	return p == QRCPT_NOPARENT ? &j->q.rcpt[i] : &j->q.rcpt[p];
}

/* RFC 3461 4.1: with NOTIFY present, only FAILURE asks for a report. */
static int
qb_wanted(const struct qmgr_job *j, size_t i)
{
	const char *n = qb_orig(j, i)->notify;

	return n == NULL || strcasestr(n, "FAILURE") != NULL;
}

/* Split a diagnostic "CODE X.Y.Z rest" into status and rest. */
static void
qb_split(const char *diag, char *status, size_t slen, const char **rest)
{
	const char *p, *sp;

	str_copy(status, "5.0.0", slen);
	*rest = "delivery failed";
	if (diag == NULL || strlen(diag) < 5)
		return;
	p = diag + 4;
	sp = strchr(p, ' ');
	if (sp != NULL && (size_t)(sp - p) < slen && (size_t)(sp - p) >= 5 &&
	    strspn(p, "0123456789.") == (size_t)(sp - p)) {
		memcpy(status, p, (size_t)(sp - p));
		status[sp - p] = '\0';
		*rest = sp + 1;
	} else
		*rest = p;
}

static int
qb_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	    s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-');
}

/* text, cleaned of control characters and cut for a 998-octet line. */
static void
qb_clean(char *out, size_t len, const char *text)
{
	log_sanitize(out, len < 800 ? len : 800, text, strlen(text));
}

static void
qb_human(struct strbuf *b, const struct qmgr_job *j, const size_t *idx, size_t n)
{
	char status[16], t[900];
	const char *rest;
	size_t k;

	strbuf_printf(b, "This is the mail system at host %s.\n\n"
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients. It's attached below.\n\n"
	    "For further assistance, please send mail to postmaster.\n\n",
	    qmgr_conf.hostname);
	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		qb_split(i < j->ndiag ? j->diag[i] : NULL, status, sizeof(status), &rest);
		qb_clean(t, sizeof(t), rest);
		strbuf_printf(b, "<%s>", j->q.rcpt[i].addr);
		if (qb_orig(j, i) != &j->q.rcpt[i])
			strbuf_printf(b, " (expanded from <%s>)", qb_orig(j, i)->addr);
		strbuf_printf(b, ": %s\n\n", t);
	}
}

/* The message/delivery-status part (RFC 3464 2.2, 2.3). */
static void
qb_status(struct strbuf *b, const struct qmgr_job *j, const size_t *idx, size_t n)
{
	char date[64], status[16], t[900];
	const char *rest, *orcpt;
	size_t k;

	qb_date(j->q.arrival, date, sizeof(date));
	strbuf_printf(b, "Reporting-MTA: dns; %s\nX-Postern-Queue-ID: %s\n",
	    qmgr_conf.hostname, j->qid);
	if (j->q.envid != NULL)
		strbuf_printf(b, "Original-Envelope-Id: %s\n", j->q.envid);
	strbuf_printf(b, "Arrival-Date: %s\n", date);
	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		qb_split(i < j->ndiag ? j->diag[i] : NULL, status, sizeof(status), &rest);
		qb_clean(t, sizeof(t), rest);
		strbuf_printf(b, "\nFinal-Recipient: rfc822; %s\n", j->q.rcpt[i].addr);
		orcpt = qb_orig(j, i)->orcpt;
		if (orcpt != NULL && strchr(orcpt, ';') != NULL)
			strbuf_printf(b, "Original-Recipient: %s\n", orcpt);
		strbuf_printf(b, "Action: failed\nStatus: %s\n", status);
		if (i < j->ndiag && j->rmta[i] != NULL)
			strbuf_printf(b, "Remote-MTA: dns; %s\n", j->rmta[i]);
		strbuf_printf(b, "Diagnostic-Code: %s; %s\n",
		    qb_is_reply(t) ? "smtp" : "X-Postern", t);
	}
}

/* Copy n content bytes from offset off of the queue file into w. */
static int
qb_copy(struct qfile_writer *w, const struct qmgr_job *j, unsigned long long n)
{
	char *buf = xmalloc(QB_CHUNK);
	off_t off = j->q.data_off;
	ssize_t r;
	int rv = 0;

	while (n > 0 && rv == 0) {
		r = pread(j->q.fd, buf, n < QB_CHUNK ? (size_t)n : QB_CHUNK, off);
		if (r <= 0 || qfile_write(w, buf, (size_t)r) == -1)
			rv = -1;
		else {
			n -= (unsigned long long)r;
			off += r;
		}
	}
	free(buf);
	return rv;
}

/* Bytes of the original header (up to and with the empty line). */
static unsigned long long
qb_header_len(const struct qmgr_job *j)
{
	unsigned long long max = j->q.size < QB_HDR_MAX ? j->q.size : QB_HDR_MAX;
	char *buf = xmalloc((size_t)max + 1);
	ssize_t r = pread(j->q.fd, buf, (size_t)max, j->q.data_off);
	unsigned long long n = 0;
	char *p;

	if (r > 0) {
		buf[r] = '\0';
		if (buf[0] == '\n')
			n = 1;
		else if ((p = memmem(buf, (size_t)r, "\n\n", 2)) != NULL)
			n = (unsigned long long)(p - buf) + 2;
		else
			n = (unsigned long long)r;
	}
	free(buf);
	return n;
}

/* Write the whole report into w. 0 or -1. */
static int
qb_write(struct qfile_writer *w, const struct qmgr_job *j, const char *to,
    const size_t *idx, size_t n)
{
	struct strbuf b;
	char date[64], bnd[128];
	int full = j->q.ret != NULL && str_ieq(j->q.ret, "FULL");
	int rv = -1;

	qb_date(time(NULL), date, sizeof(date));
	str_fmt(bnd, sizeof(bnd), "%s.%lld/%s", j->qid, (long long)time(NULL),
	    qmgr_conf.hostname);
	strbuf_init(&b, 4 * 1024 * 1024);
	strbuf_printf(&b, "From: MAILER-DAEMON@%s (Mail Delivery System)\n"
	    "To: <%s>\nSubject: Undelivered Mail Returned to Sender\nDate: %s\n"
	    "Message-ID: <%s.bounce@%s>\nAuto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n\n"
	    "This is a MIME-encapsulated message.\n\n--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", qmgr_conf.hostname,
	    to, date, j->qid, qmgr_conf.hostname, bnd, bnd);
	qb_human(&b, j, idx, n);
	strbuf_printf(&b, "--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", bnd);
	qb_status(&b, j, idx, n);
	if (strbuf_printf(&b, "\n--%s\nContent-Description: %s\nContent-Type: %s\n\n",
	    bnd, full ? "Undelivered Message" : "Undelivered Message Headers",
	    full ? "message/rfc822" : "text/rfc822-headers") == -1)
		goto out;
	if (qfile_write(w, b.data, b.len) == -1 ||
	    qb_copy(w, j, full ? j->q.size : qb_header_len(j)) == -1)
		goto out;
	strbuf_reset(&b);
	strbuf_printf(&b, "\n--%s--\n", bnd);
	rv = qfile_write(w, b.data, b.len);
out:
	strbuf_free(&b);
	return rv;
}

/* Queue one report to `to` from the null sender. 0 or -1. */
static int
qb_queue(const struct qmgr_job *j, const char *to, const char *proto,
    const size_t *idx, size_t n)
{
	struct qfile_writer w;

	if (qfile_create(&w) == -1)
		return -1;
	if (qfile_put_attr(&w, "protocol", proto) == -1 ||
	    qfile_put_sender(&w, "") == -1 || qfile_put_rcpt(&w, to, NULL, NULL) == -1 ||
	    qfile_begin_data(&w) == -1 || qb_write(&w, j, to, idx, n) == -1) {
		qfile_abort(&w);
		return -1;
	}
	if (qfile_commit(&w) == -1)
		return -1;
	log_info("%s: sender non-delivery notification: %s (to <%s>)", j->qid,
	    w.qid, to);
	return 0;
}

static void
qb_postmaster(char *out, size_t len)
{
	const char *p = qmgr_conf.local_domains;
	size_t n;

	while (*p == ',' || *p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, ", \t");
	if (n == 0 || str_fmt(out, len, "postmaster@%.*s", (int)n, p) == -1)
		str_fmt(out, len, "postmaster@%s", qmgr_conf.hostname);
}

int
qmgr_bounce(struct qmgr_job *j)
{
	size_t *idx = xcalloc(j->q.nrcpt + 1, sizeof(*idx));
	size_t i, n = 0, nf = 0;
	char to[QFILE_ADDR_MAX + 16];
	const char *proto = j->q.protocol != NULL ? j->q.protocol : "";
	int rv = 0;

	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_FAILED)
			continue;
		nf++;
		if (qb_wanted(j, i))
			idx[n++] = i;
	}
	if (j->q.sender[0] != '\0' && n > 0) {
		rv = qb_queue(j, j->q.sender, QB_PROTO, idx, n);
	} else if (j->q.sender[0] == '\0' && strcmp(proto, QB_PROTO) == 0 && n > 0) {
		qb_postmaster(to, sizeof(to));
		rv = qb_queue(j, to, QB_PROTO2, idx, n);
	} else if (nf > 0) {
		log_info("%s: no notification for %zu failed recipient(s)%s", j->qid,
		    nf, j->q.sender[0] == '\0' ? " (null sender: dropped)" :
		    " (NOTIFY)");
	}
	free(idx);
	if (rv == -1) {
		log_err("%s: cannot queue the bounce: %s", j->qid, strerror(errno));
		return -1;
	}
	/* The report is committed: only now are the recipients done. */
	for (i = 0; i < j->q.nrcpt; i++)
		if (j->q.rcpt[i].status == QRCPT_FAILED &&
		    qfile_mark(&j->q, i, QRCPT_BOUNCED) == -1)
			rv = -1;
	if (rv == -1 || qfile_sync(&j->q) == -1) {
		log_err("%s: cannot record the bounce: %s", j->qid, strerror(errno));
		return -1;
	}
	return 0;
}
