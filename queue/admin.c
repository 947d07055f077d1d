/*
 * admin: `postern queue` (queue/admin.h). Runs in the postern command as
 * whoever invokes it: root (it then drops to mail_owner at once, without
 * chroot, so it never creates a root-owned file in the queue) or
 * mail_owner itself; anybody else is refused, since the queue is 0700.
 *
 * list and show only read queue files (qfile_open, read-only). Every
 * change goes to qmgr over private/qmgr-control (queue/qmgr_control.c),
 * which knows whether the message is being delivered right now and, if
 * so, does the change when the delivery's results are on disk. Only when
 * qmgr is not running (nothing can be delivering) are the renames and
 * unlinks done here directly.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../master/master.h"
#include "admin.h"
#include "conf.h"
#include "log.h"
#include "priv.h"
#include "qfile.h"
#include "util.h"

#define QA_CONTROL	"private/qmgr-control"
#define QA_FIFO		"private/qmgr"
#define QA_TIMEOUT_MS	10000
#define QA_MAX		100000		/* messages listed at most */

static const char *const qa_dirs[] = { "incoming", "active", "deferred", "hold" };

static int
qa_is_qid(const char *s)
{
	return strlen(s) == QID_LEN &&
	    strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == QID_LEN;
}

static int
qa_nosuch(const char *id)
{
	char safe[64];

	log_sanitize(safe, sizeof(safe), id, strlen(id));
	fprintf(stderr, "postern: queue: no message %s\n", safe);
	return 1;
}

/* The directory holding id, or NULL. */
static const char *
qa_find(const char *id)
{
	char path[64];
	size_t i;

	for (i = 0; i < NELEM(qa_dirs); i++) {
		str_fmt(path, sizeof(path), "%s/%s", qa_dirs[i], id);
		if (access(path, F_OK) == 0)
			return qa_dirs[i];
	}
	return NULL;
}

/* The first line of defer/ID (the last temporary error), or "". */
static void
qa_last_error(const char *id, char *out, size_t len)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	out[0] = '\0';
	str_fmt(path, sizeof(path), "defer/%s", id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	log_sanitize(out, len, buf, strlen(buf));
}

static const char *
qa_status_word(const char *dir)
{
	return strcmp(dir, "deferred") == 0 ? "deferred" :
	    strcmp(dir, "hold") == 0 ? "hold" :
	    strcmp(dir, "active") == 0 ? "active" : "incoming";
}

/* One message in mailq style. Returns its size (0 if unreadable). */
static unsigned long long
qa_list_one(const char *dir, const char *id)
{
	struct qfile q;
	struct tm tm;
	char path[64], when[64], err[300];
	size_t i;

	str_fmt(path, sizeof(path), "%s/%s", dir, id);
	if (qfile_open(&q, path, 0) == -1)
		return 0;	/* it moved on while we looked */
	localtime_r(&q.arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	printf("%-20s %9llu %s %-8s %s\n", id, q.size, when, qa_status_word(dir),
	    q.sender[0] ? q.sender : "MAILER-DAEMON");
	qa_last_error(id, err, sizeof(err));
	if (err[0] != '\0' && strcmp(dir, "deferred") == 0)
		printf("%*s(%s)\n", 10, "", err);
	for (i = 0; i < q.nrcpt; i++)
		if (q.rcpt[i].status == QRCPT_PENDING)
			printf("%*s%s\n", 50, "", q.rcpt[i].addr);
	printf("\n");
	qfile_close(&q);
	return q.size > 0 ? q.size : 1;
}

static int
qa_list(void)
{
	struct dirent *de;
	unsigned long long bytes = 0, sz;
	size_t i, n = 0;
	DIR *d;

	for (i = 0; i < NELEM(qa_dirs); i++) {
		if ((d = opendir(qa_dirs[i])) == NULL) {
			fprintf(stderr, "postern: queue: %s: %s\n", qa_dirs[i],
			    strerror(errno));
			return 1;
		}
		while ((de = readdir(d)) != NULL && n < QA_MAX) {
			if (!qa_is_qid(de->d_name))
				continue;
			if (n == 0)
				printf("%-20s %9s %-19s %-8s %s\n", "-Queue ID-",
				    "--Size--", "----Arrival Time---", "-Status-",
				    "-Sender/Recipient-------");
			if ((sz = qa_list_one(qa_dirs[i], de->d_name)) > 0) {
				bytes += sz;
				n++;
			}
		}
		closedir(d);
	}
	if (n == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024, n,
		    n == 1 ? "" : "s");
	return 0;
}

static void
qa_show_envelope(const struct qfile *q, const char *dir)
{
	char when[64], err[1024];
	struct tm tm;
	size_t i;

	localtime_r(&q->arrival, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	printf("queue_id: %s\nstatus: %s\narrival: %s\nsize: %llu\nattempts: %u\n",
	    q->qid, qa_status_word(dir), when, q->size, q->attempts);
	if (q->next_attempt > 0) {
		localtime_r(&q->next_attempt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
		printf("next_attempt: %s\n", when);
	}
	printf("sender: <%s>\n", q->sender);
	if (q->client_addr != NULL)
		printf("client: %s (helo %s)\n", q->client_addr,
		    q->helo != NULL ? q->helo : "-");
	if (q->protocol != NULL)
		printf("protocol: %s\n", q->protocol);
	if (q->auth_user != NULL)
		printf("auth_user: %s\n", q->auth_user);
	for (i = 0; i < q->nrcpt; i++) {
		printf("recipient: <%s> %c", q->rcpt[i].addr, q->rcpt[i].status);
		if (q->rcpt[i].parent != QRCPT_NOPARENT)
			printf(" (expanded from <%s>)", q->rcpt[i].parent < q->nrcpt ?
			    q->rcpt[q->rcpt[i].parent].addr : "?");
		printf("\n");
	}
	qa_last_error(q->qid, err, sizeof(err));
	if (err[0] != '\0')
		printf("last_error: %s\n", err);
	printf("\n");
}

static int
qa_show(const char *id)
{
	struct qfile q;
	const char *dir;
	char path[64], buf[65536];
	unsigned long long left;
	off_t off;
	ssize_t n;

	if (!qa_is_qid(id) || (dir = qa_find(id)) == NULL)
		return qa_nosuch(id);
	str_fmt(path, sizeof(path), "%s/%s", dir, id);
	if (qfile_open(&q, path, 0) == -1) {
		if (errno == ENOENT && (dir = qa_find(id)) != NULL) {
			str_fmt(path, sizeof(path), "%s/%s", dir, id);
			if (qfile_open(&q, path, 0) == 0)
				goto ok;
		}
		if (errno == ENOENT)
			return qa_nosuch(id);
		fprintf(stderr, "postern: queue: %s: %s\n", id, errno == ESTALE ?
		    "the file holds another message (an old name left by a "
		    "crash, which qmgr removes)" : strerror(errno));
		return 1;
	}
ok:
	qa_show_envelope(&q, dir);
	fflush(stdout);
	for (left = q.size, off = q.data_off; left > 0; left -= (unsigned long long)n) {
		n = pread(q.fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf), off);
		if (n <= 0 || write_all(STDOUT_FILENO, buf, (size_t)n) == -1)
			break;
		off += n;
	}
	qfile_close(&q);
	return 0;
}

/* Ask qmgr. The reply line, or -1 when qmgr is not there (errno). */
static int
qa_control(const char *cmd, char *rep, size_t replen)
{
	struct pollfd p;
	size_t n = 0;
	ssize_t r;
	int fd;

	if ((fd = unix_connect(QA_CONTROL, 0)) == -1)
		return -1;
	if (write_all(fd, cmd, strlen(cmd)) == -1) {
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLIN;
	while (n < replen - 1 && poll(&p, 1, QA_TIMEOUT_MS) == 1 &&
	    (r = read(fd, rep + n, replen - 1 - n)) > 0) {
		n += (size_t)r;
		if (memchr(rep, '\n', n) != NULL)
			break;
	}
	close(fd);
	rep[n] = '\0';
	if (n == 0 || rep[n - 1] != '\n') {
		str_copy(rep, "err no answer from qmgr", replen);
		return 0;
	}
	rep[n - 1] = '\0';
	return 0;
}

/* qmgr is not running: nothing is being delivered; act on the files. */
static int
qa_direct(const char *op, const char *id, char *rep, size_t replen)
{
	char src[64], dst[64];
	const char *dir = qa_find(id);
	struct qfile q;

	if (strcmp(op, "flush") == 0) {
		str_copy(rep, "ok qmgr is not running; deferred mail goes when it starts",
		    replen);
		return 0;
	}
	if (dir == NULL) {
		str_copy(rep, "nosuch", replen);
		return 0;
	}
	str_fmt(src, sizeof(src), "%s/%s", dir, id);
	if (strcmp(op, "delete") == 0) {
		str_fmt(dst, sizeof(dst), "defer/%s", id);
		unlink(dst);
		str_copy(rep, unlink(src) == 0 ? "ok deleted" : "err cannot delete", replen);
	} else if (strcmp(op, "hold") == 0) {
		str_fmt(dst, sizeof(dst), "hold/%s", id);
		str_copy(rep, strcmp(dir, "hold") == 0 ? "ok already on hold" :
		    rename(src, dst) == 0 ? "ok held" : "err cannot hold", replen);
	} else if (strcmp(dir, "hold") != 0)
		str_copy(rep, "err not on hold", replen);
	else if (qfile_open(&q, src, 1) == 0) {
		str_fmt(dst, sizeof(dst), "deferred/%s", id);
		str_copy(rep, qfile_set_retry(&q, q.attempts, 0) == 0 &&
		    qfile_sync(&q) == 0 && rename(src, dst) == 0 ? "ok released" :
		    "err cannot release", replen);
		qfile_close(&q);
	} else
		str_copy(rep, "err malformed queue file", replen);
	return 0;
}

static int
qa_change(const char *op, const char *id)
{
	char cmd[64], rep[512];

	if (id != NULL && !qa_is_qid(id))
		return qa_nosuch(id);
	str_fmt(cmd, sizeof(cmd), "%s%s%s\n", op, id ? " " : "", id ? id : "");
	if (qa_control(cmd, rep, sizeof(rep)) == -1) {
		if (errno != ENOENT && errno != ECONNREFUSED) {
			fprintf(stderr, "postern: queue: %s: %s\n", QA_CONTROL,
			    strerror(errno));
			return 1;
		}
		qa_direct(op, id, rep, sizeof(rep));
	}
	if (strcmp(rep, "nosuch") == 0)
		return qa_nosuch(id != NULL ? id : "");
	if (strncmp(rep, "ok", 2) == 0) {
		printf("postern: queue: %s%s%s\n", id ? id : "", id ? ": " : "",
		    rep[2] == ' ' ? rep + 3 : "done");
		return 0;
	}
	fprintf(stderr, "postern: queue: %s%s%s\n", id ? id : "", id ? ": " : "",
	    strncmp(rep, "err ", 4) == 0 ? rep + 4 : rep);
	return 1;
}

/* Root drops to mail_owner; others must be able to read the queue. */
static int
qa_enter(const struct conf *c)
{
	struct priv_id id;
	char err[512];

	if (priv_is_root()) {
		if (priv_lookup(c->mail_owner, &id, err, sizeof(err)) == -1 ||
		    priv_drop(&id, c->queue_dir, 0, err, sizeof(err)) == -1) {
			fprintf(stderr, "postern: queue: %s\n", err);
			return -1;
		}
		return 0;
	}
	if (chdir(c->queue_dir) == -1 || access("active", R_OK | X_OK) == -1 ||
	    access("hold", W_OK) == -1) {
		fprintf(stderr, "postern: queue: %s: %s (run as root or as %s)\n",
		    c->queue_dir, strerror(errno), c->mail_owner);
		return -1;
	}
	return 0;
}

int
cmd_queue(const struct master_args *a)
{
	struct conf c;
	const char *op = a->sub;

	if (master_load_conf(a->conf, &c) == -1 || qa_enter(&c) == -1)
		return 1;
	if (strcmp(op, "list") == 0)
		return qa_list();
	if (strcmp(op, "show") == 0)
		return qa_show(a->rest[0]);
	if (strcmp(op, "flush") == 0)
		return qa_change("flush", NULL);
	return qa_change(op, a->rest[0]);	/* delete, hold, release */
}
