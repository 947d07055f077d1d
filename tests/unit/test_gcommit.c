/*
 * Unit tests of common/gcommit.c, the group commit of directory fsyncs:
 * real processes forked after gcommit_init() link files into one real
 * directory and commit it concurrently; every call must succeed, every
 * call must be counted, fsyncs must be shared when calls overlap, and
 * a worker killed with SIGKILL at random instants must not stop the
 * others (robust mutex, dead-syncer takeover).
 *
 * The contract itself (gcommit.h) is checked from outside: fsync() is
 * wrapped at link time (-Wl,--wrap=fsync; the real fsync still runs)
 * to note, in a region shared by all the workers, for every directory,
 * the latest start of an fsync of it that has returned 0. A worker notes
 * the instant its rename returned, and when gcommit says its directory
 * is on disk, an fsync of that very directory must have started after
 * that instant and returned. With more directories than the shared
 * region has slots, slots are taken over while callers wait on them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "gcommit.h"
#include "util.h"

#define WORKERS	6
#define ROUNDS	150
#define NDIRS	48	/* more than gcommit's GC_SLOTS (32) */
#define MWORKERS 40	/* workers of the many-directories test */
#define MROUNDS	60

static char dir[64];

/* Shared by the workers: an event clock and, per directory, the start of the latest fsync that returned 0. */
struct seen {
	unsigned long	 clock;
	unsigned long	 late;		/* commits not covered (must stay 0) */
	long		 delay_ns;	/* a slow disk: an fsync of slow_ino takes this long more */
	ino_t		 slow_ino;
	struct {
		dev_t		 dev;
		ino_t		 ino;
		unsigned long	 start;
	} d[NDIRS + 1];
};
static struct seen *seen;

int __real_fsync(int);
int __wrap_fsync(int);

static unsigned long
tick(void)
{
	return __atomic_add_fetch(&seen->clock, 1, __ATOMIC_SEQ_CST);
}

/* The directory's record (found or added), NULL when none is free. */
static unsigned long *
start_of(dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < NDIRS + 1; i++) {
		if (seen->d[i].ino == 0 && __sync_bool_compare_and_swap(
		    &seen->d[i].ino, (ino_t)0, ino))
			seen->d[i].dev = dev;
		if (seen->d[i].ino == ino && seen->d[i].dev == dev)
			return &seen->d[i].start;
	}
	return NULL;
}

int
__wrap_fsync(int fd)
{
	unsigned long t, *p, old;
	struct stat st;
	int r;

	if (seen == NULL || fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode))
		return __real_fsync(fd);
	t = tick();
	if (seen->delay_ns > 0 && st.st_ino == seen->slow_ino) {
		struct timespec ts = { 0, seen->delay_ns };

		nanosleep(&ts, NULL);
	}
	if ((r = __real_fsync(fd)) == 0 && (p = start_of(st.st_dev, st.st_ino)) != NULL)
		while ((old = __atomic_load_n(p, __ATOMIC_SEQ_CST)) < t &&
		    !__atomic_compare_exchange_n(p, &old, t, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			;
	return r;
}

static int
setup(void **state)
{
	void *p;

	(void)state;
	str_copy(dir, "/tmp/gcommit.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	p = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0, sizeof(*seen));
	seen = p;
	assert_int_equal(gcommit_init(), 0);
	return 0;
}

/* Commit path (renamed at clock t): 0, or 5 when no fsync of it began after t. */
static int
commit_checked(const char *path, unsigned long t)
{
	struct stat st;
	unsigned long *p;

	if (gcommit_fsync_dir(path) == -1)
		return 4;
	if (stat(path, &st) == -1 || (p = start_of(st.st_dev, st.st_ino)) == NULL)
		return 6;
	if (__atomic_load_n(p, __ATOMIC_SEQ_CST) <= t) {
		__atomic_add_fetch(&seen->late, 1, __ATOMIC_SEQ_CST);
		return 5;
	}
	return 0;
}

/*
 * One worker: create, rename into dir (many: into one of its NDIRS
 * subdirectories, d0 one time in eight), commit; exit 0 only if all did.
 */
static void
worker(int w, int rounds, int many)
{
	char d[96], tmp[128], fin[128];
	int i, fd, r;

	srand((unsigned)getpid());
	for (i = 0; i < rounds; i++) {
		r = many ? str_fmt(d, sizeof(d), "%s/d%d", dir, rand() % 8 == 0 ?
		    0 : 1 + rand() % (NDIRS - 1)) : str_copy(d, dir, sizeof(d));
		if (r == -1 ||
		    str_fmt(tmp, sizeof(tmp), "%s/.t%d.%d", dir, w, i) == -1 ||
		    str_fmt(fin, sizeof(fin), "%s/m%d.%d", d, w, i) == -1)
			_exit(2);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
			_exit(3);
		close(fd);
		if (rename(tmp, fin) == -1)
			_exit(4);
		if ((r = commit_checked(d, tick())) != 0)
			_exit(r);
	}
	_exit(0);
}

static pid_t
spawn(int w, int rounds, int many)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		worker(w, rounds, many);
	return pid;
}

/* Run n workers at once; each must exit 0. */
static void
run_workers(int n, int rounds, int many)
{
	pid_t pid[MWORKERS];
	int i, st;

	assert_true(n <= MWORKERS);
	for (i = 0; i < n; i++)
		pid[i] = spawn(i, rounds, many);
	for (i = 0; i < n; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

static void
test_concurrent(void **state)
{
	unsigned long syncs0, commits0, syncs, commits;

	(void)state;
	gcommit_stats(&syncs0, &commits0);
	run_workers(WORKERS, ROUNDS, 0);
	gcommit_stats(&syncs, &commits);
	assert_int_equal(commits - commits0, WORKERS * ROUNDS);
	assert_true(syncs - syncs0 >= 1);
	assert_true(syncs - syncs0 <= commits - commits0);
	print_message("# %d commits with %lu fsyncs\n", WORKERS * ROUNDS,
	    syncs - syncs0);
}

/*
 * More directories than slots, each call in a random one: slots are
 * taken over all the time, and every commit must be covered by an fsync
 * of its own directory that began after its rename.
 */
static void
test_many_dirs(void **state)
{
	unsigned long syncs0, commits0, syncs, commits;
	struct stat st0;
	char d[96];
	int i;

	(void)state;
	for (i = 0; i < NDIRS; i++) {
		assert_int_not_equal(str_fmt(d, sizeof(d), "%s/d%d", dir, i), -1);
		assert_int_equal(mkdir(d, 0700), 0);
	}
	gcommit_stats(&syncs0, &commits0);
	/*
	 * d0 is slow: its callers wait long while the others turn every
	 * slot over, so that d0's slot is the least recently used one when
	 * its fsync ends and its waiters have yet to see that.
	 */
	assert_int_not_equal(str_fmt(d, sizeof(d), "%s/d0", dir), -1);
	assert_int_equal(stat(d, &st0), 0);
	seen->slow_ino = st0.st_ino;
	seen->delay_ns = 20000000;
	run_workers(MWORKERS, MROUNDS, 1);
	seen->delay_ns = 0;
	gcommit_stats(&syncs, &commits);
	assert_int_equal(seen->late, 0);
	assert_int_equal(commits - commits0, MWORKERS * MROUNDS);
	print_message("# %d commits in %d directories with %lu fsyncs\n",
	    MWORKERS * MROUNDS, NDIRS, syncs - syncs0);
}

/* Workers killed at random instants: the survivors still finish. */
static void
test_killed(void **state)
{
	pid_t victim[WORKERS], keep[2];
	struct timespec ts;
	int i, k, st;

	(void)state;
	srand((unsigned)getpid());
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 2; i++)
			keep[i] = spawn(100 + k * 10 + i, ROUNDS / 3, 0);
		for (i = 0; i < WORKERS; i++)
			victim[i] = spawn(200 + k * 10 + i, 100000, 0);
		for (i = 0; i < WORKERS; i++) {
			ts.tv_sec = 0;
			ts.tv_nsec = (rand() % 3000) * 1000L;
			nanosleep(&ts, NULL);
			kill(victim[i], SIGKILL);
		}
		for (i = 0; i < WORKERS; i++)
			waitpid(victim[i], &st, 0);
		for (i = 0; i < 2; i++) {
			assert_int_equal(waitpid(keep[i], &st, 0), keep[i]);
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 0);
		}
	}
}

/* Without the shared region (a daemon that never called init) it still fsyncs. */
static void
test_plain(void **state)
{
	(void)state;
	assert_int_equal(gcommit_fsync_dir(dir), 0);
	assert_int_equal(gcommit_fsync_dir("/nonexistent-gcommit"), -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_many_dirs),
		cmocka_unit_test(test_killed),
	};
	int r;

	cmocka_set_message_output(CM_OUTPUT_TAP);
	r = cmocka_run_group_tests(tests, setup, NULL);
	/* The test directory holds only empty files: remove them. */
	if (fork() == 0) {
		execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	return r;
}
