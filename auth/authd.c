/*
 * authd: the authentication service of the access servers (pop3d, imapd)
 * and of SMTP AUTH (smtpd, submitd). Login processes run their SASL
 * exchanges (and USER/PASS) through it and get a one-use token; the
 * session side redeems the token for the user's address. Started as root
 * it drops to auth_user at once: that account (postern-auth) alone can
 * read sasl_db (mode 0600, auth_user's), so that no process running as
 * mail_owner (qmgr, pickup, smtpd) can. It never runs as root after
 * that; it gets its unix socket from the master (name "auth", at
 * $queue_dir/private/auth, owned by mail_owner: its clients connect as
 * mail_owner or, for pop3d and imapd, as root before their own drop).
 * One process, one poll loop; every request line is bounded, every
 * connection has an idle timeout.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "listen.h"
#include "log.h"
#include "priv.h"
#include "userdb.h"
#include "util.h"

#define AUTHD_MAXCONN	1000
#define AUTHD_IDLE_MS	(15 * 60 * 1000)	/* past the login's own 10 minutes */
#define AUTHD_OUT_MAX	(AUTHD_LINE * 2)

static volatile sig_atomic_t authd_stop;
static struct auth_conn *authd_conns[AUTHD_MAXCONN];
static size_t authd_nconns;
static uint64_t authd_next_id;
static int authd_sysfd = -1;	/* finished system-login checks (auth_sys.c) */

static void
authd_on_term(int sig)
{
	(void)sig;
	authd_stop = 1;
}

static void
authd_conn_close(size_t i)
{
	struct auth_conn *c = authd_conns[i];

	auth_cmd_conn_done(c);
	close(c->fd);
	secure_zero(c->in, AUTHD_LINE + 1);
	free(c->in);
	strbuf_free_secure(&c->out);
	free(c);
	authd_conns[i] = authd_conns[--authd_nconns];
}

static void
authd_accept(int lfd)
{
	struct auth_conn *c;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1)
		return;
	if (authd_nconns == AUTHD_MAXCONN) {
		log_warn("too many connections");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->id = ++authd_next_id;
	c->in = xmalloc(AUTHD_LINE + 1);
	strbuf_init(&c->out, AUTHD_OUT_MAX);
	c->last_ms = now_ms();
	authd_conns[authd_nconns++] = c;
}

/* Run the complete lines in c->in, one at a time while no answer is held. */
static void
authd_lines(struct auth_conn *c)
{
	char *lf;
	size_t n;

	while (c->reply_at == 0 && !c->closing && !c->pending &&
	    (lf = memchr(c->in, '\n', c->inlen)) != NULL) {
		*lf = '\0';
		n = (size_t)(lf - c->in) + 1;
		if (lf > c->in && lf[-1] == '\r')
			lf[-1] = '\0';
		auth_cmd_line(c, c->in);
		secure_zero(c->in, n);
		memmove(c->in, c->in + n, c->inlen - n);
		c->inlen -= n;
	}
	if (c->inlen == AUTHD_LINE)
		c->closing = 1;	/* a line longer than the limit */
}

/* Read what is there. 0, or -1 to close. */
static int
authd_read(struct auth_conn *c)
{
	ssize_t r = read(c->fd, c->in + c->inlen, AUTHD_LINE - c->inlen);

	if (r == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		return -1;
	c->inlen += (size_t)r;
	c->last_ms = now_ms();
	authd_lines(c);
	return 0;
}

/* Write the answer once it is due. 0, or -1 to close. */
static int
authd_write(struct auth_conn *c)
{
	ssize_t r;

	if (c->out.len == 0 || (c->reply_at != 0 && c->reply_at > now_ms()))
		return 0;
	c->reply_at = 0;
	r = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
	if (r == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	strbuf_consume(&c->out, (size_t)r);
	if (c->out.len == 0 && c->closing)
		return -1;
	if (c->out.len == 0)
		authd_lines(c);	/* requests that waited behind a held answer */
	return 0;
}

/* The poll set and timeout for one round. */
static int
authd_pollset(int lfd, struct pollfd *pfd)
{
	int64_t now = now_ms(), t = 1000;	/* idle checks once a second */
	size_t i;

	pfd[0] = (struct pollfd){ lfd, POLLIN, 0 };
	pfd[1] = (struct pollfd){ authd_sysfd, POLLIN, 0 };	/* -1: ignored */
	for (i = 0; i < authd_nconns; i++) {
		struct auth_conn *c = authd_conns[i];
		short ev = 0;
		if (c->reply_at == 0 && !c->closing && !c->pending)
			ev |= POLLIN;
		if (c->out.len > 0 && c->reply_at <= now)
			ev |= POLLOUT;
		if (c->reply_at > now && c->reply_at - now < t)
			t = c->reply_at - now;
		pfd[i + 2] = (struct pollfd){ c->fd, ev, 0 };
	}
	return (int)t;
}

/* After poll: serve each connection (backwards: closing swaps in the last). */
static void
authd_service(const struct pollfd *pfd, size_t n)
{
	int64_t now = now_ms();
	size_t i;

	for (i = n; i-- > 0; ) {
		struct auth_conn *c = authd_conns[i];
		int bad = 0;
		if (pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
			bad = authd_read(c) == -1;
		if (!bad)
			bad = authd_write(c) == -1;
		if (!bad && c->closing && c->out.len == 0)
			bad = 1;
		if (!bad && c->reply_at == 0 && !c->pending &&
		    now - c->last_ms > AUTHD_IDLE_MS)
			bad = 1;
		if (bad)
			authd_conn_close(i);
	}
}

/* A system login's check has finished: answer it, if its client is still here. */
static void
authd_sys_done(uint64_t id, int result, const char *addr)
{
	size_t i;

	for (i = 0; i < authd_nconns; i++) {
		if (authd_conns[i]->id == id && authd_conns[i]->pending) {
			auth_cmd_sys_result(authd_conns[i], result, addr);
			authd_lines(authd_conns[i]);
			return;
		}
	}
}

static void
authd_loop(int lfd)
{
	static struct pollfd pfd[AUTHD_MAXCONN + 2];
	size_t n;
	int t;

	fd_set_nonblock(lfd, 1);
	while (!authd_stop) {
		t = authd_pollset(lfd, pfd);
		n = authd_nconns;
		if (poll(pfd, n + 2, t) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		if (pfd[1].revents & POLLIN)
			auth_sys_collect(authd_sys_done);
		authd_service(pfd, n);
		if (pfd[0].revents & POLLIN)
			authd_accept(lfd);
	}
}

/* The socket named "auth" (or the only one). */
static int
authd_socket(void)
{
	struct listen_fd fds[LISTEN_MAXFDS];
	int n, i, fd = -1;

	n = listen_inherited(fds, NELEM(fds));
	for (i = 0; i < n; i++) {
		if (fd == -1 && (strcmp(fds[i].name, "auth") == 0 || n == 1))
			fd = fds[i].fd;
		else
			close(fds[i].fd);
	}
	if (fd == -1)
		fatal("no socket named \"auth\" (LISTEN_FDS): run authd under postern");
	return fd;
}

int
main(int argc, char **argv)
{
	static struct conf conf;
	struct priv_id id;
	struct stat st;
	const char *cpath = NULL;
	char err[4096];
	int ch, lfd;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: authd [-c conffile]\n");
			return 2;
		}
		cpath = optarg;
	}
	log_init("postern/authd", LOG_DEST_SYSLOG);
	if (conf_load(&conf, cpath, err, sizeof(err)) == -1)
		fatal("%s", err);
	lfd = authd_socket();
	auth_sys_init(&conf, priv_is_root(), getuid());
	if (priv_is_root() && priv_lookup(conf.auth_user, &id, err, sizeof(err)) == -1)
		fatal("auth_user: %s", err);
	/*
	 * Unix accounts log in (system_domains): keep the group of
	 * /etc/shadow, as unix_chkpwd(8) does, and no other (auth_sys.c).
	 */
	if (priv_is_root() && auth_sys_realm() != NULL) {
		if (stat("/etc/shadow", &st) == 0 && st.st_gid != 0 &&
		    (st.st_mode & S_IRGRP)) {
			id.extra_gid = st.st_gid;
			id.has_extra = 1;
		} else {
			log_warn("system_domains: /etc/shadow is not readable by a "
			    "group (not root's): Unix accounts cannot log in");
		}
	}
	/* Rules 1 and 2: nothing is read as root. */
	if (priv_drop(&id, conf.queue_dir, 0, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (userdb_init(&conf) == -1)
		fatal("cannot initialise the SASL library");
	auth_cmd_init(&conf);
	signal(SIGPIPE, SIG_IGN);
	if (auth_sys_realm() != NULL && (authd_sysfd = auth_sys_start()) == -1)
		log_warn("no worker threads for system logins: checked inline");
	signal_set(SIGTERM, authd_on_term);
	signal_set(SIGINT, authd_on_term);
	log_info("authd ready");
	authd_loop(lfd);
	return 0;
}
