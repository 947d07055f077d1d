/*
 * Unit tests of the delivery request between qmgr and its agents
 * (common/agent.c): the parser on good and malformed text, and the reader
 * on a real socketpair (fd passing, control data, limits, timeout), plus
 * the writer qmgr uses, byte for byte.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "strbuf.h"
#include "util.h"

#define QID	"0123456789ABCDEFGHIJ"
#define HEAD	"qid " QID "\nsender s@example.org\ndata 10 20\n"

/* Parse len bytes from an exact-size heap copy (reads past it are caught). */
static int
parse_len(const char *text, size_t len, struct agent_req *r)
{
	char *copy = xmalloc(len > 0 ? len : 1);
	int rv;

	memcpy(copy, text, len);
	agent_req_init(r);
	rv = agent_req_parse(r, copy, len);
	free(copy);
	return rv;
}

/* Parse a C string; free the result. The return value of the parser. */
static int
parse(const char *text)
{
	struct agent_req r;
	int rv = parse_len(text, strlen(text), &r);

	agent_req_free(&r);
	return rv;
}

static void
test_good(void **state)
{
	const char *t = HEAD "rcpt 0 a@example.com\nrcpt 7 \"j doe\"@example.com\nend\n";
	struct agent_req r;

	(void)state;
	assert_int_equal(parse_len(t, strlen(t), &r), 0);
	assert_string_equal(r.qid, QID);
	assert_string_equal(r.sender, "s@example.org");
	assert_int_equal(r.off, 10);
	assert_int_equal(r.size, 20);
	assert_int_equal(r.nrcpt, 2);
	assert_int_equal(r.rcpt[0].idx, 0);
	assert_string_equal(r.rcpt[0].addr, "a@example.com");
	assert_int_equal(r.rcpt[1].idx, 7);
	assert_string_equal(r.rcpt[1].addr, "\"j doe\"@example.com");
	assert_int_equal(r.fd, -1);
	agent_req_free(&r);
	assert_null(r.rcpt);
	assert_int_equal(r.nrcpt, 0);
	/* The null sender, 8-bit text (SMTPUTF8), the largest values. */
	assert_int_equal(parse("qid " QID "\nsender \ndata 0 0\nrcpt 1 a@b\nend\n"), 0);
	assert_int_equal(parse("qid " QID "\nsender \xc3\xa9@b\ndata 0 0\n"
	    "rcpt 1 \xc3\xa9@b\nend\n"), 0);
	assert_int_equal(parse("qid " QID "\nsender a@b\n"
	    "data 9223372036854775807 9223372036854775807\nrcpt 1000000 a@b\nend\n"), 0);
}

static void
test_order(void **state)
{
	(void)state;
	assert_int_equal(parse("sender s@x\nqid " QID "\ndata 1 1\nrcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid " QID "\ndata 1 1\nsender s@x\nrcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid " QID "\nsender s@x\nrcpt 0 a@b\ndata 1 1\nend\n"), -1);
	assert_int_equal(parse("qid " QID "\nqid " QID "\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\ndata 1 1\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nsender x@y\nend\n"), -1);
	assert_int_equal(parse(HEAD "end\n"), -1);		/* no rcpt */
	assert_int_equal(parse("qid " QID "\nsender s@x\nend\n"), -1);
	assert_int_equal(parse("end\n"), -1);
	assert_int_equal(parse(""), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nRCPT 1 c@d\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nfoo\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\n\nend\n"), -1);
	assert_int_equal(parse("QID " QID "\nsender s@x\ndata 1 1\nrcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid " QID "\nsender\ndata 1 1\nrcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid " QID "\nsender s@x\ndata\nrcpt 0 a@b\nend\n"), -1);
}

static void
test_end(void **state)
{
	(void)state;
	assert_int_equal(parse(HEAD "rcpt 0 a@b\n"), -1);		/* missing */
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend"), -1);		/* no LF */
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend\nx"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend\nrcpt 1 c@d\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend\nend\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend\n\n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\nend \n"), -1);
	assert_int_equal(parse(HEAD "rcpt 0 a@b\n end\n"), -1);
}

static void
test_control(void **state)
{
	static const char *bad[] = {
		"qid " QID "\r\nsender s@x\ndata 1 1\nrcpt 0 a@b\nend\n",
		"qid " QID "\nsender s\r@x\ndata 1 1\nrcpt 0 a@b\nend\n",
		"qid " QID "\nsender s@x\ndata 1 1\t\nrcpt 0 a@b\nend\n",
		HEAD "rcpt 0 a\t@b\nend\n",
		HEAD "rcpt 0 a@b\x7f\nend\n",
		HEAD "rcpt 0 a@b\x1b[0m\nend\n",
		HEAD "rcpt 0 a@b\r\nend\n",
		HEAD "rcpt 0 a@b\nend\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		assert_int_equal(parse(bad[i]), -1);
}

static void
test_nul(void **state)
{
	static const char t1[] = HEAD "rcpt 0 a@b\0c@d\nend\n";
	static const char t2[] = "qid " QID "\nsender s@x\0\ndata 1 1\nrcpt 0 a@b\nend\n";
	static const char t3[] = HEAD "rcpt 0 a@b\nend\n\0";
	static const char t4[] = HEAD "rcpt 0 a@b\n\0end\n";
	struct agent_req r;

	(void)state;
	assert_int_equal(parse_len(t1, sizeof(t1) - 1, &r), -1);
	agent_req_free(&r);
	assert_int_equal(parse_len(t2, sizeof(t2) - 1, &r), -1);
	agent_req_free(&r);
	assert_int_equal(parse_len(t3, sizeof(t3) - 1, &r), -1);	/* NUL after end */
	agent_req_free(&r);
	assert_int_equal(parse_len(t4, sizeof(t4) - 1, &r), -1);
	agent_req_free(&r);
}

/* A request with n recipients. */
static void
make_rcpts(struct strbuf *sb, size_t n)
{
	size_t i;

	strbuf_init(sb, AGENT_REQ_MAX * 2);
	assert_int_equal(strbuf_puts(sb, HEAD), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(strbuf_printf(sb, "rcpt %zu u%zu@example.com\n", i, i), 0);
	assert_int_equal(strbuf_puts(sb, "end\n"), 0);
}

static void
test_too_many(void **state)
{
	struct strbuf sb;

	(void)state;
	make_rcpts(&sb, AGENT_MAX_RCPT);
	assert_int_equal(parse(sb.data), 0);
	strbuf_free(&sb);
	make_rcpts(&sb, AGENT_MAX_RCPT + 1);
	assert_int_equal(parse(sb.data), -1);
	strbuf_free(&sb);
}

static void
test_lengths(void **state)
{
	char addr[QFILE_ADDR_MAX + 2], t[2048];

	(void)state;
	memset(addr, 'a', sizeof(addr));
	addr[QFILE_ADDR_MAX] = '\0';	/* the longest allowed */
	str_fmt(t, sizeof(t), "qid " QID "\nsender %s\ndata 1 1\nrcpt 0 %s\nend\n",
	    addr, addr);
	assert_int_equal(parse(t), 0);
	addr[QFILE_ADDR_MAX] = 'a';
	addr[QFILE_ADDR_MAX + 1] = '\0';	/* one more */
	str_fmt(t, sizeof(t), "qid " QID "\nsender %s\ndata 1 1\nrcpt 0 a@b\nend\n",
	    addr);
	assert_int_equal(parse(t), -1);
	str_fmt(t, sizeof(t), HEAD "rcpt 0 %s\nend\n", addr);
	assert_int_equal(parse(t), -1);
	/* qid: exactly QID_LEN of [0-9A-Z] */
	assert_int_equal(parse("qid \nsender s@x\ndata 1 1\nrcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid 0123456789ABCDEFGHI\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid 0123456789ABCDEFGHIJK\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid 0123456789abcdefghij\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid 0123456789ABCDEFGH/J\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
	assert_int_equal(parse("qid  0123456789ABCDEFGHIJ\nsender s@x\ndata 1 1\n"
	    "rcpt 0 a@b\nend\n"), -1);
}

static void
test_numbers(void **state)
{
	static const char *data[] = {
		"-1 2", "1 -2", "1", "1 ", " 1 2", "1  2", "1 2 3", "x 1", "1 x",
		"0x10 1", "+1 2", "1 +2", "9223372036854775808 1",
		"1 9223372036854775808", "18446744073709551616 1", "1e3 1", "",
	};
	static const char *rcpt[] = {
		"1000001 a@b", "x a@b", "-1 a@b", "+1 a@b", " 1 a@b", "1 ", "1",
		"", "a@b", "0x1 a@b", "99999999999999999999999 a@b",
	};
	char t[512];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(data); i++) {
		str_fmt(t, sizeof(t), "qid " QID "\nsender s@x\ndata %s\nrcpt 0 a@b\nend\n",
		    data[i]);
		assert_int_equal(parse(t), -1);
	}
	for (i = 0; i < NELEM(rcpt); i++) {
		str_fmt(t, sizeof(t), HEAD "rcpt %s\nend\n", rcpt[i]);
		assert_int_equal(parse(t), -1);
	}
}

/* Open fds of this process (to find leaks of passed fds). */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

/* A regular file of size bytes (unlinked). */
static int
tmpfile_of(size_t size)
{
	char path[] = "/tmp/postern-test-agent.XXXXXX";
	char buf[256];
	int fd = mkstemp(path);

	assert_true(fd != -1);
	unlink(path);
	memset(buf, 'x', sizeof(buf));
	while (size > 0) {
		size_t n = size < sizeof(buf) ? size : sizeof(buf);
		assert_int_equal(write_all(fd, buf, n), 0);
		size -= n;
	}
	return fd;
}

/* sendmsg text with nfds fds attached (0..2). */
static void
send_raw(int s, const char *text, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)text;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	assert_int_equal(sendmsg(s, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* Send text with nfds copies of a file of fsize bytes; read; return rv. */
static int
exchange(const char *text, size_t fsize, int nfds, struct agent_req *r)
{
	int sv[2], fds[2], before, rv;

	before = count_fds();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fds[0] = tmpfile_of(fsize);
	fds[1] = dup(fds[0]);
	send_raw(sv[1], text, strlen(text), fds, nfds);
	close(fds[0]);
	close(fds[1]);
	rv = agent_req_read(sv[0], r, 2000);
	close(sv[0]);
	close(sv[1]);
	/* Every passed fd is kept (success) or closed. */
	assert_int_equal(count_fds(), before + (rv == 0 ? 1 : 0));
	return rv;
}

static void
test_sock_good(void **state)
{
	struct agent_req r;
	struct stat st;

	(void)state;
	assert_int_equal(exchange(HEAD "rcpt 3 a@b\nend\n", 100, 1, &r), 0);
	assert_true(r.fd != -1);
	assert_int_equal(fstat(r.fd, &st), 0);
	assert_int_equal(st.st_size, 100);
	assert_true(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
	assert_string_equal(r.qid, QID);
	assert_int_equal(r.nrcpt, 1);
	assert_int_equal(r.rcpt[0].idx, 3);
	agent_req_free(&r);
	assert_int_equal(r.fd, -1);
	/* The range may end exactly at the end of the file. */
	assert_int_equal(exchange("qid " QID "\nsender \ndata 100 0\nrcpt 0 a@b\nend\n",
	    100, 1, &r), 0);
	agent_req_free(&r);
	assert_int_equal(exchange("qid " QID "\nsender \ndata 0 100\nrcpt 0 a@b\nend\n",
	    100, 1, &r), 0);
	agent_req_free(&r);
}

static void
test_sock_fds(void **state)
{
	struct agent_req r;

	(void)state;
	assert_int_equal(exchange(HEAD "rcpt 0 a@b\nend\n", 100, 0, &r), -1);
	agent_req_free(&r);
	assert_int_equal(exchange(HEAD "rcpt 0 a@b\nend\n", 100, 2, &r), -1);
	agent_req_free(&r);
	/* Outside the file: 10+20 > 29, offset past the end, size too big. */
	assert_int_equal(exchange(HEAD "rcpt 0 a@b\nend\n", 29, 1, &r), -1);
	agent_req_free(&r);
	assert_int_equal(exchange("qid " QID "\nsender \ndata 101 0\nrcpt 0 a@b\nend\n",
	    100, 1, &r), -1);
	agent_req_free(&r);
	assert_int_equal(exchange("qid " QID "\nsender \ndata 0 101\nrcpt 0 a@b\nend\n",
	    100, 1, &r), -1);
	agent_req_free(&r);
	assert_int_equal(exchange("qid " QID "\nsender \n"
	    "data 9223372036854775807 9223372036854775807\nrcpt 0 a@b\nend\n",
	    100, 1, &r), -1);
	agent_req_free(&r);
	/* A good fd with a malformed text is closed too. */
	assert_int_equal(exchange(HEAD "end\n", 100, 1, &r), -1);
	agent_req_free(&r);
}

/* Not a regular file; the fd on a later byte; a second fd later. */
static void
test_sock_fd_kinds(void **state)
{
	const char *t = HEAD "rcpt 0 a@b\nend\n";
	struct agent_req r;
	pid_t pid;
	int sv[2], p[2], f, st;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	send_raw(sv[1], "qid " QID "\nsender \ndata 0 0\nrcpt 0 a@b\nend\n",
	    strlen("qid " QID "\nsender \ndata 0 0\nrcpt 0 a@b\nend\n"), &p[0], 1);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), -1);
	agent_req_free(&r);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);

	/* The fd only after the reader took the first bytes (a child writes). */
	f = tmpfile_of(100);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		send_raw(sv[1], t, 10, NULL, 0);
		usleep(200 * 1000);
		send_raw(sv[1], t + 10, strlen(t) - 10, &f, 1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), -1);
	assert_int_equal(r.fd, -1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_raw(sv[1], t, 10, &f, 1);
	send_raw(sv[1], t + 10, strlen(t) - 10, &f, 1);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), -1);
	agent_req_free(&r);
	close(sv[0]);
	close(sv[1]);
	close(f);
}

/* Control data other than SCM_RIGHTS (credentials) is refused. */
static void
test_sock_creds(void **state)
{
	struct agent_req r;
	int sv[2], f, on = 1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	f = tmpfile_of(100);
	send_raw(sv[1], HEAD "rcpt 0 a@b\nend\n", strlen(HEAD "rcpt 0 a@b\nend\n"), &f, 1);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), -1);
	agent_req_free(&r);
	close(f);
	close(sv[0]);
	close(sv[1]);
}

/* Bytes after "end" (sent before the reader looks), in a second write. */
static void
test_sock_after_end(void **state)
{
	const char *t = HEAD "rcpt 0 a@b\nend\n";
	struct agent_req r;
	int sv[2], f;

	(void)state;
	f = tmpfile_of(100);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_raw(sv[1], t, strlen(t), &f, 1);
	send_raw(sv[1], "rcpt 1 c@d\n", 11, NULL, 0);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), -1);
	agent_req_free(&r);
	close(sv[0]);
	close(sv[1]);
	close(f);
}

/* A peer that stops half-way: refused within the limit; EOF at once. */
static void
test_sock_timeout(void **state)
{
	struct agent_req r;
	int64_t t0;
	int sv[2], f;

	(void)state;
	f = tmpfile_of(100);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_raw(sv[1], HEAD, strlen(HEAD), &f, 1);
	t0 = now_ms();
	assert_int_equal(agent_req_read(sv[0], &r, 300), -1);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 5000);
	agent_req_free(&r);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_raw(sv[1], HEAD, strlen(HEAD), &f, 1);
	close(sv[1]);
	t0 = now_ms();
	assert_int_equal(agent_req_read(sv[0], &r, 3000), -1);
	assert_true(now_ms() - t0 < 2000);
	assert_int_not_equal(errno, ENODATA);	/* half a request: malformed */
	agent_req_free(&r);
	close(sv[0]);

	/* Closed before a byte (qmgr ends a kept connection): ENODATA. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(agent_req_read(sv[0], &r, 3000), -1);
	assert_int_equal(errno, ENODATA);
	agent_req_free(&r);
	close(sv[0]);
	close(f);
}

/* More than AGENT_REQ_MAX bytes without an end: refused. */
static void
test_sock_oversize(void **state)
{
	struct agent_req r;
	char line[64];
	pid_t pid;
	int sv[2], f, st;

	(void)state;
	f = tmpfile_of(100);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		size_t sent = 0;
		close(sv[0]);
		signal(SIGPIPE, SIG_IGN);
		send_raw(sv[1], HEAD, strlen(HEAD), &f, 1);
		memset(line, 'a', sizeof(line));
		line[sizeof(line) - 1] = '\n';
		/* Bounded: twice the limit at most. */
		while (sent < 2 * AGENT_REQ_MAX &&
		    write_all(sv[1], line, sizeof(line)) == 0)
			sent += sizeof(line);
		_exit(sent >= 2 * AGENT_REQ_MAX ? 1 : 0);
	}
	assert_true(pid > 0);
	close(sv[1]);
	assert_int_equal(agent_req_read(sv[0], &r, 10000), -1);
	agent_req_free(&r);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);	/* the reader stopped early */
	close(f);
}

/* qmgr's writer: the exact wire text, and the reader takes it back. */
static void
test_send(void **state)
{
	static const char want[] = "qid " QID "\nsender \ndata 10 20\n"
	    "rcpt 0 a@example.com\nrcpt 12 \"x y\"@example.com\nend\n";
	struct agent_rcpt rc[2] = { { 0, "a@example.com" }, { 12, "\"x y\"@example.com" } };
	struct agent_req w, r;
	char buf[512];
	int sv[2];
	ssize_t n;
	size_t got = 0;

	(void)state;
	agent_req_init(&w);
	w.fd = tmpfile_of(100);
	str_copy(w.qid, QID, sizeof(w.qid));
	w.sender = "";
	w.off = 10;
	w.size = 20;
	w.rcpt = rc;
	w.nrcpt = 2;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(agent_req_send(sv[1], &w), 0);
	assert_int_equal(agent_req_read(sv[0], &r, 2000), 0);
	assert_int_equal(r.nrcpt, 2);
	assert_string_equal(r.rcpt[1].addr, "\"x y\"@example.com");
	assert_int_equal(r.rcpt[1].idx, 12);
	agent_req_free(&r);
	/* The bytes themselves (read plainly; the fd is dropped by read(2)). */
	assert_int_equal(agent_req_send(sv[1], &w), 0);
	close(sv[1]);
	while (got < sizeof(buf) && (n = read(sv[0], buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, sizeof(want) - 1);
	assert_memory_equal(buf, want, got);
	close(sv[0]);
	close(w.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_sock_good),
		cmocka_unit_test(test_sock_fds),
		cmocka_unit_test(test_sock_fd_kinds),
		cmocka_unit_test(test_sock_creds),
		cmocka_unit_test(test_sock_after_end),
		cmocka_unit_test(test_sock_timeout),
		cmocka_unit_test(test_sock_oversize),
		cmocka_unit_test(test_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
