/*
 * smtp_msg: the message content of an SMTP session: DATA (dot-stuffed
 * lines, RFC 5321 4.1.1.4, 4.5.2) and BDAT chunks (RFC 3030), the
 * Received header (RFC 5321 4.4), the hop count, the size limit, and the
 * queue file written through qfile (250 only after qfile_commit()),
 * and the content checks (common/checks.h) the content passes through
 * on its way to the file. Runs in the smtpd/submitd session process,
 * unprivileged.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "smtp_int.h"
#include "util.h"

void
smtp_msg_abort(struct smtp_session *s)
{
	if (s->qf_open)
		qfile_abort(&s->qf);
	s->qf_open = 0;
	checks_scan_free(s->cs);
	s->cs = NULL;
	s->msg_err = SMTP_MSG_OK;
	s->msg_size = 0;
	strbuf_reset(&s->hdr);
	s->hdr_flushed = 0;
}

/* The Received field (RFC 5321 4.4) that goes first in the content. */
static int
smtp_msg_received(struct smtp_session *s)
{
	char date[64], rcpt[ADDR_BUF], tls[sizeof(s->tls_info)], *colon;
	struct strbuf b;
	int r;

	strbuf_init(&b, 2048);
	/* RFC 5321 4.4 TCP-info: an IPv6 address literal is "[IPv6:...]". */
	r = strbuf_printf(&b, "Received: from %s (unknown [%s%s])\n"
	    "\tby %s (postern) with %s id %s", s->helo,
	    strchr(s->client_addr, ':') != NULL ? "IPv6:" : "", s->client_addr,
	    s->pol->hostname, smtp_proto_word(s), s->qf.qid);
	if (r == 0 && s->tls) {
		/* "TLSv1.3:TLS_AES_256_GCM_SHA384" -> "(TLSv1.3 TLS_AES_256_GCM_SHA384)" */
		str_copy(tls, s->tls_info, sizeof(tls));
		if ((colon = strchr(tls, ':')) != NULL)
			*colon = ' ';
		r = strbuf_printf(&b, "\n\t(%s)", tls);
	}
	if (r == 0 && s->nrcpt == 1) {
		/* Recipient text is printable: it passed the path parser. */
		log_sanitize(rcpt, sizeof(rcpt), s->rcpt[0].addr,
		    strlen(s->rcpt[0].addr));
		r = strbuf_printf(&b, "\n\tfor <%s>", rcpt);
	}
	/* RFC 5322 3.6.7: "; date-time" ends the field. */
	if (r == 0)
		r = strbuf_printf(&b, s->nrcpt == 1 ? "; %s\n" : ";\n\t%s\n",
		    smtp_date(date, sizeof(date), (long long)time(NULL)));
	if (r == 0)
		r = qfile_write(&s->qf, b.data, b.len);
	strbuf_free(&b);
	return r;
}

static int
smtp_msg_envelope(struct smtp_session *s)
{
	struct qfile_writer *w = &s->qf;
	const struct address_mail_params *mp = &s->mp;
	char notify[64];
	size_t i;

	if (qfile_put_attr(w, "client_addr", s->client_addr) == -1 ||
	    qfile_put_attr(w, "client_name", "unknown") == -1 ||
	    qfile_put_attr(w, "helo", s->helo) == -1 ||
	    qfile_put_attr(w, "protocol", smtp_proto_word(s)) == -1)
		return -1;
	if (s->auth_user != NULL && qfile_put_attr(w, "auth_user", s->auth_user) == -1)
		return -1;
	if (mp->body != ADDR_BODY_NONE && qfile_put_attr(w, "body",
	    mp->body == ADDR_BODY_8BITMIME ? "8BITMIME" : "7BIT") == -1)
		return -1;
	if (mp->smtputf8 && qfile_put_attr(w, "smtputf8", "yes") == -1)
		return -1;
	if (mp->envid[0] != '\0' && qfile_put_attr(w, "envid", mp->envid) == -1)
		return -1;
	if (mp->ret != ADDR_RET_NONE && qfile_put_attr(w, "ret",
	    mp->ret == ADDR_RET_FULL ? "FULL" : "HDRS") == -1)
		return -1;
	if (qfile_put_sender(w, s->sender) == -1)
		return -1;
	for (i = 0; i < s->nrcpt; i++) {
		const struct smtp_rcpt *r = &s->rcpt[i];

		if (qfile_put_rcpt(w, r->addr, r->orcpt, r->notify == 0 ? NULL :
		    address_notify_str(r->notify, notify, sizeof(notify))) == -1)
			return -1;
	}
	return 0;
}

static void smtp_msg_checked(void *, const char *, size_t);

/*
 * The reply to a queue file that could not be written, e the errno: a
 * full queue file system (or the mail owner's quota) is 452 4.3.1 (RFC
 * 5321 4.2.5 "insufficient system storage", RFC 3463 4.3.1 "Mail system
 * full"), anything else 451 4.3.0. Either way nothing was queued.
 */
static void
smtp_msg_ioerr(struct smtp_session *s, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		smtp_send(s, 452, "4.3.1", "Error: insufficient system storage");
	else
		smtp_send(s, 451, "4.3.0", "Error: queue file write error");
}

/* Start the queue file: envelope, then the Received field; the checks.
 * -1 with errno set. */
static int
smtp_msg_begin(struct smtp_session *s)
{
	int e;

	smtp_msg_abort(s);
	smtp_hdrscan_init(&s->hs);
	if (qfile_create(&s->qf) == -1) {
		e = errno;
		log_err("cannot create a queue file: %s", strerror(e));
		errno = e;
		return -1;
	}
	s->qf.defer_wake = 1;	/* smtp_msg_commit wakes qmgr after the reply */
	s->qf_open = 1;
	if (smtp_msg_envelope(s) == -1 || qfile_begin_data(&s->qf) == -1 ||
	    smtp_msg_received(s) == -1) {
		e = errno;
		log_err("%s: cannot write the queue file: %s", s->qf.qid,
		    strerror(e));
		smtp_msg_abort(s);
		errno = e;
		return -1;
	}
	if (!checks_empty(s->pol->checks) && (s->cs = checks_scan_new(s->pol->checks,
	    s->qf.qid, smtp_msg_checked, s)) == NULL) {
		log_err("%s: out of memory for the content checks", s->qf.qid);
		smtp_msg_abort(s);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void
smtp_msg_put(struct smtp_session *s, const char *buf, size_t n)
{
	if (s->msg_err == SMTP_MSG_OK && n > 0 && qfile_write(&s->qf, buf, n) == -1)
		s->msg_err = SMTP_MSG_IOERR;
}

/* Run the header fix-up hook once, then write the (edited) header. */
static void
smtp_msg_flush_header(struct smtp_session *s)
{
	struct smtp_reply r;

	if (s->hdr_flushed || s->pol->header_fixup == NULL)
		return;
	s->hdr_flushed = 1;
	if (s->msg_err != SMTP_MSG_OK)
		return;
	smtp_reply_set(&r, 554, "5.6.0", "Message refused");
	if (s->pol->header_fixup(s, &s->hdr, &r, s->pol->arg) == -1) {
		s->hook_reply = r;
		s->msg_err = SMTP_MSG_HOOK;
		return;
	}
	smtp_msg_put(s, s->hdr.data, s->hdr.len);
	strbuf_reset(&s->hdr);
}

/* Content as the checks passed it on: hop count, header hook, file. */
static void
smtp_msg_store(struct smtp_session *s, const char *buf, size_t n)
{
	size_t cut;

	if (s->msg_err != SMTP_MSG_OK || n == 0)
		return;
	if (s->hs.in_header) {
		cut = smtp_hdrscan_feed(&s->hs, buf, n);
		if (s->hs.received > SMTP_HOPS_MAX) {
			s->msg_err = SMTP_MSG_LOOP;
			return;
		}
		if (s->pol->header_fixup != NULL && !s->hdr_flushed) {
			if (strbuf_append(&s->hdr, buf, cut) == -1) {
				s->msg_err = SMTP_MSG_HDRBIG;
				return;
			}
			buf += cut;
			n -= cut;
			if (s->hs.in_header)
				return;
			smtp_msg_flush_header(s);
		}
	}
	smtp_msg_put(s, buf, n);
}

static void
smtp_msg_checked(void *arg, const char *buf, size_t n)
{
	smtp_msg_store(arg, buf, n);
}

/* Content bytes with LF line ends: the size limit, then the checks (if any). */
static void
smtp_msg_write(struct smtp_session *s, const char *buf, size_t n)
{
	if (s->msg_err != SMTP_MSG_OK || n == 0)
		return;	/* refused already: read on, store nothing */
	if (s->pol->size_limit != 0 && n > s->pol->size_limit - s->msg_size) {
		s->msg_err = SMTP_MSG_TOOBIG;	/* RFC 1870 6.3 */
		return;
	}
	s->msg_size += n;
	if (s->cs != NULL)
		checks_scan_feed(s->cs, buf, n);
	else
		smtp_msg_store(s, buf, n);
}

/*
 * A content check's REJECT or DISCARD: nothing is queued (so no bounce
 * is ever made). 1 when the reply was sent, 0 to go on and commit.
 */
static int
smtp_msg_verdict(struct smtp_session *s, enum checks_action v, const char *text)
{
	char from[ADDR_BUF], reply[400];	/* RFC 5321 4.5.3.1.5: a reply line fits in 512 */

	if (v != CHECKS_REJECT && v != CHECKS_DISCARD)
		return 0;
	log_sanitize(from, sizeof(from), s->sender, strlen(s->sender));
	log_sanitize(reply, sizeof(reply), text, strlen(text));
	if (reply[0] == '\0')
		str_copy(reply, v == CHECKS_REJECT ? "Error: message content rejected" :
		    "discarded", sizeof(reply));
	log_info("%s: %s: content check: client=[%s], from=<%s>, nrcpt=%zu: %s",
	    s->qf.qid, v == CHECKS_REJECT ? "reject" : "discard", s->client_addr,
	    from, s->nrcpt, reply);
	qfile_abort(&s->qf);
	s->qf_open = 0;
	if (v == CHECKS_REJECT)
		smtp_send(s, 550, "5.7.1", "%s", reply);
	else	/* the client is told it was queued, as Postfix does */
		smtp_send(s, 250, "2.0.0", "Ok: queued as %s", s->qf.qid);
	return 1;
}

/*
 * The reply to a committed message goes out first (unless pipelined
 * commands wait, RFC 2920 3.1), then qmgr is woken: its work never
 * stands between the fsync and the 250 (issue 12).
 */
static void
smtp_msg_wake(struct smtp_session *s)
{
	if (stream_pending(&s->st) == 0)
		(void)stream_flush(&s->st);
	qfile_wake_id(s->qf.qid);
}

/* Commit (into hold/ for a HOLD) and only then answer 250. */
static void
smtp_msg_commit(struct smtp_session *s)
{
	enum checks_action v = CHECKS_NONE;
	const char *text = "";
	char from[ADDR_BUF], t[CHECKS_TEXT_MAX];

	if (s->cs != NULL)
		v = checks_scan_verdict(s->cs, &text);
	if (smtp_msg_verdict(s, v, text))
		return;
	s->qf_open = 0;	/* commit or its failure consumes the writer */
	if ((v == CHECKS_HOLD ? qfile_commit_hold(&s->qf) : qfile_commit(&s->qf)) == -1) {
		int e = errno;

		log_err("%s: queue file commit failed: %s", s->qf.qid, strerror(e));
		smtp_msg_ioerr(s, e);
		return;
	}
	log_info("%s: client=[%s], helo=%s, from=<%s>, size=%llu, nrcpt=%zu, proto=%s",
	    s->qf.qid, s->client_addr, s->helo,
	    log_sanitize(from, sizeof(from), s->sender, strlen(s->sender)),
	    s->msg_size, s->nrcpt, smtp_proto_word(s));
	if (v == CHECKS_HOLD) {
		log_info("%s: hold: content check: queued into hold/%s%s", s->qf.qid,
		    *text != '\0' ? ": " : "", log_sanitize(t, sizeof(t), text, strlen(text)));
	} else if (s->pol->committed != NULL &&
	    s->pol->committed(s, s->qf.qid, &s->hook_reply, s->pol->arg) == -1) {
		smtp_send_reply(s, &s->hook_reply);
		smtp_msg_wake(s);
		return;
	}
	smtp_send(s, 250, "2.0.0", "Ok: queued as %s", s->qf.qid);
	if (v != CHECKS_HOLD)
		smtp_msg_wake(s);
}

/* The end of the content: refuse, or commit and only then answer 250. */
static void
smtp_msg_finish(struct smtp_session *s)
{
	if (s->cs != NULL)
		checks_scan_end(s->cs);	/* what it held back goes to the file */
	smtp_msg_flush_header(s);
	switch (s->msg_err) {
	case SMTP_MSG_TOOBIG:
	case SMTP_MSG_HDRBIG:
		log_info("%s: reject: message from [%s] exceeds the size limit",
		    s->qf.qid, s->client_addr);
		smtp_send(s, 552, "5.3.4", "Error: message exceeds fixed maximum message size");
		break;
	case SMTP_MSG_TOOLONG:
		log_info("%s: reject: text line over %d octets from [%s]",
		    s->qf.qid, SMTP_TEXT_MAX, s->client_addr);
		smtp_send(s, 500, "5.5.2", "Error: line too long (RFC 5321 4.5.3.1.6)");
		break;
	case SMTP_MSG_LOOP:
		log_info("%s: reject: too many hops from [%s]", s->qf.qid, s->client_addr);
		smtp_send(s, 554, "5.4.6", "Error: too many hops (mail loop?)");
		break;
	case SMTP_MSG_HOOK:
		smtp_send_reply(s, &s->hook_reply);
		break;
	case SMTP_MSG_IOERR:
		/* the writer keeps the errno of its first failure */
		log_err("%s: queue file write error: %s", s->qf.qid,
		    strerror(s->qf.saved_errno));
		smtp_msg_ioerr(s, s->qf.saved_errno);
		break;
	case SMTP_MSG_NOQUEUE:
		/* smtp_msg_begin logged it; the content was read and dropped */
		smtp_msg_ioerr(s, s->noqueue_errno);
		break;
	case SMTP_MSG_OK:
		smtp_msg_commit(s);
		break;
	}
	smtp_txn_reset(s);
}

/* Read DATA lines up to the end-of-data line. 0, or -1 when the session must end. */
static int
smtp_data_read(struct smtp_session *s)
{
	struct smtp_dot d;
	size_t outlen;
	ssize_t n;

	smtp_dot_init(&d);
	for (;;) {
		n = stream_getline(&s->st, s->line, SMTP_DATA_BUF);
		if (n == STREAM_TOOLONG) {
			smtp_dot_lost(&d);
			continue;
		}
		if (n <= 0) {
			smtp_read_failed(s, n, "DATA");
			return -1;
		}
		switch (smtp_dot_line(&d, s->line, (size_t)n, s->out, &outlen)) {
		case SMTP_DOT_END:
			if (d.toolong && s->msg_err == SMTP_MSG_OK)
				s->msg_err = SMTP_MSG_TOOLONG;
			return 0;
		case SMTP_DOT_AMBIGUOUS:
			/* Cannot know where this message ends: refuse and close. */
			log_info("%s: reject: overlong line before \".\" from [%s]",
			    s->qf.qid, s->client_addr);
			smtp_send(s, 500, "5.5.2", "Error: line too long; closing");
			s->done = 1;
			return -1;
		case SMTP_DOT_MORE:
			smtp_msg_write(s, s->out, outlen);
			break;
		}
	}
}

void
smtp_cmd_data(struct smtp_session *s, char *arg)
{
	if (*arg != '\0') {
		smtp_send(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	/*
	 * 354 first, then the queue file: the client sends the content while
	 * the file is being made, so its creation is off each message's path
	 * (issue 12). A file that cannot be made is said after the content,
	 * 451/452 as for a later write error (RFC 5321 4.1.1.4: the reply to
	 * the end of data says whether the message was taken).
	 */
	/* RFC 2034 3: no enhanced code on 3xx. */
	stream_puts(&s->st, "354 End data with <CR><LF>.<CR><LF>\r\n");
	stream_flush(&s->st);	/* a failure shows at the next read */
	if (smtp_msg_begin(s) == -1) {
		s->noqueue_errno = errno;
		s->msg_err = SMTP_MSG_NOQUEUE;
	}
	if (smtp_data_read(s) == -1) {
		smtp_txn_reset(s);
		return;
	}
	smtp_msg_finish(s);
}

/* "BDAT size [LAST]" (RFC 3030 2). 0 or -1. */
static int
smtp_bdat_args(const char *arg, unsigned long long *size, int *last)
{
	char num[24];
	size_t n = strspn(arg, "0123456789");

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, arg, n);
	num[n] = '\0';
	if (parse_ullong(num, 0, (unsigned long long)-1 >> 1, size) == -1)
		return -1;
	arg += n;
	*last = 0;
	if (*arg == '\0')
		return 0;
	while (*arg == ' ')
		arg++;
	if (!str_ieq(arg, "LAST"))
		return -1;
	*last = 1;
	return 0;
}

/* Read exactly size octets; store them only when keep. 0 or -1 (session ends). */
static int
smtp_bdat_read(struct smtp_session *s, unsigned long long size, int keep)
{
	ssize_t n;
	size_t want, o;

	while (size > 0) {
		want = size < SMTP_DATA_BUF ? (size_t)size : SMTP_DATA_BUF;
		n = stream_read(&s->st, s->line, want);
		if (n <= 0) {
			smtp_read_failed(s, n, "BDAT");
			return -1;
		}
		size -= (unsigned long long)n;
		if (!keep)
			continue;
		o = smtp_crlf_feed(&s->crlf, s->line, (size_t)n, s->out);
		smtp_msg_write(s, s->out, o);
	}
	return 0;
}

/* The first chunk opens the queue file. */
static int
smtp_bdat_start(struct smtp_session *s)
{
	if (s->state == SMTP_S_BDAT)
		return 0;
	if (smtp_msg_begin(s) == -1)
		return -1;
	smtp_crlf_init(&s->crlf);
	s->state = SMTP_S_BDAT;
	return 0;
}

void
smtp_cmd_bdat(struct smtp_session *s, char *arg)
{
	unsigned long long size;
	int last, ok, ioerr = 0;
	size_t o;

	if (smtp_bdat_args(arg, &size, &last) == -1) {
		/* The chunk length is unknown: its octets would be read as commands. */
		smtp_send(s, 501, "5.5.4", "Syntax: BDAT size [LAST]; closing");
		s->done = 1;
		return;
	}
	ok = (s->state & (SMTP_S_RCPT | SMTP_S_BDAT)) && !s->bdat_failed;
	if (ok && smtp_bdat_start(s) == -1) {
		ok = 0;
		ioerr = errno != 0 ? errno : EIO;
		s->state = SMTP_S_BDAT;	/* the transaction has failed: RSET clears it */
	}
	/* RFC 3030 2: read and discard the chunk before any error reply. */
	if (smtp_bdat_read(s, size, ok) == -1) {
		smtp_txn_reset(s);
		return;
	}
	if (!ok) {
		if (s->state == SMTP_S_BDAT)
			s->bdat_failed = 1;
		if (ioerr)
			smtp_msg_ioerr(s, ioerr);
		else if (s->state & (SMTP_S_RCPT | SMTP_S_BDAT))
			smtp_send(s, 503, "5.5.1", "Error: earlier BDAT failed; send RSET");
		else
			smtp_send(s, 503, "5.5.1", "Error: need RCPT command");
		return;
	}
	if (last) {
		o = smtp_crlf_finish(&s->crlf, s->out);
		smtp_msg_write(s, s->out, o);
		smtp_msg_finish(s);
		return;
	}
	if (s->msg_err != SMTP_MSG_OK) {
		/* RFC 3030 2: a failed chunk fails the transaction; later
		 * pipelined chunks are read and discarded with 503. */
		smtp_msg_finish(s);
		return;
	}
	smtp_send(s, 250, "2.0.0", "%llu octets received", size);
}
