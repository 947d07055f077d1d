/*
 * authd's internal interface. authd.c owns the event loop and the
 * connections; auth_cmd.c runs the commands (the SASL exchanges through
 * Cyrus SASL, the tokens, the failure limits).
 */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include <stdint.h>
#include <sys/types.h>
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
	sasl_callback_t	 cbs[4];	/* userdb's, and the system-login check */
	uint64_t	 id;		/* unique for authd's life: finished checks find it */
	int		 pending;	/* a system login's check is running: hold input */
	int		 plain_wait;	/* PLAIN sent its empty challenge: "step" is the response */
	int		 login_step;	/* LOGIN run by authd: 1 user name next, 2 password */
	char		 login_user[256];	/* LOGIN's user name, until its password */
	char		 sys_addr[256];	/* a system login the SASL exchange passed */
};

void auth_cmd_init(const struct conf *);
/* Run one request line (NUL-terminated, no LF); the answer goes to c->out. */
void auth_cmd_line(struct auth_conn *, char *line);
void auth_cmd_conn_done(struct auth_conn *);
/* A system login's check that c waited for has finished (auth_sys_collect). */
void auth_cmd_sys_result(struct auth_conn *c, int result, const char *addr);
/*
 * The key failures are counted under for a client address: its network,
 * the address cut to v4bits (IPv4, and IPv4-mapped IPv6) or v6bits, as
 * "192.0.2.0/24" or "2001:db8:1:2::/64"; bits above 32 or 128 count as
 * 32 or 128. What is not an address ("unknown", "local") is its own key.
 * 0, or -1 when out is too small.
 */
int auth_net_key(const char *ip, unsigned v4bits, unsigned v6bits, char *out,
    size_t outlen);

/* System logins (auth_sys.c). */
struct sysuser;
/* Before the first login: how authd was started (rule 6: as uid, not root). */
void auth_sys_init(const struct conf *, int started_as_root, uid_t uid);
/* The realm of bare SASL user names: the first of system_domains, or NULL. */
const char *auth_sys_realm(void);
/*
 * Is login a system login ("alice" or "alice@D", D in system_domains)?
 * 1: yes, addr is its address and u its account (u->name "" when there
 * is no such account or it may not log in: the check then fails);
 * 0: no (a virtual user); -1: the account lookup failed (temp).
 */
int auth_sys_login(const struct conf *, const char *login, char *addr,
    size_t addrlen, struct sysuser *u);
/* pass against u's shadow(5) hash: 1 right, 0 wrong, -1 temp. */
int auth_sys_checkpass(const struct sysuser *u, const char *pass);
/*
 * The same in worker threads: start them (the fd to poll for finished
 * checks, or -1: then checks run inline), queue one for a connection
 * (0, or -1: run it inline), and hand each finished one to done (from
 * the loop, when the fd is readable; the connection may be gone).
 */
int auth_sys_start(void);
int auth_sys_submit(uint64_t conn_id, const struct sysuser *u, const char *pass,
    const char *addr);
void auth_sys_collect(void (*done)(uint64_t conn_id, int result, const char *addr));

#endif
