/*
 * Unit tests of common/mailbox.c: Maildir file-name parsing (unique part,
 * ,W= sizes, UIDLs), the wire-size count, the snapshot's order and sizes,
 * Seen flags, expunge, the session lock, and a 20,000-message open.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "mailbox.h"
#include "util.h"

static char tmpdir[] = "/tmp/test_mailbox.XXXXXX";

static void
put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, strlen(data)), 0);
	close(fd);
}

static int
count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A fresh Maildir as cwd. */
static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(chdir(tmpdir), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];
	pid_t pid;

	(void)state;
	assert_int_equal(chdir("/"), 0);
	str_fmt(cmd, sizeof(cmd), "%s", tmpdir);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	str_copy(tmpdir, "/tmp/test_mailbox.XXXXXX", sizeof(tmpdir));
	return 0;
}

static void
test_names(void **state)
{
	unsigned long long w = 0;
	char u[MAILBOX_UIDLMAX + 1];

	(void)state;
	assert_int_equal(mailbox_name_uniq_len("1700000000.M5P1Q2.host,S=10,W=12:2,S"),
	    strlen("1700000000.M5P1Q2.host"));
	assert_int_equal(mailbox_name_wsize("1.M5P1Q2.h,S=10,W=12:2,S", &w), 1);
	assert_int_equal(w, 12);
	assert_int_equal(mailbox_name_wsize("1.M5P1Q2.h,W=7", &w), 1);
	assert_int_equal(w, 7);
	assert_int_equal(mailbox_name_wsize("1.M5P1Q2.h,S=10", &w), 0);
	assert_int_equal(mailbox_name_wsize("1.M5P1Q2.h,W=x1", &w), 0);
	assert_int_equal(mailbox_name_wsize("1.M5P1Q2.h:2,W=5", &w), 0);
	mailbox_uidl("1700000000.M5P1Q2.host,S=10:2,S", u);
	assert_string_equal(u, "1700000000.M5P1Q2.host");
	/* Too long for RFC 1939 7: a digest, stable and printable. */
	char longname[200], u2[MAILBOX_UIDLMAX + 1];
	memset(longname, 'a', 150);
	str_copy(longname + 150, ",S=1", 50);
	mailbox_uidl(longname, u);
	mailbox_uidl(longname, u2);
	assert_string_equal(u, u2);
	assert_true(strlen(u) > 0 && strlen(u) <= MAILBOX_UIDLMAX);
	assert_int_equal(u[0], 'H');
}

static void
test_count_wire(void **state)
{
	unsigned long long w;
	int fd;

	(void)state;
	put("m1", "a\nb\r\nc");		/* LF->CRLF, CRLF kept, final CRLF added */
	fd = open("m1", O_RDONLY);
	assert_int_equal(mailbox_count_wire(fd, &w), 0);
	close(fd);
	assert_int_equal(w, strlen("a\r\nb\r\nc\r\n"));
	put("m2", "");
	fd = open("m2", O_RDONLY);
	assert_int_equal(mailbox_count_wire(fd, &w), 0);
	close(fd);
	assert_int_equal(w, 0);	/* empty stays empty, as pop3_send sends it */
}

static void
test_open_order_seen_expunge(void **state)
{
	struct mailbox mb, mb2;
	unsigned long long oct;
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(mailbox_open(&mb, 1, err, sizeof(err)), 0);
	assert_int_equal(mb.n, 0);
	/* usec 99 < usec 100: numeric, not string order; a foreign name last. */
	put("new/1700000000.M100P1Q1.h,S=2,W=3", "x\n");
	put("new/1700000000.M99P1Q1.h,S=2,W=3", "y\n");
	put("cur/1600000000.M1P1Q1.h:2,F", "old\nmessage\n");
	put("cur/.hidden", "no");
	mailbox_close(&mb);
	assert_int_equal(mailbox_open(&mb, 1, err, sizeof(err)), 0);
	assert_int_equal(mb.n, 3);
	assert_string_equal(mb.msgs[0].uidl, "1600000000.M1P1Q1.h");
	assert_int_equal(mb.msgs[0].size, strlen("old\r\nmessage\r\n"));
	assert_string_equal(mb.msgs[1].uidl, "1700000000.M99P1Q1.h");
	assert_string_equal(mb.msgs[2].uidl, "1700000000.M100P1Q1.h");
	/* A second session is refused while the first holds the lock. */
	assert_int_equal(mailbox_open(&mb2, 1, err, sizeof(err)), MAILBOX_INUSE);
	/* Seen: new/ -> cur/ with :2,S; flags kept in order in cur/. */
	assert_int_equal(mailbox_msg_seen(&mb, 1), 0);
	assert_string_equal(mb.msgs[1].name, "cur/1700000000.M99P1Q1.h,S=2,W=3:2,S");
	assert_int_equal(mailbox_msg_seen(&mb, 0), 0);
	assert_string_equal(mb.msgs[0].name, "cur/1600000000.M1P1Q1.h:2,FS");
	/* Someone renamed message 2 meanwhile: it is found again. */
	assert_int_equal(rename("new/1700000000.M100P1Q1.h,S=2,W=3",
	    "cur/1700000000.M100P1Q1.h,S=2,W=3:2,T"), 0);
	int fd = mailbox_msg_open(&mb, 2);
	assert_true(fd >= 0);
	close(fd);
	mb.msgs[2].deleted = 1;
	mailbox_stat(&mb, &n, &oct);
	assert_int_equal(n, 2);
	assert_int_equal(mailbox_expunge(&mb), 0);
	assert_int_equal(count_dir("cur"), 2);
	assert_int_equal(count_dir("new"), 0);
	mailbox_close(&mb);
	assert_int_equal(mailbox_open(&mb2, 1, err, sizeof(err)), 0);
	assert_int_equal(mb2.n, 2);
	mailbox_close(&mb2);
}

static void
test_20000(void **state)
{
	struct mailbox mb;
	char path[128], err[256];
	int64_t t0;
	size_t i;

	(void)state;
	assert_int_equal(mailbox_open(&mb, 0, err, sizeof(err)), 0);
	mailbox_close(&mb);
	for (i = 0; i < 20000; i++) {
		str_fmt(path, sizeof(path), "new/%zu.M%zuP1Q1.h,S=1,W=2", 1700000000 + i / 7,
		    i % 7);
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	t0 = now_ms();
	assert_int_equal(mailbox_open(&mb, 1, err, sizeof(err)), 0);
	assert_int_equal(mb.n, 20000);
	for (i = 1; i < mb.n; i++)
		assert_true(mb.msgs[i - 1].sec < mb.msgs[i].sec ||
		    (mb.msgs[i - 1].sec == mb.msgs[i].sec &&
			mb.msgs[i - 1].usec < mb.msgs[i].usec));
	mailbox_close(&mb);
	/* Generous bound: names carry the sizes, so there is no per-file I/O. */
	assert_true(now_ms() - t0 < 2000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_count_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_order_seen_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_20000, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
