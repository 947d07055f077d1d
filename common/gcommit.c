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
 * waiters see their number still open and fsync again themselves. A
 * slot stays with its directory while any caller registered on it has
 * yet to return (refs): a slot taken over for another directory while a
 * waiter was about to look at it again would have let that waiter's
 * fsync of its own directory count for the other one.
 *
 * Wake-ups: each slot has its own futex word (seq, the fsyncs finished
 * on it), and a waiter sleeps for one round only: the running fsync's
 * when that one covers it, else the next one's (FUTEX_WAIT_BITSET, one
 * bit per round), so that the end of a round wakes only those it served
 * and one waiter not covered, which runs the next fsync. A waiter whose
 * round is done returns without taking the mutex again.
 *
 * Crashes: the mutex is robust (a worker killed inside it hands it on
 * with EOWNERDEAD; gc_mutex_lock never waits for it unboundedly), and a
 * waiter whose syncer process is gone takes over: every sleep ends after
 * GC_WAIT_MS at the latest, and the waiter looks again.
 * Waiters sleep on a futex word, not a process-shared condition
 * variable: glibc's pthread_cond_broadcast waits for its sleepers to
 * leave, and a sleeper killed by SIGKILL never does. A caller killed
 * while registered leaves its slot's refs counted: that slot is never
 * taken over again (the others are), which costs only its use.
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
	uint64_t	 target;	/* the running fsync's, while syncer != 0 */
	pid_t		 syncer;	/* 0: no fsync running */
	uint32_t	 seq;		/* futex word: fsyncs finished (rounds) */
	uint32_t	 refs;		/* callers registered and not returned */
	uint32_t	 sleepers;	/* of them, those in gc_sleep */
	pid_t		 next;		/* a waiter not covered, woken to sync next */
	uint64_t	 used;		/* LRU clock */
};

struct gc_shared {
	pthread_mutex_t	 mu;
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
		    __atomic_load_n(&s->refs, __ATOMIC_SEQ_CST) == 0 &&
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

/* The bit of round k (the fsync that makes seq k + 1). */
static uint32_t
gc_bit(uint32_t k)
{
	return 1u << (k & 31);
}

static int
gc_covered(struct gc_slot *s, uint64_t my)
{
	return __atomic_load_n(&s->done, __ATOMIC_SEQ_CST) >= my;
}

/*
 * Sleep until round `round` ends (seq moves on), or GC_WAIT_MS. Called
 * locked. Returns 1, unlocked, when request my is on disk; else 0,
 * locked again (a sleep that ran out first forgets dead syncers).
 */
static int
gc_sleep(struct gc_slot *s, uint32_t round, uint64_t my)
{
	struct timespec ts;
	uint32_t seen = s->seq;
	long r;
	int timedout;

	__atomic_add_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&gc->mu);
	clock_gettime(CLOCK_MONOTONIC, &ts);	/* FUTEX_WAIT_BITSET: absolute */
	ts.tv_nsec += GC_WAIT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	/* A shared (not FUTEX_PRIVATE) wait: the word is in a MAP_SHARED page. */
	r = syscall(SYS_futex, &s->seq, FUTEX_WAIT_BITSET, seen, &ts, NULL,
	    gc_bit(round));
	timedout = r == -1 && errno == ETIMEDOUT;
	__atomic_sub_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
	if (gc_covered(s, my))
		return 1;
	gc_mutex_lock();
	if (timedout)
		gc_forget_dead();
	return 0;
}

/* Run one fsync for everything registered so far. Called and returns locked. */
static int
gc_sync(struct gc_slot *s, int fd)
{
	uint32_t round = s->seq;
	int r, e;

	s->target = s->req;
	s->syncer = proc_pid();
	s->next = 0;		/* the next round has begun: this one */
	pthread_mutex_unlock(&gc->mu);
	r = fsync(fd);
	e = errno;
	gc_mutex_lock();
	s->syncer = 0;
	gc->syncs++;
	if (r == 0 && s->target > s->done)
		__atomic_store_n(&s->done, s->target, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_SEQ_CST);
	/*
	 * Nobody asleep on this slot: no wake-up call (one system call
	 * fewer per message at one session). A sleeper counts itself under
	 * mu before it waits and seq moves under mu, so one that is about
	 * to sleep sees seq moved and FUTEX_WAIT_BITSET returns at once.
	 * Those asleep for the next round stay asleep.
	 */
	if (__atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST) > 0)
		syscall(SYS_futex, &s->seq, FUTEX_WAKE_BITSET, INT_MAX, NULL,
		    NULL, gc_bit(round));
	errno = e;
	return r;
}

/*
 * Wait until request my is on disk, syncing when nobody else is. Called
 * locked; returns 0 unlocked or -1 locked.
 */
static int
gc_wait(struct gc_slot *s, uint64_t my, int fd)
{
	uint32_t round;
	pid_t me = proc_pid();

	for (;;) {
		if (s->done >= my) {
			pthread_mutex_unlock(&gc->mu);
			return 0;
		}
		if (s->syncer == 0) {
			if (gc_sync(s, fd) == -1)
				return -1;
			continue;
		}
		/*
		 * The running round covers us: sleep for it. Else the first
		 * waiter it does not cover is woken when it ends, to run the
		 * next one; the others sleep until that one ends.
		 */
		round = s->seq;
		if (s->target < my) {
			if (s->next == 0 || s->next == me)
				s->next = me;
			else
				round++;
		}
		if (gc_sleep(s, round, my) == 1)
			return 0;
	}
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
	/* refs and sleepers drop outside mu: every change of them is atomic. */
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
	if ((r = gc_wait(s, my, fd)) == -1) {
		e = errno;
		__atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&gc->mu);
		errno = e;
		return -1;
	}
	/* Unlocked: the slot is ours until refs drops. */
	__atomic_add_fetch(&gc->commits, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
	return 0;
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
	*commits = __atomic_load_n(&gc->commits, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&gc->mu);
}
