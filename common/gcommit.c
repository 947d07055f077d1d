/*
 * gcommit: group commit of directory fsyncs between the worker processes
 * of one daemon. The parent maps one small shared region before it forks
 * (gcommit_init); a worker that has just renamed a queue file into
 * incoming/ (smtpd, submitd: as mail_owner, chrooted) or linked a message
 * into a Maildir's new/ (deliver: as vmail_user) registers a request on
 * that directory's slot and either runs the fsync itself or waits for the
 * one that another worker started after the request was registered.
 *
 * Why it is safe: a request is numbered after its rename/link returned.
 * A syncer takes as its target the highest number registered when it
 * starts; every such rename completed before its fsync() began, so that
 * fsync covers it. A caller returns 0 only when a fsync whose target is
 * at least its number returned 0. A failing fsync serves nobody: the
 * waiters see their number still open and fsync again themselves.
 *
 * Crashes: the mutex is robust (a worker killed inside it hands it on
 * with EOWNERDEAD; gc_mutex_lock never waits for it unboundedly), and a
 * waiter whose syncer process is gone takes over.
 * Waiters sleep on a futex word, not a process-shared condition
 * variable: glibc's pthread_cond_broadcast waits for its sleepers to
 * leave, and a sleeper killed by SIGKILL never does.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gcommit.h"
#include "util.h"

#define GC_SLOTS	32	/* directories tracked at once; others fsync alone */
#define GC_WAIT_MS	20	/* a waiter re-checks its syncer this often */

struct gc_slot {
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 req;		/* requests registered */
	uint64_t	 done;		/* all requests <= done are on disk */
	pid_t		 syncer;	/* 0: no fsync running */
	uint64_t	 used;		/* LRU clock */
};

struct gc_shared {
	pthread_mutex_t	 mu;
	uint32_t	 gen;		/* futex word: bumped after each fsync */
	uint32_t	 sleepers;	/* waiters in gc_sleep (under mu) */
	uint64_t	 clock;
	unsigned long	 syncs, commits;
	struct gc_slot	 slot[GC_SLOTS];
};

static struct gc_shared *gc;

int
gcommit_init(void)
{
	pthread_mutexattr_t ma;
	void *p;

	if (gc != NULL)
		return 0;
	p = mmap(NULL, sizeof(*gc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(p, 0, sizeof(*gc));
	gc = p;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&gc->mu, &ma) != 0) {
		munmap(p, sizeof(*gc));
		gc = NULL;
	}
	pthread_mutexattr_destroy(&ma);
	return gc != NULL ? 0 : -1;
}

/* A syncer that no longer exists (killed mid-fsync) serves nobody. */
static void
gc_forget_dead(void)
{
	size_t i;

	for (i = 0; i < GC_SLOTS; i++)
		if (gc->slot[i].syncer != 0 && kill(gc->slot[i].syncer, 0) == -1 &&
		    errno == ESRCH)
			gc->slot[i].syncer = 0;
}

/* pthread's answer for a robust mutex: EOWNERDEAD still gives us the lock. */
static void
gc_relocked(int r)
{
	if (r == EOWNERDEAD) {
		pthread_mutex_consistent(&gc->mu);
		gc_forget_dead();
	}
}

/*
 * Take mu; 0, EOWNERDEAD (taken, made consistent) or another error.
 * When the owner of a robust mutex dies the kernel marks the lock and
 * wakes one waiter; if that waiter is killed as well before it takes the
 * lock, the wake-up can be lost and the other waiters sleep on although
 * nobody holds it (seen once in the unit test that kills workers one
 * after another: the one survivor slept in pthread_mutex_lock for
 * minutes). So a waiter sleeps GC_WAIT_MS at most and tries again: a
 * lock whose owner died is then taken with EOWNERDEAD.
 */
static int
gc_mutex_lock(void)
{
	struct timespec ts;
	int r;

	if ((r = pthread_mutex_trylock(&gc->mu)) == EBUSY) {
		do {
			clock_gettime(CLOCK_REALTIME, &ts);	/* timedlock's clock */
			ts.tv_nsec += GC_WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			r = pthread_mutex_timedlock(&gc->mu, &ts);
		} while (r == ETIMEDOUT);
	}
	gc_relocked(r);
	return r;
}

static int
gc_lock(void)
{
	int r = gc_mutex_lock();

	return r != 0 && r != EOWNERDEAD ? -1 : 0;
}

/* The slot for (dev, ino): found, or an idle one taken over. NULL: none free. */
static struct gc_slot *
gc_slot(dev_t dev, ino_t ino)
{
	struct gc_slot *s, *lru = NULL;
	size_t i;

	for (i = 0; i < GC_SLOTS; i++) {
		s = &gc->slot[i];
		if (s->dev == dev && s->ino == ino && s->used != 0)
			return s;
		if (s->syncer == 0 && s->req == s->done &&
		    (lru == NULL || s->used < lru->used))
			lru = s;
	}
	if (lru != NULL) {
		memset(lru, 0, sizeof(*lru));
		lru->dev = dev;
		lru->ino = ino;
	}
	return lru;
}

/* Sleep until gen moves on from seen, or GC_WAIT_MS. Called and returns locked. */
static int
gc_sleep(uint32_t seen)
{
	struct timespec ts = { 0, GC_WAIT_MS * 1000000L };
	long r;

	gc->sleepers++;
	pthread_mutex_unlock(&gc->mu);
	/* A shared (not FUTEX_PRIVATE) wait: the word is in a MAP_SHARED page. */
	r = syscall(SYS_futex, &gc->gen, FUTEX_WAIT, seen, &ts, NULL, 0);
	gc_mutex_lock();
	if (gc->sleepers > 0)
		gc->sleepers--;
	return r == -1 && errno == ETIMEDOUT ? -1 : 0;
}

/* Run one fsync for everything registered so far. Called and returns locked. */
static int
gc_sync(struct gc_slot *s, int fd)
{
	uint64_t target = s->req;
	int r, e;

	s->syncer = proc_pid();
	pthread_mutex_unlock(&gc->mu);
	r = fsync(fd);
	e = errno;
	gc_mutex_lock();
	s->syncer = 0;
	gc->syncs++;
	if (r == 0 && target > s->done)
		s->done = target;
	__atomic_add_fetch(&gc->gen, 1, __ATOMIC_SEQ_CST);
	/*
	 * Nobody registered as a sleeper: no wake-up call (one system call
	 * fewer per message at one session). A sleeper counts itself under
	 * mu before it waits and we bump gen under mu, so one that is about
	 * to sleep sees gen moved and FUTEX_WAIT returns at once.
	 */
	if (gc->sleepers > 0)
		syscall(SYS_futex, &gc->gen, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	errno = e;
	return r;
}

/* Wait until request my is on disk, syncing when nobody else is. Locked. */
static int
gc_wait(struct gc_slot *s, uint64_t my, int fd)
{
	while (s->done < my) {
		if (s->syncer == 0) {
			if (gc_sync(s, fd) == -1)
				return -1;
			continue;
		}
		if (gc_sleep(__atomic_load_n(&gc->gen, __ATOMIC_SEQ_CST)) == -1)
			gc_forget_dead();
	}
	return 0;
}

int
gcommit_fsync_fd(int fd)
{
	struct stat st;

	if (gc == NULL || fstat(fd, &st) == -1)
		return fsync(fd);
	return gcommit_fsync_known(fd, st.st_dev, st.st_ino);
}

int
gcommit_fsync_known(int fd, dev_t dev, ino_t ino)
{
	struct gc_slot *s;
	uint64_t my;
	int r, e;

	if (gc == NULL || gc_lock() == -1)
		return fsync(fd);
	if ((s = gc_slot(dev, ino)) == NULL) {
		pthread_mutex_unlock(&gc->mu);
		return fsync(fd);
	}
	s->used = ++gc->clock;
	my = ++s->req;
	r = gc_wait(s, my, fd);
	e = errno;
	if (r == 0)
		gc->commits++;
	pthread_mutex_unlock(&gc->mu);
	errno = e;
	return r;
}

int
gcommit_fsync_dir(const char *path)
{
	int fd, r, e;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = gcommit_fsync_fd(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

void
gcommit_stats(unsigned long *syncs, unsigned long *commits)
{
	*syncs = *commits = 0;
	if (gc == NULL || gc_lock() == -1)
		return;
	*syncs = gc->syncs;
	*commits = gc->commits;
	pthread_mutex_unlock(&gc->mu);
}
