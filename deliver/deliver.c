/*
 * deliver: the local delivery agent. qmgr connects to private/deliver and
 * passes an open queue file (SCM_RIGHTS) plus a request naming the
 * recipients; deliver writes one Maildir copy per recipient under
 * mail_root/<domain>/<local part>/Maildir and replies one status line per
 * recipient.
 *
 * Privileges (DESIGN.md rule 5): the accepting parent (root when started
 * as root) only accepts and forks. Each child drops to vmail_user with
 * priv_drop() BEFORE it reads a byte of the request. Not root: everything
 * runs as the invoking user (rule 6).
 *
 * Request (text, LF lines; the fd rides on its first byte):
 *   qid QID
 *   sender ADDRESS            (empty value: null sender)
 *   data OFFSET SIZE          content bytes in the passed file
 *   rcpt INDEX ADDRESS        1..DL_MAX_RCPT lines, ADDRESS is the mailbox
 *   end
 * Reply, one line per rcpt in request order:
 *   INDEX 250 2.0.0 text | INDEX 4xx 4.x.x text | INDEX 5xx 5.x.x text
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "maildir.h"
#include "priv.h"
#include "qfile.h"
#include "strbuf.h"
#include "util.h"

#define DL_REQ_MAX	(1024 * 1024)
#define DL_MAX_RCPT	1000
#define DL_TIMEOUT_MS	30000

struct dl_rcpt {
	unsigned long long idx;
	char	*addr;
};

struct dl_req {
	int	 fd;
	char	 qid[QID_LEN + 1];
	char	*sender;
	off_t	 off;
	unsigned long long size;
	struct dl_rcpt *rcpt;
	size_t	 nrcpt;
};

static struct conf dl_conf;
static struct priv_id dl_vmail;

static void
dl_req_free(struct dl_req *r)
{
	size_t i;

	if (r->fd != -1)
		close(r->fd);
	for (i = 0; i < r->nrcpt; i++)
		free(r->rcpt[i].addr);
	free(r->rcpt);
	free(r->sender);
}

/* Take the one passed fd out of a message; refuse anything else. */
static int
dl_take_fd(struct msghdr *msg, int *fd)
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
			if (*fd == -1)
				*fd = fds[i];
			else {
				close(fds[i]);
				bad = 1;
			}
		}
	}
	return bad || (msg->msg_flags & MSG_CTRUNC) ? -1 : 0;
}

static int
dl_wait(int fd, int64_t deadline)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r == 1)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Read the whole request (up to "end\n") and the passed fd. 0 or -1. */
static int
dl_read_req(int conn, struct strbuf *sb, int *fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	char buf[8192];
	struct msghdr msg;
	struct iovec iov;
	int64_t deadline = now_ms() + DL_TIMEOUT_MS;
	ssize_t n;

	for (;;) {
		if (dl_wait(conn, deadline) == -1)
			return -1;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || dl_take_fd(&msg, fd) == -1 ||
		    strbuf_append(sb, buf, (size_t)n) == -1)
			return -1;
		if (sb->len >= 4 && memcmp(sb->data + sb->len - 4, "end\n", 4) == 0 &&
		    (sb->len == 4 || sb->data[sb->len - 5] == '\n'))
			return *fd == -1 ? -1 : 0;
	}
}

/* No control characters in a request line. */
static int
dl_clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* One request line, by position: 0 qid, 1 sender, 2 data, then rcpt/end. */
static int
dl_parse_line(struct dl_req *r, size_t lineno, char *line)
{
	char *sp;

	if (!dl_clean(line))
		return -1;
	if (lineno == 0)
		return strncmp(line, "qid ", 4) != 0 ||
		    str_copy(r->qid, line + 4, sizeof(r->qid)) == -1 ? -1 : 0;
	if (lineno == 1) {
		if (strncmp(line, "sender ", 7) != 0 || strlen(line + 7) > QFILE_ADDR_MAX)
			return -1;
		r->sender = xstrdup(line + 7);
		return 0;
	}
	if (lineno == 2) {
		unsigned long long off;
		if (strncmp(line, "data ", 5) != 0 ||
		    (sp = strchr(line + 5, ' ')) == NULL)
			return -1;
		*sp = '\0';
		if (parse_ullong(line + 5, 0, LLONG_MAX, &off) == -1 ||
		    parse_ullong(sp + 1, 0, LLONG_MAX, &r->size) == -1)
			return -1;
		r->off = (off_t)off;
		return 0;
	}
	if (strncmp(line, "rcpt ", 5) != 0 || r->nrcpt >= DL_MAX_RCPT ||
	    (sp = strchr(line + 5, ' ')) == NULL || sp[1] == '\0' ||
	    strlen(sp + 1) > QFILE_ADDR_MAX)
		return -1;
	*sp = '\0';
	r->rcpt = xreallocarray(r->rcpt, r->nrcpt + 1, sizeof(*r->rcpt));
	if (parse_ullong(line + 5, 0, 1000000, &r->rcpt[r->nrcpt].idx) == -1)
		return -1;
	r->rcpt[r->nrcpt++].addr = xstrdup(sp + 1);
	return 0;
}

/* Parse the request text (ends with "end\n"). 0 or -1. */
static int
dl_parse_req(struct dl_req *r, char *text, size_t len)
{
	char *line = text, *nl, *end = text + len;
	size_t lineno = 0;

	while (line < end && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
		*nl = '\0';
		if (strcmp(line, "end") == 0)
			return nl + 1 == end && lineno >= 4 ? 0 : -1;
		if (memchr(line, '\0', (size_t)(nl - line)) != NULL ||
		    dl_parse_line(r, lineno, line) == -1)
			return -1;
		lineno++;
		line = nl + 1;
	}
	return -1;
}

/* The content range must lie inside a regular file. */
static int
dl_check_fd(const struct dl_req *r)
{
	struct stat st;

	if (fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode) || r->off < 0 ||
	    (unsigned long long)r->off > (unsigned long long)st.st_size ||
	    r->size > (unsigned long long)(st.st_size - r->off))
		return -1;
	return 0;
}

/* Check and lower-case a mailbox address; split it. 0, or -1 with why. */
static int
dl_mailbox(char *addr, char **lp, char **dom, const char **why)
{
	char *at;

	str_lower(addr);
	if ((at = strrchr(addr, '@')) == NULL || at == addr) {
		*why = "550 5.1.3 bad mailbox address";
		return -1;
	}
	*at = '\0';
	*lp = addr;
	*dom = at + 1;
	if (!conf_is_local_domain(&dl_conf, *dom)) {
		*why = "550 5.1.2 domain is not local";
		return -1;
	}
	if (!maildir_component_ok(*lp) || !maildir_component_ok(*dom) ||
	    strchr(*lp, '\\') != NULL) {
		*why = "550 5.1.3 mailbox name not allowed";
		return -1;
	}
	return 0;
}

/* Deliver one recipient; put the status line (without index) in rep. */
static void
dl_one(const struct dl_req *r, const char *rcpt, char *rep, size_t replen)
{
	char addr[QFILE_ADDR_MAX + 1], path[PATH_MAX], err[512], name[600];
	char safe[600];
	struct strbuf pre;
	const char *why;
	char *lp, *dom;
	int st;

	str_copy(addr, rcpt, sizeof(addr));
	if (dl_mailbox(addr, &lp, &dom, &why) == -1) {
		str_copy(rep, why, replen);
		return;
	}
	if (str_fmt(path, sizeof(path), "%s/%s/%s/Maildir", dl_conf.mail_root,
	    dom, lp) == -1) {
		str_copy(rep, "550 5.1.3 mailbox path too long", replen);
		return;
	}
	/* RFC 5321 4.4: Return-Path is added at final delivery. */
	strbuf_init(&pre, 4096);
	if (strbuf_printf(&pre, "Return-Path: <%s>\nDelivered-To: %s@%s\n",
	    r->sender, lp, dom) == -1) {
		strbuf_free(&pre);
		str_copy(rep, "451 4.3.0 header too long", replen);
		return;
	}
	st = maildir_deliver(path, dl_conf.hostname, pre.data, pre.len, r->fd,
	    r->off, r->size, name, sizeof(name), err, sizeof(err));
	strbuf_free(&pre);
	log_sanitize(safe, sizeof(safe), err, strlen(err));
	if (st == MAILDIR_OK) {
		log_debug("%s: delivered to %s/new/%s", r->qid, path, name);
		str_copy(rep, "250 2.0.0 delivered to maildir", replen);
	} else if (st == MAILDIR_TEMP) {
		log_warn("%s: maildir delivery: %s", r->qid, safe);
		str_fmt(rep, replen, "451 4.3.0 maildir delivery failed: %s", safe);
	} else {
		log_warn("%s: maildir delivery: %s", r->qid, safe);
		str_fmt(rep, replen, "550 5.2.0 maildir delivery failed: %s", safe);
	}
}

/* The child: drop privileges, then read, deliver, reply. */
static void
dl_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct dl_req r;
	struct strbuf sb, out;
	char err[512], rep[700];
	size_t i;

	(void)l;
	(void)arg;
	if (priv_drop(priv_is_root() ? &dl_vmail : NULL, dl_conf.mail_root, 0,
	    err, sizeof(err)) == -1) {
		log_err("%s", err);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.fd = -1;
	strbuf_init(&sb, DL_REQ_MAX);
	fd_set_nonblock(conn, 0);
	if (dl_read_req(conn, &sb, &r.fd) == -1 ||
	    dl_parse_req(&r, sb.data, sb.len) == -1 || dl_check_fd(&r) == -1) {
		log_warn("malformed delivery request refused");
		write_all(conn, "error malformed request\n", 24);
		goto out;
	}
	strbuf_init(&out, DL_REQ_MAX);
	for (i = 0; i < r.nrcpt; i++) {
		dl_one(&r, r.rcpt[i].addr, rep, sizeof(rep));
		if (strbuf_printf(&out, "%llu %s\n", r.rcpt[i].idx, rep) == -1)
			break;
		/* Send each status at once: qmgr records it before a crash here. */
		if (write_all(conn, out.data, out.len) == -1)
			break;
		strbuf_reset(&out);
	}
	strbuf_free(&out);
out:
	strbuf_free(&sb);
	dl_req_free(&r);
}

static void
dl_usage(void)
{
	fprintf(stderr, "usage: deliver [-c conffile]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct listen_fd all[LISTEN_MAXFDS], lfd[LISTEN_MAXFDS];
	char err[4096];
	const char *cf = NULL;
	size_t nl = 0;
	int ch, n, i;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			dl_usage();
		cf = optarg;
	}
	if (optind != argc)
		dl_usage();
	log_init("postern/deliver", LOG_DEST_SYSLOG);
	if (conf_load(&dl_conf, cf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if ((n = listen_inherited(all, NELEM(all))) == -1)
		fatal("cannot take the listening sockets");
	for (i = 0; i < n; i++) {
		if (strcmp(all[i].name, "deliver") == 0)
			lfd[nl++] = all[i];
		else
			close(all[i].fd);
	}
	if (nl == 0)
		fatal("no listening socket named \"deliver\" (start me from the master)");
	if (priv_is_root() &&
	    priv_lookup(dl_conf.vmail_user, &dl_vmail, err, sizeof(err)) == -1)
		fatal("%s", err);
	/* The parent reads nothing from its peers: it only accepts and forks. */
	if (chdir(dl_conf.mail_root) == -1)
		fatal("chdir %s: %s", dl_conf.mail_root, strerror(errno));
	umask(077);
	log_info("ready");
	if (listen_serve(lfd, nl, (unsigned)(dl_conf.deliver_concurrency * 2 + 2),
	    dl_serve, NULL) == -1)
		return 1;
	return 0;
}
