/*
 * pop3d pre-authentication: the AUTHORIZATION state of RFC 1939 with
 * CAPA (RFC 2449), STLS (RFC 2595) and AUTH (RFC 5034). Runs in the
 * login process as login_user, chrooted to an empty directory when
 * started as root (DESIGN.md rule 4); it can reach authd and the client,
 * and nothing else. Passwords are checked by authd, never here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "login.h"
#include "pop3.h"
#include "strbuf.h"
#include "util.h"

struct pop3_pre {
	struct login_conn	*lc;
	char			 user[256];
	int			 have_user;
	unsigned int		 fails;		/* failed logins */
	int			 errors;	/* bad commands */
};

int
pop3_getline(struct stream *s, char *buf, size_t max)
{
	ssize_t n = stream_getline(s, buf, max);

	if (n == STREAM_TOOLONG) {
		stream_puts(s, "-ERR Line too long\r\n");
		return 0;
	}
	if (n <= 0)
		return -1;
	if (buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (strlen(buf) != (size_t)n) {
		stream_puts(s, "-ERR NUL in command\r\n");
		return 0;
	}
	return 1;
}

char *
pop3_split(char *line)
{
	char *sp = strchr(line, ' ');

	if (sp == NULL)
		return line + strlen(line);
	*sp = '\0';
	return sp + 1;
}

/* May the password travel on this connection? (pop3_plaintext_auth) */
static int
pop3_plain_ok(const struct pop3_pre *p)
{
	return p->lc->tls || p->lc->conf->pop3_plaintext_auth;
}

/* The SASL mechanisms we offer now, space separated, into out. */
static void
pop3_mechs(struct pop3_pre *p, char *out, size_t outlen)
{
	char all[1024], *save = NULL, *m;
	struct strbuf sb;

	out[0] = '\0';
	if (login_auth_mechs(p->lc, all, sizeof(all)) == -1)
		return;
	strbuf_init(&sb, outlen - 1);
	for (m = strtok_r(all, " ", &save); m != NULL; m = strtok_r(NULL, " ", &save)) {
		if (login_mech_is_plaintext(m) && !pop3_plain_ok(p))
			continue;
		if ((sb.len > 0 && strbuf_putc(&sb, ' ') == -1) || strbuf_puts(&sb, m) == -1)
			break;
	}
	str_copy(out, sb.data != NULL ? sb.data : "", outlen);
	strbuf_free(&sb);
}

/* RFC 2449 5: CAPA in the AUTHORIZATION state. */
static int
pop3_cmd_capa(struct pop3_pre *p, char *arg)
{
	struct stream *s = &p->lc->s;
	char mechs[1024];

	(void)arg;
	pop3_mechs(p, mechs, sizeof(mechs));
	stream_puts(s, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	    "PIPELINING\r\nAUTH-RESP-CODE\r\n");
	if (pop3_plain_ok(p))
		stream_puts(s, "USER\r\n");
	if (mechs[0] != '\0')
		stream_printf(s, "SASL %s\r\n", mechs);
	if (p->lc->tls_ctx != NULL && !p->lc->tls)
		stream_puts(s, "STLS\r\n");
	stream_puts(s, "IMPLEMENTATION postern\r\n.\r\n");
	return 0;
}

/* RFC 2595 4: STLS. */
static int
pop3_cmd_stls(struct pop3_pre *p, char *arg)
{
	(void)arg;
	if (p->lc->tls_ctx == NULL || p->lc->tls) {
		stream_puts(&p->lc->s, p->lc->tls ? "-ERR Already using TLS\r\n" :
		    "-ERR TLS not available\r\n");
		p->errors++;
		return 0;
	}
	stream_puts(&p->lc->s, "+OK Begin TLS negotiation\r\n");
	if (login_starttls(p->lc) == -1)
		return -1;
	/* Nothing learned in the clear counts afterwards. */
	p->have_user = 0;
	secure_zero(p->user, sizeof(p->user));
	return 0;
}

static int
pop3_refuse_plain(struct pop3_pre *p)
{
	stream_puts(&p->lc->s, "-ERR Plaintext authentication disallowed without TLS"
	    " (use STLS)\r\n");
	p->errors++;
	return 0;
}

static int
pop3_cmd_user(struct pop3_pre *p, char *arg)
{
	if (!pop3_plain_ok(p))
		return pop3_refuse_plain(p);
	if (*arg == '\0' || str_copy(p->user, arg, sizeof(p->user)) == -1) {
		stream_puts(&p->lc->s, "-ERR Bad user name\r\n");
		p->errors++;
		return 0;
	}
	p->have_user = 1;
	stream_puts(&p->lc->s, "+OK\r\n");
	return 0;
}

/* Answer a failed login; -1 when this connection has had enough. */
static int
pop3_auth_failed(struct pop3_pre *p, const char *why)
{
	char clean[128];

	log_info("%s: pop3 login failed (%s)", p->lc->peer,
	    log_sanitize(clean, sizeof(clean), why, strlen(why)));
	if (strcmp(why, "limit") == 0)
		stream_puts(&p->lc->s, "-ERR [SYS/TEMP] Too many failed logins,"
		    " try again later\r\n");
	else if (strcmp(why, "auth") == 0)
		stream_puts(&p->lc->s, "-ERR [AUTH] Authentication failed\r\n");
	else if (strcmp(why, "mech") == 0)
		stream_puts(&p->lc->s, "-ERR Unsupported authentication mechanism\r\n");
	else
		stream_puts(&p->lc->s, "-ERR [SYS/TEMP] Authentication unavailable\r\n");
	if (login_fail_limit(p->lc, ++p->fails) || strcmp(why, "limit") == 0)
		return -1;
	return 0;
}

/* 1 authenticated, 0 go on, -1 hang up. */
static int
pop3_cmd_pass(struct pop3_pre *p, char *arg)
{
	char why[64];
	int r;

	if (!pop3_plain_ok(p))
		return pop3_refuse_plain(p);
	if (!p->have_user) {
		stream_puts(&p->lc->s, "-ERR USER first\r\n");
		p->errors++;
		return 0;
	}
	p->have_user = 0;
	r = login_auth_plain(p->lc, p->user, arg, why, sizeof(why));
	secure_zero(arg, strlen(arg));
	if (r == LOGIN_AUTH_OK)
		return 1;
	if (r == -1)
		str_copy(why, "temp", sizeof(why));
	return pop3_auth_failed(p, why);
}

/* The SASL exchange after a first answer from authd. 1, 0 or -1. */
static int
pop3_sasl_loop(struct pop3_pre *p, int r, char *data, size_t datalen)
{
	struct stream *s = &p->lc->s;
	ssize_t n;

	while (r == LOGIN_AUTH_CONT) {
		/* RFC 5034 4: "+ " base64 challenge; the client answers a line. */
		stream_printf(s, "+ %s\r\n", data);
		n = stream_getline(s, data, datalen - 1);
		if (n == STREAM_TOOLONG) {
			stream_puts(s, "-ERR Response too long\r\n");
			return 0;
		}
		if (n <= 0)
			return -1;
		data[strcspn(data, "\r\n")] = '\0';
		if (strcmp(data, "*") == 0) {
			stream_puts(s, "-ERR Authentication cancelled\r\n");
			return 0;
		}
		r = login_auth_step(p->lc, data, data, datalen);
	}
	if (r == LOGIN_AUTH_OK)
		return 1;
	return pop3_auth_failed(p, r == -1 ? "temp" : data);
}

/* RFC 5034: AUTH mechanism [initial-response]; AUTH alone lists them. */
static int
pop3_cmd_auth(struct pop3_pre *p, char *arg)
{
	char mechs[1024], *mech = arg, *init, *data;
	int r;

	pop3_mechs(p, mechs, sizeof(mechs));
	if (*mech == '\0') {
		char *save = NULL, *m;
		stream_puts(&p->lc->s, "+OK\r\n");
		for (m = strtok_r(mechs, " ", &save); m; m = strtok_r(NULL, " ", &save))
			stream_printf(&p->lc->s, "%s\r\n", m);
		stream_puts(&p->lc->s, ".\r\n");
		return 0;
	}
	init = pop3_split(mech);
	if (login_mech_is_plaintext(mech) && !pop3_plain_ok(p))
		return pop3_refuse_plain(p);
	data = xmalloc(LOGIN_AUTH_LINE + 2);
	r = login_auth_start(p->lc, mech, *init ? init : NULL, data, LOGIN_AUTH_LINE + 2);
	r = pop3_sasl_loop(p, r, data, LOGIN_AUTH_LINE + 2);
	secure_zero(data, LOGIN_AUTH_LINE + 2);
	free(data);
	return r;
}

static int
pop3_cmd_quit(struct pop3_pre *p, char *arg)
{
	(void)arg;
	stream_puts(&p->lc->s, "+OK Bye\r\n");
	return -1;
}

static const struct {
	const char	*verb;
	int		(*fn)(struct pop3_pre *, char *);
} pop3_pre_cmds[] = {
	{ "CAPA", pop3_cmd_capa },
	{ "STLS", pop3_cmd_stls },
	{ "USER", pop3_cmd_user },
	{ "PASS", pop3_cmd_pass },
	{ "AUTH", pop3_cmd_auth },
	{ "QUIT", pop3_cmd_quit },
};

/* One command. 1 authenticated, 0 go on, -1 hang up. */
static int
pop3_pre_dispatch(struct pop3_pre *p, char *line)
{
	char *arg = pop3_split(line);
	size_t i;

	for (i = 0; i < NELEM(pop3_pre_cmds); i++)
		if (str_ieq(line, pop3_pre_cmds[i].verb))
			return pop3_pre_cmds[i].fn(p, arg);
	stream_puts(&p->lc->s, "-ERR Unknown command or not logged in\r\n");
	p->errors++;
	return 0;
}

int
pop3_preauth(struct login_conn *lc)
{
	struct pop3_pre p;
	char line[POP3_LINE_MAX + 1];
	int cmds, r = 0;

	memset(&p, 0, sizeof(p));
	p.lc = lc;
	stream_printf(&lc->s, "+OK %s POP3 server ready\r\n", lc->conf->hostname);
	for (cmds = 0; cmds < POP3_PREAUTH_CMDS && r == 0; cmds++) {
		if (p.errors >= POP3_ERROR_LIMIT) {
			stream_puts(&lc->s, "-ERR Too many errors\r\n");
			r = -1;
			break;
		}
		if ((r = pop3_getline(&lc->s, line, POP3_LINE_MAX)) == 0) {
			p.errors++;
			continue;
		}
		if (r == -1)
			break;
		r = pop3_pre_dispatch(&p, line);
		secure_zero(line, sizeof(line));	/* PASS arguments */
	}
	if (r == 0)
		stream_puts(&lc->s, "-ERR Too many commands\r\n");
	secure_zero(&p, sizeof(p));
	return r == 1 ? 0 : -1;
}

void
pop3_session_failed(struct login_conn *lc)
{
	stream_puts(&lc->s, "-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
}
