/*
 * Unit tests of maildir_deliver() (common/maildir.c): the new/ file holds
 * the prefix and then exactly len bytes of content, whether the caller
 * had none, some, all or more than all of the content in memory already
 * (head), for contents smaller and larger than one copy buffer; its name
 * carries S= (size) and W= (size with CRLF line ends); tmp/ is left
 * empty; and a queue file shorter than said fails with nothing left.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "maildir.h"
#include "util.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	str_copy(dir, "/tmp/mddeliver.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_queue_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
