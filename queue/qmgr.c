/*
 * qmgr: the queue manager. Started as root it drops to mail_owner (no
 * chroot) before it reads anything; not root, it runs as the invoking
 * user. It wakes at once when a byte arrives on the FIFO private/qmgr
 * (written by qfile_commit), and rescans on a timer as a safety net.
 *
 * Start-up (crash recovery): everything in active/ first (messages that were in flight),
 * then incoming/, then due deferred/. New mail and retries wait in two
 * lists that are served in turn, so deferred mail never starves new mail
 * (nor the reverse). At most deliver_concurrency messages are in flight.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "priv.h"
#include "qmgr.h"
#include "util.h"

#define QMGR_RESCAN_MS	30000		/* the safety-net timer */
#define QMGR_SCAN_MAX	10000		/* entries taken per directory scan */
#define QMGR_STOP_MS	5000		/* wait for deliveries on SIGTERM */

struct conf qmgr_conf;
struct aliases *qmgr_aliases;

struct qmgr_entry {
	char	id[QID_LEN + 1];
	char	dir[12];		/* "incoming", "deferred" or "active" */
};

struct qmgr_list {
	struct qmgr_entry *e;
	size_t	 head, n, cap;
};

static struct qmgr_list qmgr_new, qmgr_retry;
static struct qmgr_job *qmgr_jobs;
static size_t qmgr_njobs, qmgr_busy;
static volatile sig_atomic_t qmgr_stop;
static time_t qmgr_next_due;		/* earliest known deferred retry, 0 none */

void
qmgr_note_retry(time_t when)
{
	if (qmgr_next_due == 0 || when < qmgr_next_due)
		qmgr_next_due = when;
}

static void
qmgr_on_term(int sig)
{
	(void)sig;
	qmgr_stop = 1;
}

static void
qmgr_list_push(struct qmgr_list *l, const char *id, const char *dir)
{
	if (l->head > 0 && (l->head == l->n || l->head >= l->cap / 2)) {
		memmove(l->e, l->e + l->head, (l->n - l->head) * sizeof(*l->e));
		l->n -= l->head;
		l->head = 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = xreallocarray(l->e, l->cap, sizeof(*l->e));
	}
	str_copy(l->e[l->n].id, id, sizeof(l->e[l->n].id));
	str_copy(l->e[l->n].dir, dir, sizeof(l->e[l->n].dir));
	l->n++;
}

static int
qmgr_list_empty(const struct qmgr_list *l)
{
	return l->head == l->n;
}

/* A queue id: QID_LEN of [0-9A-Z]; everything else in a directory is not ours. */
static int
qmgr_is_qid(const char *s)
{
	return strlen(s) == QID_LEN &&
	    strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == QID_LEN;
}

/* Is deferred/ID due? A file that cannot be read is due (the job sorts it). */
static int
qmgr_due(const char *dir, const char *id, time_t now)
{
	struct qfile q;
	char path[64];
	int due;

	str_fmt(path, sizeof(path), "%s/%s", dir, id);
	if (qfile_open(&q, path, 0) == -1)
		return errno != ENOENT;
	due = q.next_attempt <= now;
	if (!due)
		qmgr_note_retry(q.next_attempt);
	qfile_close(&q);
	return due;
}

/* Add the entries of dir to l (only due ones for deferred/). 1 if cut short. */
static int
qmgr_scan(const char *dir, struct qmgr_list *l, int only_due)
{
	struct dirent *de;
	DIR *d;
	size_t n = 0;
	time_t now = time(NULL);

	if ((d = opendir(dir)) == NULL) {
		log_err("opendir %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qmgr_is_qid(de->d_name))
			continue;
		if (only_due && !qmgr_due(dir, de->d_name, now))
			continue;
		qmgr_list_push(l, de->d_name, dir);
		if (++n >= QMGR_SCAN_MAX)
			break;
	}
	closedir(d);
	return n >= QMGR_SCAN_MAX;
}

static void
qmgr_aliases_fresh(void)
{
	static int64_t last;
	char err[512];

	if (last != 0 && now_ms() - last < 1000)
		return;
	last = now_ms();
	if (aliases_refresh(qmgr_aliases, err, sizeof(err)) == -1)
		log_warn("alias file: %s (using the previous table)", err);
}

/* Move one entry into active/ and start its job in a free slot. */
static void
qmgr_take(const struct qmgr_entry *e)
{
	char src[64], dst[64];
	size_t i;

	if (strcmp(e->dir, "active") != 0) {
		str_fmt(src, sizeof(src), "%s/%s", e->dir, e->id);
		str_fmt(dst, sizeof(dst), "active/%s", e->id);
		if (rename(src, dst) == -1) {
			if (errno != ENOENT)
				log_err("%s: rename %s to active/: %s", e->id, src,
				    strerror(errno));
			return;		/* ENOENT: already taken (listed twice) */
		}
	}
	for (i = 0; i < qmgr_njobs; i++)
		if (qmgr_jobs[i].fd == -1)
			break;
	if (i == qmgr_njobs)
		fatal("no free job slot (internal error)");
	qmgr_aliases_fresh();
	if (qmgr_job_start(&qmgr_jobs[i], e->id) == 0 && qmgr_jobs[i].fd != -1)
		qmgr_busy++;
}

/* Start jobs while slots are free, new and retry lists served in turn. */
static void
qmgr_schedule(void)
{
	static int turn;
	struct qmgr_list *l;

	while (!qmgr_stop && qmgr_busy < qmgr_njobs) {
		if (qmgr_list_empty(&qmgr_new) && qmgr_list_empty(&qmgr_retry))
			return;
		turn = !turn;
		l = turn ? &qmgr_new : &qmgr_retry;
		if (qmgr_list_empty(l))
			l = l == &qmgr_new ? &qmgr_retry : &qmgr_new;
		qmgr_take(&l->e[l->head++]);
	}
}

/* Feed the lists: incoming/ on a wake-up, deferred/ on the timer. */
static void
qmgr_refill(int *incoming_dirty, int *deferred_dirty)
{
	if (*incoming_dirty && qmgr_list_empty(&qmgr_new))
		*incoming_dirty = qmgr_scan("incoming", &qmgr_new, 0);
	if (*deferred_dirty && qmgr_list_empty(&qmgr_retry))
		*deferred_dirty = qmgr_scan("deferred", &qmgr_retry, 1);
}

static void
qmgr_drain_fifo(int fd)
{
	char buf[512];

	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
}

/* Poll the FIFO and the deliver connections once; handle what is ready. */
static int
qmgr_poll(int fifo, int timeout_ms)
{
	struct pollfd *pfd = xcalloc(qmgr_njobs + 1, sizeof(*pfd));
	int64_t now;
	size_t i;
	int woke = 0;

	pfd[0].fd = fifo;
	pfd[0].events = POLLIN;
	for (i = 0; i < qmgr_njobs; i++) {
		pfd[i + 1].fd = qmgr_jobs[i].fd;
		pfd[i + 1].events = POLLIN;
	}
	if (poll(pfd, qmgr_njobs + 1, timeout_ms) == -1 && errno != EINTR)
		fatal("poll: %s", strerror(errno));
	if (pfd[0].revents & POLLIN) {
		qmgr_drain_fifo(fifo);
		woke = 1;
	}
	now = now_ms();
	for (i = 0; i < qmgr_njobs; i++) {
		struct qmgr_job *j = &qmgr_jobs[i];
		if (j->fd == -1)
			continue;
		if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (qmgr_job_input(j))
				qmgr_busy--;
		} else if (now > j->deadline) {
			qmgr_job_abort(j, "4.4.2 timeout waiting for the delivery agent");
			qmgr_busy--;
		}
	}
	free(pfd);
	return woke;
}

/* The main loop; returns on SIGTERM after the deliveries in flight end. */
static void
qmgr_run(int fifo)
{
	int incoming_dirty = 1, deferred_dirty = 1;
	int64_t next_scan = now_ms() + QMGR_RESCAN_MS, stop_at = 0, now;
	size_t i;

	while (!qmgr_stop || qmgr_busy > 0) {
		if (qmgr_stop && stop_at == 0)
			stop_at = now_ms() + QMGR_STOP_MS;
		if (stop_at != 0 && now_ms() > stop_at)
			break;
		qmgr_refill(&incoming_dirty, &deferred_dirty);
		qmgr_schedule();
		now = now_ms();
		if (qmgr_next_due != 0 && time(NULL) >= qmgr_next_due) {
			qmgr_next_due = 0;
			deferred_dirty = 1;
			continue;
		}
		if (now >= next_scan) {
			incoming_dirty = deferred_dirty = 1;
			next_scan = now + QMGR_RESCAN_MS;
			continue;
		}
		if (qmgr_poll(fifo, next_scan - now > 1000 ? 1000 :
		    (int)(next_scan - now)))
			incoming_dirty = 1;
	}
	for (i = 0; i < qmgr_njobs; i++)
		if (qmgr_jobs[i].fd != -1)
			qmgr_job_abort(&qmgr_jobs[i], "4.3.0 queue manager stopping");
}

/* Crash recovery: what was in flight goes first, then new, then due mail. */
static void
qmgr_recover(void)
{
	qmgr_scan("active", &qmgr_retry, 0);
	if (!qmgr_list_empty(&qmgr_retry))
		log_info("recovering %zu message(s) from active/",
		    qmgr_retry.n - qmgr_retry.head);
}

static void
qmgr_usage(void)
{
	fprintf(stderr, "usage: qmgr [-c conffile]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct priv_id id;
	char err[4096];
	const char *cf = NULL;
	size_t i;
	int ch, fifo;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			qmgr_usage();
		cf = optarg;
	}
	if (optind != argc)
		qmgr_usage();
	log_init("postern/qmgr", LOG_DEST_SYSLOG);
	if (conf_load(&qmgr_conf, cf, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (priv_is_root() &&
	    priv_lookup(qmgr_conf.mail_owner, &id, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (priv_drop(priv_is_root() ? &id : NULL, qmgr_conf.queue_dir, 0, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	umask(077);
	/* O_RDWR: the FIFO never reports end-of-file when writers come and go. */
	if ((fifo = open(QMGR_FIFO, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		fatal("open %s/%s: %s", qmgr_conf.queue_dir, QMGR_FIFO, strerror(errno));
	signal_set(SIGTERM, qmgr_on_term);
	signal_set(SIGINT, qmgr_on_term);
	signal(SIGPIPE, SIG_IGN);
	qmgr_njobs = qmgr_conf.deliver_concurrency > 0 ?
	    (size_t)qmgr_conf.deliver_concurrency : 1;
	qmgr_jobs = xcalloc(qmgr_njobs, sizeof(*qmgr_jobs));
	for (i = 0; i < qmgr_njobs; i++)
		qmgr_jobs[i].fd = -1;
	qmgr_aliases = aliases_new(qmgr_conf.alias_file);
	qmgr_recover();
	log_info("ready (concurrency %zu)", qmgr_njobs);
	qmgr_run(fifo);
	aliases_free(qmgr_aliases);
	log_info("stopped");
	return 0;
}
