/*
 * Unit tests of common/maildir.c.
 *
 * maildir_deliver(): the new/ file holds the prefix and then exactly len
 * bytes of content, whether the caller had none, some, all or more than
 * all of the content in memory already (head), for contents smaller and
 * larger than one copy buffer; its name carries S= (size) and W= (size
 * with CRLF line ends); tmp/ is left empty; a queue file shorter
 * than said fails with nothing left; new/ is fsynced through one kept
 * descriptor per directory, a fresh one when new/ was replaced; a
 * Maildir with tmp/ but no new/ (made halfway) is completed.
 *
 * maildir_clean_tmp(), the readers'
 * cleanup of what killed writers left in a Maildir's tmp/: files older
 * than 36 hours (mtime and ctime) go, younger ones, other kinds of
 * entries and everything outside tmp/ stay; a scan happens at most once
 * per 8 hours, remembered in tmp/'s atime.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
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

/* Entries in dir/sub other than . and .. */
static int
count(const char *sub)
{
	char p[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_int_not_equal(str_fmt(p, sizeof(p), "%s/%s", dir, sub), -1);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A queue-file stand-in: junk, then the content at off. */
static int
content_file(const char *content, size_t len, off_t off)
{
	char p[256];
	int fd;

	assert_int_not_equal(str_fmt(p, sizeof(p), "%s/q", dir), -1);
	assert_true((fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	unlink(p);
	assert_int_equal(pwrite(fd, "JUNKJUNKJUNK", (size_t)off, 0), off);
	assert_int_equal(pwrite(fd, content, len, off), (ssize_t)len);
	return fd;
}

/* Deliver with headlen bytes of content in memory and check the result. */
static void
deliver_and_check(const char *content, size_t len, size_t headlen,
    size_t filelen)
{
	static const char prefix[] = "Return-Path: <a@b.example>\n";
	char name[600], err[512], p[1024], want_name[64], *got;
	unsigned long long lfs = 0;
	struct stat st;
	size_t i;
	int fd, in;

	for (i = 0; i < sizeof(prefix) - 1; i++)
		lfs += prefix[i] == '\n';
	for (i = 0; i < len; i++)
		lfs += content[i] == '\n';
	in = content_file(content, filelen, 7);
	assert_int_equal(maildir_deliver(dir, "mx.example", prefix,
	    sizeof(prefix) - 1, headlen > 0 ? content : NULL, headlen, in, 7,
	    len, name, sizeof(name), err, sizeof(err)), MAILDIR_OK);
	close(in);
	assert_int_not_equal(str_fmt(want_name, sizeof(want_name), ",S=%zu,W=%llu",
	    sizeof(prefix) - 1 + len, sizeof(prefix) - 1 + len + lfs), -1);
	assert_non_null(strstr(name, want_name));
	assert_int_not_equal(str_fmt(p, sizeof(p), "%s/new/%s", dir, name), -1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, (off_t)(sizeof(prefix) - 1 + len));
	got = xmalloc((size_t)st.st_size);
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, got, (size_t)st.st_size), st.st_size);
	close(fd);
	assert_memory_equal(got, prefix, sizeof(prefix) - 1);
	assert_memory_equal(got + sizeof(prefix) - 1, content, len);
	free(got);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(unlink(p), 0);
}

static void
test_small_message(void **state)
{
	static const char msg[] = "Subject: hi\n\nline one\nline two\n";
	size_t len = sizeof(msg) - 1;

	(void)state;
	deliver_and_check(msg, len, 0, len);		/* all read from the file */
	deliver_and_check(msg, len, 5, len);		/* part in memory */
	deliver_and_check(msg, len, len, len);		/* all in memory */
	deliver_and_check(msg, len, len + 9, len);	/* more than len: clamped */
}

static void
test_large_message(void **state)
{
	size_t len = 200 * 1024 + 13, i;	/* more than one 64 KiB copy buffer */
	char *msg = xmalloc(len);

	(void)state;
	for (i = 0; i < len; i++)
		msg[i] = i % 77 == 76 ? '\n' : (char)('a' + i % 26);
	deliver_and_check(msg, len, 0, len);
	deliver_and_check(msg, len, 64 * 1024, len);	/* deliver's header read */
	deliver_and_check(msg, len, len, len);
	free(msg);
}

/* The queue file is shorter than the content said: an error, no file left. */
static void
test_short_queue_file(void **state)
{
	static const char msg[] = "Subject: hi\n\nbody\n";
	char name[600], err[512];
	int in;

	(void)state;
	in = content_file(msg, sizeof(msg) - 1, 7);
	assert_int_not_equal(maildir_deliver(dir, "mx.example", "P\n", 2, msg, 4,
	    in, 7, sizeof(msg) - 1 + 100, name, sizeof(name), err, sizeof(err)),
	    MAILDIR_OK);
	close(in);
	assert_int_equal(count("tmp"), 0);
	assert_int_equal(count("new"), 0);
}

/* Open descriptors of this process on the directory path (readlink). */
static int
fds_on(const char *path)
{
	char link[64], target[PATH_MAX];
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int c = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_int_not_equal(str_fmt(link, sizeof(link), "/proc/self/fd/%s",
		    de->d_name), -1);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		c += strcmp(target, path) == 0;
	}
	closedir(d);
	return c;
}

/*
 * new/ is fsynced through a descriptor kept between deliveries (one per
 * directory, not one per delivery); a new/ replaced by another directory
 * of the same name gets a descriptor of its own, and the message lands
 * in it.
 */
static void
test_new_dir_kept(void **state)
{
	static const char msg[] = "Subject: hi\n\nbody\n";
	char newdir[256], real[PATH_MAX], old[256];	/* realpath(3) wants PATH_MAX */

	(void)state;
	path_of(newdir, sizeof(newdir), "new");
	assert_non_null(realpath(newdir, real));
	deliver_and_check(msg, sizeof(msg) - 1, 0, sizeof(msg) - 1);
	assert_int_equal(fds_on(real), 1);
	deliver_and_check(msg, sizeof(msg) - 1, 0, sizeof(msg) - 1);
	assert_int_equal(fds_on(real), 1);
	path_of(old, sizeof(old), "new.old");
	assert_int_equal(rename(newdir, old), 0);
	assert_int_equal(mkdir(newdir, 0700), 0);
	deliver_and_check(msg, sizeof(msg) - 1, 0, sizeof(msg) - 1);
	assert_int_equal(fds_on(real), 1);
	assert_int_equal(count("new.old"), 0);
}

/*
 * A Maildir whose making was cut short after tmp/ (deliver killed between
 * the mkdirs; seen in test_kill_random.py, after which every delivery to
 * it failed with ENOENT on the move into new/): the delivery makes new/
 * and cur/ and lands; the tmp/ file is not left behind.
 */
static void
test_half_made_maildir(void **state)
{
	static const char msg[] = "Subject: hi\n\nbody\n";
	char p[256];

	(void)state;
	path_of(p, sizeof(p), "new");
	assert_int_equal(rmdir(p), 0);
	path_of(p, sizeof(p), "cur");
	assert_int_equal(rmdir(p), 0);
	deliver_and_check(msg, sizeof(msg) - 1, 0, sizeof(msg) - 1);
	assert_true(exists("cur"));
	assert_int_equal(count("new"), 0);	/* deliver_and_check took it */
	/* new/ removed again between two deliveries: made again. */
	path_of(p, sizeof(p), "new");
	assert_int_equal(rmdir(p), 0);
	deliver_and_check(msg, sizeof(msg) - 1, sizeof(msg) - 1, sizeof(msg) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_removes_old_keeps_young, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_ctime_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_queue_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_dir_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_made_maildir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
