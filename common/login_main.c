/*
 * login_main: the start-up shared by the access servers (pop3d, imapd):
 * options, configuration, the TLS context (built before any privilege
 * drop: the key is root's), login_setup, and the choice of mode: sockets
 * from the master or systemd (LISTEN_FDS, named after the protocol; a
 * passed socket that is already connected, as with systemd Accept=yes,
 * is served as one session), else one connection on fds 0/1 (inetd,
 * tcpserver). The listening process keeps the privileges it was started
 * with but never reads from the network: it only accepts and forks, and
 * login_connection splits each connection (DESIGN.md rules 2 and 4).
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
#include "tls.h"
#include "util.h"

struct login_main_ctx {
	struct login_settings		 ls;
	const struct login_daemon	*d;
	int				 implicit_flag;	/* -s */
};

static void
login_main_usage(const struct login_daemon *d)
{
	fprintf(stderr, "usage: %s [-s] [-c conffile]\n", d->prog);
	exit(2);
}

/* Implicit TLS for a socket named name: the TLS name, or -s for unnamed ones. */
static int
login_main_implicit(const struct login_main_ctx *x, const char *name)
{
	if (strcmp(name, x->d->tls_name) == 0)
		return 1;
	return strcmp(name, x->d->plain_name) != 0 && x->implicit_flag;
}

/* listen_serve's per-connection callback (in the forked child). */
static void
login_main_serve(int conn, const struct listen_fd *l, void *arg)
{
	const struct login_main_ctx *x = arg;
	struct login_settings ls = x->ls;

	ls.implicit_tls = login_main_implicit(x, l->name);
	login_connection(conn, conn, &ls);
	close(conn);
}

static SSL_CTX *
login_main_tls(const struct conf *c)
{
	char err[512];
	SSL_CTX *ctx;

	if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')
		return NULL;
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, err, sizeof(err))) == NULL)
		fatal("%s", err);
	return ctx;
}

int
login_daemon_main(int argc, char **argv, const struct login_daemon *d)
{
	static struct conf conf;
	static struct login_main_ctx x;
	struct listen_fd fds[LISTEN_MAXFDS];
	const char *cpath = NULL;
	char err[4096], ident[64];
	int ch, n;

	x.d = d;
	while ((ch = getopt(argc, argv, "c:s")) != -1) {
		switch (ch) {
		case 'c': cpath = optarg; break;
		case 's': x.implicit_flag = 1; break;
		default: login_main_usage(d);
		}
	}
	if (optind != argc)
		login_main_usage(d);
	str_fmt(ident, sizeof(ident), "postern/%s", d->prog);
	log_init(ident, LOG_DEST_SYSLOG);
	if (conf_load(&conf, cpath, err, sizeof(err)) == -1)
		fatal("%s", err);
	signal(SIGPIPE, SIG_IGN);
	x.ls.conf = &conf;
	x.ls.proto = d->proto;
	x.ls.tls_ctx = login_main_tls(&conf);
	if (login_setup(&conf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (chdir(conf.queue_dir) == -1)
		fatal("chdir %s: %s", conf.queue_dir, strerror(errno));
	n = listen_inherited(fds, NELEM(fds));
	if (n == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: the connection itself. */
		x.ls.implicit_tls = x.implicit_flag || strcmp(fds[0].name, d->tls_name) == 0;
		login_connection(fds[0].fd, fds[0].fd, &x.ls);
		return 0;
	}
	if (n > 0) {
		log_info("%s ready, %d sockets", d->prog, n);
		return listen_serve(fds, (size_t)n, d->process_limit, login_main_serve,
		    &x) == -1 ? 1 : 0;
	}
	if (!listen_stdin_is_connection())
		fatal("no sockets: run %s under postern, inetd, tcpserver or systemd",
		    d->prog);
	x.ls.implicit_tls = x.implicit_flag;
	login_connection(STDIN_FILENO, STDOUT_FILENO, &x.ls);
	return 0;
}
