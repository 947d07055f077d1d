/*
 * pop3d: the POP3 server (RFC 1939, 2449, 2595, 5034) on 110 (STLS) and
 * 995 (implicit TLS). The listening process keeps the privileges it was
 * started with (root under the master) but never reads from the network:
 * it only accepts and forks. Each connection is split by common/login.c
 * into a login process (login_user, chrooted to an empty directory, runs
 * pop3_login.c) and a session process (vmail_user, runs pop3_session.c).
 *
 * Sockets: from the master or systemd (LISTEN_FDS; names "pop3" and
 * "pop3s"; a passed socket that is already connected, as with systemd
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
#include "listen.h"
#include "log.h"
#include "login.h"
#include "pop3.h"
#include "tls.h"
#include "util.h"

#define POP3D_PROCESS_LIMIT	500	/* concurrent connections (2 processes each) */

static const struct login_proto pop3_proto = {
	.name = "pop3",
	/* RFC 2449 8.1.2: the problem is on our side and should pass. */
	.unavailable = "-ERR [SYS/TEMP] Service unavailable\r\n",
	.preauth = pop3_preauth,
	.session_failed = pop3_session_failed,
	.session = pop3_session,
};

static struct login_settings pop3d_settings;
static int pop3d_implicit_flag;

static void
pop3d_usage(void)
{
	fprintf(stderr, "usage: pop3d [-s] [-c conffile]\n");
	exit(2);
}

/* listen_serve's per-connection callback (in the forked child). */
static void
pop3d_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct login_settings ls = *(const struct login_settings *)arg;

	ls.implicit_tls = strcmp(l->name, "pop3s") == 0 ||
	    (strcmp(l->name, "pop3") != 0 && pop3d_implicit_flag);
	login_connection(conn, conn, &ls);
	close(conn);
}

static SSL_CTX *
pop3d_tls(const struct conf *c)
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
		case 's': pop3d_implicit_flag = 1; break;
		default: pop3d_usage();
		}
	}
	if (optind != argc)
		pop3d_usage();
	log_init("postern/pop3d", LOG_DEST_SYSLOG);
	if (conf_load(&conf, cpath, err, sizeof(err)) == -1)
		fatal("%s", err);
	signal(SIGPIPE, SIG_IGN);
	pop3d_settings.conf = &conf;
	pop3d_settings.proto = &pop3_proto;
	pop3d_settings.tls_ctx = pop3d_tls(&conf);
	if (login_setup(&conf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (chdir(conf.queue_dir) == -1)
		fatal("chdir %s: %s", conf.queue_dir, strerror(errno));
	n = listen_inherited(fds, NELEM(fds));
	if (n == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: the connection itself. */
		pop3d_settings.implicit_tls = pop3d_implicit_flag ||
		    strcmp(fds[0].name, "pop3s") == 0;
		login_connection(fds[0].fd, fds[0].fd, &pop3d_settings);
		return 0;
	}
	if (n > 0) {
		log_info("pop3d ready, %d sockets", n);
		return listen_serve(fds, (size_t)n, POP3D_PROCESS_LIMIT, pop3d_serve,
		    &pop3d_settings) == -1 ? 1 : 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no sockets: run pop3d under postern, inetd, tcpserver or systemd");
	pop3d_settings.implicit_tls = pop3d_implicit_flag;
	login_connection(STDIN_FILENO, STDOUT_FILENO, &pop3d_settings);
	return 0;
}
