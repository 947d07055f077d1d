/*
 * qmgr: the queue manager. Started as root it drops to mail_owner (no
 * chroot) before it reads anything; not root, it runs as the invoking
 * user. It wakes at once when a line arrives on the FIFO private/qmgr
 * (written by qfile_commit: the queue id, so that new mail needs no scan
 * of incoming/), and rescans on a timer as a safety net. New mail is
 * gathered for queue_collect_delay and handed out together (qmgr_collecting).
 *
 * Start-up (crash recovery): everything in active/ first (messages that were in flight),
 * then incoming/, then due deferred/. New mail and retries wait in two
 * lists that are served in turn, so deferred mail never starves new mail
 * (nor the reverse). Connections to the agents are counted in slots: at
 * most deliver_concurrency to deliver, smtp_concurrency to smtp in all
 * and smtp_destination_concurrency per destination domain. A message
 * whose destination is at its limit stays in active/ and waits in memory
 * for a slot of that destination (no attempt is counted); when a
 * connection to it ends, one waiter goes back into the retry list.
 * `postern queue` talks to us on private/qmgr-control (qmgr_control.c).
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
#include "daemon.h"
#include "log.h"
#include "priv.h"
#include "qmgr.h"
#include "util.h"

#define QMGR_RESCAN_MS	30000		/* the safety-net timer */
#define QMGR_SCAN_MAX	10000		/* entries taken per directory scan */
#define QMGR_MOVE_MAX	10000		/* new mail waiting in active/ (qmgr_push_new) */
#define QMGR_STOP_MS	5000		/* wait for deliveries on SIGTERM */
#define QMGR_PARK_HOLD_MS 1000		/* parked jobs stop new takes while deliver moves */

struct conf qmgr_conf;
struct aliases *qmgr_aliases;
static size_t qmgr_fifo_cap;	/* the FIFO's capacity (F_GETPIPE_SZ), 0 unknown */

struct qmgr_entry {
	char	id[QID_LEN + 1];
	char	dir[12];		/* "incoming", "deferred" or "active" */
	int	moved;			/* new mail qmgr_push_new moved to active/ */
};

struct qmgr_list {
	struct qmgr_entry *e;
	size_t	 head, n, cap;
};

struct qmgr_dest {
	char	 name[256];
	unsigned n;
};

struct qmgr_waiter {
	char	 id[QID_LEN + 1];
	char	 res[256];
};

static struct qmgr_list qmgr_new, qmgr_retry;
static struct qmgr_job *qmgr_jobs;
static size_t qmgr_njobs, qmgr_busy;	/* jobs at work: at most njobs */
static size_t qmgr_nslots;		/* njobs + park_max job slots */
static size_t qmgr_parked, qmgr_park_max;
static uint64_t qmgr_park_seq;
static int64_t qmgr_local_moved;	/* now_ms() when a deliver slot was last taken or freed */
static volatile sig_atomic_t qmgr_stop;
static time_t qmgr_next_due;		/* earliest known deferred retry, 0 none */
static unsigned qmgr_local_busy, qmgr_smtp_busy;
static struct qmgr_dest *qmgr_dests;
static size_t qmgr_ndests;
static struct qmgr_waiter *qmgr_waiters;
static size_t qmgr_nwaiters;
static int qmgr_flush_all;		/* next deferred/ scan takes everything */
static int64_t qmgr_new_since;		/* now_ms() when new mail began to wait, 0 none */

/*
 * New mail is gathered for queue_collect_delay after the first of it
 * arrives, then handed out together: deliveries that run at the same time
 * share the fsync of a Maildir's new/ (gcommit) and the disk's cache
 * flushes for their files, where one message at a time would pay two
 * flushes each, in the way of smtpd's. Meanwhile the FIFO is not polled,
 * so that each commit does not wake us. ms left, or 0 when not gathering.
 */
static int64_t
qmgr_collecting(int64_t now)
{
	int64_t end = qmgr_new_since + qmgr_conf.queue_collect_delay;

	if (qmgr_conf.queue_collect_delay <= 0 || qmgr_new_since == 0)
		return 0;
	return end > now ? end - now : 0;
}

void
qmgr_note_retry(time_t when)
{
	if (qmgr_next_due == 0 || when < qmgr_next_due)
		qmgr_next_due = when;
}

static void qmgr_wake_waiters(const char *res);

static struct qmgr_dest *
qmgr_dest_find(const char *domain)
{
	size_t i;

	for (i = 0; i < qmgr_ndests; i++)
		if (strcmp(qmgr_dests[i].name, domain) == 0)
			return &qmgr_dests[i];
	return NULL;
}

static unsigned
qmgr_slot_count(const char *domain)
{
	struct qmgr_dest *d = qmgr_dest_find(domain);

	return d != NULL ? d->n : 0;
}

int
qmgr_slot_get(enum qmgr_agent a, const char *domain)
{
	struct qmgr_dest *d;

	if (a == QMGR_AGENT_LOCAL) {
		if (qmgr_local_busy >= qmgr_conf.deliver_concurrency)
			return -1;
		qmgr_local_busy++;
		qmgr_local_moved = now_ms();
		return 0;
	}
	if (qmgr_smtp_busy >= qmgr_conf.smtp_concurrency ||
	    qmgr_slot_count(domain) >= qmgr_conf.smtp_destination_concurrency)
		return -1;
	if ((d = qmgr_dest_find(domain)) == NULL) {
		qmgr_dests = xreallocarray(qmgr_dests, qmgr_ndests + 1,
		    sizeof(*qmgr_dests));
		d = &qmgr_dests[qmgr_ndests++];
		str_copy(d->name, domain, sizeof(d->name));
		d->n = 0;
	}
	d->n++;
	qmgr_smtp_busy++;
	return 0;
}

void
qmgr_slot_put(enum qmgr_agent a, const char *domain)
{
	struct qmgr_dest *d;

	if (a == QMGR_AGENT_LOCAL) {
		if (qmgr_local_busy > 0)
			qmgr_local_busy--;
		qmgr_local_moved = now_ms();
		qmgr_wake_waiters(QMGR_RES_LOCAL);
		return;
	}
	if (qmgr_smtp_busy > 0)
		qmgr_smtp_busy--;
	if ((d = qmgr_dest_find(domain)) != NULL && --d->n == 0) {
		*d = qmgr_dests[--qmgr_ndests];
	}
	qmgr_wake_waiters(domain);
	qmgr_wake_waiters(QMGR_RES_SMTP);
}

static void
qmgr_on_term(int sig)
{
	(void)sig;
	qmgr_stop = 1;
}

/* Append id from dir to l; returns the new entry. */
static struct qmgr_entry *
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
	l->e[l->n].moved = 0;
	return &l->e[l->n++];
}

/*
 * New mail named on the FIFO goes into active/ at once, before it has a
 * job slot, so that incoming/ holds only what qmgr has not read about
 * yet, and stays small. Every commit of smtpd, submitd and pickup
 * fsyncs incoming/, and that fsync writes each block of it that changed:
 * a backlog kept there under load grows it, ext4 never gives the blocks
 * back, and in a hashed directory each name added or removed lands in
 * a block of its own. At most QMGR_MOVE_MAX wait in active/ like this;
 * beyond that new mail waits in incoming/ and is moved when taken.
 */
static size_t qmgr_moved;	/* moved entries not taken yet */

/*
 * Rename dir/id into active/. 0, or -1 with errno: ENOENT (already taken,
 * listed twice) quietly, anything else logged.
 */
static int
qmgr_to_active(const char *dir, const char *id)
{
	char src[64], dst[64];
	int e;

	str_fmt(src, sizeof(src), "%s/%s", dir, id);
	str_fmt(dst, sizeof(dst), "active/%s", id);
	if (rename(src, dst) == 0)
		return 0;
	if ((e = errno) != ENOENT)
		log_err("%s: rename %s to active/: %s", id, src, strerror(e));
	errno = e;
	return -1;
}

static void
qmgr_push_new(const char *id)
{
	if (qmgr_moved < QMGR_MOVE_MAX) {
		if (qmgr_to_active("incoming", id) == 0) {
			qmgr_list_push(&qmgr_new, id, "active")->moved = 1;
			qmgr_moved++;
			return;
		}
		if (errno == ENOENT)
			return;
	}
	qmgr_list_push(&qmgr_new, id, "incoming");
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
	size_t i;

	if (e->moved)
		qmgr_moved--;
	if (strcmp(e->dir, "active") == 0 && qmgr_find_job(e->id) != NULL)
		return;		/* listed twice while its job runs */
	if (strcmp(e->dir, "active") != 0 && qmgr_to_active(e->dir, e->id) == -1)
		return;
	for (i = 0; i < qmgr_nslots; i++)
		if (!qmgr_jobs[i].used)
			break;
	if (i == qmgr_nslots)
		fatal("no free job slot (internal error)");
	qmgr_aliases_fresh();
	/* A retake goes first in the line for a slot; moved new mail does not. */
	if (qmgr_job_start(&qmgr_jobs[i], e->id, strcmp(e->dir, "active") == 0 &&
	    !e->moved) == 0 &&
	    qmgr_jobs[i].used && !qmgr_jobs[i].parked)
		qmgr_busy++;
}

int
qmgr_park(struct qmgr_job *j)
{
	size_t k;

	if (qmgr_parked >= qmgr_park_max || j->ntemp != 0 || j->nconn == 0)
		return 0;
	for (k = 0; k < j->nconn; k++)
		if (j->conn[k].agent != QMGR_AGENT_LOCAL || !j->conn[k].waiting)
			return 0;
	j->parked = 1;
	j->park_seq = ++qmgr_park_seq;
	qmgr_parked++;
	return 1;
}

/* Parked jobs take free deliver slots first, the oldest first. */
static void
qmgr_unpark(void)
{
	struct qmgr_job *j;
	size_t i;

	while (qmgr_parked > 0 && qmgr_local_busy < qmgr_conf.deliver_concurrency &&
	    qmgr_busy < qmgr_njobs) {
		j = NULL;
		for (i = 0; i < qmgr_nslots; i++)
			if (qmgr_jobs[i].used && qmgr_jobs[i].parked &&
			    (j == NULL || qmgr_jobs[i].park_seq < j->park_seq))
				j = &qmgr_jobs[i];
		if (j == NULL)
			break;
		j->parked = 0;
		qmgr_parked--;
		qmgr_job_resume(j);
		if (j->used && j->parked)
			break;		/* no slot after all: it waits again */
		if (j->used)
			qmgr_busy++;
	}
}

/* Start jobs while slots are free, new and retry lists served in turn. */
static void
qmgr_schedule(void)
{
	static int turn;
	struct qmgr_list *l;
	int hold;

	qmgr_unpark();
	while (!qmgr_stop && qmgr_busy < qmgr_njobs) {
		hold = qmgr_collecting(now_ms()) > 0;
		if ((hold || qmgr_list_empty(&qmgr_new)) && qmgr_list_empty(&qmgr_retry))
			return;
		/*
		 * Every parking place taken while deliver keeps freeing slots:
		 * what is taken now would only wait, and be read a second time.
		 * A deliver that stopped moving (no slot taken or freed for a second)
		 * holds nothing up: mail for elsewhere is taken as before.
		 * (A slot taken counts as moving too, so that the first burst
		 * after a quiet time is held as well.)
		 */
		if (qmgr_park_max > 0 && qmgr_parked >= qmgr_park_max &&
		    now_ms() - qmgr_local_moved < QMGR_PARK_HOLD_MS)
			return;
		turn = !turn;
		l = turn && !hold ? &qmgr_new : &qmgr_retry;
		if (qmgr_list_empty(l))
			l = l == &qmgr_new || hold ? &qmgr_retry : &qmgr_new;
		qmgr_take(&l->e[l->head++]);
	}
}

/* Feed the lists: incoming/ on a wake-up, deferred/ on the timer. */
static void
qmgr_refill(int *incoming_dirty, int *deferred_dirty)
{
	if (*incoming_dirty && qmgr_list_empty(&qmgr_new))
		*incoming_dirty = qmgr_scan("incoming", &qmgr_new, 0);
	if (*deferred_dirty && qmgr_list_empty(&qmgr_retry)) {
		*deferred_dirty = qmgr_scan("deferred", &qmgr_retry, !qmgr_flush_all);
		qmgr_flush_all = 0;
	}
}

/*
 * Read the FIFO dry. Writers name the message they committed ("QID\n",
 * qfile_wake_id): it goes straight into the new list, with no scan of
 * incoming/ (one listed twice is skipped when its rename finds nothing).
 * Anything else (an empty line, say) asks for a scan, and so does a FIFO
 * read near its capacity, where a writer may have lost its name to
 * EAGAIN. 1 when incoming/ is to be scanned.
 */
static int
qmgr_drain_fifo(int fd)
{
	char part[QID_LEN + 2];
	size_t plen = 0;
	char buf[4096];
	size_t total = 0, i;
	ssize_t n;
	int scan = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n') {
				if (plen < sizeof(part) - 1)
					part[plen++] = buf[i];
				else
					scan = 1;	/* too long: not a name */
				continue;
			}
			part[plen] = '\0';
			if (qmgr_is_qid(part))
				qmgr_push_new(part);
			else
				scan = 1;
			plen = 0;
		}
		if ((size_t)n < sizeof(buf))
			break;	/* a short read emptied the pipe: no read for EAGAIN */
	}
	if (plen > 0)
		scan = 1;	/* a writer's line is atomic: this one is not a name */
	if (qmgr_fifo_cap > 0 && total + QID_LEN + 1 >= qmgr_fifo_cap)
		scan = 1;
	return scan;
}

/* Poll the FIFO, the control socket and the agent connections once. */
static int
qmgr_poll(int fifo, int ctl, int timeout_ms)
{
	struct pollfd *pfd;
	struct qmgr_conn **cmap;
	struct qmgr_job **jmap;
	size_t i, k, n = 2, cap = 2, nidle;
	int64_t now;
	int woke = 0;

	for (i = 0; i < qmgr_nslots; i++)
		if (qmgr_jobs[i].used)
			cap += qmgr_jobs[i].nconn;
	nidle = qmgr_agent_idle();
	cap += nidle;
	pfd = xcalloc(cap, sizeof(*pfd));
	cmap = xcalloc(cap, sizeof(*cmap));
	jmap = xcalloc(cap, sizeof(*jmap));
	pfd[0].fd = fifo;	/* -1 while new mail is collected: no wake-ups */
	pfd[0].events = POLLIN;
	pfd[1].fd = ctl;
	pfd[1].events = POLLIN;
	for (i = 0; i < qmgr_nslots; i++) {
		if (!qmgr_jobs[i].used)
			continue;
		for (k = 0; k < qmgr_jobs[i].nconn; k++) {
			if (qmgr_jobs[i].conn[k].fd == -1)
				continue;
			pfd[n].fd = qmgr_jobs[i].conn[k].fd;
			pfd[n].events = POLLIN;
			cmap[n] = &qmgr_jobs[i].conn[k];
			jmap[n++] = &qmgr_jobs[i];
		}
	}
	qmgr_agent_pollfds(pfd + n);	/* the kept idle deliver connections */
	if (poll(pfd, n + nidle, timeout_ms) == -1 && errno != EINTR)
		fatal("poll: %s", strerror(errno));
	now = now_ms();
	qmgr_agent_events(pfd + n, nidle, now);	/* before any is kept or taken */
	if (pfd[0].revents & POLLIN)
		woke = qmgr_drain_fifo(fifo);
	if (ctl != -1 && (pfd[1].revents & POLLIN))
		qmgr_control_accept(ctl);
	for (i = 2; i < n; i++) {
		struct qmgr_job *j = jmap[i];
		struct qmgr_conn *c = cmap[i];
		if (!j->used || c->fd != pfd[i].fd)
			continue;	/* the job ended while we looked */
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (qmgr_conn_input(j, c))
				qmgr_busy--;
		} else if (now > c->deadline) {
			if (qmgr_conn_abort(j, c, "4.4.2 timeout waiting for the delivery agent"))
				qmgr_busy--;
		}
	}
	free(pfd);
	free(cmap);
	free(jmap);
	return woke;
}

/* The main loop; returns on SIGTERM after the deliveries in flight end. */
static void
qmgr_run(int fifo, int ctl)
{
	int incoming_dirty = 1, deferred_dirty = 1;
	int64_t next_scan = now_ms() + QMGR_RESCAN_MS, stop_at = 0, now;
	int64_t wait_ms, due, left;
	int collected = 1;
	size_t i;

	while (!qmgr_stop || qmgr_busy > 0) {
		if (qmgr_stop && stop_at == 0)
			stop_at = now_ms() + QMGR_STOP_MS;
		if (stop_at != 0 && now_ms() > stop_at)
			break;
		/* A collection ends: what came meanwhile joins it. */
		if (qmgr_new_since != 0 && !collected &&
		    qmgr_collecting(now_ms()) == 0) {
			collected = 1;
			if (qmgr_poll(fifo, ctl, 0))
				incoming_dirty = 1;
		}
		qmgr_refill(&incoming_dirty, &deferred_dirty);
		/* Only qmgr_schedule() empties the list; it clears the mark below. */
		if (qmgr_new_since == 0 && !qmgr_list_empty(&qmgr_new)) {
			qmgr_new_since = now_ms();
			collected = qmgr_conf.queue_collect_delay <= 0;
		}
		qmgr_schedule();
		if (qmgr_list_empty(&qmgr_new))
			qmgr_new_since = 0;
		qfile_free_check();	/* kept queue files go when space is short */
		qfile_free_flush(0);	/* announce spent files, after a sync */
		now = now_ms();
		if (qmgr_next_due != 0 && time(NULL) >= qmgr_next_due) {
			qmgr_next_due = 0;
			deferred_dirty = 1;
			continue;
		}
		if (qmgr_flush_all && !deferred_dirty) {
			deferred_dirty = 1;
			continue;
		}
		if (now >= next_scan) {
			incoming_dirty = deferred_dirty = 1;
			qmgr_wake_waiters(NULL);
			next_scan = now + QMGR_RESCAN_MS;
			continue;
		}
		wait_ms = next_scan - now > 1000 ? 1000 : next_scan - now;
		if ((due = qfile_free_due()) != -1 && due - now < wait_ms)
			wait_ms = due > now ? due - now : 0;
		left = qmgr_collecting(now);
		if (left > 0 && left < wait_ms)
			wait_ms = left;
		if (qmgr_poll(left > 0 ? -1 : fifo, ctl, (int)wait_ms))
			incoming_dirty = 1;
	}
	for (i = 0; i < qmgr_nslots; i++)
		if (qmgr_jobs[i].used)
			qmgr_job_abort(&qmgr_jobs[i], "4.3.0 queue manager stopping");
}

/* Move waiters back into the retry list: the first one of res, or all (NULL). */
static void
qmgr_wake_waiters(const char *res)
{
	size_t i = 0;

	while (i < qmgr_nwaiters) {
		if (res != NULL && strcmp(qmgr_waiters[i].res, res) != 0) {
			i++;
			continue;
		}
		qmgr_list_push(&qmgr_retry, qmgr_waiters[i].id, "active");
		memmove(&qmgr_waiters[i], &qmgr_waiters[i + 1],
		    (qmgr_nwaiters - i - 1) * sizeof(*qmgr_waiters));
		qmgr_nwaiters--;
		if (res != NULL)
			return;
	}
}

void
qmgr_wait_slot(const char *qid, const char *res, int front)
{
	size_t k = front ? 0 : qmgr_nwaiters;

	qmgr_waiters = xreallocarray(qmgr_waiters, qmgr_nwaiters + 1,
	    sizeof(*qmgr_waiters));
	memmove(&qmgr_waiters[k + 1], &qmgr_waiters[k],
	    (qmgr_nwaiters - k) * sizeof(*qmgr_waiters));
	str_copy(qmgr_waiters[k].id, qid, sizeof(qmgr_waiters[0].id));
	str_copy(qmgr_waiters[k].res, res, sizeof(qmgr_waiters[0].res));
	qmgr_nwaiters++;
	/* A slot may have freed while the job was still finishing. */
	if (strcmp(res, QMGR_RES_LOCAL) == 0 ?
	    qmgr_local_busy < qmgr_conf.deliver_concurrency :
	    qmgr_smtp_busy < qmgr_conf.smtp_concurrency &&
	    (strcmp(res, QMGR_RES_SMTP) == 0 || qmgr_slot_count(res) <
	    qmgr_conf.smtp_destination_concurrency))
		qmgr_wake_waiters(res);
}

int
qmgr_unwait(const char *qid)
{
	size_t i;

	for (i = 0; i < qmgr_nwaiters; i++) {
		if (strcmp(qmgr_waiters[i].id, qid) != 0)
			continue;
		memmove(&qmgr_waiters[i], &qmgr_waiters[i + 1],
		    (qmgr_nwaiters - i - 1) * sizeof(*qmgr_waiters));
		qmgr_nwaiters--;
		return 1;
	}
	return 0;
}

struct qmgr_job *
qmgr_find_job(const char *qid)
{
	size_t i;

	for (i = 0; i < qmgr_nslots; i++)
		if (qmgr_jobs[i].used && strcmp(qmgr_jobs[i].qid, qid) == 0)
			return &qmgr_jobs[i];
	return NULL;
}

void
qmgr_flush(void)
{
	qmgr_flush_all = 1;
	qmgr_wake_waiters(NULL);
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

int
main(int argc, char **argv)
{
	struct priv_id id;
	char err[4096];
	size_t i;
	int fifo, ctl, r;

	daemon_start(argc, argv, "qmgr", &qmgr_conf);
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
	if ((r = fcntl(fifo, F_GETPIPE_SZ)) > 0)
		qmgr_fifo_cap = (size_t)r;
	signal_set(SIGTERM, qmgr_on_term);
	signal_set(SIGINT, qmgr_on_term);
	signal(SIGPIPE, SIG_IGN);
	if ((ctl = qmgr_control_open()) == -1)
		log_warn("no control socket: `postern queue` works only on "
		    "messages that are not being delivered");
	qmgr_njobs = (size_t)(qmgr_conf.deliver_concurrency +
	    qmgr_conf.smtp_concurrency);
	if (qmgr_njobs == 0)
		qmgr_njobs = 1;
	/* Parking places: enough to refill every deliver slot twice. */
	qmgr_park_max = qmgr_conf.deliver_concurrency > 1000 ? 2000 :
	    (size_t)qmgr_conf.deliver_concurrency * 2;
	qmgr_nslots = qmgr_njobs + qmgr_park_max;
	qmgr_jobs = xcalloc(qmgr_nslots, sizeof(*qmgr_jobs));
	(void)i;
	qmgr_aliases = aliases_new(qmgr_conf.alias_file);
	qfile_free_restore();
	qmgr_recover();
	log_info("ready (concurrency %zu)", qmgr_njobs);
	qmgr_run(fifo, ctl);
	aliases_free(qmgr_aliases);
	log_info("stopped");
	return 0;
}
