/*
 * smtp_daemon: what the two SMTP daemons, smtpd (25) and submitd
 * (587/465), do alike around the engine (common/smtp_server.h): load the
 * configuration and the TLS key, drop to mail_owner chrooted to the queue
 * directory, take their connections (inherited listeners, systemd
 * Accept=yes on fd 3, inetd on fd 0), and check a local recipient with
 * lookupd. The policy itself (who may relay, AUTH, sender checks) stays
 * in each daemon's folder and is passed in.
 */
#ifndef POSTERN_SMTP_DAEMON_H
#define POSTERN_SMTP_DAEMON_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "address.h"
#include "checks.h"
#include "conf.h"
#include "smtp_auth.h"
#include "smtp_server.h"

struct smtp_daemon {
	struct conf	 conf;
	char		 hostname[256];		/* conf hostname, else gethostname() */
	char		 postmaster[ADDR_BUF];	/* postmaster@ the first local domain; "" if none */
	SSL_CTX		*tls_ctx;		/* NULL: tls_cert and tls_key are not set */
	struct checks	*checks;		/* header/mime_header/body_checks; NULL: none */
};

/*
 * Before the drop (the key is readable by root only): load conffile (NULL:
 * $POSTERN_CONF or the default), set hostname and postmaster, build the
 * TLS context when tls_cert and tls_key are set, and load and compile the
 * content checks (outside the chroot). fatal() on error.
 */
void smtp_daemon_setup(struct smtp_daemon *, const char *conffile);
/*
 * DESIGN.md rules 2 and 3: as root, become mail_owner chrooted to the
 * queue directory; otherwise only chdir() there. fatal() on error. Call
 * before any byte is read from the network or another daemon.
 */
void smtp_daemon_drop(const struct smtp_daemon *);

/* The engine settings both daemons take from the configuration. */
void smtp_daemon_policy(const struct smtp_daemon *, struct smtp_policy *);
/* AUTH through authd (private/auth), service "smtp". */
void smtp_daemon_auth_init(const struct smtp_daemon *, struct smtp_auth *);

/* Who may send to a domain that is not one of local_domains. */
enum smtp_daemon_relay {
	SMTP_DAEMON_RELAY_AUTH,	/* authenticated clients only (smtpd); else 554 5.7.1 */
	SMTP_DAEMON_RELAY_ANY	/* every client (submitd: AUTH comes before MAIL) */
};

/*
 * The body of a rcpt_to hook: a bare "postmaster" becomes postmaster@
 * the first local domain; a recipient in local_domains must be known to
 * lookupd (250 2.1.5, 550 5.1.1 user unknown, 451 4.3.0 when lookupd
 * fails); any other is 250 2.1.5 or 554 5.7.1 relay access denied as
 * relay says.
 */
void smtp_daemon_rcpt(const struct smtp_daemon *, enum smtp_daemon_relay,
    struct smtp_session *, const char *rcpt, char *canon, size_t canonlen,
    struct smtp_reply *);

/* How a daemon's connections get their implicit-TLS flag, and its session. */
struct smtp_daemon_listen {
	const char	*name;		/* STARTTLS listeners ("smtp", "submission") */
	const char	*tls_name;	/* implicit-TLS listeners ("submissions"); NULL: none */
	int		 implicit;	/* other names, fd 3 and fd 0: implicit TLS (-s) */
	void		(*session)(int rfd, int wfd, const char *peer, int implicit,
			    void *arg);
	void		*arg;
};

/*
 * After smtp_daemon_drop(): serve the sockets passed by the master or
 * systemd (Accept=no: a pool of worker processes, each serving up to
 * max_use sessions one after another, smtpd_process_limit at once), or
 * the one connection on fd 3 (systemd Accept=yes) or on fds 0/1 (inetd,
 * tcpserver). Returns when done (SIGTERM for listeners); fatal() when
 * there is nothing to serve.
 */
void smtp_daemon_serve(const struct smtp_daemon *, const struct smtp_daemon_listen *);

#endif
