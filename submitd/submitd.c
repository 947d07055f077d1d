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
 * (Accept=no; one child per connection); or one connection on fd 3
 * (systemd Accept=yes) or on fds 0/1 (inetd, tcpserver), where -s
 * selects implicit TLS.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "priv.h"
#include "submitd.h"
#include "tls.h"
#include "util.h"

static void
submitd_usage(void)
{
	fprintf(stderr, "usage: submitd [-s] [-c config-file]\n");
	exit(2);
}

/* RFC 5321 4.5.1: "<postmaster>" is postmaster@ the first local domain. */
static void
submitd_set_postmaster(struct submitd *d)
{
	const char *p = d->conf.local_domains;
	size_t n;

	d->postmaster[0] = '\0';
	p += strspn(p, ", \t");
	n = strcspn(p, ", \t");
	if (n == 0 || n > ADDR_DOMAIN_MAX ||
	    str_fmt(d->postmaster, sizeof(d->postmaster), "postmaster@%.*s",
	    (int)n, p) == -1)
		d->postmaster[0] = '\0';
	str_lower(d->postmaster);
}

/* Everything that needs root or files outside the queue: before the drop. */
static void
submitd_setup(struct submitd *d, const char *conffile)
{
	char err[4096];

	if (conf_load(&d->conf, conffile, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (d->conf.hostname != NULL && d->conf.hostname[0] != '\0')
		str_copy(d->hostname, d->conf.hostname, sizeof(d->hostname));
	else if (gethostname(d->hostname, sizeof(d->hostname) - 1) == -1)
		str_copy(d->hostname, "localhost", sizeof(d->hostname));
	submitd_set_postmaster(d);
	if (sender_map_load(&d->map, d->conf.sender_login_map, err, sizeof(err)) == -1)
		fatal("%s", err);
	submit_policy_init(d);
	if (d->conf.tls_cert[0] != '\0' &&
	    (d->pol.tls_ctx = tls_server_ctx(d->conf.tls_cert, d->conf.tls_key,
	    err, sizeof(err))) == NULL)
		fatal("TLS: %s", err);
	if (d->pol.tls_ctx == NULL)
		log_err("tls_cert and tls_key are not set: submission needs TLS, "
		    "so every client will get 530 (set them, or empty "
		    "submission_listen and submissions_listen)");
	d->pol_tls = d->pol;
	d->pol_tls.tls_implicit = 1;
}

/* DESIGN.md rules 2 and 3: mail_owner, chrooted to the queue, before any read. */
static void
submitd_drop(struct submitd *d)
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

/* One session: authd's mechanisms for this client, then the engine. */
static void
submitd_session(struct submitd *d, int rfd, int wfd, const char *peer, int implicit)
{
	smtp_auth_begin(&d->auth, peer);
	smtp_server_run(implicit ? &d->pol_tls : &d->pol, rfd, wfd, peer);
	smtp_auth_end(&d->auth);
}

static void
submitd_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct submitd *d = arg;
	char peer[64];

	listen_peer_addr(conn, peer, sizeof(peer));
	submitd_session(d, conn, conn, peer, strcmp(l->name, "submissions") == 0);
	close(conn);
}

/* Accept=no: the listeners named "submission" and "submissions". */
static void
submitd_listeners(struct submitd *d, struct listen_fd *fds, size_t nfds,
    int implicit)
{
	struct listen_fd mine[LISTEN_MAXFDS];
	size_t i, n = 0;

	for (i = 0; i < nfds; i++) {
		if (strcmp(fds[i].name, "submission") == 0 ||
		    strcmp(fds[i].name, "submissions") == 0) {
			mine[n++] = fds[i];
		} else {
			/*
			 * Any other name (systemd names sockets after their unit
			 * unless FileDescriptorName= is set): -s decides.
			 */
			mine[n] = fds[i];
			str_copy(mine[n++].name, implicit ? "submissions" : "submission",
			    sizeof(mine[0].name));
		}
	}
	if (n == 0)
		fatal("no listening sockets were passed");
	submitd_drop(d);
	log_info("ready on %zu socket(s)", n);
	if (listen_serve(mine, n, (unsigned)d->conf.smtpd_process_limit,
	    submitd_serve, d) == -1)
		fatal("listen: cannot serve");
}

int
main(int argc, char **argv)
{
	static struct submitd d;
	struct listen_fd fds[LISTEN_MAXFDS];
	const char *conffile = NULL;
	char peer[64];
	int ch, nfds, implicit = 0;

	while ((ch = getopt(argc, argv, "c:s")) != -1) {
		if (ch == 'c')
			conffile = optarg;
		else if (ch == 's')
			implicit = 1;
		else
			submitd_usage();
	}
	if (optind != argc)
		submitd_usage();
	log_init("postern/submitd", LOG_DEST_SYSLOG);
	signal(SIGPIPE, SIG_IGN);
	submitd_setup(&d, conffile);

	nfds = listen_inherited(fds, NELEM(fds));
	if (nfds == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: one connection on fd 3. */
		listen_peer_addr(fds[0].fd, peer, sizeof(peer));
		submitd_drop(&d);
		submitd_session(&d, fds[0].fd, fds[0].fd, peer, implicit);
		return 0;
	}
	if (nfds > 0) {
		submitd_listeners(&d, fds, (size_t)nfds, implicit);
		return 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no listening sockets (run under postern, inetd or systemd)");
	/* One session on fd 0/1 (inetd, tcpserver). */
	listen_peer_addr(STDIN_FILENO, peer, sizeof(peer));
	submitd_drop(&d);
	submitd_session(&d, STDIN_FILENO, STDOUT_FILENO, peer, implicit);
	return 0;
}
