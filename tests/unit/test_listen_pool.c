/*
 * Unit tests of common/listen_pool.c: a real pool on a loopback socket
 * in a forked "daemon" process. Consecutive connections are served by
 * the same worker, the init hook runs once per worker, max_use retires a
 * worker (counting the requests a serve hook counts with listen_pool_use), at most max_children sessions run at once (the next client
 * waits in the backlog until one ends), max_idle retires surplus idle
 * workers, SIGHUP replaces the workers, a failing init hook does not
 * make the parent fork in a loop, and SIGTERM drains: the
 * listeners close at once, the session in progress finishes, then its
 * worker exits. The test process is a child subreaper so that drained
 * workers come back to it to be reaped.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "listen.h"
#include "util.h"

#define TP_WAIT_MS	5000	/* bound of every wait for the pool */

struct tp {
	pid_t	 daemon;
	int	 port;
};

/* ---- in the pool's workers ---- */

static int tp_inits;	/* per worker process: how often init ran */
static int tp_fail_fd = -1;	/* >= 0: init writes a byte there and fails */
static int tp_nonblock;		/* the pool's nonblock for the next tp_start */

static int
tp_init(void *arg)
{
	(void)arg;
	tp_inits++;
	if (tp_fail_fd != -1) {
		write_all(tp_fail_fd, "i", 1);
		return -1;
	}
	return 0;
}

/*
 * "PID INITS PEER NONBLOCK\n" (listen_pool_peer, O_NONBLOCK of conn), then
 * wait for one byte from the client and say "bye\n"; but "m" asks for one
 * more request on the same connection: "more\n" once listen_pool_use()
 * counted it, "last\n" (and the end) when the worker has no use left.
 */
static void
tp_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct pollfd pfd = { conn, POLLIN, 0 };
	char buf[128], peer[64], c;
	int n;

	(void)l;
	(void)arg;
	n = str_fmt(buf, sizeof(buf), "%ld %d %s %d\n", (long)getpid(), tp_inits,
	    listen_pool_peer(peer, sizeof(peer)),
	    (fcntl(conn, F_GETFL) & O_NONBLOCK) != 0);
	if (n < 0 || write_all(conn, buf, (size_t)n) == -1)
		return;
	for (;;) {
		while (poll(&pfd, 1, 10000) == -1 && errno == EINTR)
			;	/* SIGTERM while busy: keep serving */
		if (read(conn, &c, 1) != 1)
			return;
		/* "m": one more request on this connection, counted (deliver's way) */
		if (c != 'm') {
			write_all(conn, "bye\n", 4);
			return;
		}
		if (!listen_pool_more()) {
			write_all(conn, "last\n", 5);
			return;
		}
		listen_pool_use();
		write_all(conn, "more\n", 5);
	}
}

/* ---- the test process ---- */

static void
tp_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start a pool daemon on 127.0.0.1:<ephemeral>. */
static void
tp_start(struct tp *t, unsigned max_children, unsigned long long max_use,
    unsigned long long max_idle)
{
	struct listen_fd fds[1];
	struct listen_pool pool = { 0 };
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	size_t n = 0;
	char err[256];

	assert_int_equal(listen_tcp("127.0.0.1:0", 64, "test", fds, 1, &n, err,
	    sizeof(err)), 1);
	assert_int_equal(getsockname(fds[0].fd, (struct sockaddr *)&sin, &sl), 0);
	t->port = ntohs(sin.sin_port);
	pool.max_children = max_children;
	pool.max_use = max_use;
	pool.max_idle = max_idle;
	pool.init = tp_init;
	pool.serve = tp_serve;
	pool.nonblock = tp_nonblock;
	t->daemon = fork();
	assert_true(t->daemon != -1);
	if (t->daemon == 0)
		_exit(listen_pool_serve(fds, 1, &pool) == 0 ? 0 : 1);
	close(fds[0].fd);
}

/* waitpid with a bound: the exit status, or -1 (still running / not ours). */
static int
tp_wait(pid_t pid, int ms)
{
	int status, waited;
	pid_t r;

	for (waited = 0; waited <= ms; waited += 20) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1)
			return -1;
		tp_sleep_ms(20);
	}
	return -1;
}

/* Stop the daemon and reap every process left (we are the subreaper). */
static void
tp_stop(struct tp *t)
{
	int i;

	if (t->daemon > 0) {
		kill(t->daemon, SIGTERM);
		tp_wait(t->daemon, TP_WAIT_MS);
		t->daemon = 0;
	}
	for (i = 0; i < 250 && waitpid(-1, NULL, WNOHANG) != -1; i++)
		tp_sleep_ms(20);
}

static int
tp_connect(const struct tp *t)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)t->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One line from fd within ms. Its length, or -1 (timeout, EOF, error). */
static int
tp_line(int fd, char *buf, size_t len, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len) {
		pfd.revents = 0;
		if (poll(&pfd, 1, ms) != 1)
			return -1;
		if ((r = read(fd, buf + n, 1)) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

/* Read the greeting "PID INITS": the worker's pid, or -1. */
static long
tp_greeting(int fd, int ms, int *inits)
{
	char buf[64];
	long pid;
	int in;

	if (tp_line(fd, buf, sizeof(buf), ms) <= 0 ||
	    sscanf(buf, "%ld %d", &pid, &in) != 2)
		return -1;
	if (inits != NULL)
		*inits = in;
	return pid;
}

/* End a session: one byte, "bye", close. 0 or -1. */
static int
tp_finish(int fd)
{
	char buf[16];
	int r = -1;

	if (write_all(fd, "x", 1) == 0 && tp_line(fd, buf, sizeof(buf), TP_WAIT_MS) > 0)
		r = strcmp(buf, "bye\n") == 0 ? 0 : -1;
	close(fd);
	return r;
}

/* A whole session: the worker's pid, or -1. */
static long
tp_session(const struct tp *t, int *inits)
{
	long pid;
	int fd;

	if ((fd = tp_connect(t)) == -1)
		return -1;
	pid = tp_greeting(fd, TP_WAIT_MS, inits);
	if (tp_finish(fd) == -1)
		return -1;
	return pid;
}

/* How many workers does the daemon have now? -1: not knowable here. */
static int
tp_workers(const struct tp *t)
{
	char path[128], buf[4096];
	int fd, n, count = 0;
	ssize_t r;

	str_fmt(path, sizeof(path), "/proc/%ld/task/%ld/children",
	    (long)t->daemon, (long)t->daemon);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	for (n = 0; n < r; n++)
		if (buf[n] != ' ' && (n == 0 || buf[n - 1] == ' '))
			count++;
	return count;
}

static void
test_reuse(void **state)
{
	long pids[20];
	int i, j, distinct = 0, most = 0, inits;
	struct tp t;

	(void)state;
	tp_start(&t, 4, 100, 100);
	for (i = 0; i < 20; i++) {
		pids[i] = tp_session(&t, &inits);
		assert_true(pids[i] > 0);
		assert_int_equal(inits, 1);	/* init ran once in that worker */
		assert_true(pids[i] != t.daemon);	/* the parent never serves */
	}
	for (i = 0; i < 20; i++) {
		int same = 0;
		for (j = 0; j < 20; j++)
			same += pids[j] == pids[i];
		most = same > most ? same : most;
		for (j = 0; j < i && pids[j] != pids[i]; j++)
			;
		distinct += j == i;
	}
	/*
	 * One worker and the spare started when it went busy; a third when
	 * the next client came before the parent heard the first was idle.
	 */
	print_message("# 20 sessions: %d worker(s), one served %d\n", distinct, most);
	assert_true(distinct <= 3);
	assert_true(most >= 8);
	tp_stop(&t);
}

static void
test_max_use(void **state)
{
	long p[7];
	int i;
	struct tp t;

	(void)state;
	tp_start(&t, 1, 3, 100);
	for (i = 0; i < 7; i++) {
		p[i] = tp_session(&t, NULL);
		assert_true(p[i] > 0);
	}
	assert_true(p[0] == p[1] && p[1] == p[2]);
	assert_true(p[3] == p[4] && p[4] == p[5] && p[3] != p[0]);
	assert_true(p[6] != p[3] && p[6] != p[0]);
	tp_stop(&t);
}

/* Requests counted with listen_pool_use() on one connection retire a worker too. */
static void
test_use_counts(void **state)
{
	char buf[16];
	long p1, p2;
	int fd, i;
	struct tp t;

	(void)state;
	tp_start(&t, 1, 3, 100);
	assert_true((fd = tp_connect(&t)) != -1);
	assert_true((p1 = tp_greeting(fd, TP_WAIT_MS, NULL)) > 0);
	for (i = 0; i < 2; i++) {	/* uses 2 and 3 of max_use 3 */
		assert_int_equal(write_all(fd, "m", 1), 0);
		assert_true(tp_line(fd, buf, sizeof(buf), TP_WAIT_MS) > 0);
		assert_string_equal(buf, "more\n");
	}
	assert_int_equal(write_all(fd, "m", 1), 0);
	assert_true(tp_line(fd, buf, sizeof(buf), TP_WAIT_MS) > 0);
	assert_string_equal(buf, "last\n");
	close(fd);
	/* that worker has served 3 and exits: a new one serves the next */
	assert_true((p2 = tp_session(&t, NULL)) > 0);
	assert_true(p2 != p1);
	tp_stop(&t);
}

static void
test_limit(void **state)
{
	long pid[3], pid4;
	int fd[5], i, j;
	struct tp t;

	(void)state;
	tp_start(&t, 3, 0, 100);
	for (i = 0; i < 3; i++) {
		assert_true((fd[i] = tp_connect(&t)) != -1);
		assert_true((pid[i] = tp_greeting(fd[i], TP_WAIT_MS, NULL)) > 0);
		for (j = 0; j < i; j++)
			assert_true(pid[j] != pid[i]);	/* three at once */
	}
	if (tp_workers(&t) != -1)
		assert_int_equal(tp_workers(&t), 3);	/* never past the limit */
	/* past the limit: connected (the backlog), but nobody serves them */
	for (i = 3; i < 5; i++) {
		assert_true((fd[i] = tp_connect(&t)) != -1);
		assert_int_equal(tp_greeting(fd[i], 500, NULL), -1);
	}
	assert_int_equal(tp_finish(fd[0]), 0);
	pid4 = tp_greeting(fd[3], TP_WAIT_MS, NULL);
	assert_true(pid4 == pid[0]);	/* the freed worker takes the next one */
	assert_int_equal(tp_greeting(fd[4], 300, NULL), -1);
	assert_int_equal(tp_finish(fd[1]), 0);
	assert_true(tp_greeting(fd[4], TP_WAIT_MS, NULL) == pid[1]);
	assert_int_equal(tp_finish(fd[2]), 0);
	assert_int_equal(tp_finish(fd[3]), 0);
	assert_int_equal(tp_finish(fd[4]), 0);
	tp_stop(&t);
}

static void
test_term_drains(void **state)
{
	struct tp t;
	long pid;
	int fd, status, late;

	(void)state;
	tp_start(&t, 2, 100, 100);
	assert_true((fd = tp_connect(&t)) != -1);
	assert_true((pid = tp_greeting(fd, TP_WAIT_MS, NULL)) > 0);
	kill(t.daemon, SIGTERM);
	status = tp_wait(t.daemon, TP_WAIT_MS);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t.daemon = 0;
	/* every listener is closed: the port refuses (nothing waits forever) */
	late = tp_connect(&t);
	assert_int_equal(late, -1);
	/* the session in progress goes on to its end, then its worker exits */
	assert_int_equal(kill((pid_t)pid, 0), 0);
	assert_int_equal(tp_finish(fd), 0);
	status = tp_wait((pid_t)pid, TP_WAIT_MS);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tp_stop(&t);
}

static void
test_max_idle(void **state)
{
	int fd[2], i, n = -1;
	struct tp t;

	(void)state;
	tp_start(&t, 4, 0, 1);
	if (tp_workers(&t) == -1) {
		tp_stop(&t);
		skip();	/* no /proc/PID/task/TID/children here */
	}
	for (i = 0; i < 2; i++) {
		assert_true((fd[i] = tp_connect(&t)) != -1);
		assert_true(tp_greeting(fd[i], TP_WAIT_MS, NULL) > 0);
	}
	for (i = 0; i < 100 && (n = tp_workers(&t)) != 3; i++)
		tp_sleep_ms(20);
	assert_int_equal(n, 3);	/* two busy, one spare */
	assert_int_equal(tp_finish(fd[0]), 0);
	assert_int_equal(tp_finish(fd[1]), 0);
	/* three idle: after max_idle (1 s) only one is kept */
	for (i = 0; i < 250 && (n = tp_workers(&t)) != 1; i++)
		tp_sleep_ms(20);
	assert_int_equal(n, 1);
	assert_true(tp_session(&t, NULL) > 0);
	tp_stop(&t);
}

static void
test_hup_replaces(void **state)
{
	long before, after = -1;
	int i;
	struct tp t;

	(void)state;
	tp_start(&t, 1, 0, 100);
	before = tp_session(&t, NULL);
	assert_true(before > 0);
	assert_true(tp_session(&t, NULL) == before);
	kill(t.daemon, SIGHUP);
	for (i = 0; i < 50 && (after = tp_session(&t, NULL)) == before; i++)
		tp_sleep_ms(20);
	assert_true(after > 0 && after != before);
	tp_stop(&t);
}

static void
test_init_fails(void **state)
{
	struct tp t;
	char buf[64];
	ssize_t n;
	int pfd[2], fd, status;

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
	tp_fail_fd = pfd[1];
	tp_start(&t, 4, 0, 100);
	tp_fail_fd = -1;
	close(pfd[1]);
	assert_true((fd = tp_connect(&t)) != -1);
	/* nobody serves, and the parent does not fork in a loop */
	assert_int_equal(tp_greeting(fd, 1500, NULL), -1);
	n = read(pfd[0], buf, sizeof(buf));
	print_message("# %zd worker(s) started in 1.5 s, each failing its init\n", n);
	assert_true(n >= 1 && n <= 3);
	kill(t.daemon, SIGTERM);
	status = tp_wait(t.daemon, TP_WAIT_MS);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t.daemon = 0;
	close(fd);
	close(pfd[0]);
	tp_stop(&t);
}

/* serve() learns the peer from accept4 (no getpeername), and O_NONBLOCK as asked. */
static void
test_peer_nonblock(void **state)
{
	char buf[128], peer[64];
	long pid;
	int fd, in, nb, want;
	struct tp t;

	(void)state;
	for (want = 0; want <= 1; want++) {
		tp_nonblock = want;
		tp_start(&t, 2, 0, 100);
		tp_nonblock = 0;
		assert_true((fd = tp_connect(&t)) != -1);
		assert_true(tp_line(fd, buf, sizeof(buf), TP_WAIT_MS) > 0);
		assert_int_equal(sscanf(buf, "%ld %d %63s %d", &pid, &in, peer, &nb), 4);
		assert_string_equal(peer, "127.0.0.1");
		assert_int_equal(nb, want);
		assert_int_equal(tp_finish(fd), 0);
		tp_stop(&t);
	}
}

static void
test_bad_listener(void **state)
{
	struct listen_fd f = { 1000, "closed" };
	struct listen_pool pool = { 0 };

	(void)state;
	pool.max_children = 2;
	pool.serve = tp_serve;
	/* a listener that is not an open fd never heals: fail, do not spin */
	assert_int_equal(listen_pool_serve(&f, 1, &pool), -1);
	assert_int_equal(listen_pool_serve(&f, 0, &pool), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_max_use),
		cmocka_unit_test(test_use_counts),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_term_drains),
		cmocka_unit_test(test_max_idle),
		cmocka_unit_test(test_hup_replaces),
		cmocka_unit_test(test_init_fails),
		cmocka_unit_test(test_peer_nonblock),
		cmocka_unit_test(test_bad_listener),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(120);	/* a hung pool fails the test instead of the build */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
