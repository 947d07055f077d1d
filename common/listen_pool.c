/*
 * listen_pool: the pre-forked Accept=no server (Postfix's model, with
 * max_use and max_idle). The daemon's main process, already dropped to
 * its account (and chrooted) as before, becomes the pool's parent: it
 * never accepts nor reads a byte from a peer; it keeps at least one idle
 * worker (up to max_children workers in all), reaps and replaces them.
 * Each worker runs the daemon's init hook once (deliver: the drop to
 * vmail_user), then serves connections one after another: it waits on
 * the inherited listeners with its own epoll set (EPOLLEXCLUSIVE: one
 * worker wakes per connection), accepts, marks itself busy on the board,
 * serves, closes, marks itself idle, and exits after max_use connections
 * or when the parent retires it (idle for max_idle seconds while another
 * worker is idle too, or SIGTERM/SIGHUP).
 *
 * The board: one slot per worker (state, idle since, served at all) in
 * memory shared with the parent (MAP_SHARED, made before the first
 * fork), so that a connection costs the parent nothing: a worker writes
 * to the status pipe only when it took the last idle slot while a slot
 * is free (the parent then forks a spare) or closed its listeners. Each
 * worker stores its own state before it reads the others' (sequentially
 * consistent), so of two workers that take the last two idle slots at
 * once at least one sees no idle slot left and tells. The parent reads
 * the board when it counts, and wakes every max_idle/4 (at least 250 ms)
 * while more than one worker lives, to retire those idle too long. A worker can only make
 * its parent fork (up to max_children) or retire workers early: nothing
 * on the board is trusted beyond that.
 *
 * Stopping: a worker told to stop (SIGTERM, SIGHUP, SIGINT, or its
 * parent's death) closes its listeners at once, in the signal handler,
 * says so, finishes the session it is serving and exits. The parent
 * returns once every worker has closed its listeners or exited, so that
 * the master can bind the ports again (reload).
 *
 * Status pipe: one pipe shared by all workers; each message is a fixed
 * struct of 8 bytes (below PIPE_BUF, so writes are atomic and never mix).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "util.h"

#define LP_STOP_MS	3000	/* wait for workers to close their listeners */
#define LP_THROTTLE_MS	1000	/* after a worker failed to start */
#define LP_EXIT_INIT	75	/* the init hook failed */
#define LP_EXIT_FATAL	76	/* a listener is not an open socket */

enum lp_state { LP_IDLE = 1, LP_BUSY = 2, LP_CLOSED = 3 };
#define LP_TICK_MIN_MS	250	/* the parent's idle check: max_idle/4, at least this */

/* A worker's slot on the board (shared memory), read with __atomic loads. */
struct lp_slot {
	int32_t	 state;		/* enum lp_state: LP_IDLE or LP_BUSY */
	int32_t	 used;		/* served at least one connection */
	int64_t	 since;		/* ms: idle since */
	int32_t	 live;		/* a worker holds the slot (set by the parent) */
};

struct lp_msg {
	int32_t	 pid;
	int32_t	 state;		/* enum lp_state */
};

struct lp_worker {
	pid_t	 pid;		/* 0: free slot */
	int	 stopping;	/* told to exit */
	int	 closed;	/* said its listeners are closed */
};

struct lp {
	const struct listen_fd	*fds;
	size_t			 nfds;
	const struct listen_pool *cfg;
	struct lp_worker	*w;
	struct lp_slot		*board;		/* max slots, shared with the workers */
	unsigned		 max;
	int			 st[2];		/* status pipe: read, write */
	int64_t			 throttle;	/* no spawn before this (ms) */
	int			 fatal;
	sigset_t		 oldmask;
};

/* ---- the worker ---- */

static volatile sig_atomic_t lp_w_stop;
static int lp_w_fds[LISTEN_MAXFDS];
static size_t lp_w_nfds;
static int lp_w_ep = -1;
static int lp_w_status = -1;
static struct lp_slot *lp_w_slot;	/* this worker's slot on the board */

static void
lp_tell(int state)
{
	struct lp_msg m;
	ssize_t w;

	m.pid = (int32_t)getpid();
	m.state = state;
	do
		w = write(lp_w_status, &m, sizeof(m));
	while (w == -1 && errno == EINTR);
}

/*
 * Told to stop: close the listeners here (async-signal-safe), so that a
 * busy worker does not keep the ports bound until its session ends.
 */
static void
lp_w_on_stop(int sig)
{
	int saved = errno;
	size_t i;

	(void)sig;
	if (!lp_w_stop) {
		lp_w_stop = 1;
		for (i = 0; i < lp_w_nfds; i++)
			close(lp_w_fds[i]);
		if (lp_w_ep != -1)
			close(lp_w_ep);
		lp_tell(LP_CLOSED);
	}
	errno = saved;
}

/* Each listener into this worker's own epoll set. Exits on failure. */
static void
lp_w_epoll(struct lp *p)
{
	struct epoll_event ev;
	size_t i;
	int r;

	if (lp_w_stop || (lp_w_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		_exit(0);
	for (i = 0; i < p->nfds && !lp_w_stop; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u32 = (uint32_t)i;
		r = epoll_ctl(lp_w_ep, EPOLL_CTL_ADD, p->fds[i].fd, &ev);
		if (r == -1 && errno == EINVAL) {
			/* Linux < 4.5: all idle workers wake, all but one get EAGAIN */
			ev.events = EPOLLIN;
			r = epoll_ctl(lp_w_ep, EPOLL_CTL_ADD, p->fds[i].fd, &ev);
		}
		if (r == -1 && !lp_w_stop) {
			log_err("listening socket %d (%s): %s", p->fds[i].fd,
			    p->fds[i].name, strerror(errno));
			_exit(LP_EXIT_FATAL);
		}
	}
}

/* Signals, parent death, the init hook, the epoll set. Exits on failure. */
static void
lp_w_setup(struct lp *p, pid_t parent)
{
	size_t i;

	close(p->st[0]);
	lp_w_status = p->st[1];
	lp_w_nfds = p->nfds;
	for (i = 0; i < p->nfds; i++)
		lp_w_fds[i] = p->fds[i].fd;
	signal_set(SIGTERM, lp_w_on_stop);
	signal_set(SIGINT, lp_w_on_stop);
	signal_set(SIGHUP, lp_w_on_stop);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);	/* write errors come back as EPIPE */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, &p->oldmask, NULL);
	if (getppid() != parent)
		lp_w_on_stop(SIGTERM);	/* the parent died before prctl */
	if (!lp_w_stop && p->cfg->init != NULL && p->cfg->init(p->cfg->arg) == -1)
		_exit(LP_EXIT_INIT);
	lp_w_epoll(p);
}

/* The address of the connection being served (listen_pool_peer). */
static struct sockaddr_storage lp_w_peer;
static socklen_t lp_w_peerlen;

const char *
listen_pool_peer(char *buf, size_t len)
{
	if (lp_w_peerlen == 0 || lp_w_peerlen > sizeof(lp_w_peer)) {
		str_copy(buf, "unknown", len);
		return buf;
	}
	return listen_addr_text(&lp_w_peer, buf, len);
}

/* Wait for and accept one connection. The fd, or -1 (try again or stop). */
static int
lp_w_accept(struct lp *p, size_t *which)
{
	struct epoll_event ev;
	int n, conn;

	n = epoll_wait(lp_w_ep, &ev, 1, -1);
	if (lp_w_stop || n != 1)
		return -1;
	*which = ev.data.u32 < p->nfds ? ev.data.u32 : 0;
	lp_w_peerlen = sizeof(lp_w_peer);
	conn = accept4(p->fds[*which].fd, (struct sockaddr *)&lp_w_peer,
	    &lp_w_peerlen, SOCK_CLOEXEC | (p->cfg->nonblock ? SOCK_NONBLOCK : 0));
	if (conn == -1)
		lp_w_peerlen = 0;
	if (conn != -1 || lp_w_stop)
		return conn;
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		log_warn("accept: %s", strerror(errno));
		nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED && errno != EPROTO) {
		log_warn("accept: %s", strerror(errno));
	}
	return -1;
}

/* Busy: tell the parent only when no other worker is idle (a spare is due). */
static void
lp_w_busy(const struct lp *p)
{
	unsigned i, live = 0;

	__atomic_store_n(&lp_w_slot->used, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lp_w_slot->state, LP_BUSY, __ATOMIC_SEQ_CST);
	for (i = 0; i < p->max; i++) {
		if (!__atomic_load_n(&p->board[i].live, __ATOMIC_SEQ_CST))
			continue;
		live++;
		if (&p->board[i] != lp_w_slot &&
		    __atomic_load_n(&p->board[i].state, __ATOMIC_SEQ_CST) == LP_IDLE)
			return;
	}
	if (live < p->max)	/* all slots taken: no spare could be forked */
		lp_tell(LP_BUSY);
}

static void
lp_w_idle(void)
{
	__atomic_store_n(&lp_w_slot->since, now_ms(), __ATOMIC_SEQ_CST);
	__atomic_store_n(&lp_w_slot->state, LP_IDLE, __ATOMIC_SEQ_CST);
}

/* Uses of this worker so far (a connection, or a request: listen_pool_use). */
static unsigned long long lp_w_served, lp_w_max_use;

int
listen_pool_more(void)
{
	return !lp_w_stop && (lp_w_max_use == 0 || lp_w_served < lp_w_max_use);
}

void
listen_pool_use(void)
{
	lp_w_served++;
}

/* A worker: never returns. */
static void __attribute__((noreturn))
lp_worker(struct lp *p, pid_t parent, unsigned slot)
{
	const struct listen_pool *c = p->cfg;
	struct listen_fd l;
	size_t which;
	int conn;

	lp_w_slot = &p->board[slot];
	lp_w_max_use = c->max_use;
	lp_w_setup(p, parent);
	while (listen_pool_more()) {
		if ((conn = lp_w_accept(p, &which)) == -1)
			continue;
		lp_w_busy(p);
		lp_w_served++;
		l = p->fds[which];
		l.fd = -1;	/* serve() has no business with the listener */
		c->serve(conn, &l, c->arg);
		close(conn);
		if (listen_pool_more())
			lp_w_idle();
	}
	_exit(0);
}

/* ---- the parent ---- */

static volatile sig_atomic_t lp_got_term, lp_got_hup;
static volatile sig_atomic_t lp_got_chld = 1;	/* reap once at start */

static void
lp_on_signal(int sig)
{
	if (sig == SIGHUP)
		lp_got_hup = 1;
	else if (sig == SIGCHLD)
		lp_got_chld = 1;
	else
		lp_got_term = 1;
}

static struct lp_worker *
lp_find(struct lp *p, pid_t pid)
{
	unsigned i;

	for (i = 0; i < p->max; i++)
		if (p->w[i].pid == pid && pid > 0)
			return &p->w[i];
	return NULL;
}

static int
lp_idle(const struct lp *p, unsigned i)
{
	return p->w[i].pid > 0 && !p->w[i].stopping &&
	    __atomic_load_n(&p->board[i].state, __ATOMIC_SEQ_CST) == LP_IDLE;
}

static void
lp_count(const struct lp *p, unsigned *total, unsigned *idle)
{
	unsigned i;

	*total = *idle = 0;
	for (i = 0; i < p->max; i++) {
		if (p->w[i].pid <= 0)
			continue;
		(*total)++;
		if (lp_idle(p, i))
			(*idle)++;
	}
}

/* Fork one worker into a free slot. */
static void
lp_spawn(struct lp *p)
{
	pid_t parent = getpid(), pid;
	unsigned i;

	for (i = 0; i < p->max && p->w[i].pid != 0; i++)
		;
	if (i == p->max)
		return;
	p->board[i].used = 0;
	p->board[i].since = now_ms();
	__atomic_store_n(&p->board[i].state, LP_IDLE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->board[i].live, 1, __ATOMIC_SEQ_CST);
	if ((pid = fork()) == -1) {
		log_warn("fork: %s", strerror(errno));
		p->throttle = now_ms() + 100;
		__atomic_store_n(&p->board[i].live, 0, __ATOMIC_SEQ_CST);
		return;
	}
	if (pid == 0)
		lp_worker(p, parent, i);
	memset(&p->w[i], 0, sizeof(p->w[i]));
	p->w[i].pid = pid;
}

/* Read every status message waiting on the pipe. */
static void
lp_read_status(struct lp *p)
{
	struct lp_msg m[64];
	struct lp_worker *w;
	ssize_t n;
	size_t i;

	/* A short read emptied the pipe: no second read(2) just for EAGAIN. */
	for (n = (ssize_t)sizeof(m); n == (ssize_t)sizeof(m) &&
	    (n = read(p->st[0], m, sizeof(m))) > 0; ) {
		if (n % (ssize_t)sizeof(m[0]) != 0)
			log_err("pool: a short status message (%zd bytes)", n);
		for (i = 0; i < (size_t)n / sizeof(m[0]); i++) {
			if ((w = lp_find(p, (pid_t)m[i].pid)) == NULL)
				continue;	/* already reaped */
			/* LP_BUSY only wakes us: the board says who is busy */
			if (m[i].state == LP_CLOSED)
				w->closed = w->stopping = 1;
		}
	}
}

static void
lp_reap(struct lp *p)
{
	struct lp_worker *w;
	struct lp_slot *b;
	pid_t pid;
	int status, code;

	/* Signals are blocked but inside ppoll(): SIGCHLD sets the flag there. */
	if (!lp_got_chld)
		return;
	lp_got_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((w = lp_find(p, pid)) == NULL)
			continue;
		b = &p->board[w - p->w];
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
		if (code == LP_EXIT_FATAL) {
			p->fatal = 1;
		} else if (code != 0 &&
		    !__atomic_load_n(&b->used, __ATOMIC_SEQ_CST)) {
			/* init failed (or worse): do not fork in a loop */
			log_warn("pool: worker %ld failed to start (status %d); "
			    "waiting %d ms", (long)pid, code, LP_THROTTLE_MS);
			p->throttle = now_ms() + LP_THROTTLE_MS;
		} else if (code != 0) {
			log_warn("pool: worker %ld exited with status %d", (long)pid, code);
		} else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
			log_warn("pool: worker %ld died of signal %d", (long)pid,
			    WTERMSIG(status));
		}
		/* a free slot is neither live nor idle to the workers */
		__atomic_store_n(&b->live, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&b->state, LP_BUSY, __ATOMIC_SEQ_CST);
		memset(w, 0, sizeof(*w));
	}
}

/* Tell every worker to finish its session and exit. */
static void
lp_stop_all(struct lp *p)
{
	unsigned i;

	for (i = 0; i < p->max; i++) {
		if (p->w[i].pid <= 0 || p->w[i].stopping)
			continue;
		p->w[i].stopping = 1;
		kill(p->w[i].pid, SIGTERM);
	}
}

/*
 * Retire workers idle for max_idle while another is idle too. Returns
 * the ms until the next check (-1: none): workers go idle without a word,
 * so while more than one worker lives the parent looks every max_idle/4.
 */
static int64_t
lp_expire(struct lp *p)
{
	int64_t now = now_ms(), lim, next = -1, left, tick;
	unsigned i, total, idle;

	if (p->cfg->max_idle == 0)
		return -1;
	lim = (int64_t)p->cfg->max_idle * 1000;
	lp_count(p, &total, &idle);
	for (i = 0; i < p->max && idle > 1; i++) {
		struct lp_worker *w = &p->w[i];
		if (!lp_idle(p, i))
			continue;
		left = __atomic_load_n(&p->board[i].since, __ATOMIC_SEQ_CST) + lim - now;
		if (left <= 0) {
			w->stopping = 1;
			kill(w->pid, SIGTERM);
			idle--;
		} else if (next == -1 || left < next) {
			next = left;
		}
	}
	if (total < 2)
		return -1;	/* one worker: never retired; it tells when busy */
	tick = lim / 4 > LP_TICK_MIN_MS ? lim / 4 : LP_TICK_MIN_MS;
	return idle > 1 && next != -1 && next < tick ? next : tick;
}

/* Keep one idle worker, within max_children. Returns ms to wait (-1: none). */
static int64_t
lp_fill(struct lp *p)
{
	unsigned total, idle;
	int64_t now;

	lp_count(p, &total, &idle);
	while (idle == 0 && total < p->max) {
		if ((now = now_ms()) < p->throttle)
			return p->throttle - now;
		lp_spawn(p);
		lp_count(p, &total, &idle);
		if (idle == 0)
			break;	/* fork failed: throttled */
	}
	return -1;
}

/* Sleep in ppoll on the status pipe until a message, a signal or ms. */
static int
lp_wait(struct lp *p, int64_t ms)
{
	struct pollfd pfd = { p->st[0], POLLIN, 0 };
	struct timespec ts, *tp = NULL;

	if (ms >= 0) {
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		tp = &ts;
	}
	if (ppoll(&pfd, 1, tp, &p->oldmask) == -1 && errno != EINTR) {
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* After SIGTERM: wait (bounded) until every worker closed its listeners. */
static void
lp_drain(struct lp *p)
{
	int64_t deadline = now_ms() + LP_STOP_MS, left;
	unsigned i, open;

	lp_stop_all(p);
	for (;;) {
		lp_read_status(p);
		lp_reap(p);
		for (i = open = 0; i < p->max; i++)
			if (p->w[i].pid > 0 && !p->w[i].closed)
				open++;
		if (open == 0 || (left = deadline - now_ms()) <= 0)
			break;
		if (lp_wait(p, left) == -1)
			break;
	}
	for (i = 0; i < p->max; i++)
		if (p->w[i].pid > 0 && !p->w[i].closed)
			kill(p->w[i].pid, SIGKILL);	/* stuck: free the ports */
}

/* Are the listeners open fds? A closed one never heals: fail, do not spin. */
static int
lp_check_fds(const struct listen_fd *fds, size_t nfds)
{
	size_t i;

	for (i = 0; i < nfds; i++) {
		if (fcntl(fds[i].fd, F_GETFD) == -1) {
			log_err("listening socket %d (%s) is not open", fds[i].fd,
			    fds[i].name);
			return -1;
		}
	}
	return 0;
}

static void
lp_signals(void (*h)(int))
{
	signal_set(SIGCHLD, h);
	signal_set(SIGTERM, h);
	signal_set(SIGINT, h);
	signal_set(SIGHUP, h);
}

static int
lp_loop(struct lp *p)
{
	int64_t t1, t2;

	while (!lp_got_term && !p->fatal) {
		lp_read_status(p);
		lp_reap(p);
		if (lp_got_hup) {
			/* Fresh workers; the busy ones finish their session first. */
			lp_got_hup = 0;
			log_info("SIGHUP: replacing the worker processes");
			lp_stop_all(p);
		}
		t1 = lp_fill(p);
		t2 = lp_expire(p);
		if (lp_wait(p, t1 < 0 ? t2 : t2 < 0 || t1 < t2 ? t1 : t2) == -1)
			return -1;
	}
	if (p->fatal)
		log_err("pool: a listening socket is not usable");
	return p->fatal ? -1 : 0;
}

int
listen_pool_serve(const struct listen_fd *fds, size_t nfds,
    const struct listen_pool *cfg)
{
	struct lp p;
	sigset_t block;
	size_t i;
	int r;

	if (nfds == 0 || nfds > LISTEN_MAXFDS || cfg->serve == NULL ||
	    lp_check_fds(fds, nfds) == -1)
		return -1;
	memset(&p, 0, sizeof(p));
	p.fds = fds;
	p.nfds = nfds;
	p.cfg = cfg;
	p.max = cfg->max_children ? cfg->max_children : 1;
	if (pipe2(p.st, O_CLOEXEC) == -1) {
		log_err("pipe: %s", strerror(errno));
		return -1;
	}
	fd_set_nonblock(p.st[0], 1);
	p.w = xcalloc(p.max, sizeof(*p.w));
	p.board = mmap(NULL, p.max * sizeof(*p.board), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p.board == MAP_FAILED) {
		log_err("pool: mmap: %s", strerror(errno));
		close(p.st[0]);
		close(p.st[1]);
		free(p.w);
		return -1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &p.oldmask);
	lp_got_term = lp_got_hup = 0;
	lp_got_chld = 1;
	lp_signals(lp_on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Workers that lose the race for a connection get EAGAIN, not a hang. */
	for (i = 0; i < nfds; i++)
		fd_set_nonblock(fds[i].fd, 1);
	r = lp_loop(&p);
	lp_drain(&p);
	lp_signals(SIG_DFL);
	sigprocmask(SIG_SETMASK, &p.oldmask, NULL);
	close(p.st[0]);
	close(p.st[1]);
	munmap(p.board, p.max * sizeof(*p.board));
	free(p.w);
	return r;
}
