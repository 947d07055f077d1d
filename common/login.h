/*
 * login: the access servers' privilege split (DESIGN.md rules 1, 4, 6),
 * shared by pop3d and imapd. Per client connection:
 *
 *   connection process (root when started as root; the listen_serve
 *   child, or the daemon itself under inetd): opens two connections to
 *   authd and a socketpair, forks the LOGIN process, then drops to
 *   vmail_user at once, before it reads anything.
 *
 *   LOGIN process: login_user, chrooted to $state_dir/empty (when root).
 *   Runs the protocol's pre-auth dialogue (greeting, CAPA, STLS/STARTTLS
 *   or implicit TLS, AUTH) against the client and authd. On success it
 *   sends the one-use authd token (never a user name, which it could
 *   forge) over the socketpair, then, with TLS, stays as the proxy
 *   between the client and the session; without TLS it passes what it
 *   read ahead to the session, which takes the client socket, and exits.
 *
 *   SESSION (the connection process, now vmail_user): redeems the token
 *   with authd for the user's address, chdirs to
 *   mail_root/<domain>/<local>/Maildir (made if missing) and runs the
 *   protocol's session on the socketpair (TLS: through the login
 *   process) or on the client socket (no TLS).
 *
 * Not root: the same processes, no uid change and no chroot (rule 6).
 *
 * authd speaks lines on $queue_dir/private/auth (auth/authd.c has the
 * grammar); the login_auth_* calls are its client for the pre-auth code.
 */
#ifndef POSTERN_LOGIN_H
#define POSTERN_LOGIN_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "stream.h"

struct conf;

#define LOGIN_TOKEN_HEX		64	/* authd tokens: 32 random bytes in hex */
#define LOGIN_AUTH_LINE		16384	/* longest authd line (base64 SASL data) */
#define LOGIN_PREAUTH_SECS	600	/* whole pre-auth dialogue, then hang up */

/* Results of login_auth_* */
#define LOGIN_AUTH_OK		0	/* authenticated: conn->token is set */
#define LOGIN_AUTH_CONT		1	/* out holds the next challenge (base64, may be "") */
#define LOGIN_AUTH_FAIL		2	/* out holds the reason: "auth", "limit", "mech", "temp" */

struct login_conn {
	struct stream		 s;		/* the client */
	const struct conf	*conf;
	SSL_CTX			*tls_ctx;	/* NULL when TLS is not configured */
	int			 tls;		/* the client stream is encrypted */
	int			 auth_fd;	/* to authd */
	char			 peer[64];	/* client address, for logs */
	char			 token[LOGIN_TOKEN_HEX + 1];
};

struct login_proto {
	const char	*name;		/* "pop3", "imap": logs and the authd service */
	const char	*unavailable;	/* line sent when authd cannot be reached */
	/*
	 * Pre-auth dialogue, in the login process. Returns 0 when
	 * authenticated (conn->token set, nothing answered yet: the session
	 * answers the final command), -1 to hang up.
	 */
	int		(*preauth)(struct login_conn *);
	/* Answer the final command when the session could not start. */
	void		(*session_failed)(struct login_conn *);
	/*
	 * The session, as the mail owner, with the user's Maildir as cwd; s
	 * reaches the client through the login proxy (TLS) or directly.
	 * Answers the command that authenticated first.
	 */
	void		(*session)(struct stream *s, const struct conf *,
			    const char *address, const char *peer);
	/*
	 * The session's own idle limit in seconds, when over the default 10
	 * minutes (IMAP: 30, RFC 3501 5.4); the relay outlasts it. 0: default.
	 */
	int		idle_secs;
};

struct login_settings {
	const struct conf		*conf;
	const struct login_proto	*proto;
	SSL_CTX				*tls_ctx;	/* built before any drop */
	int				 implicit_tls;	/* pop3s, imaps */
};

/* An access server's start-up (login_main.c), for its main(). */
struct login_daemon {
	const char			*prog;		/* "pop3d": usage, logs */
	const char			*plain_name;	/* socket name without TLS: "pop3" */
	const char			*tls_name;	/* with implicit TLS: "pop3s" */
	unsigned			 process_limit;	/* concurrent connections */
	const struct login_proto	*proto;
};
/*
 * Options (-c FILE, -s), configuration, TLS, login_setup, then serve in
 * the mode the sockets call for: the master or systemd (LISTEN_FDS,
 * Accept=no or Accept=yes), or inetd/tcpserver (fds 0 and 1). Returns the
 * exit status.
 */
int login_daemon_main(int argc, char **argv, const struct login_daemon *);

/*
 * In a session process: forget the TLS secrets of ctx (NULL: none) that
 * it inherited from the listener; only the login process keeps them.
 */
void login_forget_tls(SSL_CTX *);

/*
 * Start-up check, as root when started as root: the accounts exist and
 * $state_dir/empty is there (made 0755 if absent). 0 or -1 with err.
 */
int login_setup(const struct conf *, char *err, size_t errlen);
/*
 * One client on rfd/wfd (a socket, or inetd's 0 and 1). Returns when done;
 * the calling process is then the finished session and should exit. It
 * has wiped ls->tls_ctx's secrets (the session keeps no TLS key): it must
 * not use that context any more.
 */
void login_connection(int rfd, int wfd, const struct login_settings *);

/* authd client, for the pre-auth code. -1 when authd fails. */
int login_auth_mechs(struct login_conn *, char *out, size_t outlen);
int login_auth_start(struct login_conn *, const char *mech, const char *initial_b64,
    char *out, size_t outlen);
int login_auth_step(struct login_conn *, const char *b64, char *out, size_t outlen);
int login_auth_plain(struct login_conn *, const char *user, const char *pass,
    char *out, size_t outlen);
/* Is mech one that sends the password in clear (PLAIN, LOGIN)? */
int login_mech_is_plaintext(const char *mech);
/*
 * Has a session with fails failed logins had enough? The one limit of
 * SMTP AUTH, POP3 and IMAP: submission_auth_failures (0: none), see
 * postern.conf(5). authd's per-address delay and block come on top.
 */
int login_fail_limit(const struct login_conn *, unsigned int fails);
/* STLS/STARTTLS after the OK reply was queued: flush, handshake, drop pipelined input. */
int login_starttls(struct login_conn *);

#endif
