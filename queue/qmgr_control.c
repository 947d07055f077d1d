/*
 * qmgr_control: the admin socket private/qmgr-control, used by
 * `postern queue` (queue/admin.c). Runs in qmgr (as mail_owner). The
 * socket is 0600 in private/ (0700, mail_owner), and the peer's uid
 * (SO_PEERCRED) must be ours or root's.
 *
 * Every change to a message goes through here while qmgr runs, because
 * qmgr is the one process that knows whether the message is being
 * delivered at this moment: then delete/hold are recorded in the job and
 * done when the agents have answered and their results are on disk, so
 * a message is never cut from under a delivery. Otherwise the file is
 * renamed or unlinked at once; both are atomic, and qmgr itself is
 * single-threaded, so nothing else can race with them.
 *
 * Protocol: one line "flush", "delete ID", "hold ID" or "release ID";
 * one reply line "ok TEXT", "nosuch" or "err TEXT".
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "qmgr.h"
#include "util.h"

#define QC_TIMEOUT_MS	2000

int
qmgr_control_open(void)
{
	char err[512];
	int fd;

	fd = listen_unix(QMGR_CONTROL_SOCKET, 16, 0600, err, sizeof(err));
	if (fd == -1) {
		log_warn("%s", err);
		return -1;
	}
	fd_set_nonblock(fd, 1);
	return fd;
}

static int
qc_exists(const char *dir, const char *id)
{
	char path[64];

	str_fmt(path, sizeof(path), "%s/%s", dir, id);
	return access(path, F_OK) == 0;
}

static void
qc_unlink_defer(const char *id)
{
	char path[64];

	str_fmt(path, sizeof(path), "defer/%s", id);
	unlink(path);
}

static const char *
qc_delete(const char *id)
{
	static const char *const dirs[] = { "incoming", "active", "deferred", "hold" };
	struct qmgr_job *j = qmgr_find_job(id);
	char path[64];
	size_t i;

	if (j != NULL) {
		j->admin = QMGR_ADMIN_DELETE;
		return "ok being delivered: deleted when the delivery in progress ends";
	}
	qmgr_unwait(id);
	for (i = 0; i < NELEM(dirs); i++) {
		str_fmt(path, sizeof(path), "%s/%s", dirs[i], id);
		if (unlink(path) == 0) {
			qc_unlink_defer(id);
			log_info("%s: deleted by the administrator", id);
			return "ok deleted";
		}
	}
	return "nosuch";
}

static const char *
qc_hold(const char *id)
{
	static const char *const dirs[] = { "incoming", "active", "deferred" };
	struct qmgr_job *j = qmgr_find_job(id);
	char src[64], dst[64];
	size_t i;

	if (j != NULL) {
		j->admin = QMGR_ADMIN_HOLD;
		return "ok being delivered: held when the delivery in progress ends";
	}
	if (qc_exists("hold", id))
		return "ok already on hold";
	qmgr_unwait(id);
	str_fmt(dst, sizeof(dst), "hold/%s", id);
	for (i = 0; i < NELEM(dirs); i++) {
		str_fmt(src, sizeof(src), "%s/%s", dirs[i], id);
		if (rename(src, dst) == 0) {
			log_info("%s: put on hold by the administrator", id);
			return "ok held";
		}
	}
	return "nosuch";
}

static const char *
qc_release(const char *id)
{
	struct qfile q;
	char src[64], dst[64];

	str_fmt(src, sizeof(src), "hold/%s", id);
	str_fmt(dst, sizeof(dst), "deferred/%s", id);
	if (qfile_open(&q, src, 1) == -1)
		return errno == ENOENT ? (qmgr_find_job(id) != NULL ||
		    qc_exists("incoming", id) || qc_exists("active", id) ||
		    qc_exists("deferred", id) ? "err not on hold" : "nosuch") :
		    "err malformed queue file";
	/* Due now; the attempt count (and so the back-off) is kept. */
	if (qfile_set_retry(&q, q.attempts, 0) == -1 || qfile_sync(&q) == -1 ||
	    rename(src, dst) == -1) {
		qfile_close(&q);
		return "err cannot release";
	}
	qfile_close(&q);
	log_info("%s: released from hold by the administrator", id);
	qmgr_note_retry(time(NULL));
	return "ok released";
}

static int
qc_is_qid(const char *s)
{
	return strlen(s) == QID_LEN &&
	    strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == QID_LEN;
}

static const char *
qc_command(char *line)
{
	char *arg = strchr(line, ' ');

	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "flush") == 0 && arg == NULL) {
		qmgr_flush();
		return "ok flushing the deferred queue";
	}
	if (arg == NULL)
		return "err bad command";
	if (!qc_is_qid(arg))
		return "nosuch";
	if (strcmp(line, "delete") == 0)
		return qc_delete(arg);
	if (strcmp(line, "hold") == 0)
		return qc_hold(arg);
	if (strcmp(line, "release") == 0)
		return qc_release(arg);
	return "err bad command";
}

/* Read one line under a short timeout. 0 or -1. */
static int
qc_read_line(int fd, char *buf, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int64_t deadline = now_ms() + QC_TIMEOUT_MS;
	size_t n = 0;
	ssize_t r;
	char *nl;

	while (n < len - 1) {
		if (deadline - now_ms() <= 0 ||
		    poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			return -1;
		if ((r = read(fd, buf + n, len - 1 - n)) <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if ((nl = memchr(buf, '\n', n)) != NULL) {
			*nl = '\0';
			return nl + 1 == buf + n ? 0 : -1;
		}
	}
	return -1;
}

void
qmgr_control_accept(int lfd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char line[128], out[256];
	const char *rep;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		write_all(fd, "err permission denied\n", 22);
		close(fd);
		return;
	}
	if (qc_read_line(fd, line, sizeof(line)) == -1)
		rep = "err bad command";
	else
		rep = qc_command(line);
	str_fmt(out, sizeof(out), "%s\n", rep);
	write_all(fd, out, strlen(out));
	close(fd);
}
