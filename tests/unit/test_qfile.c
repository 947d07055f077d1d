/*
 * Unit tests of the queue file format (common/qfile.c): writer to reader
 * round trip, in-place status and retry updates, alias expansion records,
 * refusal of malformed files, refusal of CR/LF in values (no value
 * may forge a record), and the writer's reuse of a spent file (its pad
 * record, or its cut).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "qfile.h"
#include "util.h"

static char qdir[64];
static char origdir[4096];

static int
setup(void **state)
{
	(void)state;
	assert_non_null(getcwd(origdir, sizeof(origdir)));
	str_copy(qdir, "/tmp/postern-test-qfile.XXXXXX", sizeof(qdir));
	assert_non_null(mkdtemp(qdir));
	assert_int_equal(chdir(qdir), 0);
	assert_int_equal(mkdir("tmp", 0700), 0);
	assert_int_equal(mkdir("incoming", 0700), 0);
	assert_int_equal(mkdir("private", 0700), 0);
	/* Before the first qfile_create: it looks for the FIFO only so often. */
	assert_int_equal(mkfifo("private/free", 0600), 0);
	return 0;
}

static int
teardown(void **state)
{
	pid_t pid;

	(void)state;
	assert_int_equal(chdir(origdir), 0);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", qdir, (char *)NULL);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
	return 0;
}

static const char body[] = "Subject: test\n\nline one\n.line two\n";

/* Write a message with two recipients; path gets incoming/QID. */
static void
write_msg(char *path, size_t len)
{
	struct qfile_writer w;

	assert_int_equal(qfile_create(&w), 0);
	assert_int_equal(strlen(w.qid), QID_LEN);
	assert_int_equal(qfile_put_attr(&w, "client_addr", "192.0.2.1"), 0);
	assert_int_equal(qfile_put_attr(&w, "helo", "client.example"), 0);
	/* Every attribute the writer accepts must read back (smtputf8 once did not). */
	assert_int_equal(qfile_put_attr(&w, "client_name", "unknown"), 0);
	assert_int_equal(qfile_put_attr(&w, "protocol", "UTF8SMTPS"), 0);
	assert_int_equal(qfile_put_attr(&w, "auth_user", "alice@example.test"), 0);
	assert_int_equal(qfile_put_attr(&w, "body", "8BITMIME"), 0);
	assert_int_equal(qfile_put_attr(&w, "smtputf8", "yes"), 0);
	assert_int_equal(qfile_put_attr(&w, "envid", "abc+2Bdef"), 0);
	assert_int_equal(qfile_put_attr(&w, "ret", "HDRS"), 0);
	assert_int_equal(qfile_put_sender(&w, "sender@example.org"), 0);
	assert_int_equal(qfile_put_rcpt(&w, "alice@example.test",
	    "rfc822;alice@example.test", "SUCCESS,FAILURE"), 0);
	assert_int_equal(qfile_put_rcpt(&w, "bob@example.test", NULL, NULL), 0);
	assert_int_equal(qfile_begin_data(&w), 0);
	assert_int_equal(qfile_write(&w, body, 10), 0);
	assert_int_equal(qfile_write(&w, body + 10, sizeof(body) - 1 - 10), 0);
	assert_int_equal(qfile_size(&w), sizeof(body) - 1);
	assert_int_equal(qfile_commit(&w), 0);
	assert_int_equal(str_fmt(path, len, "incoming/%s", w.qid), 9 + QID_LEN);
}

static void
test_round_trip(void **state)
{
	struct qfile q;
	char path[64], buf[128];

	(void)state;
	write_msg(path, sizeof(path));
	assert_int_equal(access(path + 0, F_OK), 0);
	assert_int_equal(qfile_open(&q, path, 0), 0);
	assert_string_equal(q.qid, path + 9);
	assert_string_equal(q.sender, "sender@example.org");
	assert_string_equal(q.client_addr, "192.0.2.1");
	assert_string_equal(q.helo, "client.example");
	assert_string_equal(q.client_name, "unknown");
	assert_string_equal(q.protocol, "UTF8SMTPS");
	assert_string_equal(q.auth_user, "alice@example.test");
	assert_string_equal(q.body, "8BITMIME");
	assert_int_equal(q.smtputf8, 1);
	assert_string_equal(q.envid, "abc+2Bdef");
	assert_string_equal(q.ret, "HDRS");
	assert_int_equal(q.nrcpt, 2);
	assert_string_equal(q.rcpt[0].addr, "alice@example.test");
	assert_string_equal(q.rcpt[0].orcpt, "rfc822;alice@example.test");
	assert_string_equal(q.rcpt[0].notify, "SUCCESS,FAILURE");
	assert_int_equal(q.rcpt[0].status, QRCPT_PENDING);
	assert_string_equal(q.rcpt[1].addr, "bob@example.test");
	assert_null(q.rcpt[1].orcpt);
	assert_int_equal(q.size, sizeof(body) - 1);
	assert_int_equal(q.attempts, 0);
	assert_int_equal(pread(q.fd, buf, q.size, q.data_off), (ssize_t)q.size);
	assert_memory_equal(buf, body, q.size);
	qfile_close(&q);
	unlink(path);
}

static void
test_marks_in_place(void **state)
{
	struct qfile q;
	struct stat st1, st2;
	char path[64];

	(void)state;
	write_msg(path, sizeof(path));
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(qfile_open(&q, path, 1), 0);
	assert_int_equal(qfile_mark(&q, 1, QRCPT_DONE), 0);
	assert_int_equal(qfile_mark(&q, 0, QRCPT_FAILED), 0);
	assert_int_equal(qfile_mark(&q, 2, QRCPT_DONE), -1);
	assert_int_equal(qfile_mark(&q, 0, 'Z'), -1);
	assert_int_equal(qfile_set_retry(&q, 7, 1700000123), 0);
	assert_int_equal(qfile_sync(&q), 0);
	qfile_close(&q);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_size, st2.st_size);
	assert_int_equal(qfile_open(&q, path, 0), 0);
	assert_int_equal(q.rcpt[0].status, QRCPT_FAILED);
	assert_int_equal(q.rcpt[1].status, QRCPT_DONE);
	assert_int_equal(q.attempts, 7);
	assert_int_equal(q.next_attempt, 1700000123);
	assert_int_equal(q.size, sizeof(body) - 1);
	qfile_close(&q);
	unlink(path);
}

static void
test_expansion_records(void **state)
{
	struct qfile q;
	char path[64];
	int fd;

	(void)state;
	write_msg(path, sizeof(path));
	assert_int_equal(qfile_open(&q, path, 1), 0);
	assert_int_equal(qfile_add_rcpt(&q, 0, "carol@example.test"), 2);
	assert_int_equal(qfile_add_rcpt(&q, 0, "dave@example.test"), 3);
	/* An expansion of an expansion, or a forged record, is refused. */
	assert_int_equal(qfile_add_rcpt(&q, 2, "x@example.test"), -1);
	assert_int_equal(qfile_add_rcpt(&q, 0, "x@example.test\nrcpt - y@z"), -1);
	assert_int_equal(qfile_mark(&q, 0, QRCPT_EXPANDED), 0);
	assert_int_equal(qfile_mark(&q, 3, QRCPT_DONE), 0);
	qfile_close(&q);
	/* A record torn by a crash is ignored, then overwritten. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "xrcpt - 1 torn@exa", 18), 18);
	close(fd);
	assert_int_equal(qfile_open(&q, path, 1), 0);
	assert_int_equal(q.nrcpt, 4);
	assert_int_equal(q.rcpt[0].status, QRCPT_EXPANDED);
	assert_int_equal(q.rcpt[2].parent, 0);
	assert_string_equal(q.rcpt[2].addr, "carol@example.test");
	assert_int_equal(q.rcpt[2].status, QRCPT_PENDING);
	assert_int_equal(q.rcpt[3].status, QRCPT_DONE);
	assert_int_equal(q.rcpt[1].parent, QRCPT_NOPARENT);
	assert_int_equal(qfile_add_rcpt(&q, 1, "e@example.test"), 4);
	qfile_close(&q);
	assert_int_equal(qfile_open(&q, path, 0), 0);
	assert_int_equal(q.nrcpt, 5);
	assert_string_equal(q.rcpt[4].addr, "e@example.test");
	assert_int_equal(q.rcpt[4].parent, 1);
	qfile_close(&q);
	unlink(path);
}

static void
test_injection_refused(void **state)
{
	struct qfile_writer w;

	(void)state;
	assert_int_equal(qfile_create(&w), 0);
	errno = 0;
	assert_int_equal(qfile_put_attr(&w, "helo", "x\nrcpt - evil@x"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(qfile_put_attr(&w, "helo", "x\rdata"), -1);
	assert_int_equal(qfile_put_attr(&w, "nosuch", "x"), -1);
	assert_int_equal(qfile_put_attr(&w, "helo\nrcpt", "x"), -1);
	assert_int_equal(qfile_put_sender(&w, "a@b\nrcpt - evil@x"), -1);
	assert_int_equal(qfile_put_sender(&w, "a@b"), 0);
	assert_int_equal(qfile_put_sender(&w, "again@b"), -1);
	assert_int_equal(qfile_put_rcpt(&w, "r@x\ndata", NULL, NULL), -1);
	assert_int_equal(qfile_put_rcpt(&w, "r@x", "o\nrcpt - e@x", NULL), -1);
	assert_int_equal(qfile_put_rcpt(&w, "r@x", NULL, "NEVER\r\n"), -1);
	assert_int_equal(qfile_put_rcpt(&w, "", NULL, NULL), -1);
	/* data needs at least one recipient */
	assert_int_equal(qfile_begin_data(&w), -1);
	assert_int_equal(qfile_put_rcpt(&w, "r@x", NULL, NULL), 0);
	assert_int_equal(qfile_begin_data(&w), 0);
	assert_int_equal(qfile_put_rcpt(&w, "late@x", NULL, NULL), -1);
	qfile_abort(&w);
	assert_int_equal(access(w.tmppath, F_OK), -1);
}

/* Write text as a queue file named by its id line and try to open it. */
static int
open_text(const char *text, size_t len)
{
	struct qfile q;
	char path[64];
	const char *id = strstr(text, "\nid ");
	int fd, r, e;

	str_copy(path, "incoming/", sizeof(path));
	if (id != NULL && strlen(id) > 4 + QID_LEN) {
		memcpy(path + 9, id + 4, QID_LEN);
		path[9 + QID_LEN] = '\0';
	} else
		str_copy(path, "incoming/NOID", sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, len), 0);
	close(fd);
	r = qfile_open(&q, path, 0);
	e = errno;
	if (r == 0)
		qfile_close(&q);
	unlink(path);
	errno = e;
	return r;
}

#define GOOD_HEAD "postern-queue 1\nid 0123456789ABCDEFGHIJ\n" \
	"size 00000000000000000006\nretry 0000000000 00000000000000000000\n" \
	"arrival 1700000000\n"

static void
test_malformed_refused(void **state)
{
	static const char *const bad[] = {
		"postern-queue 2\nid 0123456789ABCDEFGHIJ\n",
		GOOD_HEAD "rcpt - a@b\nsender x@y\ndata\nhello\n",	/* rcpt before sender */
		GOOD_HEAD "sender x@y\ndata\nhello\n",			/* no rcpt */
		GOOD_HEAD "sender x@y\nrcpt Q a@b\ndata\nhello\n",	/* bad status */
		GOOD_HEAD "sender x@y\nrcpt - a@b\nbogus 1\ndata\nhello\n",
		GOOD_HEAD "sender x@y\nrcpt - a@b\r\ndata\nhello\n",	/* CR */
		GOOD_HEAD "sender x@y\nrcpt - a@b\ndata\nhell",		/* short content */
		GOOD_HEAD "sender x@y\nrcpt - a@b\n",			/* no data line */
		GOOD_HEAD "sender x@y\nsender z@y\nrcpt - a@b\ndata\nhello\n",
		GOOD_HEAD "sender x@y\norcpt o\nrcpt - a@b\ndata\nhello\n",
		GOOD_HEAD "sender x@y\nrcpt - a@b\ndata\nhello\nxrcpt - 5 c@d\n",
		GOOD_HEAD "sender x@y\nrcpt - a@b\ndata\nhello\nxrcpt - 0\n",
		GOOD_HEAD "sender x@y\nrcpt - a@b\ndata\nhello\ngarbage\n",
		"postern-queue 1\nid 0123456789abcdefghij\nsize 00000000000000000006\n",
		"postern-queue 1\nid 0123456789ABCDEFGHIJ\nsize 6\n",
		"",
	};
	static const char good[] = GOOD_HEAD
	    "attr helo h\nattr future_attr v\nsender \nrcpt - a@b\ndata\nhello\n";
	size_t i, n;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		errno = 0;
		assert_int_equal(open_text(bad[i], strlen(bad[i])), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(open_text(good, strlen(good)), 0);
	/* Every cut before the end of the content is refused. */
	for (n = 0; n < strlen(good); n++)
		assert_int_equal(open_text(good, n), -1);
	/* A NUL anywhere in the envelope is refused. */
	char buf[sizeof(good)];
	memcpy(buf, good, sizeof(good));
	buf[strlen(GOOD_HEAD) + 3] = '\0';
	assert_int_equal(open_text(buf, sizeof(good) - 1), -1);
}

/*
 * Leave tmp/f.<qid> holding len bytes of old content that reads as
 * records (a recipient), announced on private/free; the FIFO's write end
 * is returned open (a record is only read while a writer holds it).
 */
static int
make_spent(const char *qid, size_t len, ino_t *ino)
{
	static const char junk[] = "xrcpt - 0 evil@example.test\n";
	char path[64], rec[64];
	struct stat st;
	size_t i;
	int fd, ff;

	assert_int_equal(str_fmt(path, sizeof(path), "tmp/f.%s", qid), 6 + QID_LEN);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (i = 0; i < len; i++)
		assert_int_equal(write(fd, junk + i % (sizeof(junk) - 1), 1), 1);
	assert_int_equal(fstat(fd, &st), 0);
	*ino = st.st_ino;
	close(fd);
	ff = open("private/free", O_RDWR | O_NONBLOCK);
	assert_true(ff >= 0);
	assert_int_equal(str_fmt(rec, sizeof(rec), "%s %010zu\n", qid, len),
	    QID_LEN + 12);
	assert_int_equal(write(ff, rec, QID_LEN + 12), QID_LEN + 12);
	return ff;
}

/* Write a message into a spent file; check it and return its length. */
static off_t
reuse_one(size_t oldlen, int *padded)
{
	struct qfile q;
	struct stat st;
	char path[64], buf[128], qid[QID_LEN + 1];
	ino_t ino;
	int ff;

	qfile_new_id(qid);
	ff = make_spent(qid, oldlen, &ino);
	write_msg(path, sizeof(path));
	close(ff);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, ino);	/* the spent file, written over */
	assert_int_equal(qfile_open(&q, path, 1), 0);
	/* Nothing of the old content reads as a record. */
	assert_int_equal(q.nrcpt, 2);
	assert_int_equal(q.size, sizeof(body) - 1);
	assert_int_equal(pread(q.fd, buf, q.size, q.data_off), (ssize_t)q.size);
	assert_memory_equal(buf, body, q.size);
	*padded = pread(q.fd, buf, 4, q.data_off + (off_t)q.size) == 4 &&
	    memcmp(buf, "pad ", 4) == 0;
	/* A record appended later goes after the pad, and reads back. */
	assert_int_equal(qfile_add_rcpt(&q, 1, "carol@example.test"), 2);
	qfile_close(&q);
	assert_int_equal(qfile_open(&q, path, 0), 0);
	assert_int_equal(q.nrcpt, 3);
	assert_string_equal(q.rcpt[2].addr, "carol@example.test");
	qfile_close(&q);
	unlink(path);
	return st.st_size;
}

static void
test_reuse_pad(void **state)
{
	char path[64];
	struct stat st;
	off_t len;
	int padded;

	(void)state;
	write_msg(path, sizeof(path));		/* a new file: its length */
	assert_int_equal(stat(path, &st), 0);
	len = st.st_size;
	unlink(path);
	/* A longer spent file keeps its length: the pad covers its tail. */
	assert_int_equal(reuse_one(4000, &padded), 4000);
	assert_true(padded);
	/* Exactly room for the pad record and nothing after it. */
	assert_int_equal(reuse_one((size_t)len + 15, &padded), len + 15);
	assert_true(padded);
	/* Too little room for a pad record: cut to the message. */
	assert_int_equal(reuse_one((size_t)len + 14, &padded), len);
	assert_false(padded);
	assert_int_equal(reuse_one((size_t)len + 1, &padded), len);
	assert_false(padded);
	/* A shorter one grows to the message. */
	assert_int_equal(reuse_one(100, &padded), len);
	assert_false(padded);
}

#define PAD_MSG GOOD_HEAD "sender x@y\nrcpt - a@b\ndata\nhello\n"

static void
test_pad_record(void **state)
{
	static const char *const bad[] = {
		PAD_MSG "pad 0000000005\nxrcp",		/* past the end */
		PAD_MSG "pad 5\nxrcpt",			/* not 10 digits */
		PAD_MSG "pad 000000000x\n",
		PAD_MSG "pad -000000001\n",
		PAD_MSG "pad\n",
		/* Only first, and once. */
		PAD_MSG "xrcpt - 0 c@d\npad 0000000000\n",
		PAD_MSG "delayed 1700000000\npad 0000000000\n",
		PAD_MSG "pad 0000000000\npad 0000000000\n",
		/* The bytes after the skipped ones are records again. */
		PAD_MSG "pad 0000000002\nxxgarbage\n",
	};
	static const char good1[] = PAD_MSG "pad 0000000000\n";
	static const char good2[] = PAD_MSG "pad 0000000017\n"
	    "xrcpt - 0 e@f\r\n\0\nxrcpt - 0 c@d\n";
	struct qfile q;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		errno = 0;
		assert_int_equal(open_text(bad[i], strlen(bad[i])), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(open_text(good1, sizeof(good1) - 1), 0);
	/* Skipped bytes may hold anything (CR, NUL); what follows is read. */
	fd = open("incoming/0123456789ABCDEFGHIJ", O_WRONLY | O_CREAT | O_TRUNC,
	    0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, good2, sizeof(good2) - 1), 0);
	close(fd);
	assert_int_equal(qfile_open(&q, "incoming/0123456789ABCDEFGHIJ", 0), 0);
	assert_int_equal(q.nrcpt, 2);
	assert_string_equal(q.rcpt[1].addr, "c@d");
	qfile_close(&q);
	unlink("incoming/0123456789ABCDEFGHIJ");
}

static void
test_unique_ids(void **state)
{
	char a[QID_LEN + 1], b[QID_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		qfile_new_id(a);
		qfile_new_id(b);
		assert_int_equal(strspn(a, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
		    QID_LEN);
		assert_string_not_equal(a, b);
	}
}

/* proc_pid(): kept per process, asked again in a child made by fork(). */
static void
test_proc_pid(void **state)
{
	char a[QID_LEN + 1], b[QID_LEN + 1];
	pid_t pid;
	int st, p[2];

	(void)state;
	assert_int_equal(proc_pid(), getpid());
	qfile_new_id(a);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		char id[QID_LEN + 1];
		qfile_new_id(id);
		_exit(proc_pid() == getpid() && proc_pid() != getppid() &&
		    write_all(p[1], id, QID_LEN) == 0 ? 0 : 1);
	}
	assert_int_equal(read(p[0], b, QID_LEN), QID_LEN);
	b[QID_LEN] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The child's id carries its own pid (chars 11-15), not ours. */
	assert_memory_not_equal(a + 11, b + 11, 5);
	assert_int_equal(proc_pid(), getpid());
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_proc_pid),
		cmocka_unit_test(test_marks_in_place),
		cmocka_unit_test(test_expansion_records),
		cmocka_unit_test(test_injection_refused),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_pad_record),
		cmocka_unit_test(test_reuse_pad),
		cmocka_unit_test(test_unique_ids),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
