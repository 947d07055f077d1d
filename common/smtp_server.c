/*
 * smtp_server: the SMTP server session shared by smtpd and submitd: the
 * greeting, the command loop with its limits (line length, errors, idle
 * time), and one handler per verb chosen from a table that also lists
 * the states each verb is allowed in (OpenSMTPD smtp_session.c style).
 * The message content itself is in smtp_msg.c. Runs in the session
 * workers of smtpd/submitd, unprivileged (and chrooted to the queue
 * directory for smtpd); the daemon's policy comes in as hooks. A worker
 * serves many connections one after another (common/listen_pool.c), so
 * everything a session learns lives in its struct smtp_session, made
 * and freed by smtp_server_run(): nothing static, nothing kept.
 */
#include "config.h"

#include <sys/statvfs.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "smtp_int.h"
#include "util.h"

struct smtp_verb {
	const char	*name;
	unsigned	 states;	/* SMTP_S_* where the verb is allowed */
	const char	*seq_text;	/* 503 text when it is not */
	void		(*fn)(struct smtp_session *, char *arg);
};

static void smtp_cmd_ehlo(struct smtp_session *, char *);
static void smtp_cmd_helo(struct smtp_session *, char *);
static void smtp_cmd_mail(struct smtp_session *, char *);
static void smtp_cmd_rcpt(struct smtp_session *, char *);
static void smtp_cmd_rset(struct smtp_session *, char *);
static void smtp_cmd_noop(struct smtp_session *, char *);
static void smtp_cmd_quit(struct smtp_session *, char *);
static void smtp_cmd_vrfy(struct smtp_session *, char *);
static void smtp_cmd_expn(struct smtp_session *, char *);
static void smtp_cmd_help(struct smtp_session *, char *);
static void smtp_cmd_starttls(struct smtp_session *, char *);
static void smtp_cmd_auth(struct smtp_session *, char *);

#define S_ANY	(SMTP_S_INIT | SMTP_S_HELO | SMTP_S_MAIL | SMTP_S_RCPT | SMTP_S_BDAT)
#define S_GREETED (SMTP_S_HELO | SMTP_S_MAIL | SMTP_S_RCPT | SMTP_S_BDAT)

static const struct smtp_verb smtp_verbs[] = {
	{ "EHLO", S_ANY, NULL, smtp_cmd_ehlo },
	{ "HELO", S_ANY, NULL, smtp_cmd_helo },
	{ "MAIL", SMTP_S_HELO, NULL, smtp_cmd_mail },
	{ "RCPT", SMTP_S_MAIL | SMTP_S_RCPT, "need MAIL command", smtp_cmd_rcpt },
	{ "DATA", SMTP_S_RCPT, NULL, smtp_cmd_data },
	/* BDAT checks its state itself: it must read the chunk first (RFC 3030 2). */
	{ "BDAT", S_ANY, NULL, smtp_cmd_bdat },
	{ "RSET", S_ANY, NULL, smtp_cmd_rset },
	{ "NOOP", S_ANY, NULL, smtp_cmd_noop },
	{ "QUIT", S_ANY, NULL, smtp_cmd_quit },
	{ "VRFY", S_ANY, NULL, smtp_cmd_vrfy },
	{ "EXPN", S_ANY, NULL, smtp_cmd_expn },
	{ "HELP", S_ANY, NULL, smtp_cmd_help },
	{ "STARTTLS", SMTP_S_INIT | SMTP_S_HELO, "STARTTLS not allowed in a mail transaction",
	    smtp_cmd_starttls },
	{ "AUTH", SMTP_S_HELO, NULL, smtp_cmd_auth },
};

struct smtp_reply *
smtp_reply_set(struct smtp_reply *r, int code, const char *ecode,
    const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	if (str_copy(r->ecode, ecode, sizeof(r->ecode)) == -1)
		r->ecode[0] = '\0';
	va_start(ap, fmt);
	if (vsnprintf(r->text, sizeof(r->text), fmt, ap) < 0)
		r->text[0] = '\0';
	va_end(ap);
	return r;
}

/* One reply line (RFC 5321 4.2, RFC 2034 enhanced code), at most 512 octets. */
static void
smtp_vsend(struct smtp_session *s, int count, int code, const char *ecode,
    const char *fmt, va_list ap)
{
	char text[400];

	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = '\0';
	if (ecode != NULL && *ecode != '\0')
		stream_printf(&s->st, "%d %s %s\r\n", code, ecode, text);
	else
		stream_printf(&s->st, "%d %s\r\n", code, text);
	if (count && code >= 400 && code != 421)
		s->errors++;
}

void
smtp_send(struct smtp_session *s, int code, const char *ecode, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vsend(s, 1, code, ecode, fmt, ap);
	va_end(ap);
}

/* Replies that are not the client's fault (452 too many recipients). */
void
smtp_send_nocount(struct smtp_session *s, int code, const char *ecode,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vsend(s, 0, code, ecode, fmt, ap);
	va_end(ap);
}

void
smtp_send_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	smtp_send(s, r->code, r->ecode, "%s", r->text);
	/* RFC 5321 3.8: a hook's 421 closes the channel (e.g. AUTH failures). */
	if (r->code == 421)
		s->done = 1;
}

void
smtp_read_failed(struct smtp_session *s, ssize_t r, const char *where)
{
	if (r == STREAM_ERR && errno == ETIMEDOUT) {
		/* RFC 5321 4.5.3.2: the server may close an idle session. */
		log_info("timeout after %s from [%s]", where, s->client_addr);
		smtp_send(s, 421, "4.4.2", "%s Error: timeout exceeded",
		    s->pol->hostname);
	} else if (r == STREAM_EOF) {
		log_info("lost connection after %s from [%s]", where, s->client_addr);
	} else {
		log_info("read error after %s from [%s]", where, s->client_addr);
	}
	s->done = 1;
}

/* RFC 3848 (and RFC 6531 3.7.3 for UTF8SMTP) "with" protocol names. */
const char *
smtp_proto_word(const struct smtp_session *s)
{
	static const char *const words[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!s->esmtp)
		return "SMTP";
	return words[s->mp.smtputf8 != 0][s->tls != 0][s->auth_user != NULL];
}

void
smtp_txn_reset(struct smtp_session *s)
{
	size_t i;

	smtp_msg_abort(s);
	for (i = 0; i < s->nrcpt; i++) {
		free(s->rcpt[i].addr);
		free(s->rcpt[i].orcpt);
	}
	s->nrcpt = 0;
	s->has_sender = 0;
	s->sender[0] = '\0';
	memset(&s->mp, 0, sizeof(s->mp));
	s->bdat_failed = 0;
	if (s->state != SMTP_S_INIT)
		s->state = SMTP_S_HELO;
}

/* HELO/EHLO argument: kept sanitised for the Received header and logs. */
static int
smtp_set_helo(struct smtp_session *s, const char *arg, const char *verb)
{
	if (*arg == '\0') {
		smtp_send(s, 501, "5.5.4", "Syntax: %s hostname", verb);
		return -1;
	}
	log_sanitize(s->helo, sizeof(s->helo), arg, strlen(arg));
	/* Only the first word: the Received "from" clause is one domain. */
	s->helo[strcspn(s->helo, " \t")] = '\0';
	smtp_txn_reset(s);
	s->state = SMTP_S_HELO;
	return 0;
}

static void
smtp_cmd_ehlo(struct smtp_session *s, char *arg)
{
	const struct smtp_policy *p = s->pol;

	if (smtp_set_helo(s, arg, "EHLO") == -1)
		return;
	s->esmtp = 1;
	/* RFC 2034 3: no enhanced codes in the EHLO response. */
	stream_printf(&s->st, "250-%s\r\n", p->hostname);
	stream_puts(&s->st, "250-PIPELINING\r\n");
	stream_printf(&s->st, "250-SIZE %llu\r\n", p->size_limit);
	stream_puts(&s->st, "250-8BITMIME\r\n");
	stream_puts(&s->st, "250-ENHANCEDSTATUSCODES\r\n");
	if (p->tls_ctx != NULL && !s->tls)
		stream_puts(&s->st, "250-STARTTLS\r\n");
	/* RFC 4954 4: with TLS available, AUTH only after STARTTLS. */
	if (p->auth_mechs != NULL && p->auth != NULL &&
	    (s->tls || (!p->tls_required && p->tls_ctx == NULL)))
		stream_printf(&s->st, "250-AUTH %s\r\n", p->auth_mechs);
	stream_puts(&s->st, "250-SMTPUTF8\r\n");
	stream_puts(&s->st, "250-DSN\r\n");
	stream_puts(&s->st, "250 CHUNKING\r\n");
}

static void
smtp_cmd_helo(struct smtp_session *s, char *arg)
{
	if (smtp_set_helo(s, arg, "HELO") == -1)
		return;
	s->esmtp = 0;
	stream_printf(&s->st, "250 %s\r\n", s->pol->hostname);
}

/* Policy checks before MAIL: TLS and AUTH when the daemon requires them. */
static int
smtp_mail_allowed(struct smtp_session *s)
{
	if (s->pol->tls_required && !s->tls) {
		smtp_send(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return 0;
	}
	if (s->pol->auth_required && s->auth_user == NULL) {
		smtp_send(s, 530, "5.7.0", "Authentication required");
		return 0;
	}
	return 1;
}

static int
smtp_has_8bit(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a >= 0x80)
			return 1;
	return 0;
}

/*
 * Is there room in the queue file system (the working directory: the
 * queue) for the SIZE= the client declared? 1 when none was declared or
 * the free space is unknown; the write itself still catches ENOSPC.
 */
static int
smtp_size_fits(const struct address_mail_params *mp)
{
	struct statvfs sv;
	unsigned long long avail;

	if (!mp->has_size || statvfs(".", &sv) == -1)
		return 1;
	avail = (unsigned long long)sv.f_bavail * (unsigned long long)sv.f_frsize;
	return mp->size <= avail;
}

static void
smtp_cmd_mail(struct smtp_session *s, char *arg)
{
	const char *p, *rest, *why;
	struct address_perr perr;
	struct smtp_reply r;
	int offered = ADDR_P_DSN;

	if (!smtp_mail_allowed(s))
		return;
	if ((p = smtp_cmd_keyword(arg, "FROM:")) == NULL) {
		smtp_send(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return;
	}
	if (address_parse_path(p, ADDR_NULL_OK | ADDR_UTF8, s->sender,
	    sizeof(s->sender), &rest, &why) == -1) {
		smtp_send(s, 501, "5.1.7", "Bad sender address syntax: %s", why);
		return;
	}
	if (s->pol->auth != NULL)
		offered |= ADDR_P_AUTH;
	if (!s->esmtp && *rest != '\0') {
		smtp_send(s, 555, "5.5.4", "MAIL parameters need EHLO");
		return;
	}
	if (address_parse_mail_params(rest, offered, s->pol->size_limit, &s->mp,
	    &perr) == -1) {
		smtp_send(s, perr.code, perr.ecode, "%s", perr.text);
		memset(&s->mp, 0, sizeof(s->mp));
		return;
	}
	if (!smtp_size_fits(&s->mp)) {
		/* RFC 1870 6.1, RFC 3463 4.3.1: not now, maybe later. */
		smtp_send(s, 452, "4.3.1", "Error: insufficient system storage");
		memset(&s->mp, 0, sizeof(s->mp));
		return;
	}
	if (!s->mp.smtputf8 && smtp_has_8bit(s->sender)) {
		/* RFC 6531 3.5 */
		smtp_send(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		memset(&s->mp, 0, sizeof(s->mp));
		return;
	}
	if (s->pol->mail_from != NULL &&
	    s->pol->mail_from(s, s->sender, &r, s->pol->arg) == -1) {
		smtp_send_reply(s, &r);
		memset(&s->mp, 0, sizeof(s->mp));
		return;
	}
	s->has_sender = 1;
	s->state = SMTP_S_MAIL;
	smtp_send(s, 250, "2.1.0", "Ok");
}

static void
smtp_rcpt_add(struct smtp_session *s, const char *addr,
    const struct address_rcpt_params *rp)
{
	struct smtp_rcpt *r;

	if (s->nrcpt == s->rcap) {
		s->rcap = s->rcap ? s->rcap * 2 : 8;
		s->rcpt = xreallocarray(s->rcpt, s->rcap, sizeof(*s->rcpt));
	}
	r = &s->rcpt[s->nrcpt++];
	r->addr = xstrdup(addr);
	r->orcpt = rp->orcpt[0] != '\0' ? xstrdup(rp->orcpt) : NULL;
	r->notify = rp->notify;
}

static void
smtp_rcpt_log(struct smtp_session *s, const char *rcpt, const struct smtp_reply *r)
{
	char to[ADDR_BUF], from[ADDR_BUF], text[160];

	log_info("reject: RCPT from [%s]: %d %s %s; from=<%s> to=<%s>",
	    s->client_addr, r->code, r->ecode,
	    log_sanitize(text, sizeof(text), r->text, strlen(r->text)),
	    log_sanitize(from, sizeof(from), s->sender, strlen(s->sender)),
	    log_sanitize(to, sizeof(to), rcpt, strlen(rcpt)));
}

static void
smtp_cmd_rcpt(struct smtp_session *s, char *arg)
{
	char addr[ADDR_BUF], canon[ADDR_BUF];
	const char *p, *rest, *why;
	struct address_rcpt_params rp;
	struct address_perr perr;
	struct smtp_reply r;

	if ((p = smtp_cmd_keyword(arg, "TO:")) == NULL) {
		smtp_send(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return;
	}
	if (s->pol->rcpt_limit != 0 && s->nrcpt >= s->pol->rcpt_limit) {
		/* RFC 5321 4.5.3.1.10: 452, the client sends the rest later. */
		smtp_send_nocount(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if (address_parse_path(p, ADDR_POSTMASTER | ADDR_UTF8, addr, sizeof(addr),
	    &rest, &why) == -1) {
		smtp_send(s, 501, "5.1.3", "Bad recipient address syntax: %s", why);
		return;
	}
	if (!s->esmtp && *rest != '\0') {
		smtp_send(s, 555, "5.5.4", "RCPT parameters need EHLO");
		return;
	}
	if (address_parse_rcpt_params(rest, ADDR_P_DSN, &rp, &perr) == -1) {
		smtp_send(s, perr.code, perr.ecode, "%s", perr.text);
		return;
	}
	if (!s->mp.smtputf8 && smtp_has_8bit(addr)) {
		smtp_send(s, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
		return;
	}
	memcpy(canon, addr, sizeof(canon));
	smtp_reply_set(&r, 451, "4.3.0", "Error: recipient check failed");
	s->pol->rcpt_to(s, addr, canon, sizeof(canon), &r, s->pol->arg);
	canon[sizeof(canon) - 1] = '\0';
	if (r.code >= 200 && r.code < 300) {
		smtp_rcpt_add(s, canon, &rp);
		s->state = SMTP_S_RCPT;
	} else {
		smtp_rcpt_log(s, addr, &r);
	}
	smtp_send_reply(s, &r);
}

static void
smtp_cmd_rset(struct smtp_session *s, char *arg)
{
	smtp_txn_reset(s);
	smtp_send(s, 250, "2.0.0", "Ok");
}

static void
smtp_cmd_noop(struct smtp_session *s, char *arg)
{
	smtp_send(s, 250, "2.0.0", "Ok");
}

static void
smtp_cmd_quit(struct smtp_session *s, char *arg)
{
	smtp_send(s, 221, "2.0.0", "Bye");
	s->done = 1;
}

static void
smtp_cmd_vrfy(struct smtp_session *s, char *arg)
{
	if (*arg == '\0') {
		smtp_send(s, 501, "5.5.4", "Syntax: VRFY address");
		return;
	}
	/* RFC 5321 3.5.3: 252, no address harvesting. */
	smtp_send(s, 252, "2.5.0",
	    "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
smtp_cmd_expn(struct smtp_session *s, char *arg)
{
	smtp_send(s, 502, "5.5.1", "Command not implemented");
}

static void
smtp_cmd_help(struct smtp_session *s, char *arg)
{
	smtp_send(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP%s", s->pol->tls_ctx && !s->tls ?
	    " STARTTLS" : "");
}

/*
 * RFC 3207 4: 220, then the handshake. Anything the client pipelined
 * behind STARTTLS arrived in plaintext and is thrown away (the "STARTTLS
 * command injection" class); afterwards the session starts afresh.
 */
static void
smtp_cmd_starttls(struct smtp_session *s, char *arg)
{
	size_t pending;

	if (s->pol->tls_ctx == NULL) {
		smtp_send(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	if (s->tls) {
		smtp_send(s, 503, "5.5.1", "TLS already active");
		return;
	}
	if (*arg != '\0') {
		smtp_send(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	smtp_send(s, 220, "2.0.0", "Ready to start TLS");
	if (stream_flush(&s->st) == -1) {
		s->done = 1;
		return;
	}
	if ((pending = stream_pending(&s->st)) > 0) {
		log_warn("discarding %zu bytes pipelined after STARTTLS from [%s]",
		    pending, s->client_addr);
		stream_discard(&s->st);
	}
	if (stream_tls_accept(&s->st, s->pol->tls_ctx) == -1) {
		log_info("TLS handshake failed with [%s]", s->client_addr);
		s->done = 1;
		return;
	}
	s->tls = 1;
	stream_tls_info(&s->st, s->tls_info, sizeof(s->tls_info));
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	smtp_txn_reset(s);
	s->state = SMTP_S_INIT;
	s->esmtp = 0;
	s->helo[0] = '\0';
}

static void
smtp_cmd_auth(struct smtp_session *s, char *arg)
{
	char user[ADDR_BUF], mech[64];
	const char *initial;
	struct smtp_reply r;
	size_t n;

	if (s->pol->auth == NULL || s->pol->auth_mechs == NULL) {
		smtp_send(s, 503, "5.5.1", "Error: authentication not enabled");
		return;
	}
	if ((s->pol->tls_required || s->pol->tls_ctx != NULL) && !s->tls) {
		smtp_send(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return;
	}
	if (s->auth_user != NULL) {
		smtp_send(s, 503, "5.5.1", "Already authenticated");	/* RFC 4954 4 */
		return;
	}
	n = strcspn(arg, " ");
	if (n == 0 || n >= sizeof(mech)) {
		smtp_send(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = '\0';
	initial = arg[n] == ' ' ? arg + n + 1 : NULL;
	smtp_reply_set(&r, 535, "5.7.8", "Authentication failed");
	if (s->pol->auth(s, mech, initial, user, sizeof(user), &r, s->pol->arg) == -1) {
		smtp_send_reply(s, &r);
		return;
	}
	s->auth_user = xstrdup(user);
	smtp_send(s, 235, "2.7.0", "Authentication successful");
}

int
smtp_session_auth_challenge(struct smtp_session *s, const char *challenge,
    char *resp, size_t resplen)
{
	ssize_t n;

	stream_printf(&s->st, "334 %s\r\n", challenge);
	n = stream_getline(&s->st, resp, resplen - 1);
	if (n <= 0) {
		if (n != STREAM_TOOLONG)
			smtp_read_failed(s, n, "AUTH");
		return -1;
	}
	while (n > 0 && (resp[n - 1] == '\n' || resp[n - 1] == '\r'))
		resp[--n] = '\0';
	return 0;
}

static const struct smtp_verb *
smtp_find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(smtp_verbs); i++)
		if (str_ieq(name, smtp_verbs[i].name))
			return &smtp_verbs[i];
	return NULL;
}

/* Sequence errors (RFC 5321 4.3.2, 503 5.5.1) with a helpful text. */
static void
smtp_bad_sequence(struct smtp_session *s, const struct smtp_verb *v)
{
	const char *text = v->seq_text;

	if (text == NULL && s->state == SMTP_S_INIT)
		text = "send HELO/EHLO first";
	else if (text == NULL && s->state == SMTP_S_BDAT)
		text = "BDAT transaction in progress (RSET to clear it)";
	else if (text == NULL && (s->state & (SMTP_S_MAIL | SMTP_S_RCPT)) &&
	    str_ieq(v->name, "MAIL"))
		text = "nested MAIL command";
	else if (text == NULL && str_ieq(v->name, "DATA"))
		text = "need RCPT command";
	else if (text == NULL)
		text = "bad sequence of commands";
	smtp_send(s, 503, "5.5.1", "Error: %s", text);
}

static void
smtp_dispatch(struct smtp_session *s, char *line, size_t len)
{
	const struct smtp_verb *v;
	char *verb, *arg;

	if (smtp_cmd_split(line, len, &verb, &arg) == -1) {
		smtp_send(s, 500, "5.5.2", "Error: bad syntax");
		return;
	}
	if ((v = smtp_find_verb(verb)) == NULL) {
		smtp_send(s, 500, "5.5.2", "Error: command not recognized");
		return;
	}
	if (len > SMTP_CMD_MAX && v->fn != smtp_cmd_auth) {
		smtp_send(s, 500, "5.5.2", "Error: line too long");
		return;
	}
	if (!(v->states & s->state)) {
		smtp_bad_sequence(s, v);
		return;
	}
	v->fn(s, arg);
}

static void
smtp_session_loop(struct smtp_session *s)
{
	size_t max = s->pol->auth != NULL ? SMTP_AUTH_LINE : SMTP_CMD_MAX;
	ssize_t n;

	while (!s->done) {
		n = stream_getline(&s->st, s->line, max);
		if (n == STREAM_TOOLONG) {
			/* RFC 5321 4.5.3.1.4; the rest of the line was dropped. */
			smtp_send(s, 500, "5.5.2", "Error: line too long");
		} else if (n <= 0) {
			smtp_read_failed(s, n, "command");
			break;
		} else {
			smtp_dispatch(s, s->line, (size_t)n);
		}
		if (!s->done && s->pol->error_limit != 0 &&
		    s->errors >= s->pol->error_limit) {
			log_info("too many errors from [%s]", s->client_addr);
			smtp_send(s, 421, "4.7.0", "%s Error: too many errors",
			    s->pol->hostname);
			s->done = 1;
		}
	}
}

void
smtp_server_run(const struct smtp_policy *pol, int rfd, int wfd,
    const char *client_addr)
{
	struct smtp_session *s = xmalloc(sizeof(*s));
	size_t from = offsetof(struct smtp_session, st) + sizeof(s->st);

	/*
	 * Zero the fields, not the buffers: the stream's 16 KiB read buffer
	 * (stream_init leaves it alone) and the 20 KiB of line buffers stay
	 * untouched pages until a client fills them, so an idle connection's
	 * worker stays small (issue 12: PSS per idle connection).
	 */
	memset(s, 0, offsetof(struct smtp_session, st));
	memset((char *)s + from, 0, offsetof(struct smtp_session, line) - from);
	s->pol = pol;
	s->state = SMTP_S_INIT;
	strbuf_init(&s->hdr, SMTP_HDR_MAX);
	if (str_copy(s->client_addr, client_addr, sizeof(s->client_addr)) == -1)
		str_copy(s->client_addr, "unknown", sizeof(s->client_addr));
	/*
	 * A plain session on one socket waits in recv(2) itself, one system
	 * call per command (stream_block_reads); the fd is closed after us.
	 */
	if (rfd == wfd && !pol->tls_implicit)
		stream_init_sock(&s->st, rfd, pol->timeout_ms);
	else
		stream_init(&s->st, rfd, wfd, pol->timeout_ms);
	log_info("connect from [%s]", s->client_addr);
	if (pol->tls_implicit) {
		if (pol->tls_ctx == NULL || stream_tls_accept(&s->st, pol->tls_ctx) == -1) {
			log_info("TLS handshake failed with [%s]", s->client_addr);
			goto out;
		}
		s->tls = 1;
		stream_tls_info(&s->st, s->tls_info, sizeof(s->tls_info));
	}
	/* RFC 2034 3: no enhanced code in the greeting. */
	stream_printf(&s->st, "220 %s %s\r\n", pol->hostname,
	    pol->greeting != NULL ? pol->greeting : "ESMTP postern");
	smtp_session_loop(s);
	stream_flush(&s->st);
out:
	smtp_txn_reset(s);
	log_info("disconnect from [%s]", s->client_addr);
	stream_close(&s->st, 0);
	strbuf_free(&s->hdr);
	free(s->rcpt);
	free(s->auth_user);
	free(s);
}

const char *
smtp_session_client_addr(const struct smtp_session *s)
{
	return s->client_addr;
}

const char *
smtp_session_helo(const struct smtp_session *s)
{
	return s->helo;
}

const char *
smtp_session_auth_user(const struct smtp_session *s)
{
	return s->auth_user;
}

const char *
smtp_session_sender(const struct smtp_session *s)
{
	return s->has_sender ? s->sender : NULL;
}

int
smtp_session_tls(const struct smtp_session *s)
{
	return s->tls;
}

size_t
smtp_session_nrcpt(const struct smtp_session *s)
{
	return s->nrcpt;
}

const char *
smtp_date(char *buf, size_t len, long long when)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)when;
	struct tm tm;

	/* UTC: inside smtpd's chroot there is no /etc/localtime. */
	if (gmtime_r(&t, &tm) == NULL ||
	    str_fmt(buf, len, "%s, %d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec) == -1)
		str_copy(buf, "Thu, 1 Jan 1970 00:00:00 +0000", len);
	return buf;
}
