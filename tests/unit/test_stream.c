/*
 * Unit tests of common/stream.c and common/listen.c: bounded lines,
 * overlong lines dropped up to their LF, timeouts, buffered reads,
 * discarding pipelined input, write buffering, the blocking mode given
 * back at stream_close (only where stream_init changed it), reads after
 * an answer (wait first), reads that wait in recv(2) under SO_RCVTIMEO
 * (stream_block_reads), the sd_listen_fds variables and addr:port
 * parsing of listen_tcp.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "listen.h"
#include "stream.h"
#include "util.h"

struct pair {
	struct stream	s;
	int		peer;
};

/* A stream on one end of a socketpair that already holds text. */
static void
pair_open(struct pair *p, const char *text, int timeout_ms)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write_all(sv[1], text, strlen(text)), 0);
	stream_init(&p->s, sv[0], sv[0], timeout_ms);
	p->peer = sv[1];
}

static void
pair_close(struct pair *p)
{
	stream_close(&p->s, 1);
	close(p->peer);
}

static void
test_getline_limits(void **state)
{
	struct pair p;
	char buf[11];

	(void)state;
	pair_open(&p, "123456789\n1234567890\nnext\r\n", 1000);
	assert_int_equal(stream_getline(&p.s, buf, 10), 10);
	assert_string_equal(buf, "123456789\n");
	assert_int_equal(stream_getline(&p.s, buf, 10), STREAM_TOOLONG);
	assert_int_equal(stream_getline(&p.s, buf, 10), 6);
	assert_string_equal(buf, "next\r\n");
	pair_close(&p);
}

static void
test_getline_eof_and_last_line(void **state)
{
	struct pair p;
	char buf[32];

	(void)state;
	pair_open(&p, "a\nlast", 1000);
	shutdown(p.peer, SHUT_WR);
	assert_int_equal(stream_getline(&p.s, buf, 31), 2);
	assert_int_equal(stream_getline(&p.s, buf, 31), 4);
	assert_string_equal(buf, "last");
	assert_int_equal(stream_getline(&p.s, buf, 31), STREAM_EOF);
	pair_close(&p);
}

static void
test_toolong_then_eof(void **state)
{
	struct pair p;
	char buf[8];

	(void)state;
	pair_open(&p, "0123456789abcdef", 1000);
	shutdown(p.peer, SHUT_WR);
	assert_int_equal(stream_getline(&p.s, buf, 7), STREAM_EOF);
	pair_close(&p);
}

static void
test_timeout(void **state)
{
	struct pair p;
	char buf[8];
	int64_t t0 = now_ms();

	(void)state;
	pair_open(&p, "", 200);
	errno = 0;
	assert_int_equal(stream_getline(&p.s, buf, 7), STREAM_ERR);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 >= 150);
	assert_true(now_ms() - t0 < 5000);
	pair_close(&p);
}

static void
test_read_pending_discard(void **state)
{
	struct pair p;
	char buf[32];

	(void)state;
	pair_open(&p, "STARTTLS\r\nMAIL FROM:<x>\r\n", 1000);
	assert_int_equal(stream_getline(&p.s, buf, 31), 10);
	assert_int_equal(stream_pending(&p.s), 15);
	assert_int_equal(stream_read(&p.s, buf, 4), 4);
	assert_memory_equal(buf, "MAIL", 4);
	stream_discard(&p.s);
	assert_int_equal(stream_pending(&p.s), 0);
	assert_int_equal(write_all(p.peer, "X\n", 2), 0);
	assert_int_equal(stream_getline(&p.s, buf, 31), 2);
	assert_string_equal(buf, "X\n");
	pair_close(&p);
}

static void
test_write_flush(void **state)
{
	struct pair p;
	char buf[64];

	(void)state;
	pair_open(&p, "", 1000);
	assert_int_equal(stream_puts(&p.s, "250 a\r\n"), 0);
	assert_int_equal(stream_printf(&p.s, "%d %s\r\n", 250, "b"), 0);
	/* Nothing leaves before a flush, or before a read that would wait. */
	assert_int_equal(recv(p.peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(stream_flush(&p.s), 0);
	assert_int_equal(recv(p.peer, buf, sizeof(buf), 0), 14);
	assert_memory_equal(buf, "250 a\r\n250 b\r\n", 14);
	pair_close(&p);
}

static int
is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_int_not_equal(fl, -1);
	return (fl & O_NONBLOCK) != 0;
}

/* stream_close(s, 0) gives back what stream_init found, nothing more. */
static void
test_blocking_mode(void **state)
{
	struct stream s;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	stream_init(&s, sv[0], sv[0], 1000);
	assert_true(is_nonblocking(sv[0]));
	stream_close(&s, 0);
	assert_false(is_nonblocking(sv[0]));	/* was blocking: blocking again */
	/* Accepted with SOCK_NONBLOCK (listen_pool for smtpd): stays so. */
	assert_int_equal(fd_set_nonblock(sv[0], 1), 0);
	stream_init(&s, sv[0], sv[0], 1000);
	stream_close(&s, 0);
	assert_true(is_nonblocking(sv[0]));
	/* An fd pair: each one by itself. */
	assert_int_equal(fd_set_nonblock(sv[0], 0), 0);
	stream_init(&s, sv[0], sv[1], 1000);
	stream_close(&s, 0);
	assert_false(is_nonblocking(sv[0]));
	assert_false(is_nonblocking(sv[1]));
	close(sv[0]);
	close(sv[1]);
}

/* A banner, then a peer (a child) that answers "EHLO x" 50 ms later. */
static void
late_answer(struct pair *p)
{
	char buf[64];
	pid_t pid;
	int st;

	assert_int_equal(stream_puts(&p->s, "220 hi\r\n"), 0);
	if ((pid = fork()) == 0) {
		char in[16];
		ssize_t n = read(p->peer, in, sizeof(in));
		usleep(50000);	/* answer well after the banner */
		_exit(n == 8 && write_all(p->peer, "EHLO x\r\n", 8) == 0 ? 0 : 1);
	}
	assert_int_equal(stream_getline(&p->s, buf, 31), 8);
	assert_string_equal(buf, "EHLO x\r\n");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * After an answer the next read waits first: a peer that answers later
 * is read, one that had sent ahead (pipelining) is read at once, and
 * one that never answers times out.
 */
static void
test_read_after_reply(void **state)
{
	struct pair p;
	char buf[64];

	(void)state;
	pair_open(&p, "", 300);
	late_answer(&p);
	/* Sent ahead of our answer. */
	assert_int_equal(write_all(p.peer, "MAIL\r\nRCPT\r\n", 12), 0);
	assert_int_equal(stream_puts(&p.s, "250 ok\r\n"), 0);
	assert_int_equal(stream_getline(&p.s, buf, 31), 6);
	assert_string_equal(buf, "MAIL\r\n");
	assert_int_equal(stream_getline(&p.s, buf, 31), 6);
	assert_int_equal(recv(p.peer, buf, sizeof(buf), 0), 8);
	/* Never answered: the stream's timeout, not a hang. */
	assert_int_equal(stream_puts(&p.s, "250 ok\r\n"), 0);
	assert_int_equal(stream_getline(&p.s, buf, 31), STREAM_ERR);
	assert_int_equal(errno, ETIMEDOUT);
	pair_close(&p);
}

static int
rcvtimeo_ms(int fd)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len), 0);
	return (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/*
 * stream_block_reads: the fd turns blocking with SO_RCVTIMEO set to the
 * stream's timeout; a late answer is read, a pipelined one at once, a
 * missing one times out after about the timeout (ETIMEDOUT, not EAGAIN);
 * writes never block on a full peer; stream_close(s, 0) leaves the fd to
 * its caller as it is; a pipe (no socket) stays under poll().
 */
static void
test_block_reads(void **state)
{
	struct pair p;
	char buf[64], big[65536];
	int64_t t0;
	int pfd[2], fd, sv[2];
	size_t sent;
	ssize_t r;

	(void)state;
	pair_open(&p, "", 300);
	fd = p.s.rfd;
	assert_int_equal(stream_block_reads(&p.s), 0);
	assert_false(is_nonblocking(fd));
	assert_int_equal(rcvtimeo_ms(fd), 300);
	late_answer(&p);
	assert_int_equal(write_all(p.peer, "MAIL\r\nRCPT\r\n", 12), 0);
	assert_int_equal(stream_getline(&p.s, buf, 31), 6);
	assert_int_equal(stream_getline(&p.s, buf, 31), 6);
	assert_string_equal(buf, "RCPT\r\n");
	/* Never answered: ETIMEDOUT after the timeout, not at once. */
	t0 = now_ms();
	assert_int_equal(stream_getline(&p.s, buf, 31), STREAM_ERR);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 2000);
	/* A peer that reads nothing: writes fail by the timeout, never hang. */
	memset(big, 'x', sizeof(big));
	t0 = now_ms();
	for (sent = 0, r = 0; sent < 64 * sizeof(big) && r == 0; sent += sizeof(big))
		r = stream_write(&p.s, big, sizeof(big)) == -1 ? -1 :
		    stream_flush(&p.s) == -1 ? -1 : 0;
	assert_int_equal(r, -1);
	assert_true(now_ms() - t0 < 5000);
	/* Its caller closes it: left as it is (stream.h). */
	stream_close(&p.s, 0);
	assert_false(is_nonblocking(fd));
	close(fd);
	close(p.peer);
	/* TLS (here: the switch stream_ssl_new makes) goes back under poll(). */
	pair_open(&p, "", 300);
	assert_int_equal(stream_block_reads(&p.s), 0);
	assert_false(is_nonblocking(p.s.rfd));
	assert_int_equal(stream_tls_accept(&p.s, NULL), -1);	/* no ctx */
	assert_true(is_nonblocking(p.s.rfd));
	pair_close(&p);
	/* stream_init_sock: the same without stream_init's F_GETFL. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fd_set_nonblock(sv[0], 1), 0);
	stream_init_sock(&p.s, sv[0], 300);
	assert_true(p.s.rblock);
	assert_false(is_nonblocking(sv[0]));
	assert_int_equal(rcvtimeo_ms(sv[0]), 300);
	assert_int_equal(write_all(sv[1], "QUIT\r\n", 6), 0);
	assert_int_equal(stream_getline(&p.s, buf, 31), 6);
	stream_close(&p.s, 1);
	close(sv[1]);
	/* Not a socket: stays under poll(), stream_init_sock too. */
	assert_int_equal(pipe(pfd), 0);
	stream_init_sock(&p.s, pfd[0], 300);
	assert_false(p.s.rblock);
	assert_true(is_nonblocking(pfd[0]));
	stream_close(&p.s, 1);
	close(pfd[1]);
	assert_int_equal(pipe(pfd), 0);
	stream_init(&p.s, pfd[0], pfd[0], 300);
	assert_int_equal(stream_block_reads(&p.s), -1);
	assert_true(is_nonblocking(pfd[0]));
	stream_close(&p.s, 1);
	close(pfd[1]);
}

static void
test_listen_tcp_parse(void **state)
{
	struct listen_fd fds[4];
	char err[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(listen_tcp("127.0.0.1:0, [::1]:0", 16, "smtp", fds, 4, &n,
	    err, sizeof(err)) >= 1 ? 0 : -1, 0);
	assert_string_equal(fds[0].name, "smtp");
	while (n > 0)
		close(fds[--n].fd);
	assert_int_equal(listen_tcp("localhost:25", 16, "smtp", fds, 4, &n,
	    err, sizeof(err)), -1);
	assert_int_equal(n, 0);
	assert_int_equal(listen_tcp("[::1:25", 16, "smtp", fds, 4, &n,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[::1:25"));
}

static void
test_listen_inherited(void **state)
{
	struct listen_fd fds[4];
	char pid[32];

	(void)state;
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1);	/* not us */
	assert_int_equal(listen_inherited(fds, 4), 0);
	assert_null(getenv("LISTEN_FDS"));
	str_fmt(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDNAMES", "smtp", 1);
	assert_int_equal(listen_inherited(fds, 4), 2);
	assert_int_equal(fds[0].fd, 3);
	assert_string_equal(fds[0].name, "smtp");
	assert_string_equal(fds[1].name, "unknown");
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getline_limits),
		cmocka_unit_test(test_getline_eof_and_last_line),
		cmocka_unit_test(test_toolong_then_eof),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_read_pending_discard),
		cmocka_unit_test(test_write_flush),
		cmocka_unit_test(test_blocking_mode),
		cmocka_unit_test(test_read_after_reply),
		cmocka_unit_test(test_block_reads),
		cmocka_unit_test(test_listen_tcp_parse),
		cmocka_unit_test(test_listen_inherited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
