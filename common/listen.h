/*
 * listen: how a daemon gets its connections.
 *  - The master (or systemd, Accept=no) passes listening sockets as fds
 *    3.. with LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES (sd_listen_fds(3)
 *    protocol; no libsystemd needed).
 *  - inetd nowait, tcpserver and systemd Accept=yes give one connected
 *    socket (or pipe pair) on fds 0 and 1.
 */
#ifndef POSTERN_LISTEN_H
#define POSTERN_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

#define LISTEN_MAXFDS	32

struct listen_fd {
	int	fd;
	char	name[32];	/* LISTEN_FDNAMES entry, e.g. "smtp", "submissions" */
};

/*
 * Bind every addr:port of list ("127.0.0.1:25,[::1]:25,0.0.0.0:25") as TCP
 * listeners with SO_REUSEADDR and the given backlog, CLOEXEC. Appends to
 * fds/names. Returns the number bound, -1 with err set on any failure.
 */
int listen_tcp(const char *list, int backlog, const char *name,
    struct listen_fd *fds, size_t max, size_t *n, char *err, size_t errlen);
/* Bind a unix stream socket at path (unlinking a stale one), chmod mode. fd or -1. */
int listen_unix(const char *path, int backlog, mode_t mode, char *err, size_t errlen);

/*
 * Take sockets passed by the master or systemd: when LISTEN_PID is our pid,
 * fill fds (3..3+LISTEN_FDS-1) with their names, set CLOEXEC, unset the
 * variables. Returns the count (0 when none were passed).
 */
int listen_inherited(struct listen_fd *fds, size_t max);
/* Is fd 0 a connected stream socket or a pipe (inetd/tcpserver/Accept=yes)? */
int listen_stdin_is_connection(void);
/*
 * Is fd a connected stream socket or a pipe, not a listener? systemd with
 * Accept=yes passes the connection as fd 3 (LISTEN_FDNAMES "connection").
 */
int listen_fd_is_connection(int fd);
/*
 * Peer address of the connection on fd as text ("192.0.2.1", "::1"); uses
 * $TCPREMOTEIP (tcpserver) when fd is not a socket. Returns buf.
 */
const char *listen_peer_addr(int fd, char *buf, size_t len);
/* The same text for an address accept(2) gave ("unknown" for others). */
struct sockaddr_storage;
const char *listen_addr_text(const struct sockaddr_storage *, char *buf,
    size_t len);

/*
 * The Accept=no server loop: accept on every fd, fork a child per
 * connection (at most max_children at once: past that it stops accepting
 * until one exits, so clients wait in the backlog), and in the child call
 * serve(conn_fd, listener, arg) then _exit(0). Returns when SIGTERM/SIGINT
 * arrive (after signalling the children), or -1 on a fatal error.
 */
int listen_serve(const struct listen_fd *fds, size_t nfds, unsigned max_children,
    void (*serve)(int conn, const struct listen_fd *l, void *arg), void *arg);

/*
 * The pre-forked Accept=no server (common/listen_pool.c; Postfix's
 * max_use and max_idle). The calling process becomes the parent: it
 * keeps at least one idle worker, at most max_children in all; past
 * that, clients wait in the backlog. Each worker calls init(arg) once
 * (-1: it exits; the parent waits a second before the next one), then
 * accepts connections one at a time and calls serve(conn, listener, arg)
 * for each (the pool closes conn afterwards: serve must not), until it
 * has served max_use connections (0: no limit) or the parent retires it
 * (idle for max_idle seconds while another worker is idle too; 0:
 * never). SIGHUP replaces the workers; SIGTERM/SIGINT make every worker
 * close its listeners, finish its session and exit, and the call
 * returns 0 once the listeners are closed everywhere. -1 on a fatal
 * error (a listener that is not an open socket). In the workers, serve
 * runs with SIGPIPE ignored and SIGTERM/SIGHUP/SIGINT caught (an
 * interrupted poll() gives EINTR).
 */
struct listen_pool {
	unsigned	 max_children;
	unsigned long long max_use;
	unsigned long long max_idle;	/* seconds */
	int		(*init)(void *arg);	/* NULL: none */
	void		(*serve)(int conn, const struct listen_fd *l, void *arg);
	void		*arg;
	int		 nonblock;	/* accept with SOCK_NONBLOCK (for stream.c) */
};
int listen_pool_serve(const struct listen_fd *fds, size_t nfds,
    const struct listen_pool *pool);
/*
 * In serve(): the peer address of the connection being served, as
 * listen_peer_addr() gives it, from what accept4(2) returned (no
 * getpeername(2) per connection).
 */
const char *listen_pool_peer(char *buf, size_t len);
/*
 * In serve(), for a peer that sends many requests on one connection
 * (qmgr's kept connections to deliver), so that max_use counts requests:
 * listen_pool_more() is 1 while the worker may serve another one (uses
 * left and not told to stop: SIGTERM, SIGHUP), and listen_pool_use()
 * counts one (the connection's first is counted by the pool).
 */
int listen_pool_more(void);
void listen_pool_use(void);

#endif
