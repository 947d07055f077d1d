/*
 * imapd: the IMAP server (RFC 3501, RFC 9051 and the extensions listed
 * in imapd(8)) on 143 (STARTTLS) and 993 (implicit TLS). The listening
 * process keeps the privileges it was started with (root under the
 * master) but never reads from the network: it only accepts and forks.
 * Each connection is split by common/login.c into a login process
 * (login_user, chrooted to an empty directory, runs imap_login.c) and a
 * session process (vmail_user, runs imap_session.c over the Maildir).
 *
 * Sockets: from the master or systemd (LISTEN_FDS; names "imap" and
 * "imaps"; a passed socket that is already connected, as with systemd
 * Accept=yes, is served as one session), else one connection on fds 0/1
 * (inetd, tcpserver). -s: implicit TLS for fd 0 and unnamed sockets.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "imap.h"
#include "listen.h"
#include "log.h"
#include "login.h"
#include "tls.h"
#include "util.h"

#define IMAPD_PROCESS_LIMIT	1000	/* concurrent connections (2 processes each) */

static const struct login_proto imap_proto = {
	.name = "imap",
	/* RFC 3501 7.1.5: BYE instead of the greeting. */
	.unavailable = "* BYE [UNAVAILABLE] Service unavailable\r\n",
	.preauth = imap_preauth,
	.session_failed = imap_session_failed,
	.session = imap_session,
	.idle_secs = IMAP_AUTOLOGOUT_SECS,	/* RFC 3501 5.4: 30 minutes */
};

static struct login_settings imapd_settings;
static int imapd_implicit_flag;

static void
imapd_usage(void)
{
	fprintf(stderr, "usage: imapd [-s] [-c conffile]\n");
	exit(2);
}

/* listen_serve's per-connection callback (in the forked child). */
static void
imapd_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct login_settings ls = *(const struct login_settings *)arg;

	ls.implicit_tls = strcmp(l->name, "imaps") == 0 ||
	    (strcmp(l->name, "imap") != 0 && imapd_implicit_flag);
	login_connection(conn, conn, &ls);
	close(conn);
}

static SSL_CTX *
imapd_tls(const struct conf *c)
{
	char err[512];
	SSL_CTX *ctx;

	if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')
		return NULL;
	/* Before any drop: the key is root's. */
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, err, sizeof(err))) == NULL)
		fatal("%s", err);
	return ctx;
}

int
main(int argc, char **argv)
{
	static struct conf conf;
	struct listen_fd fds[LISTEN_MAXFDS];
	const char *cpath = NULL;
	char err[4096];
	int ch, n;

	while ((ch = getopt(argc, argv, "c:s")) != -1) {
		switch (ch) {
		case 'c': cpath = optarg; break;
		case 's': imapd_implicit_flag = 1; break;
		default: imapd_usage();
		}
	}
	if (optind != argc)
		imapd_usage();
	log_init("postern/imapd", LOG_DEST_SYSLOG);
	if (conf_load(&conf, cpath, err, sizeof(err)) == -1)
		fatal("%s", err);
	signal(SIGPIPE, SIG_IGN);
	imapd_settings.conf = &conf;
	imapd_settings.proto = &imap_proto;
	imapd_settings.tls_ctx = imapd_tls(&conf);
	if (login_setup(&conf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (chdir(conf.queue_dir) == -1)
		fatal("chdir %s: %s", conf.queue_dir, strerror(errno));
	n = listen_inherited(fds, NELEM(fds));
	if (n == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: the connection itself. */
		imapd_settings.implicit_tls = imapd_implicit_flag ||
		    strcmp(fds[0].name, "imaps") == 0;
		login_connection(fds[0].fd, fds[0].fd, &imapd_settings);
		return 0;
	}
	if (n > 0) {
		log_info("imapd ready, %d sockets", n);
		return listen_serve(fds, (size_t)n, IMAPD_PROCESS_LIMIT, imapd_serve,
		    &imapd_settings) == -1 ? 1 : 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no sockets: run imapd under postern, inetd, tcpserver or systemd");
	imapd_settings.implicit_tls = imapd_implicit_flag;
	login_connection(STDIN_FILENO, STDOUT_FILENO, &imapd_settings);
	return 0;
}
