/*
 * qmgr_bounce: delivery status notifications (RFC 3464, RFC 3461,
 * RFC 6522). Runs in qmgr (as mail_owner, cwd the queue directory).
 * qmgr_dsn_queue() writes one multipart/report (report-type=
 * delivery-status) about some recipients of a message: failed ones
 * (qmgr_bounce below), delayed ones or delivered and relayed ones
 * (qmgr_dsn.c). It goes to its recipient in a new queue file from the
 * null sender, written with the qfile writer (tmp/, fsync, rename into
 * incoming/, fsync incoming/). Only after that commit are the reported
 * recipients marked (and synced): a crash in between sends the notice
 * twice at worst, never zero times.
 *
 * No notice goes to the null sender (DESIGN.md, RFC 3461 5.2). A notice
 * we wrote that cannot be delivered is reported once to the postmaster
 * (a double bounce, also from the null sender); a failed double bounce
 * is dropped. NOTIFY (RFC 3461 4.1) without FAILURE suppresses a
 * recipient's failure report; RET=FULL returns the whole message in a
 * failure report, otherwise only its header (RFC 3461 4.3, 6.2).
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
#include "qmgr_dsn.h"
#include "util.h"

#define QB_HDR_MAX	(1024 * 1024)	/* original header returned at most */
#define QB_CHUNK	65536
#define QB_PROTO	"bounce"
#define QB_PROTO2	"double-bounce"

/* The recipient whose envelope data (NOTIFY, ORCPT) applies to i. */
static const struct qfile_rcpt *
qb_orig(const struct qmgr_job *j, size_t i)
{
	size_t p = j->q.rcpt[i].parent;

	return p == QRCPT_NOPARENT ? &j->q.rcpt[i] : &j->q.rcpt[p];
}

static const char *
qb_diag(const struct qmgr_job *j, size_t i)
{
	return i < j->ndiag ? j->diag[i] : NULL;
}

/* What the report says about each kind. */
struct qb_kind {
	const char *subject, *intro, *part3, *part3full, *tag;
};

static const struct qb_kind *
qb_kind(enum dsn_action a)
{
	static const struct qb_kind failed = {
		"Undelivered Mail Returned to Sender",
		"I'm sorry to have to inform you that your message could not\n"
		"be delivered to one or more recipients. It's attached below.\n",
		"Undelivered Message Headers", "Undelivered Message", "bounce"
	}, delayed = {
		"Delayed Mail (still being retried)", NULL,	/* qb_human */
		"Undelivered Message Headers", "Undelivered Message", "delay"
	}, success = {
		"Successful Mail Delivery Report",
		"Your message was successfully delivered to the destination(s)\n"
		"listed below. If the message was delivered to a mailbox you will\n"
		"receive no further notifications. Otherwise you may still receive\n"
		"notifications of mail delivery errors from other systems.\n",
		"Delivered Message Headers", "Delivered Message", "success"
	};

	return a == DSN_FAILED ? &failed : a == DSN_DELAYED ? &delayed : &success;
}

/* The text/plain part: what happened, one paragraph per recipient. */
static void
qb_human(struct strbuf *b, const struct qmgr_job *j, const size_t *idx,
    const enum dsn_action *act, size_t n)
{
	char status[16], t[900], d1[64], d2[64];
	const char *rest;
	size_t k;

	strbuf_printf(b, "This is the mail system at host %s.\n\n",
	    qmgr_conf.hostname);
	dsn_duration(qmgr_conf.delay_warning_time, d1, sizeof(d1));
	dsn_duration(qmgr_conf.queue_lifetime, d2, sizeof(d2));
	if (act[0] == DSN_DELAYED)
		strbuf_printf(b, "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED "
		    "TO RESEND YOUR MESSAGE. #######\n\nYour message could not be "
		    "delivered for more than %s.\nIt will be retried until it is %s old.\n",
		    d1, d2);
	else
		strbuf_puts(b, qb_kind(act[0])->intro);
	strbuf_puts(b, "\nFor further assistance, please send mail to postmaster.\n\n");
	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		dsn_status(qb_diag(j, i), act[k], status, sizeof(status), &rest);
		log_sanitize(t, 800, rest, strlen(rest));
		strbuf_printf(b, "<%s>", j->q.rcpt[i].addr);
		if (qb_orig(j, i) != &j->q.rcpt[i])
			strbuf_printf(b, " (expanded from <%s>)", qb_orig(j, i)->addr);
		if (act[k] == DSN_DELIVERED || act[k] == DSN_RELAYED)
			strbuf_printf(b, ": %s%s%s\n\n", act[k] == DSN_DELIVERED ?
			    "delivered to mailbox" : "relayed to a server without "
			    "DSN support", *t ? ": " : "", t);
		else
			strbuf_printf(b, ": %s\n\n", *t ? t : "delivery temporarily "
			    "suspended");
	}
}

/* The message/delivery-status part (RFC 3464 2.2, 2.3). */
static int
qb_status(struct strbuf *b, const struct qmgr_job *j, const size_t *idx,
    const enum dsn_action *act, size_t n)
{
	struct dsn_rcpt r;
	size_t k;

	if (dsn_fields_message(b, qmgr_conf.hostname, j->qid, j->q.envid,
	    j->q.arrival) == -1)
		return -1;
	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		memset(&r, 0, sizeof(r));
		r.final = j->q.rcpt[i].addr;
		r.orcpt = qb_orig(j, i)->orcpt;
		r.action = act[k];
		r.diag = qb_diag(j, i);
		r.rmta = i < j->ndiag ? j->rmta[i] : NULL;
		if (act[k] == DSN_DELAYED) {
			r.last_attempt = r.diag != NULL ? time(NULL) : 0;
			r.until = j->q.arrival + (time_t)qmgr_conf.queue_lifetime;
		}
		if (dsn_fields_rcpt(b, &r) == -1)
			return -1;
	}
	return 0;
}

/* Copy n content bytes from the start of the content into w. */
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

/* Header and the first two parts of the report. */
static int
qb_head(struct strbuf *b, const struct qmgr_job *j, const char *to,
    const char *nqid, const char *bnd, const size_t *idx,
    const enum dsn_action *act, size_t n)
{
	char date[64];

	dsn_date(time(NULL), date, sizeof(date));
	strbuf_printf(b, "From: MAILER-DAEMON@%s (Mail Delivery System)\n"
	    "To: <%s>\nSubject: %s\nDate: %s\n"
	    "Message-ID: <%s.%s@%s>\nAuto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n\n"
	    "This is a MIME-encapsulated message.\n\n--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", qmgr_conf.hostname,
	    to, qb_kind(act[0])->subject, date, nqid, qb_kind(act[0])->tag,
	    qmgr_conf.hostname, bnd, bnd);
	qb_human(b, j, idx, act, n);
	strbuf_printf(b, "--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", bnd);
	return qb_status(b, j, idx, act, n);
}

/* Write the whole report into w. 0 or -1. */
static int
qb_write(struct qfile_writer *w, const struct qmgr_job *j, const char *to,
    const size_t *idx, const enum dsn_action *act, size_t n)
{
	struct strbuf b;
	char bnd[128];
	int full = 0, rv = -1;
	size_t k;

	for (k = 0; k < n; k++)
		full |= dsn_ret_full(j->q.ret, act[k]);
	str_fmt(bnd, sizeof(bnd), "%s.%lld/%s", w->qid, (long long)time(NULL),
	    qmgr_conf.hostname);
	strbuf_init(&b, 4 * 1024 * 1024);
	if (qb_head(&b, j, to, w->qid, bnd, idx, act, n) == -1 ||
	    strbuf_printf(&b, "\n--%s\nContent-Description: %s\nContent-Type: %s\n\n",
	    bnd, full ? qb_kind(act[0])->part3full : qb_kind(act[0])->part3,
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

int
qmgr_dsn_queue(const struct qmgr_job *j, const char *to, const char *proto,
    const size_t *idx, const enum dsn_action *act, size_t n)
{
	struct qfile_writer w;

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if (qfile_create(&w) == -1)
		return -1;
	if (qfile_put_attr(&w, "protocol", proto) == -1 ||
	    qfile_put_sender(&w, "") == -1 || qfile_put_rcpt(&w, to, NULL, NULL) == -1 ||
	    qfile_begin_data(&w) == -1 || qb_write(&w, j, to, idx, act, n) == -1) {
		qfile_abort(&w);
		return -1;
	}
	if (qfile_commit(&w) == -1)
		return -1;
	log_info("%s: sender %s notification: %s (to <%s>)", j->qid,
	    act[0] == DSN_FAILED ? "non-delivery" : act[0] == DSN_DELAYED ?
	    "delay" : "delivery status", w.qid, to);
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

/* Queue the failure report for idx (if anyone is to get one). 0 or -1. */
static int
qb_send(const struct qmgr_job *j, const size_t *idx, size_t n, size_t nf)
{
	enum dsn_action *act = xcalloc(n + 1, sizeof(*act));
	char to[QFILE_ADDR_MAX + 16];
	const char *proto = j->q.protocol != NULL ? j->q.protocol : "";
	int rv = 0;

	/* act[] is all DSN_FAILED (0) from xcalloc. */
	if (j->q.sender[0] != '\0' && n > 0) {
		rv = qmgr_dsn_queue(j, j->q.sender, QB_PROTO, idx, act, n);
	} else if (j->q.sender[0] == '\0' && strcmp(proto, QB_PROTO) == 0 && n > 0) {
		qb_postmaster(to, sizeof(to));
		rv = qmgr_dsn_queue(j, to, QB_PROTO2, idx, act, n);
	} else if (nf > 0) {
		log_info("%s: no notification for %zu failed recipient(s)%s", j->qid,
		    nf, j->q.sender[0] == '\0' ? " (null sender: dropped)" :
		    " (NOTIFY)");
	}
	free(act);
	return rv;
}

int
qmgr_bounce(struct qmgr_job *j)
{
	size_t *idx = xcalloc(j->q.nrcpt + 1, sizeof(*idx));
	size_t i, n = 0, nf = 0;
	int rv;

	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_FAILED)
			continue;
		nf++;
		if (dsn_wants(qb_orig(j, i)->notify, DSN_FAILED))
			idx[n++] = i;
	}
	rv = qb_send(j, idx, n, nf);
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
