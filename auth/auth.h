/*
 * authd's internal interface. authd.c owns the event loop and the
 * connections; auth_cmd.c runs the commands (the SASL exchanges through
 * Cyrus SASL, the tokens, the failure limits).
 */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include <stdint.h>
#include <sasl/sasl.h>

#include "strbuf.h"

#define AUTHD_LINE		16384	/* longest request line (login.h's LOGIN_AUTH_LINE) */
#define AUTHD_FAIL_DELAY_MS	1500	/* every failed login is answered this late */

struct conf;

struct auth_conn {
	int		 fd;
	char		*in;		/* AUTHD_LINE + 1 bytes */
	size_t		 inlen;
	struct strbuf	 out;
	sasl_conn_t	*sasl;
	char		 service[16];	/* "pop3", "imap": from the client line */
	char		 ip[64];	/* the client's address, from the client line */
	int		 have_client;
	int64_t		 last_ms;	/* last activity, for the idle timeout */
	int64_t		 reply_at;	/* > 0: hold the answer (and input) until then */
	int		 closing;	/* close once out is written */
};

void auth_cmd_init(const struct conf *);
/* Run one request line (NUL-terminated, no LF); the answer goes to c->out. */
void auth_cmd_line(struct auth_conn *, char *line);
void auth_cmd_conn_done(struct auth_conn *);

#endif
