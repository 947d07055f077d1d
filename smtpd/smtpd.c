/*
 * smtpd: the MTA's SMTP server on port 25. It takes mail for
 * local_domains only (never an open relay), checks each recipient with
 * lookupd at RCPT time, and queues through the shared engine
 * (common/smtp_server.h). Started as root it reads its configuration and
 * TLS key, then drops to mail_owner chrooted to the queue directory
 * before it reads a byte from the network; started as an ordinary user
 * it only chdir()s there (DESIGN.md rules 1, 2, 3, 6).
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "listen.h"
#include "log.h"
#include "lookup.h"
#include "priv.h"
#include "smtp_auth.h"
#include "smtp_server.h"
#include "tls.h"
#include "util.h"

#define SMTPD_LOOKUP_TIMEOUT	10000	/* ms for one lookupd answer */

struct smtpd {
	struct conf		 conf;
	struct smtp_policy	 pol;
	char			 hostname[256];
	char			 postmaster[ADDR_BUF];	/* "" if no local domain */
	struct smtp_auth	 auth;		/* smtpd_auth_enable (issue 3) */
};

static void
smtpd_usage(void)
{
	fprintf(stderr, "usage: smtpd [-c config-file]\n");
	exit(2);
}

/* RFC 5321 4.5.1: "<postmaster>" is postmaster@ the first local domain. */
static void
smtpd_set_postmaster(struct smtpd *d)
{
	const char *p = d->conf.local_domains;
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t n;

	d->postmaster[0] = '\0';
	if (p == NULL)
		return;
	p += strspn(p, ", \t");
	n = strcspn(p, ", \t");
	if (n == 0 || n >= sizeof(dom))
		return;
	memcpy(dom, p, n);
	dom[n] = '\0';
	str_lower(dom);
	if (str_fmt(d->postmaster, sizeof(d->postmaster), "postmaster@%s", dom) == -1)
		d->postmaster[0] = '\0';
}

/* The rcpt hook: local domains only, then ask lookupd. */
static void
smtpd_rcpt(struct smtp_session *s, const char *rcpt, char *canon,
    size_t canonlen, struct smtp_reply *r, void *arg)
{
	struct smtpd *d = arg;
	char local[ADDR_BUF], domain[ADDR_BUF], safe[256];

	if (str_ieq(rcpt, "postmaster") &&
	    str_copy(canon, d->postmaster, canonlen) == -1)
		canon[0] = '\0';
	if (address_split(canon, local, sizeof(local), domain, sizeof(domain)) == -1) {
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", rcpt);
		return;
	}
	if (!conf_is_local_domain(&d->conf, domain) &&
	    smtp_session_auth_user(s) != NULL) {
		smtp_reply_set(r, 250, "2.1.5", "Ok");	/* authenticated relay */
		return;
	}
	if (!conf_is_local_domain(&d->conf, domain)) {
		/* Never an open relay: AUTH is off unless smtpd_auth_enable. */
		smtp_reply_set(r, 554, "5.7.1", "<%s>: Relay access denied", canon);
		return;
	}
	switch (lookup_rcpt(LOOKUP_SOCKET, canon, SMTPD_LOOKUP_TIMEOUT)) {
	case LOOKUP_OK:
		smtp_reply_set(r, 250, "2.1.5", "Ok");
		break;
	case LOOKUP_NOUSER:
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", canon);
		break;
	case LOOKUP_NOTLOCAL:
		smtp_reply_set(r, 554, "5.7.1", "<%s>: Relay access denied", canon);
		break;
	default:
		log_warn("recipient lookup for <%s> failed (lookupd)",
		    log_sanitize(safe, sizeof(safe), canon, strlen(canon)));
		smtp_reply_set(r, 451, "4.3.0", "<%s>: Temporary lookup failure", canon);
		break;
	}
}

/* smtpd_auth_enable: AUTH through authd, offered only after STARTTLS. */
static int
smtpd_auth(struct smtp_session *s, const char *mech, const char *initial,
    char *user, size_t userlen, struct smtp_reply *r, void *arg)
{
	struct smtpd *d = arg;

	return smtp_auth_run(&d->auth, s, mech, initial, user, userlen, r);
}

static void
smtpd_auth_setup(struct smtpd *d)
{
	if (!d->conf.smtpd_auth_enable)
		return;	/* the default: AUTH is never offered on port 25 */
	if (d->pol.tls_ctx == NULL) {
		log_warn("smtpd_auth_enable needs tls_cert and tls_key: AUTH not offered");
		return;
	}
	d->auth.sockpath = AUTHC_SOCKET;
	d->auth.service = "smtp";
	d->auth.timeout_ms = 30000;
	d->auth.max_failures = d->conf.submission_auth_failures;
	d->auth.ac.fd = -1;
	d->pol.auth_mechs = d->auth.mechs;
	d->pol.auth = smtpd_auth;
}

static void
smtpd_session(struct smtpd *d, int rfd, int wfd, const char *peer)
{
	if (d->pol.auth != NULL)
		smtp_auth_begin(&d->auth, peer);
	smtp_server_run(&d->pol, rfd, wfd, peer);
	if (d->pol.auth != NULL)
		smtp_auth_end(&d->auth);
}

static void
smtpd_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct smtpd *d = arg;
	char peer[64];

	listen_peer_addr(conn, peer, sizeof(peer));
	smtpd_session(d, conn, conn, peer);
	close(conn);
}

static void
smtpd_setup(struct smtpd *d, const char *conffile)
{
	char err[4096];

	if (conf_load(&d->conf, conffile, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (d->conf.hostname != NULL && d->conf.hostname[0] != '\0')
		str_copy(d->hostname, d->conf.hostname, sizeof(d->hostname));
	else if (gethostname(d->hostname, sizeof(d->hostname) - 1) == -1)
		str_copy(d->hostname, "localhost", sizeof(d->hostname));
	smtpd_set_postmaster(d);
	d->pol.hostname = d->hostname;
	d->pol.size_limit = d->conf.message_size_limit;
	d->pol.rcpt_limit = d->conf.smtpd_recipient_limit;
	d->pol.error_limit = d->conf.smtpd_error_limit;
	d->pol.timeout_ms = d->conf.smtpd_timeout >= INT_MAX / 1000 ? INT_MAX :
	    (int)d->conf.smtpd_timeout * 1000;
	d->pol.rcpt_to = smtpd_rcpt;
	d->pol.arg = d;
	/* The key is readable by root only: load it before the drop. */
	if (d->conf.tls_cert != NULL && d->conf.tls_cert[0] != '\0' &&
	    d->conf.tls_key != NULL && d->conf.tls_key[0] != '\0' &&
	    (d->pol.tls_ctx = tls_server_ctx(d->conf.tls_cert, d->conf.tls_key,
	    err, sizeof(err))) == NULL)
		fatal("TLS: %s", err);
	smtpd_auth_setup(d);
}

/* DESIGN.md rules 2 and 3: mail_owner, chrooted to the queue, before any read. */
static void
smtpd_drop(struct smtpd *d)
{
	struct priv_id id;
	char err[512];

	memset(&id, 0, sizeof(id));
	id.uid = getuid();
	id.gid = getgid();
	if (priv_is_root() &&
	    priv_lookup(d->conf.mail_owner, &id, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (priv_drop(&id, d->conf.queue_dir, 1, err, sizeof(err)) == -1)
		fatal("%s", err);
}

int
main(int argc, char **argv)
{
	static struct smtpd d;
	struct listen_fd fds[LISTEN_MAXFDS], smtp[LISTEN_MAXFDS];
	const char *conffile = NULL;
	char peer[64];
	size_t i, n = 0;
	int ch, nfds;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			smtpd_usage();
		conffile = optarg;
	}
	if (optind != argc)
		smtpd_usage();
	log_init("postern/smtpd", LOG_DEST_SYSLOG);
	signal(SIGPIPE, SIG_IGN);
	smtpd_setup(&d, conffile);

	nfds = listen_inherited(fds, NELEM(fds));
	if (nfds == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: one connection on fd 3. */
		listen_peer_addr(fds[0].fd, peer, sizeof(peer));
		smtpd_drop(&d);
		smtpd_session(&d, fds[0].fd, fds[0].fd, peer);
		return 0;
	}
	if (nfds > 0) {
		/*
		 * Every passed socket is an SMTP listener, whatever its name
		 * ("smtp" from the master; the unit's name from systemd unless
		 * FileDescriptorName= is set).
		 */
		for (i = 0; i < (size_t)nfds; i++)
			smtp[n++] = fds[i];
		smtpd_drop(&d);
		log_info("ready on %zu socket(s)", n);
		if (listen_serve(smtp, n, (unsigned)d.conf.smtpd_process_limit,
		    smtpd_serve, &d) == -1)
			fatal("listen: cannot serve");
		return 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no listening sockets (run under postern, inetd or systemd)");
	/* One session on fd 0/1 (inetd, tcpserver, systemd Accept=yes). */
	listen_peer_addr(STDIN_FILENO, peer, sizeof(peer));
	smtpd_drop(&d);
	smtpd_session(&d, STDIN_FILENO, STDOUT_FILENO, peer);
	return 0;
}
