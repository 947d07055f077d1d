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
	char		 net[64];	/* its network: auth_net_key(ip), failures count here */
	int		 have_client;
	int64_t		 last_ms;	/* last activity, for the idle timeout */
	int64_t		 reply_at;	/* > 0: hold the answer (and input) until then */
	int		 closing;	/* close once out is written */
};

void auth_cmd_init(const struct conf *);
/* Run one request line (NUL-terminated, no LF); the answer goes to c->out. */
void auth_cmd_line(struct auth_conn *, char *line);
void auth_cmd_conn_done(struct auth_conn *);
/*
 * The key failures are counted under for a client address: its network,
 * the address cut to v4bits (IPv4, and IPv4-mapped IPv6) or v6bits, as
 * "192.0.2.0/24" or "2001:db8:1:2::/64"; bits above 32 or 128 count as
 * 32 or 128. What is not an address ("unknown", "local") is its own key.
 * 0, or -1 when out is too small.
 */
int auth_net_key(const char *ip, unsigned v4bits, unsigned v6bits, char *out,
    size_t outlen);

#endif
