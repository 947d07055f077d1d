/*
 * submitd: the message submission agent (RFC 6409) on port 587
 * (plaintext, then STARTTLS: RFC 3207) and port 465 (TLS from the first
 * byte: RFC 8314), through the shared SMTP engine with the MSA policy of
 * submit_policy.c. TLS and AUTH are required before MAIL; the SASL
 * exchanges run in authd (private/auth), so submitd holds no secret but
 * the TLS key.
 *
 * Privileges: started as root it reads its configuration, the TLS key
 * and sender_login_map, then drops to mail_owner chrooted to the queue
 * directory (everything it needs after that is there: tmp/, incoming/,
 * private/qmgr, private/lookup, private/auth) before it reads a byte
 * from the network. Started as an ordinary user it only chdir()s there
 * (DESIGN.md rules 1, 2, 3, 6).
 *
 * Sockets: from the master, "submission" and "submissions" listeners
 * (Accept=no; a pool of workers that serve up to max_use sessions each,
 * one after another: common/listen_pool.c); or one connection on fd 3
 * (systemd Accept=yes) or on fds 0/1 (inetd, tcpserver), where -s
 * selects implicit TLS.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "submitd.h"

static void
submitd_usage(void)
{
	fprintf(stderr, "usage: submitd [-s] [-c config-file]\n");
	exit(2);
}

/* Everything that needs root or files outside the queue: before the drop. */
static void
submitd_setup(struct submitd *d, const char *conffile)
{
	char err[4096];

	smtp_daemon_setup(&d->sd, conffile);	/* conf, hostname, TLS key */
	if (sender_map_load(&d->map, d->sd.conf.sender_login_map, err, sizeof(err)) == -1)
		fatal("%s", err);
	submit_policy_init(d);
	if (d->pol.tls_ctx == NULL)
		log_err("tls_cert and tls_key are not set: submission needs TLS, "
		    "so every client will get 530 (set them, or empty "
		    "submission_listen and submissions_listen)");
	d->pol_tls = d->pol;
	d->pol_tls.tls_implicit = 1;
}

/* One session: authd's mechanisms for this client, then the engine. */
static void
submitd_session(int rfd, int wfd, const char *peer, int implicit, void *arg)
{
	struct submitd *d = arg;

	smtp_auth_begin(&d->auth, peer);
	smtp_server_run(implicit ? &d->pol_tls : &d->pol, rfd, wfd, peer);
	smtp_auth_end(&d->auth);
}

int
main(int argc, char **argv)
{
	static struct submitd d;
	/*
	 * Listeners named "submissions" speak TLS from the first byte, those
	 * named "submission" STARTTLS; any other name (systemd names sockets
	 * after their unit unless FileDescriptorName= is set), the one
	 * connection on fd 3 (Accept=yes) and fds 0/1 (inetd): -s decides.
	 */
	struct smtp_daemon_listen dl = {
		.name = "submission", .tls_name = "submissions", .implicit = 0,
		.session = submitd_session, .arg = &d,
	};
	const char *conffile = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "c:s")) != -1) {
		if (ch == 'c')
			conffile = optarg;
		else if (ch == 's')
			dl.implicit = 1;
		else
			submitd_usage();
	}
	if (optind != argc)
		submitd_usage();
	log_init("postern/submitd", LOG_DEST_SYSLOG);
	signal(SIGPIPE, SIG_IGN);
	submitd_setup(&d, conffile);
	smtp_daemon_drop(&d.sd);	/* mail_owner, chrooted to the queue */
	smtp_daemon_serve(&d.sd, &dl);
	return 0;
}
