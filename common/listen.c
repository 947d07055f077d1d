/*
 * listen: listening sockets and how a daemon gets its connections. The
 * master (root, when started as root) binds with listen_tcp/listen_unix
 * and passes the fds on; each daemon takes them with listen_inherited
 * (the sd_listen_fds(3) protocol, without libsystemd) and runs the
 * Accept=no loop listen_serve, usually after its privilege drop.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "util.h"

/* Split "addr:port" / "[v6]:port" in place. 0 or -1. */
static int
listen_split(char *item, char **host, char **port)
{
	char *colon;

	if (item[0] == '[') {
		char *rb = strchr(item, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		*rb = '\0';
		*host = item + 1;
		*port = rb + 2;
	} else {
		if ((colon = strrchr(item, ':')) == NULL)
			return -1;
		*colon = '\0';
		*host = item;
		*port = colon + 1;
	}
	if (strcmp(*host, "*") == 0)
		*host = "0.0.0.0";
	return **host == '\0' || **port == '\0' ? -1 : 0;
}

/* Socket, options, bind, listen for one resolved address. fd or -1. */
static int
listen_bind_ai(const struct addrinfo *ai, int backlog, const char *item,
    char *err, size_t errlen)
{
	int fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		str_fmt(err, errlen, "%s: socket: %s", item, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (ai->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		str_fmt(err, errlen, "%s: setsockopt: %s", item, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, backlog) == -1) {
		str_fmt(err, errlen, "%s: %s", item, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind one list item. fd or -1. */
static int
listen_tcp_one(char *item, int backlog, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char orig[300], *host, *port;
	int gai, fd;

	str_copy(orig, item, sizeof(orig));
	if (listen_split(item, &host, &port) == -1) {
		str_fmt(err, errlen, "%s: not addr:port", orig);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0) {
		str_fmt(err, errlen, "%s: %s", orig, gai_strerror(gai));
		return -1;
	}
	fd = listen_bind_ai(res, backlog, orig, err, errlen);
	freeaddrinfo(res);
	return fd;
}

int
listen_tcp(const char *list, int backlog, const char *name,
    struct listen_fd *fds, size_t max, size_t *n, char *err, size_t errlen)
{
	char *dup = xstrdup(list), *save = NULL, *item;
	size_t start = *n;
	int fd;

	for (item = strtok_r(dup, ", \t", &save); item != NULL;
	    item = strtok_r(NULL, ", \t", &save)) {
		if (*n >= max) {
			str_fmt(err, errlen, "%s: too many listening sockets", item);
			goto fail;
		}
		if ((fd = listen_tcp_one(item, backlog, err, errlen)) == -1)
			goto fail;
		fds[*n].fd = fd;
		str_copy(fds[*n].name, name, sizeof(fds[*n].name));
		(*n)++;
	}
	free(dup);
	return (int)(*n - start);
fail:
	while (*n > start)
		close(fds[--(*n)].fd);
	free(dup);
	return -1;
}

int
listen_unix(const char *path, int backlog, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		str_fmt(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			str_fmt(err, errlen, "%s: exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		str_fmt(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, mode) == -1 || listen(fd, backlog) == -1) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Copy the i-th ':'-separated name of names (or "unknown") into out. */
static void
listen_fdname(const char *names, size_t i, char *out, size_t outlen)
{
	const char *p = names, *e;

	str_copy(out, "unknown", outlen);
	if (p == NULL)
		return;
	while (i > 0 && (p = strchr(p, ':')) != NULL) {
		p++;
		i--;
	}
	if (p == NULL)
		return;
	e = strchr(p, ':');
	if (e == NULL)
		e = p + strlen(p);
	if (e > p && (size_t)(e - p) < outlen) {
		memcpy(out, p, (size_t)(e - p));
		out[e - p] = '\0';
	}
}

int
listen_inherited(struct listen_fd *fds, size_t max)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	unsigned long long p, n;
	size_t i;

	if (pid == NULL || nfds == NULL ||
	    parse_ullong(pid, 1, (unsigned long long)1 << 31, &p) == -1 ||
	    (pid_t)p != getpid() || parse_ullong(nfds, 0, 1024, &n) == -1) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return 0;
	}
	if (n > max) {
		log_warn("%llu sockets passed, using the first %zu", n, max);
		for (i = max; i < n; i++)
			close(3 + (int)i);
		n = max;
	}
	for (i = 0; i < n; i++) {
		fds[i].fd = 3 + (int)i;
		fd_set_cloexec(fds[i].fd, 1);
		listen_fdname(getenv("LISTEN_FDNAMES"), i, fds[i].name,
		    sizeof(fds[i].name));
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

int
listen_fd_is_connection(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct stat st;
	int type = 0;
	socklen_t tl = sizeof(type);

	if (fstat(fd, &st) == -1)
		return 0;
	if (S_ISFIFO(st.st_mode))
		return 1;
	if (!S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1 ||
	    type != SOCK_STREAM)
		return 0;
	/* A listening socket (inetd "wait", systemd Accept=no) has no peer. */
	return getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
}

int
listen_stdin_is_connection(void)
{
	return listen_fd_is_connection(STDIN_FILENO);
}

const char *
listen_peer_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *env;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1) {
		str_copy(buf, "unknown", len);
		if ((env = getenv("TCPREMOTEIP")) != NULL && *env != '\0')
			str_copy(buf, env, len);
		return buf;
	}
	return listen_addr_text(&ss, buf, len);
}

const char *
listen_addr_text(const struct sockaddr_storage *sp, char *buf, size_t len)
{
	str_copy(buf, "unknown", len);
	if (sp->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sp;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
	} else if (sp->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sp;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)len);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
	} else if (sp->ss_family == AF_UNIX) {
		str_copy(buf, "local", len);
	}
	return buf;
}

/* The Accept=no loop. Signals are only delivered inside ppoll(). */

static volatile sig_atomic_t listen_got_term, listen_got_chld;

static void
listen_on_signal(int sig)
{
	if (sig == SIGCHLD)
		listen_got_chld = 1;
	else
		listen_got_term = 1;
}

struct listen_kids {
	pid_t		*pid;
	unsigned	 max, n;
};

static void
listen_reap(struct listen_kids *k)
{
	pid_t pid;
	unsigned i;
	int status;

	listen_got_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < k->max; i++) {
			if (k->pid[i] == pid) {
				k->pid[i] = 0;
				k->n--;
				break;
			}
		}
	}
}

static void
listen_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Child side of one connection: never returns. */
static void
listen_child(int conn, const struct listen_fd *fds, size_t nfds, size_t which,
    const sigset_t *oldmask,
    void (*serve)(int, const struct listen_fd *, void *), void *arg)
{
	struct listen_fd l = fds[which];
	size_t i;

	for (i = 0; i < nfds; i++)
		close(fds[i].fd);
	l.fd = -1;
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);	/* write errors come back as EPIPE */
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	serve(conn, &l, arg);
	_exit(0);
}

/* Accept one connection on fds[i] and fork its child. */
static void
listen_accept(const struct listen_fd *fds, size_t nfds, size_t i,
    struct listen_kids *k, const sigset_t *oldmask,
    void (*serve)(int, const struct listen_fd *, void *), void *arg)
{
	unsigned j;
	pid_t pid;
	int conn;

	if ((conn = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept: %s", strerror(errno));
			listen_pause_ms(100);	/* poll would spin on it */
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED && errno != EPROTO) {
			log_warn("accept: %s", strerror(errno));
		}
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork: %s", strerror(errno));
		close(conn);
		listen_pause_ms(100);
		return;
	}
	if (pid == 0)
		listen_child(conn, fds, nfds, i, oldmask, serve, arg);
	close(conn);
	for (j = 0; j < k->max; j++) {
		if (k->pid[j] == 0) {
			k->pid[j] = pid;
			k->n++;
			break;
		}
	}
}

static void
listen_signals(void (*h)(int))
{
	signal_set(SIGCHLD, h);
	signal_set(SIGTERM, h);
	signal_set(SIGINT, h);
}

int
listen_serve(const struct listen_fd *fds, size_t nfds, unsigned max_children,
    void (*serve)(int conn, const struct listen_fd *l, void *arg), void *arg)
{
	struct listen_kids k = { NULL, max_children ? max_children : 1, 0 };
	struct pollfd pfd[LISTEN_MAXFDS];
	sigset_t block, oldmask;
	size_t i, np;
	int r = 0;

	if (nfds == 0 || nfds > LISTEN_MAXFDS)
		return -1;
	k.pid = xcalloc(k.max, sizeof(*k.pid));
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	listen_got_term = listen_got_chld = 0;
	listen_signals(listen_on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nfds; i++)
		fd_set_nonblock(fds[i].fd, 1);
	while (!listen_got_term) {
		listen_reap(&k);
		/* At the limit, leave new clients waiting in the backlog. */
		np = k.n < k.max ? nfds : 0;
		for (i = 0; i < np; i++) {
			pfd[i].fd = fds[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (ppoll(pfd, np, NULL, &oldmask) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			r = -1;
			break;
		}
		for (i = 0; i < np; i++)
			if (pfd[i].revents & POLLNVAL)
				break;
		if (i < np) {
			/* A listener that is not an open fd never heals: fail, do not spin. */
			log_err("listening socket %d (%s) is not open", fds[i].fd, fds[i].name);
			r = -1;
			break;
		}
		for (i = 0; i < np && !listen_got_term && k.n < k.max; i++)
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				listen_accept(fds, nfds, i, &k, &oldmask, serve, arg);
	}
	for (i = 0; i < k.max; i++)
		if (k.pid[i] > 0)
			kill(k.pid[i], SIGTERM);
	listen_signals(SIG_DFL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(k.pid);
	return r;
}
