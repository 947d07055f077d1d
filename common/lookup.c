/*
 * lookup: the client half of the recipient check. smtpd (as `postern`,
 * chrooted to the queue directory) and qmgr ask lookupd over the unix
 * socket private/lookup, on one kept connection (lookup_rcpt); every
 * step has the caller's time limit, and any failure is LOOKUP_TEMPFAIL
 * (451 4.3.0), never a wrong "no such user". lookup_postmaster asks
 * lookupd, which alone reads the sasldb, for qmgr's postmaster routing.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lookup.h"
#include "util.h"

#define LOOKUP_ADDR_MAX	512

/* Wait for fd to be ready for events until deadline (now_ms). */
static int
lookup_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, (int)left);
		if (r == 1)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

static int
lookup_connect(const char *sockpath)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, sockpath, sizeof(sun.sun_path)) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one reply line into buf. 0 or -1. */
static int
lookup_read_line(int fd, char *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len) {
		if (lookup_wait(fd, POLLIN, deadline) == -1)
			return -1;
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got) != NULL)
			return 0;
	}
	return -1;
}

/*
 * The connection to lookupd is kept between questions (lookupd answers
 * many lines on one connection and drops a client idle for 30 s), so a
 * session, or a reused smtpd worker, pays for connect() once. A question
 * is idempotent: when the kept connection turns out dead before any reply
 * byte, it is asked once more on a new one.
 */
static int	lookup_fd = -1;
static char	lookup_path[108];

/* Send all of req; MSG_NOSIGNAL: a dead lookupd is EPIPE, not SIGPIPE. */
static int
lookup_send(int fd, const char *req, size_t n, int64_t deadline)
{
	ssize_t w;

	while (n > 0) {
		/* Send first: a request fits the socket buffer, so no poll. */
		w = send(fd, req, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN) {
			if (lookup_wait(fd, POLLOUT, deadline) == -1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		req += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send req on the kept connection and read the answer. 0, or -1 (closed). */
static int
lookup_ask(const char *req, size_t n, char *rep, size_t replen, int64_t deadline)
{
	if (lookup_send(lookup_fd, req, n, deadline) == -1 ||
	    lookup_read_line(lookup_fd, rep, replen, deadline) == -1) {
		close(lookup_fd);
		lookup_fd = -1;
		return -1;
	}
	return 0;
}

void
lookup_close(void)
{
	if (lookup_fd != -1)
		close(lookup_fd);
	lookup_fd = -1;
}

enum lookup_result
lookup_rcpt(const char *sockpath, const char *address, int timeout_ms)
{
	char req[LOOKUP_ADDR_MAX + 16], rep[64];
	const unsigned char *p;
	int64_t deadline = now_ms() + timeout_ms;
	int n, kept;

	for (p = (const unsigned char *)address; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return LOOKUP_NOUSER;	/* no mailbox has such a name */
	if ((n = str_fmt(req, sizeof(req), "rcpt %s\n", address)) == -1)
		return LOOKUP_NOUSER;
	if (lookup_fd != -1 && strcmp(lookup_path, sockpath) != 0)
		lookup_close();
	kept = lookup_fd != -1;
	rep[0] = '\0';
	if (kept && lookup_ask(req, (size_t)n, rep, sizeof(rep), deadline) == -1 &&
	    rep[0] != '\0')
		return LOOKUP_TEMPFAIL;	/* a partial answer: do not ask twice */
	if (lookup_fd == -1) {
		if (str_copy(lookup_path, sockpath, sizeof(lookup_path)) == -1 ||
		    (lookup_fd = lookup_connect(sockpath)) == -1 ||
		    lookup_ask(req, (size_t)n, rep, sizeof(rep), deadline) == -1)
			return LOOKUP_TEMPFAIL;
	}
	if (strcmp(rep, "ok\n") == 0)
		return LOOKUP_OK;
	if (strcmp(rep, "nouser\n") == 0)
		return LOOKUP_NOUSER;
	if (strcmp(rep, "notlocal\n") == 0)
		return LOOKUP_NOTLOCAL;
	lookup_close();		/* "temp": lookupd closes after an unknown line */
	return LOOKUP_TEMPFAIL;
}

int
lookup_postmaster(const char *sockpath, const char *address, char *first,
    size_t firstlen, int timeout_ms)
{
	char req[LOOKUP_ADDR_MAX + 16], rep[LOOKUP_ADDR_MAX + 16];
	const unsigned char *p;
	int64_t deadline = now_ms() + timeout_ms;
	int fd, n, r = -1;

	for (p = (const unsigned char *)address; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return -1;
	if ((n = str_fmt(req, sizeof(req), "postmaster %s\n", address)) == -1 ||
	    (fd = lookup_connect(sockpath)) == -1)
		return -1;
	if (lookup_send(fd, req, (size_t)n, deadline) == 0 &&
	    lookup_read_line(fd, rep, sizeof(rep), deadline) == 0) {
		rep[strcspn(rep, "\n")] = '\0';
		if (strcmp(rep, "self") == 0)
			r = 1;
		else if (strcmp(rep, "none") == 0)
			r = str_copy(first, "", firstlen);
		else if (strncmp(rep, "first ", 6) == 0 && rep[6] != '\0')
			r = str_copy(first, rep + 6, firstlen);
	}
	close(fd);
	return r;
}
