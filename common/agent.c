/*
 * agent: the delivery request from qmgr to its agents (format in
 * agent.h). The reader runs in deliver(8)'s children (as vmail_user) and
 * in the smtp client's children (as mail_owner, chrooted when root),
 * always after the privilege drop; the writer runs in qmgr (mail_owner).
 *
 * The reader takes the peer for hostile (mproc.c's rule): the whole
 * request is read under a size limit and a deadline, the one queue-file
 * fd must ride on the first byte with nothing else in the control data,
 * and a request with anything out of place (order, control characters,
 * NUL, numbers, bytes after "end") is refused whole, never half-parsed.
 *
 * The system-user header (agent_user_read) is the exception: deliver's
 * system-user child reads it as root, before its drop to that user, so
 * it is 12 fixed bytes with no text to parse, no fd, and nothing read
 * past it; the peer was checked to be mail_owner (SO_PEERCRED) first.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "strbuf.h"
#include "util.h"

#define AGENT_QID_CHARS	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

void
agent_req_init(struct agent_req *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

void
agent_req_free(struct agent_req *r)
{
	size_t i;

	if (r->fd != -1)
		close(r->fd);
	for (i = 0; i < r->nrcpt; i++)
		free(r->rcpt[i].addr);
	free(r->rcpt);
	free(r->sender);
	agent_req_init(r);
}

/*
 * The control data of one recvmsg: the first may carry exactly one
 * SCM_RIGHTS fd, later ones nothing. Every fd received is either kept
 * or closed, so a refused request leaks none.
 */
static int
agent_take_fd(struct msghdr *msg, int *fd, int first)
{
	struct cmsghdr *c;
	int bad = 0, n, i, *fds;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		fds = (int *)CMSG_DATA(c);
		for (i = 0; i < n; i++) {
			int f;
			memcpy(&f, fds + i, sizeof(f));
			if (first && *fd == -1)
				*fd = f;
			else {
				close(f);
				bad = 1;
			}
		}
	}
	if (first && *fd == -1)
		bad = 1;	/* the fd rides on the first byte */
	return bad || (msg->msg_flags & MSG_CTRUNC) ? -1 : 0;
}

/* Wait until fd is readable or the deadline passes. 0 or -1. */
static int
agent_wait(int fd, int64_t deadline)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r == 1)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * One recvmsg into sb; the fd into *fd on the first. 0 done, 1 more to
 * read, 2 nothing there yet, -1 error.
 */
static int
agent_recv(int conn, struct strbuf *sb, int *fd, int first)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	char buf[8192];
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 2;	/* nothing read (still the first, if it was) */
	if (n == 0 && first && sb->len == 0) {
		errno = ENODATA;	/* closed before a byte: no request at all */
		return -1;
	}
	if (n <= 0 || agent_take_fd(&msg, fd, first) == -1 ||
	    strbuf_append(sb, buf, (size_t)n) == -1)
		return -1;
	if (sb->len >= 4 && memcmp(sb->data + sb->len - 4, "end\n", 4) == 0 &&
	    (sb->len == 4 || sb->data[sb->len - 5] == '\n'))
		return 0;
	return 1;
}

/* The request text up to "end\n" and the passed fd. 0 or -1. */
static int
agent_read_text(int conn, struct strbuf *sb, int *fd, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int first = 1, rv;
	char c;

	/*
	 * Read first, wait only when nothing is there: qmgr sends its request
	 * right after connect(), so it is usually there when we accept.
	 */
	for (;;) {
		if ((rv = agent_recv(conn, sb, fd, first)) == -1)
			return -1;
		if (rv == 0)
			break;
		if (rv == 1)
			first = 0;
		else if (agent_wait(conn, deadline) == -1)
			return -1;
	}
	/* Bytes already behind "end" make the request malformed too. */
	if (recv(conn, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return -1;
	return 0;
}

/* The content range must lie inside a regular file. */
static int
agent_check_fd(const struct agent_req *r)
{
	struct stat st;

	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode) || r->off < 0 ||
	    (unsigned long long)r->off > (unsigned long long)st.st_size ||
	    r->size > (unsigned long long)(st.st_size - r->off))
		return -1;
	return 0;
}

int
agent_req_read(int conn, struct agent_req *r, int timeout_ms)
{
	struct strbuf sb;
	int rv = -1;

	agent_req_init(r);
	strbuf_init(&sb, AGENT_REQ_MAX);
	if (agent_read_text(conn, &sb, &r->fd, timeout_ms) == 0 &&
	    agent_req_parse(r, sb.data, sb.len) == 0 && agent_check_fd(r) == 0)
		rv = 0;
	strbuf_free(&sb);
	if (rv == -1)
		agent_req_free(r);	/* the passed fd too: nothing leaks */
	return rv;
}

/* No control characters (C0 or DEL) in a request line. */
static int
agent_clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* "data OFFSET SIZE" */
static int
agent_parse_data(struct agent_req *r, char *v)
{
	unsigned long long off;
	char *sp;

	if ((sp = strchr(v, ' ')) == NULL)
		return -1;
	*sp = '\0';
	if (parse_ullong(v, 0, LLONG_MAX, &off) == -1 ||
	    parse_ullong(sp + 1, 0, LLONG_MAX, &r->size) == -1)
		return -1;
	r->off = (off_t)off;
	return 0;
}

/* "rcpt INDEX MAILBOX" (the mailbox may hold spaces: a quoted local part) */
static int
agent_parse_rcpt(struct agent_req *r, char *v)
{
	unsigned long long idx;
	char *sp;

	if (r->nrcpt >= AGENT_MAX_RCPT || (sp = strchr(v, ' ')) == NULL ||
	    sp[1] == '\0' || strlen(sp + 1) > QFILE_ADDR_MAX)
		return -1;
	*sp = '\0';
	if (parse_ullong(v, 0, AGENT_MAX_IDX, &idx) == -1)
		return -1;
	r->rcpt = xreallocarray(r->rcpt, r->nrcpt + 1, sizeof(*r->rcpt));
	r->rcpt[r->nrcpt].idx = idx;
	r->rcpt[r->nrcpt++].addr = xstrdup(sp + 1);
	return 0;
}

/* One request line, by position: 0 qid, 1 sender, 2 data, then rcpt. */
static int
agent_parse_line(struct agent_req *r, size_t lineno, char *line)
{
	if (!agent_clean(line))
		return -1;
	if (lineno == 0)
		return strncmp(line, "qid ", 4) != 0 || strlen(line + 4) != QID_LEN ||
		    strspn(line + 4, AGENT_QID_CHARS) != QID_LEN ||
		    str_copy(r->qid, line + 4, sizeof(r->qid)) == -1 ? -1 : 0;
	if (lineno == 1) {
		if (strncmp(line, "sender ", 7) != 0 ||
		    strlen(line + 7) > QFILE_ADDR_MAX)
			return -1;
		r->sender = xstrdup(line + 7);
		return 0;
	}
	if (lineno == 2)
		return strncmp(line, "data ", 5) != 0 ? -1 :
		    agent_parse_data(r, line + 5);
	return strncmp(line, "rcpt ", 5) != 0 ? -1 : agent_parse_rcpt(r, line + 5);
}

int
agent_req_parse(struct agent_req *r, char *text, size_t len)
{
	char *line = text, *nl, *end = text + len;
	size_t lineno = 0;

	if (len > AGENT_REQ_MAX || memchr(text, '\0', len) != NULL)
		return -1;
	while (line < end && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
		*nl = '\0';
		if (strcmp(line, "end") == 0)
			return nl + 1 == end && lineno >= 4 ? 0 : -1;
		if (agent_parse_line(r, lineno, line) == -1)
			return -1;
		lineno++;
		line = nl + 1;
	}
	return -1;
}

/* The request text of r into sb. 0 or -1. */
static int
agent_req_format(struct strbuf *sb, const struct agent_req *r)
{
	size_t k;

	if (strbuf_printf(sb, "qid %s\nsender %s\ndata %lld %llu\n", r->qid,
	    r->sender != NULL ? r->sender : "", (long long)r->off, r->size) == -1)
		return -1;
	for (k = 0; k < r->nrcpt; k++)
		if (strbuf_printf(sb, "rcpt %llu %s\n", r->rcpt[k].idx,
		    r->rcpt[k].addr) == -1)
			return -1;
	return strbuf_puts(sb, "end\n");
}

/* sendmsg the text with fd on its first byte; the rest with write_all. */
static int
agent_send_text(int conn, int fd, const struct strbuf *sb)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = sb->data;
	iov.iov_len = sb->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(conn, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	return write_all(conn, sb->data + n, sb->len - (size_t)n);
}

int
agent_req_send(int conn, const struct agent_req *r)
{
	struct strbuf sb;
	int rv = -1;

	strbuf_init(&sb, AGENT_REQ_MAX);
	if (agent_req_format(&sb, r) == -1)
		errno = EMSGSIZE;
	else
		rv = agent_send_text(conn, r->fd, &sb);
	strbuf_free(&sb);
	return rv;
}

int
agent_user_send(int conn, uid_t uid, gid_t gid)
{
	unsigned char b[AGENT_USER_HDR_LEN];
	uint32_t u = (uint32_t)uid, g = (uint32_t)gid;

	if ((uid_t)u != uid || (gid_t)g != gid) {
		errno = ERANGE;
		return -1;
	}
	memcpy(b, AGENT_USER_MAGIC, 4);
	memcpy(b + 4, &u, 4);
	memcpy(b + 8, &g, 4);
	return write_all(conn, b, sizeof(b));
}

/* One recvmsg of at most len bytes; any control data is an error. */
static ssize_t
agent_user_recv(int conn, unsigned char *b, size_t len)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;
	int dummy = -1;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = b;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n > 0 && (msg.msg_controllen > 0 || (msg.msg_flags & MSG_CTRUNC))) {
		agent_take_fd(&msg, &dummy, 0);	/* closes what came */
		errno = EPROTO;
		return -1;
	}
	return n;
}

int
agent_user_read(int conn, uid_t *uid, gid_t *gid, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	unsigned char b[AGENT_USER_HDR_LEN];
	uint32_t u, g;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(b)) {
		if (agent_wait(conn, deadline) == -1)
			return -1;
		n = agent_user_recv(conn, b + got, sizeof(b) - got);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	if (memcmp(b, AGENT_USER_MAGIC, 4) != 0)
		return -1;
	memcpy(&u, b + 4, 4);
	memcpy(&g, b + 8, 4);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}
