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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "smtp_auth.h"
#include "smtp_daemon.h"
#include "smtp_server.h"

struct smtpd {
	struct smtp_daemon	 sd;	/* conf, hostname, postmaster, TLS */
	struct smtp_policy	 pol;
	struct smtp_auth	 auth;	/* smtpd_auth_enable (issue 3) */
};

static void
smtpd_usage(void)
{
	fprintf(stderr, "usage: smtpd [-c config-file]\n");
	exit(2);
}

/*
 * The rcpt hook: local domains only (asked of lookupd); other domains
 * only for an authenticated client. Never an open relay: AUTH is off
 * unless smtpd_auth_enable.
 */
static void
smtpd_rcpt(struct smtp_session *s, const char *rcpt, char *canon,
    size_t canonlen, struct smtp_reply *r, void *arg)
{
	struct smtpd *d = arg;

	smtp_daemon_rcpt(&d->sd, SMTP_DAEMON_RELAY_AUTH, s, rcpt, canon,
	    canonlen, r);
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
	if (!d->sd.conf.smtpd_auth_enable)
		return;	/* the default: AUTH is never offered on port 25 */
	if (d->pol.tls_ctx == NULL) {
		log_warn("smtpd_auth_enable needs tls_cert and tls_key: AUTH not offered");
		return;
	}
	smtp_daemon_auth_init(&d->sd, &d->auth);
	d->pol.auth_mechs = d->auth.mechs;
	d->pol.auth = smtpd_auth;
}

/* One session; port 25 has no implicit TLS. */
static void
smtpd_session(int rfd, int wfd, const char *peer, int implicit, void *arg)
{
	struct smtpd *d = arg;

	(void)implicit;
	if (d->pol.auth != NULL)
		smtp_auth_begin(&d->auth, peer);
	smtp_server_run(&d->pol, rfd, wfd, peer);
	if (d->pol.auth != NULL)
		smtp_auth_end(&d->auth);
}

/* Configuration and the TLS key (root only): before the drop. */
static void
smtpd_setup(struct smtpd *d, const char *conffile)
{
	smtp_daemon_setup(&d->sd, conffile);
	smtp_daemon_policy(&d->sd, &d->pol);
	d->pol.rcpt_to = smtpd_rcpt;
	d->pol.arg = d;
	smtpd_auth_setup(d);
}

int
main(int argc, char **argv)
{
	static struct smtpd d;
	/*
	 * Every passed socket is an SMTP listener, whatever its name ("smtp"
	 * from the master; the unit's name from systemd unless
	 * FileDescriptorName= is set).
	 */
	const struct smtp_daemon_listen dl = {
		.name = "smtp", .tls_name = NULL, .implicit = 0,
		.session = smtpd_session, .arg = &d,
	};
	const char *conffile = NULL;
	int ch;

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
	smtp_daemon_drop(&d.sd);	/* mail_owner, chrooted to the queue */
	smtp_daemon_serve(&d.sd, &dl);
	return 0;
}
