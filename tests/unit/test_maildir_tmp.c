/*
 * Unit tests of maildir_clean_tmp() (common/maildir.c), the readers'
 * cleanup of what killed writers left in a Maildir's tmp/: files older
 * than 36 hours (mtime and ctime) go, younger ones, other kinds of
 * entries and everything outside tmp/ stay; a scan happens at most once
 * per 8 hours, remembered in tmp/'s atime.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "maildir.h"
#include "util.h"

static char dir[64];

static void
path_of(char *out, size_t len, const char *rel)
{
	assert_int_not_equal(str_fmt(out, len, "%s/%s", dir, rel), -1);
}

/* A file rel (under dir) whose atime and mtime are age seconds old (< 0: ahead). */
static void
make_file(const char *rel, time_t age)
{
	struct timespec ts[2];
	char p[256];
	int fd;

	path_of(p, sizeof(p), rel);
	assert_true((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

/* Set the atime of dir/rel to age seconds ago (< 0: ahead; mtime untouched). */
static void
set_atime(const char *rel, time_t age)
{
	struct timespec ts[2];
	char p[256];

	path_of(p, sizeof(p), rel);
	ts[0].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static int
exists(const char *rel)
{
	char p[256];

	path_of(p, sizeof(p), rel);
	return access(p, F_OK) == 0;
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	str_copy(dir, "/tmp/mdtmp.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(maildir_create(dir, err, sizeof(err)), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	assert_int_not_equal(str_fmt(cmd, sizeof(cmd), "rm -rf '%s'", dir), -1);
	return system(cmd) == 0 ? 0 : -1;
}

#define H	3600
#define DAY	(24 * H)

/*
 * The kernel sets a file's ctime to the real now (utimensat included), so
 * ages are judged against a moved "now": real now + 3 days makes every
 * file made here 3 days old by its ctime.
 */
static void
test_removes_old_keeps_young(void **state)
{
	time_t later = time(NULL) + 3 * DAY;

	(void)state;
	make_file("tmp/stale", 0);			/* 3 days old then */
	make_file("tmp/young", -(3 * DAY - H));		/* mtime 1 hour old then */
	make_file("new/old-but-new", 0);		/* not in tmp/ */
	make_file("cur/old-but-cur", 0);
	{
		char p[256];

		path_of(p, sizeof(p), "tmp/subdir");
		assert_int_equal(mkdir(p, 0700), 0);	/* not a regular file */
	}
	assert_int_equal(maildir_clean_tmp(dir, later), 1);
	assert_false(exists("tmp/stale"));
	assert_true(exists("tmp/young"));
	assert_true(exists("tmp/subdir"));
	assert_true(exists("new/old-but-new"));
	assert_true(exists("cur/old-but-cur"));
}

/* An old mtime is not enough: a fresh ctime (just linked or renamed) keeps it. */
static void
test_fresh_ctime_keeps(void **state)
{
	(void)state;
	make_file("tmp/old-mtime", 3 * DAY);
	assert_int_equal(maildir_clean_tmp(dir, time(NULL) + 9 * H), 0);
	assert_true(exists("tmp/old-mtime"));
	/* 36 hours after its ctime it goes */
	assert_int_equal(maildir_clean_tmp(dir, time(NULL) + 9 * H + 37 * H), 1);
	assert_false(exists("tmp/old-mtime"));
}

static void
test_rate_limit(void **state)
{
	struct stat st;
	char p[256];
	time_t later = time(NULL) + 3 * DAY;

	(void)state;
	make_file("tmp/stale", 0);
	path_of(p, sizeof(p), "tmp");
	/* scanned less than 8 hours before "later": not even read */
	set_atime("tmp", -(3 * DAY - H));
	assert_int_equal(maildir_clean_tmp(dir, later), 0);
	assert_true(exists("tmp/stale"));
	/* 9 hours: scanned, and the scan's time is kept in tmp/'s atime */
	set_atime("tmp", -(3 * DAY - 9 * H));
	assert_int_equal(maildir_clean_tmp(dir, later), 1);
	assert_false(exists("tmp/stale"));
	assert_int_equal(stat(p, &st), 0);
	assert_true(time(NULL) - st.st_atime < 60);
}

static void
test_missing_tmp(void **state)
{
	char p[256];

	(void)state;
	path_of(p, sizeof(p), "tmp");
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(maildir_clean_tmp(dir, time(NULL) + 3 * DAY), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_removes_old_keeps_young, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_ctime_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_tmp, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
