/*
 * smtp_proto: one outbound SMTP transaction (RFC 5321) over one address.
 * Runs in the smtp per-request child, as mail_owner (chrooted to the
 * queue directory when started as root). Every reply is read with a
 * per-stage timeout (RFC 5321 4.5.3.2) and validated strictly: a reply
 * line that is not "DDD", "DDD text" or "DDD-text" ending in CRLF, a
 * code that changes inside a multiline reply, or an unexpected code
 * class is a temporary failure. Opportunistic STARTTLS (RFC 3207),
 * PIPELINING (RFC 2920), SIZE (RFC 1870), AUTH PLAIN/LOGIN to a
 * relayhost (RFC 4954), dot-stuffing and CRLF normalisation of the
 * content (RFC 5321 4.5.2, 2.3.8).
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtp.h"
#include "stream.h"
#include "strbuf.h"
#include "util.h"

#define SP_LINE_MAX	2048		/* reply line (RFC 5321 4.5.3.1.5: 512) */
#define SP_REPLY_LINES	100		/* lines in one multiline reply */
#define SP_CHUNK	65536

struct sp {
	struct stream	 st;
	struct smtp_ctx	*c;
	struct smtp_req	*req;
	const struct smtp_addr *a;
	int	 tls;
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

/* One reply line: "DDD", "DDD text" or "DDD-text", CRLF. 1 more follow, 0 last, -1 bad. */
static int
sp_line_ok(const char *l, size_t n, int *code)
{
	if (n < 5 || l[n - 2] != '\r' || l[n - 1] != '\n')
		return -1;
	if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9')
		return -1;
	if (memchr(l, '\0', n) != NULL)
		return -1;
	*code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (n == 5)
		return 0;
	if (l[3] == '-')
		return 1;
	return l[3] == ' ' ? 0 : -1;
}

/* Read one whole reply under timeout seconds. 0, or -1 (sp->reply says why). */
static int
sp_reply(struct sp *s, long long timeout)
{
	char line[SP_LINE_MAX + 1];
	ssize_t n;
	int code, first = -1, more, k;
	size_t used;

	s->st.timeout_ms = sp_ms(timeout);
	strbuf_reset(&s->lines);
	s->reply[0] = '\0';
	for (k = 0; k < SP_REPLY_LINES; k++) {
		n = stream_getline(&s->st, line, SP_LINE_MAX);
		if (n == STREAM_EOF || n == STREAM_ERR) {
			str_copy(s->reply, n == STREAM_EOF ? "lost connection" :
			    errno == ETIMEDOUT ? "timeout" : "read error", sizeof(s->reply));
			return -1;
		}
		if (n == STREAM_TOOLONG || (more = sp_line_ok(line, (size_t)n, &code)) == -1 ||
		    (first != -1 && code != first)) {
			str_copy(s->reply, "malformed reply", sizeof(s->reply));
			return -1;
		}
		first = code;
		line[n - 2] = '\0';
		strbuf_printf(&s->lines, "%s\n", n > 5 ? line + 4 : "");
		used = strlen(s->reply);
		if (used == 0)
			log_sanitize(s->reply, sizeof(s->reply), line, (size_t)n - 2);
		else if (used + 2 < sizeof(s->reply) && n > 5) {
			s->reply[used++] = ' ';
			s->reply[used] = '\0';
			log_sanitize(s->reply + used, sizeof(s->reply) - used, line + 4,
			    (size_t)n - 6);
		}
		if (!more) {
			s->code = code;
			return 0;
		}
	}
	str_copy(s->reply, "malformed reply (too many lines)", sizeof(s->reply));
	return -1;
}

/* The enhanced status code of a reply, or "C.0.0". */
static void
sp_enhanced(int code, const char *reply, char *out, size_t outlen)
{
	const char *p = reply + 4;
	size_t a, b, c;

	str_fmt(out, outlen, "%d.0.0", code / 100);
	if (strlen(reply) < 9 || p[0] != '0' + code / 100 || p[1] != '.')
		return;
	a = strspn(p + 2, "0123456789");
	if (a < 1 || a > 3 || p[2 + a] != '.')
		return;
	b = strspn(p + 3 + a, "0123456789");
	c = 3 + a + b;
	if (b < 1 || b > 3 || (p[c] != ' ' && p[c] != '\0') || c >= outlen)
		return;
	memcpy(out, p, c);
	out[c] = '\0';
}

/* Set recipient r's result from the last reply (code < 400: accepted). */
static void
sp_result(struct sp *s, struct smtp_rcpt *r, const char *stage)
{
	r->code = s->code;
	sp_enhanced(s->code, s->reply, r->status, sizeof(r->status));
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

static void
sp_caps(struct sp *s)
{
	const char *p = s->lines.data ? s->lines.data : "";
	const char *e;
	unsigned long long v;
	char w[64];
	size_t len;

	s->pipelining = s->starttls = s->dsn = s->eightbit = s->utf8 = 0;
	s->auth_plain = s->auth_login = s->has_size = 0;
	for (p = strchr(p, '\n'); p != NULL && p[1]; p = e) {	/* skip line 1 */
		p++;
		e = strchr(p, '\n');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len >= sizeof(w))
			len = sizeof(w) - 1;
		memcpy(w, p, len);
		w[len] = '\0';
		if (str_ieq(w, "PIPELINING"))
			s->pipelining = 1;
		else if (str_ieq(w, "STARTTLS"))
			s->starttls = 1;
		else if (str_ieq(w, "DSN"))
			s->dsn = 1;
		else if (str_ieq(w, "8BITMIME"))
			s->eightbit = 1;
		else if (str_ieq(w, "SMTPUTF8"))
			s->utf8 = 1;
		else if (str_iprefix(w, "SIZE")) {
			s->has_size = 1;
			if (w[4] == ' ' && parse_ullong(w + 5, 0, 1ULL << 50, &v) == 0)
				s->sizemax = v;
		} else if (str_iprefix(w, "AUTH ")) {
			s->auth_plain = strcasestr(w, " PLAIN") != NULL;
			s->auth_login = strcasestr(w, " LOGIN") != NULL;
		}
		if (e == NULL)
			break;
	}
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

/*
 * STARTTLS (RFC 3207). Bytes after the 220 that arrived before the
 * handshake are an injection attempt (CVE-2011-0411 class): the
 * connection is dropped, they are never read as a reply.
 */
static int
sp_starttls(struct sp *s, enum smtp_tls policy, char *why, size_t whylen)
{
	SSL_CTX *ctx = policy == SMTP_TLS_VERIFY ? s->c->tls_verify : s->c->tls_any;
	const char *name = s->a->host;

	stream_puts(&s->st, "STARTTLS\r\n");
	if (sp_reply(s, s->c->conf->smtp_helo_timeout) == -1 || s->code != 220) {
		str_fmt(why, whylen, "%s (in reply to STARTTLS)", s->reply);
		return -1;
	}
	if (stream_pending(&s->st) > 0) {
		str_fmt(why, whylen, "reply bytes before the TLS handshake "
		    "(STARTTLS injection?): connection dropped");
		return -1;
	}
	if (ctx == NULL || stream_tls_connect(&s->st, ctx, name) == -1) {
		str_fmt(why, whylen, "TLS handshake failed%s",
		    policy == SMTP_TLS_VERIFY ? " (certificate verification)" : "");
		return -1;
	}
	s->tls = 1;
	/* RFC 3207 4.2: forget what we knew, ask again. */
	return sp_ehlo(s, why, whylen);
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
	if (s->dsn && s->req->have_q && q->ret != NULL)
		stream_printf(&s->st, " RET=%s", q->ret);
	if (s->dsn && s->req->have_q && q->envid != NULL)
		stream_printf(&s->st, " ENVID=%s", q->envid);
	stream_puts(&s->st, "\r\n");
}

static void
sp_rcpt(struct sp *s, const struct smtp_rcpt *r)
{
	stream_printf(&s->st, "RCPT TO:<%s>", r->addr);
	if (s->dsn && r->notify != NULL)
		stream_printf(&s->st, " NOTIFY=%s", r->notify);
	if (s->dsn && r->orcpt != NULL)
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

int
smtp_deliver(struct smtp_ctx *c, struct smtp_req *req, const struct smtp_addr *a,
    enum smtp_tls policy, int relay, char *why, size_t whylen)
{
	struct sp s;
	size_t i;
	int fd, rv = 1;

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
	if (sp_open(&s, policy, relay, why, whylen) == -1)
		goto out;
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
