/*
 * imapd before authentication: the Not Authenticated state of RFC 3501 /
 * RFC 9051 (greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN,
 * AUTHENTICATE with SASL-IR (RFC 4959), ID (RFC 2971)). Runs in the
 * login process as login_user, chrooted to an empty directory when
 * started as root (DESIGN.md rule 4): it reaches the client and authd and
 * nothing else. Passwords are checked by authd, never here.
 *
 * The session process answers the command that authenticated (Dovecot's
 * way: its tagged OK carries the post-login CAPABILITY), so it needs the
 * tag: the login process puts "<tag>\r\n" in front of the client's
 * pipelined input, which the relay passes to the session first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "log.h"
#include "login.h"
#include "strbuf.h"
#include "util.h"

#define IMAP_CAPS_MAX		2048
#define IMAP_ID_PAIRS_MAX	30	/* RFC 2971 3.3 */

struct imap_pre {
	struct login_conn	*lc;
	struct imap_cmd		 cmd;
	unsigned int		 fails;		/* failed logins */
	int			 errors;	/* bad commands in a row */
};

/* The tag of the command that authenticated, for imap_session_failed(). */
static char imap_login_tag[IMAP_TAG_MAX + 1];

unsigned long long
imap_appendlimit(const struct conf *c)
{
	return c->message_size_limit != 0 ? c->message_size_limit : 64ULL * 1024 * 1024;
}

const char *
imap_capabilities(const struct conf *c, int authenticated, int tls)
{
	static char caps[IMAP_CAPS_MAX];

	if (authenticated) {
		/* RFC 9051 7.2.2; the extensions are listed in imapd(8). */
		str_fmt(caps, sizeof(caps), "IMAP4rev1 IMAP4rev2 SASL-IR ID ENABLE IDLE"
		    " LITERAL+ NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE"
		    " LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES SORT SORT=DISPLAY"
		    " THREAD=REFERENCES THREAD=ORDEREDSUBJECT CONDSTORE QRESYNC QUOTA"
		    " QUOTA=RES-STORAGE QUOTA=RES-MESSAGE APPENDLIMIT=%llu BINARY%s"
		    " UTF8=ACCEPT STATUS=SIZE", imap_appendlimit(c),
		    IMAP_HAVE_COMPRESS ? " COMPRESS=DEFLATE" : "");
		return caps;
	}
	/* RFC 3501 6.2.1, 6.2.3: STARTTLS before TLS, LOGINDISABLED without it. */
	str_fmt(caps, sizeof(caps), "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE%s%s",
	    !tls && c->tls_cert[0] != '\0' && c->tls_key[0] != '\0' ? " STARTTLS" : "",
	    !tls && !c->imap_plaintext_auth ? " LOGINDISABLED" : "");
	return caps;
}

/* May a password travel on this connection? (imap_plaintext_auth) */
static int
imap_plain_ok(const struct imap_pre *p)
{
	return p->lc->tls || p->lc->conf->imap_plaintext_auth;
}

static const char *
imap_pre_tag(const struct imap_pre *p)
{
	return p->cmd.tag[0] != '\0' ? p->cmd.tag : "*";
}

/* "tag STATUS [code] text" */
static void
imap_pre_reply(struct imap_pre *p, const char *status, const char *code, const char *text)
{
	stream_printf(&p->lc->s, "%s %s %s%s%s%s\r\n", imap_pre_tag(p), status,
	    code != NULL ? "[" : "", code != NULL ? code : "", code != NULL ? "] " : "", text);
}

/* The pre-auth capability list with the SASL mechanisms offered now. */
static void
imap_pre_caps(struct imap_pre *p, char *out, size_t outlen)
{
	char all[1024], *save = NULL, *m;
	struct strbuf sb;

	strbuf_init(&sb, outlen - 1);
	strbuf_puts(&sb, imap_capabilities(p->lc->conf, 0, p->lc->tls));
	if (login_auth_mechs(p->lc, all, sizeof(all)) == 0) {
		for (m = strtok_r(all, " ", &save); m != NULL; m = strtok_r(NULL, " ", &save)) {
			if (login_mech_is_plaintext(m) && !imap_plain_ok(p))
				continue;
			if (strbuf_printf(&sb, " AUTH=%s", m) == -1)
				break;
		}
	}
	str_copy(out, sb.data != NULL ? sb.data : "", outlen);
	strbuf_free(&sb);
}

/* RFC 3501 6.1.1 */
static int
imap_pre_capability(struct imap_pre *p)
{
	char caps[IMAP_CAPS_MAX];

	imap_pre_caps(p, caps, sizeof(caps));
	stream_printf(&p->lc->s, "* CAPABILITY %s\r\n", caps);
	imap_pre_reply(p, "OK", NULL, "Capability completed");
	return 0;
}

static int
imap_pre_noop(struct imap_pre *p)
{
	imap_pre_reply(p, "OK", NULL, "NOOP completed");
	return 0;
}

/* RFC 3501 6.1.3 */
static int
imap_pre_logout(struct imap_pre *p)
{
	stream_puts(&p->lc->s, "* BYE Logging out\r\n");
	imap_pre_reply(p, "OK", NULL, "Logout completed");
	return -1;
}

/* RFC 3501 6.2.1 */
static int
imap_pre_starttls(struct imap_pre *p)
{
	if (p->lc->tls_ctx == NULL || p->lc->tls) {
		imap_pre_reply(p, "BAD", NULL, p->lc->tls ? "TLS is already active" :
		    "TLS is not available");
		p->errors++;
		return 0;
	}
	imap_pre_reply(p, "OK", NULL, "Begin TLS negotiation now");
	return login_starttls(p->lc);
}

/*
 * RFC 2971 3.1: ID takes NIL or a list of field/value pairs. The client's
 * values are not kept: the login process has nothing to do with them.
 */
int
imap_id_args_ok(const struct imap_cmd *cmd)
{
	const struct imap_arg *a = &cmd->args[0];
	size_t i;

	if (cmd->nargs != 1 || (a->type != IMAP_ARG_NIL && (a->type != IMAP_ARG_LIST ||
	    a->n % 2 != 0 || a->n > 2 * IMAP_ID_PAIRS_MAX)))
		return 0;
	for (i = 0; a->type == IMAP_ARG_LIST && i < a->n; i++)
		if (!imap_arg_is_string(&a->list[i]) && a->list[i].type != IMAP_ARG_NIL)
			return 0;
	return 1;
}

static int
imap_pre_id(struct imap_pre *p)
{
	if (!imap_id_args_ok(&p->cmd)) {
		imap_pre_reply(p, "BAD", NULL, "Invalid ID arguments");
		p->errors++;
		return 0;
	}
	stream_puts(&p->lc->s, "* ID (\"name\" \"postern\")\r\n");
	imap_pre_reply(p, "OK", NULL, "ID completed");
	return 0;
}

/*
 * Authenticated: hand the tag to the session in front of whatever the
 * client pipelined (see the top of this file). 1, or 0 when it cannot.
 */
static int
imap_pre_success(struct imap_pre *p)
{
	struct stream *s = &p->lc->s;
	size_t pending = stream_pending(s), taglen = strlen(p->cmd.tag);

	if (p->cmd.tag[0] == '\0' || taglen + 2 + pending > sizeof(s->rbuf)) {
		imap_pre_reply(p, "NO", "UNAVAILABLE", "Too much pipelined input");
		return 0;
	}
	memmove(s->rbuf + taglen + 2, s->rbuf + s->rpos, pending);
	memcpy(s->rbuf, p->cmd.tag, taglen);
	memcpy(s->rbuf + taglen, "\r\n", 2);
	s->rpos = 0;
	s->rlen = taglen + 2 + pending;
	str_copy(imap_login_tag, p->cmd.tag, sizeof(imap_login_tag));
	return 1;
}

/* Answer a failed login; -1 when this connection has had enough. */
static int
imap_pre_failed(struct imap_pre *p, const char *why)
{
	char clean[128];

	log_info("%s: imap login failed (%s)", p->lc->peer,
	    log_sanitize(clean, sizeof(clean), why, strlen(why)));
	if (strcmp(why, "proto") == 0) {
		/* RFC 3501 6.2.2: an invalid BASE64 string is a BAD. */
		imap_pre_reply(p, "BAD", NULL, "Invalid SASL response");
		p->errors++;
		return 0;
	}
	if (strcmp(why, "limit") == 0) {
		imap_pre_reply(p, "NO", "UNAVAILABLE", "Too many failed logins, try again later");
		stream_puts(&p->lc->s, "* BYE Too many failed logins\r\n");
		return -1;
	}
	if (strcmp(why, "auth") == 0)
		imap_pre_reply(p, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
	else if (strcmp(why, "mech") == 0)
		imap_pre_reply(p, "NO", "CANNOT", "Unsupported authentication mechanism");
	else
		imap_pre_reply(p, "NO", "UNAVAILABLE", "Authentication unavailable");
	/* submission_auth_failures: the failing command is answered first. */
	if (login_fail_limit(p->lc, ++p->fails)) {
		stream_puts(&p->lc->s, "* BYE Too many authentication failures\r\n");
		return -1;
	}
	return 0;
}

static int
imap_pre_refuse_plain(struct imap_pre *p)
{
	/* RFC 3501 6.2.3 / RFC 5530 PRIVACYREQUIRED */
	imap_pre_reply(p, "NO", "PRIVACYREQUIRED", "Plaintext authentication disallowed"
	    " without TLS (use STARTTLS)");
	p->errors++;
	return 0;
}

/* RFC 3501 6.2.3: LOGIN userid password. 1 authenticated, 0 go on, -1 hang up. */
static int
imap_pre_login(struct imap_pre *p)
{
	const struct imap_arg *a = p->cmd.args;
	char why[64];
	int r;

	if (p->cmd.nargs != 2 || !imap_arg_is_astring(&a[0]) || !imap_arg_is_astring(&a[1]) ||
	    strlen(a[0].str) != a[0].len || strlen(a[1].str) != a[1].len) {
		imap_pre_reply(p, "BAD", NULL, "Invalid LOGIN arguments");
		p->errors++;
		return 0;
	}
	if (!imap_plain_ok(p))
		return imap_pre_refuse_plain(p);
	r = login_auth_plain(p->lc, a[0].str, a[1].str, why, sizeof(why));
	if (r == LOGIN_AUTH_OK)
		return imap_pre_success(p);
	return imap_pre_failed(p, r == -1 ? "temp" : why);
}

/* The SASL exchange after authd's first answer. 1, 0 or -1. */
static int
imap_pre_sasl_loop(struct imap_pre *p, int r, char *data, size_t datalen)
{
	struct stream *s = &p->lc->s;
	ssize_t n;

	while (r == LOGIN_AUTH_CONT) {
		/* RFC 3501 6.2.2: "+ " base64 challenge; the client answers a line. */
		stream_printf(s, "+ %s\r\n", data);
		n = stream_getline(s, data, datalen - 1);
		if (n == STREAM_TOOLONG) {
			imap_pre_reply(p, "BAD", "TOOBIG", "SASL response too long");
			p->errors++;
			return 0;
		}
		if (n <= 0)
			return -1;
		data[strcspn(data, "\r\n")] = '\0';
		if (strcmp(data, "*") == 0) {
			imap_pre_reply(p, "BAD", NULL, "Authentication cancelled");
			return 0;
		}
		r = login_auth_step(p->lc, data, data, datalen);
	}
	if (r == LOGIN_AUTH_OK)
		return imap_pre_success(p);
	return imap_pre_failed(p, r == -1 ? "temp" : data);
}

/* RFC 3501 6.2.2 with RFC 4959: AUTHENTICATE mechanism [initial-response]. */
static int
imap_pre_authenticate(struct imap_pre *p)
{
	const struct imap_arg *a = p->cmd.args;
	char *data;
	int r;

	if (p->cmd.nargs < 1 || p->cmd.nargs > 2 || a[0].type != IMAP_ARG_ATOM ||
	    (p->cmd.nargs == 2 && a[1].type != IMAP_ARG_ATOM)) {
		imap_pre_reply(p, "BAD", NULL, "Invalid AUTHENTICATE arguments");
		p->errors++;
		return 0;
	}
	if (login_mech_is_plaintext(a[0].str) && !imap_plain_ok(p))
		return imap_pre_refuse_plain(p);
	data = xmalloc(LOGIN_AUTH_LINE + 2);
	r = login_auth_start(p->lc, a[0].str, p->cmd.nargs == 2 ? a[1].str : NULL,
	    data, LOGIN_AUTH_LINE + 2);
	r = imap_pre_sasl_loop(p, r, data, LOGIN_AUTH_LINE + 2);
	secure_zero(data, LOGIN_AUTH_LINE + 2);
	free(data);
	return r;
}

static const struct {
	const char	*verb;
	int		(*fn)(struct imap_pre *);
} imap_pre_cmds[] = {
	{ "CAPABILITY", imap_pre_capability },
	{ "NOOP", imap_pre_noop },
	{ "LOGOUT", imap_pre_logout },
	{ "STARTTLS", imap_pre_starttls },
	{ "LOGIN", imap_pre_login },
	{ "AUTHENTICATE", imap_pre_authenticate },
	{ "ID", imap_pre_id },
};

/* One command. 1 authenticated, 0 go on, -1 hang up. */
static int
imap_pre_dispatch(struct imap_pre *p)
{
	size_t i;
	int r, errors = p->errors;

	for (i = 0; i < NELEM(imap_pre_cmds); i++) {
		if (strcmp(p->cmd.name, imap_pre_cmds[i].verb) != 0)
			continue;
		if (p->cmd.nargs > 0 && (imap_pre_cmds[i].fn == imap_pre_capability ||
		    imap_pre_cmds[i].fn == imap_pre_noop || imap_pre_cmds[i].fn == imap_pre_logout ||
		    imap_pre_cmds[i].fn == imap_pre_starttls)) {
			imap_pre_reply(p, "BAD", NULL, "Unexpected arguments");
			p->errors++;
			return 0;
		}
		r = imap_pre_cmds[i].fn(p);
		if (p->errors == errors)
			p->errors = 0;	/* IMAP_ERROR_LIMIT counts BADs in a row */
		return r;
	}
	imap_pre_reply(p, "BAD", NULL, "Unknown command or not valid before login");
	p->errors++;
	return 0;
}

/* A command imap_cmd_read refused: answer it. */
static void
imap_pre_refused(struct imap_pre *p, int rr, const char *err)
{
	if (rr == IMAP_READ_TOOBIG)
		imap_pre_reply(p, "BAD", "TOOBIG", err[0] != '\0' ? err : "Command too long");
	else
		imap_pre_reply(p, "BAD", NULL, err[0] != '\0' ? err : "Invalid command");
	p->errors++;
}

int
imap_preauth(struct login_conn *lc)
{
	struct imap_limits lim = { IMAP_PREAUTH_LINE_MAX, LOGIN_AUTH_LINE,
	    IMAP_PREAUTH_LINE_MAX + 2 * LOGIN_AUTH_LINE, 1 };
	struct imap_pre p;
	char caps[IMAP_CAPS_MAX], err[256];
	int cmds, rr, r = 0;

	memset(&p, 0, sizeof(p));
	p.lc = lc;
	imap_cmd_init(&p.cmd);
	imap_pre_caps(&p, caps, sizeof(caps));
	stream_printf(&lc->s, "* OK [CAPABILITY %s] postern ready\r\n", caps);
	for (cmds = 0; r == 0; cmds++) {
		if (cmds == IMAP_PREAUTH_CMDS || p.errors >= IMAP_ERROR_LIMIT) {
			stream_puts(&lc->s, cmds == IMAP_PREAUTH_CMDS ?
			    "* BYE Too many commands before login\r\n" :
			    "* BYE Too many invalid commands\r\n");
			r = -1;
			break;
		}
		err[0] = '\0';
		rr = imap_cmd_read(&lc->s, &p.cmd, &lim, err, sizeof(err));
		if (rr == IMAP_READ_EOF)
			r = -1;
		else if (rr != IMAP_READ_OK)
			imap_pre_refused(&p, rr, err);
		else
			r = imap_pre_dispatch(&p);
		if (p.cmd.buf != NULL)
			secure_zero(p.cmd.buf, p.cmd.bufcap);	/* LOGIN passwords */
	}
	imap_cmd_free(&p.cmd);
	secure_zero(&p, sizeof(p));
	return r == 1 ? 0 : -1;
}

void
imap_session_failed(struct login_conn *lc)
{
	stream_printf(&lc->s, "%s NO [UNAVAILABLE] Cannot open the mailbox\r\n",
	    imap_login_tag[0] != '\0' ? imap_login_tag : "*");
}
