/*
 * smtp_proto: one outbound SMTP transaction (RFC 5321) over one address.
 * Runs in the smtp per-request child, as mail_owner (chrooted to the
 * queue directory when started as root). Every reply is read with a
 * per-stage timeout (RFC 5321 4.5.3.2) and validated strictly: a reply
 * line that is not "DDD", "DDD text" or "DDD-text" ending in CRLF, a
 * code that changes inside a multiline reply, or an unexpected code
 * class is a temporary failure. Opportunistic STARTTLS (RFC 3207):
 * under TLS policy `may`, a next hop whose STARTTLS fails (refused,
 * handshake failure, lost connection) gets a new connection without
 * STARTTLS, as Postfix does; `encrypt` and `verify` never fall back, and
 * neither does a STARTTLS injection (a sign of tampering, not of a broken
 * TLS stack). PIPELINING (RFC 2920), SIZE (RFC 1870), AUTH PLAIN/LOGIN to a
 * relayhost (RFC 4954), dot-stuffing and CRLF normalisation of the
 * content (RFC 5321 4.5.2, 2.3.8).
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "qmgr_dsn.h"
#include "smtp.h"
#include "stream.h"
#include "strbuf.h"
#include "util.h"

#define SP_CHUNK	65536

struct sp {
	struct stream	 st;
	struct smtp_ctx	*c;
	struct smtp_req	*req;
	const struct smtp_addr *a;
	int	 tls;
	int	 tls_failed;		/* STARTTLS failed: plaintext may be retried */
	int	 pipelining, starttls, dsn, eightbit, utf8, auth_plain, auth_login;
	unsigned long long sizemax;
	int	 has_size;
	int	 code;			/* last reply */
	char	 reply[600];		/* last reply, sanitised, one line */
	struct strbuf lines;		/* last reply's texts, LF separated (EHLO) */
};

static int
sp_ms(long long seconds)
{
	return seconds <= 0 ? 1000 : seconds > 86400 ? 86400000 : (int)(seconds * 1000);
}

/* Non-blocking connect under a timeout. fd or -1 (errno). */
static int
sp_connect(const struct smtp_addr *a, long long timeout)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, err = 0, r;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		p.fd = fd;
		p.events = POLLOUT;
		do
			r = poll(&p, 1, sp_ms(timeout));
		while (r == -1 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (fd_set_nonblock(fd, 0) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Read one whole reply under timeout seconds. 0, or -1 (sp->reply says why). */
static int
sp_reply(struct sp *s, long long timeout)
{
	s->st.timeout_ms = sp_ms(timeout);
	return smtp_reply_read(&s->st, &s->code, s->reply, sizeof(s->reply), &s->lines);
}

/* Set recipient r's result from the last reply (code < 400: accepted). */
static void
sp_result(struct sp *s, struct smtp_rcpt *r, const char *stage)
{
	r->code = s->code;
	smtp_reply_enhanced(s->code, s->reply, r->status, sizeof(r->status));
	if (s->code >= 400)
		str_fmt(r->text, sizeof(r->text), "%s (in reply to %s)", s->reply, stage);
	else
		str_copy(r->text, s->reply, sizeof(r->text));
}

/* Every undecided (or only accepted) recipient gets code/status/text. */
static void
sp_all(struct sp *s, int only_accepted, int code, const char *status,
    const char *text)
{
	size_t i;

	for (i = 0; i < s->req->nrcpt; i++) {
		struct smtp_rcpt *r = &s->req->rcpt[i];
		if ((only_accepted && !r->accepted) || (!only_accepted && r->code != 0))
			continue;
		r->code = code;
		str_copy(r->status, status, sizeof(r->status));
		str_copy(r->text, text, sizeof(r->text));
	}
}

/* A reply decides every accepted recipient (DATA, end of data). */
static void
sp_all_reply(struct sp *s, int only_accepted, const char *stage)
{
	size_t i;

	for (i = 0; i < s->req->nrcpt; i++) {
		struct smtp_rcpt *r = &s->req->rcpt[i];
		if ((only_accepted && !r->accepted) || (!only_accepted && r->code != 0))
			continue;
		sp_result(s, r, stage);
	}
}

/* The EHLO keywords of the last reply (smtp_reply.c parses them). */
static void
sp_caps(struct sp *s)
{
	struct smtp_caps caps;

	smtp_ehlo_caps(s->lines.data, &caps);
	s->pipelining = caps.pipelining;
	s->starttls = caps.starttls;
	s->dsn = caps.dsn;
	s->eightbit = caps.eightbit;
	s->utf8 = caps.utf8;
	s->auth_plain = caps.auth_plain;
	s->auth_login = caps.auth_login;
	s->has_size = caps.has_size;
	s->sizemax = caps.sizemax;
}

/* EHLO, falling back to HELO (RFC 5321 3.2). 0 or -1 (why). */
static int
sp_ehlo(struct sp *s, char *why, size_t whylen)
{
	long long t = s->c->conf->smtp_helo_timeout;

	stream_printf(&s->st, "EHLO %s\r\n", s->c->conf->hostname);
	if (sp_reply(s, t) == -1)
		goto fail;
	if (s->code / 100 == 2) {
		sp_caps(s);
		return 0;
	}
	stream_printf(&s->st, "HELO %s\r\n", s->c->conf->hostname);
	if (sp_reply(s, t) == -1)
		goto fail;
	if (s->code / 100 == 2) {
		sp_caps(s);
		s->pipelining = s->starttls = 0;
		return 0;
	}
fail:
	str_fmt(why, whylen, "%s (in reply to EHLO)", s->reply);
	return -1;
}

/* Why the handshake failed: RFC 3463 3.8 X.7.5, cryptographic failure. */
static void
sp_tls_why(struct sp *s, SSL_CTX *ctx, char *why, size_t whylen)
{
	long v = s->st.ssl != NULL ? SSL_get_verify_result(s->st.ssl) : X509_V_OK;
	char cert[200] = "";

	if (v != X509_V_OK)
		str_fmt(cert, sizeof(cert), " (certificate verification: %s)",
		    X509_verify_cert_error_string(v));
	str_fmt(why, whylen, "4.7.5 TLS handshake with %s[%s]:%u failed%s%s",
	    s->a->host, s->a->ip, s->a->port,
	    ctx == NULL ? " (no TLS client context)" : "", cert);
}

/*
 * STARTTLS (RFC 3207). Bytes after the 220 that arrived before the
 * handshake are an injection attempt (CVE-2011-0411 class): the
 * connection is dropped, they are never read as a reply.
 */
static int
sp_starttls(struct sp *s, enum smtp_tls policy, char *why, size_t whylen)
{
	SSL_CTX *ctx = policy == SMTP_TLS_VERIFY ? s->c->tls_verify : s->c->tls_any;
	const struct smtp_addr *a = s->a;

	s->tls_failed = 1;	/* until the session is up, except injection below */
	stream_puts(&s->st, "STARTTLS\r\n");
	if (sp_reply(s, s->c->conf->smtp_helo_timeout) == -1 || s->code != 220) {
		str_fmt(why, whylen, "%s (in reply to STARTTLS)", s->reply);
		return -1;
	}
	if (stream_pending(&s->st) > 0) {
		s->tls_failed = 0;
		str_fmt(why, whylen, "reply bytes before the TLS handshake "
		    "(STARTTLS injection?): connection dropped");
		return -1;
	}
	if (ctx == NULL || stream_tls_connect(&s->st, ctx, a->host) == -1) {
		sp_tls_why(s, ctx, why, whylen);
		return -1;
	}
	s->tls = 1;
	/* RFC 3207 4.2: forget what we knew, ask again. */
	if (sp_ehlo(s, why, whylen) == -1)
		return -1;
	s->tls_failed = 0;
	return 0;
}

static int
sp_b64(const char *in, size_t len, char *out, size_t outlen)
{
	if (outlen < 4 * ((len + 2) / 3) + 1 || len > 1024)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
	return 0;
}

/* AUTH PLAIN or LOGIN (RFC 4954) to the relayhost, only over TLS. */
static int
sp_auth(struct sp *s, char *why, size_t whylen)
{
	char user[256], pass[512], raw[800], b[1200];
	long long t = s->c->conf->smtp_helo_timeout;
	size_t ul, pl;
	int r = -1;

	if (smtp_relay_secret(s->c, user, sizeof(user), pass, sizeof(pass)) == -1)
		return 0;	/* no credentials for this relay: no AUTH */
	ul = strlen(user);
	pl = strlen(pass);
	if (!s->tls)
		str_copy(why, "4.7.0 the relayhost offers no TLS: credentials not sent",
		    whylen);
	else if (s->auth_plain && 2 + ul + pl < sizeof(raw)) {
		raw[0] = '\0';
		memcpy(raw + 1, user, ul + 1);
		memcpy(raw + 2 + ul, pass, pl);
		if (sp_b64(raw, 2 + ul + pl, b, sizeof(b)) == 0) {
			stream_printf(&s->st, "AUTH PLAIN %s\r\n", b);
			r = sp_reply(s, t) == 0 && s->code == 235 ? 0 : -2;
		}
	} else if (s->auth_login && sp_b64(user, ul, b, sizeof(b)) == 0) {
		stream_puts(&s->st, "AUTH LOGIN\r\n");
		if (sp_reply(s, t) == 0 && s->code == 334) {
			stream_printf(&s->st, "%s\r\n", b);
			if (sp_reply(s, t) == 0 && s->code == 334 &&
			    sp_b64(pass, pl, b, sizeof(b)) == 0) {
				stream_printf(&s->st, "%s\r\n", b);
				r = sp_reply(s, t) == 0 && s->code == 235 ? 0 : -2;
			}
		}
		if (r == -1)
			r = -2;
	} else if (s->tls)
		str_copy(why, "4.7.0 the relayhost offers no AUTH PLAIN or LOGIN", whylen);
	if (r == -2)
		str_fmt(why, whylen, "%s (in reply to AUTH)", s->reply);
	secure_zero(pass, sizeof(pass));
	secure_zero(raw, sizeof(raw));
	secure_zero(b, sizeof(b));
	stream_flush(&s->st);
	return r == 0 ? 0 : -1;
}

/* Greeting, EHLO, TLS, AUTH. 0 or -1 (why): the host is skipped. */
static int
sp_open(struct sp *s, enum smtp_tls policy, int relay, char *why, size_t whylen)
{
	if (sp_reply(s, s->c->conf->smtp_helo_timeout) == -1 || s->code != 220) {
		str_fmt(why, whylen, "%s (in reply to the greeting)", s->reply);
		return -1;
	}
	if (sp_ehlo(s, why, whylen) == -1)
		return -1;
	if (s->starttls && policy != SMTP_TLS_NONE) {
		if (sp_starttls(s, policy, why, whylen) == -1)
			return -1;
	} else if (policy >= SMTP_TLS_ENCRYPT) {
		str_copy(why, "4.7.4 TLS is required (tls_policy_map) but not offered",
		    whylen);
		return -1;
	}
	if (relay && sp_auth(s, why, whylen) == -1)
		return -1;
	return 0;
}

static void
sp_mail(struct sp *s)
{
	struct qfile *q = &s->req->q;

	stream_printf(&s->st, "MAIL FROM:<%s>", s->req->sender);
	if (s->has_size)
		stream_printf(&s->st, " SIZE=%llu", s->req->size);
	if (s->eightbit && s->req->have_q && q->body != NULL)
		stream_printf(&s->st, " BODY=%s", q->body);
	if (s->utf8 && s->req->have_q && q->smtputf8)
		stream_puts(&s->st, " SMTPUTF8");
	/*
	 * RFC 3461 5.2.1 (a), (b): RET and ENVID as received (xtext), only to
	 * a next hop that offers DSN (5.2.2 (a)); a stored value that is not
	 * valid is not passed on (it could carry another parameter).
	 */
	if (s->dsn && s->req->have_q && q->ret != NULL && dsn_ret_ok(q->ret))
		stream_printf(&s->st, " RET=%s", q->ret);
	if (s->dsn && s->req->have_q && q->envid != NULL &&
	    dsn_xtext_ok(q->envid, DSN_ENVID_MAX))
		stream_printf(&s->st, " ENVID=%s", q->envid);
	stream_puts(&s->st, "\r\n");
}

static void
sp_rcpt(struct sp *s, const struct smtp_rcpt *r)
{
	/* RFC 3461 5.2.1 (c), (d); 5.2.2 (a): nothing to a hop without DSN. */
	stream_printf(&s->st, "RCPT TO:<%s>", r->addr);
	if (s->dsn && r->notify != NULL && dsn_notify_ok(r->notify))
		stream_printf(&s->st, " NOTIFY=%s", r->notify);
	if (s->dsn && r->orcpt != NULL && dsn_orcpt_ok(r->orcpt))
		stream_printf(&s->st, " ORCPT=%s", r->orcpt);
	stream_puts(&s->st, "\r\n");
}

/*
 * The content: LF, CRLF and a bare CR all become CRLF; a line starting
 * with '.' gets another one (RFC 5321 4.5.2). 0 or -1.
 */
static int
sp_content(struct sp *s)
{
	char *in = xmalloc(SP_CHUNK), *out = xmalloc(SP_CHUNK * 3 + 8);
	unsigned long long left = s->req->size;
	off_t off = s->req->off;
	int bol = 1, cr = 0, rv = -1;
	size_t i, o;
	ssize_t n;

	s->st.timeout_ms = sp_ms(s->c->conf->smtp_data_xfer_timeout);
	while (left > 0) {
		n = pread(s->req->fd, in, left < SP_CHUNK ? (size_t)left : SP_CHUNK, off);
		if (n <= 0)
			goto out;
		for (i = o = 0; i < (size_t)n; i++) {
			char ch = in[i];
			if (cr && ch == '\n') {		/* the LF of a CRLF */
				cr = 0;
				continue;
			}
			cr = 0;
			if (ch == '\r' || ch == '\n') {
				cr = ch == '\r';
				out[o++] = '\r';
				out[o++] = '\n';
				bol = 1;
				continue;
			}
			if (bol && ch == '.')
				out[o++] = '.';
			bol = 0;
			out[o++] = ch;
		}
		if (stream_write(&s->st, out, o) == -1 || stream_flush(&s->st) == -1)
			goto out;
		left -= (unsigned long long)n;
		off += n;
	}
	if (!bol)
		stream_puts(&s->st, "\r\n");
	stream_puts(&s->st, ".\r\n");
	rv = stream_flush(&s->st);
out:
	free(in);
	free(out);
	return rv;
}

/* RCPT replies in order; returns how many were accepted (-1: I/O). */
static int
sp_rcpt_replies(struct sp *s)
{
	int ok = 0;
	size_t i;

	for (i = 0; i < s->req->nrcpt; i++) {
		struct smtp_rcpt *r = &s->req->rcpt[i];
		if (!s->pipelining)
			sp_rcpt(s, r);
		if (sp_reply(s, s->c->conf->smtp_rcpt_timeout) == -1)
			return -1;
		if (s->code / 100 == 2) {
			r->accepted = 1;
			ok++;
		} else if (s->code / 100 == 4 || s->code / 100 == 5)
			sp_result(s, r, "RCPT TO");
		else
			return -1;	/* 3xx to RCPT: a protocol error */
	}
	return ok;
}

/* MAIL ... DATA ... "." with pipelining when offered. */
static void
sp_transaction(struct sp *s)
{
	char tf[700];
	size_t i;
	int ok;

	sp_mail(s);
	if (s->pipelining) {
		for (i = 0; i < s->req->nrcpt; i++)
			sp_rcpt(s, &s->req->rcpt[i]);
		stream_puts(&s->st, "DATA\r\n");
	}
	if (sp_reply(s, s->c->conf->smtp_mail_timeout) == -1)
		goto temp;
	if (s->code / 100 != 2) {
		if (s->code / 100 != 4 && s->code / 100 != 5)
			goto proto;
		sp_all_reply(s, 0, "MAIL FROM");
		return;
	}
	if ((ok = sp_rcpt_replies(s)) == -1)
		goto temp;
	if (!s->pipelining && ok == 0)
		return;		/* every recipient has its result */
	if (!s->pipelining)
		stream_puts(&s->st, "DATA\r\n");
	if (sp_reply(s, s->c->conf->smtp_data_init_timeout) == -1)
		goto temp;
	if (ok == 0) {
		/* RFC 2920 3.1: nobody accepted; a 354 gets an empty message. */
		if (s->code == 354) {
			stream_puts(&s->st, ".\r\n");
			sp_reply(s, s->c->conf->smtp_data_done_timeout);
		}
		return;
	}
	if (s->code != 354) {
		if (s->code / 100 != 4 && s->code / 100 != 5)
			goto proto;
		sp_all_reply(s, 1, "DATA");
		return;
	}
	if (sp_content(s) == -1) {
		str_copy(s->reply, errno == ETIMEDOUT ? "timeout" : "lost connection",
		    sizeof(s->reply));
		goto temp;
	}
	if (sp_reply(s, s->c->conf->smtp_data_done_timeout) == -1)
		goto temp;
	if (s->code / 100 != 2 && s->code / 100 != 4 && s->code / 100 != 5)
		goto proto;
	sp_all_reply(s, 1, "end of DATA");
	return;
proto:
	str_copy(s->reply, "unexpected reply code", sizeof(s->reply));
temp:
	str_fmt(tf, sizeof(tf), "%s[%s]:%u: %s", s->a->host, s->a->ip, s->a->port,
	    s->reply);
	/* Accepted ones first (the message may or may not have gone). */
	sp_all(s, 1, 451, "4.4.2", tf);
	sp_all(s, 0, 451, "4.4.2", tf);
}

/*
 * One connection: 0 when the transaction got as far as MAIL, 1 when the
 * host is skipped; *tls_failed says STARTTLS was what failed.
 */
static int
sp_session(struct smtp_ctx *c, struct smtp_req *req, const struct smtp_addr *a,
    enum smtp_tls policy, int relay, int *tls_failed, char *why, size_t whylen)
{
	struct sp s;
	size_t i;
	int fd, rv = 1;

	*tls_failed = 0;
	if ((fd = sp_connect(a, c->conf->smtp_connect_timeout)) == -1) {
		str_fmt(why, whylen, "connect to %s[%s]:%u: %s", a->host, a->ip,
		    a->port, strerror(errno));
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.req = req;
	s.a = a;
	strbuf_init(&s.lines, 64 * 1024);
	stream_init(&s.st, fd, fd, sp_ms(c->conf->smtp_helo_timeout));
	if (sp_open(&s, policy, relay, why, whylen) == -1) {
		*tls_failed = s.tls_failed;
		goto out;
	}
	if (s.has_size && s.sizemax > 0 && req->size > s.sizemax) {
		for (i = 0; i < req->nrcpt; i++) {
			req->rcpt[i].code = 552;
			str_copy(req->rcpt[i].status, "5.3.4", sizeof(req->rcpt[i].status));
			str_fmt(req->rcpt[i].text, sizeof(req->rcpt[i].text),
			    "message size %llu exceeds the limit %llu of %s[%s]",
			    req->size, s.sizemax, a->host, a->ip);
		}
	} else
		sp_transaction(&s);
	req->dsn_passed = s.dsn;	/* this hop reports NOTIFY=SUCCESS itself */
	rv = 0;
	stream_puts(&s.st, "QUIT\r\n");
	s.st.timeout_ms = 2000;
	if (stream_flush(&s.st) == 0 && s.code != 0)
		sp_reply(&s, 2);	/* best effort: the results are already known */
out:
	stream_close(&s.st, 1);
	strbuf_free(&s.lines);
	return rv;
}

/*
 * TLS policy may: when STARTTLS fails, the peer is in an unknown state,
 * so a NEW connection to the same address goes without STARTTLS (Postfix:
 * "RETRY_AS_PLAINTEXT"); nothing was sent yet, no recipient has a result.
 * AUTH to a relayhost still needs TLS (sp_auth), so credentials never go
 * in clear text. encrypt and verify never come here.
 */
int
smtp_deliver(struct smtp_ctx *c, struct smtp_req *req, const struct smtp_addr *a,
    enum smtp_tls policy, int relay, char *why, size_t whylen)
{
	int rv, tls_failed;

	rv = sp_session(c, req, a, policy, relay, &tls_failed, why, whylen);
	if (rv == 0 || !tls_failed || policy != SMTP_TLS_MAY)
		return rv;
	log_info("%s: %s[%s]:%u: STARTTLS failed (%s): retrying in plaintext "
	    "(TLS policy may)", req->qid, a->host, a->ip, a->port, why);
	return sp_session(c, req, a, SMTP_TLS_NONE, relay, &tls_failed, why, whylen);
}
