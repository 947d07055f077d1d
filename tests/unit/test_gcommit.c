/*
 * Unit tests of common/gcommit.c, the group commit of directory fsyncs:
 * real processes forked after gcommit_init() link files into one real
 * directory and commit it concurrently; every call must succeed, every
 * call must be counted, fsyncs must be shared when calls overlap, and
 * a worker killed with SIGKILL at random instants must not stop the
 * others (robust mutex, dead-syncer takeover).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "gcommit.h"
#include "util.h"

#define WORKERS	6
#define ROUNDS	150

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	str_copy(dir, "/tmp/gcommit.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(gcommit_init(), 0);
	return 0;
}

/* One worker: create, rename into dir, commit; exit 0 only if all did. */
static void
worker(int w, int rounds)
{
	char tmp[128], fin[128];
	int i, fd;

	for (i = 0; i < rounds; i++) {
		if (str_fmt(tmp, sizeof(tmp), "%s/.t%d.%d", dir, w, i) == -1 ||
		    str_fmt(fin, sizeof(fin), "%s/m%d.%d", dir, w, i) == -1)
			_exit(2);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
			_exit(3);
		close(fd);
		if (rename(tmp, fin) == -1 || gcommit_fsync_dir(dir) == -1)
			_exit(4);
	}
	_exit(0);
}

static pid_t
spawn(int w, int rounds)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		worker(w, rounds);
	return pid;
}

static void
test_concurrent(void **state)
{
	unsigned long syncs0, commits0, syncs, commits;
	pid_t pid[WORKERS];
	int i, st;

	(void)state;
	gcommit_stats(&syncs0, &commits0);
	for (i = 0; i < WORKERS; i++)
		pid[i] = spawn(i, ROUNDS);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	gcommit_stats(&syncs, &commits);
	assert_int_equal(commits - commits0, WORKERS * ROUNDS);
	assert_true(syncs - syncs0 >= 1);
	assert_true(syncs - syncs0 <= commits - commits0);
	print_message("# %d commits with %lu fsyncs\n", WORKERS * ROUNDS,
	    syncs - syncs0);
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
			keep[i] = spawn(100 + k * 10 + i, ROUNDS / 3);
		for (i = 0; i < WORKERS; i++)
			victim[i] = spawn(200 + k * 10 + i, 100000);
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
