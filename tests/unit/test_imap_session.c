/*
 * Unit tests of imapd's session (imap_session.c, imap_idle.c,
 * imap_cmd_mbox.c, imap_cmd_list.c, imap_cmd_sel.c): a real session runs
 * in a child process on one end of a socket pair, in a fresh Maildir, as
 * it would after login; the test speaks IMAP on the other end. Covers
 * the tagged OK of the login with CAPABILITY, ENABLE, NAMESPACE, LIST
 * patterns and LIST-EXTENDED, LSUB, STATUS, SELECT / EXAMINE responses,
 * QRESYNC, UID EXPUNGE, IDLE waking on a delivery, UTF8=ACCEPT names,
 * state checks and the bad-command limit.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "imap.h"
#include "util.h"

static char tmpdir[64];
static struct conf conf;
static int sfd = -1;
static pid_t child = -1;
static char in[1 << 20];	/* what the session sent and the test has not read */
static size_t inlen;

static void
put(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, strlen(data)), 0);
	close(fd);
}

static void
say(const char *text)
{
	assert_int_equal(write_all(sfd, text, strlen(text)), 0);
}

/* Read until a line starting with "tag " has come; return everything up to it (static). */
static const char *
until(const char *tag, int ms)
{
	static char out[sizeof(in) + 1];
	size_t tl = strlen(tag);
	struct pollfd pfd = { sfd, POLLIN, 0 };
	char *p;
	ssize_t n;

	for (;;) {
		for (p = in; p < in + inlen; ) {
			char *eol = memchr(p, '\n', (size_t)(in + inlen - p));
			if (eol == NULL)
				break;
			if ((size_t)(eol - p) > tl && memcmp(p, tag, tl) == 0 && p[tl] == ' ') {
				size_t len = (size_t)(eol + 1 - in);
				memcpy(out, in, len);
				out[len] = '\0';
				memmove(in, in + len, inlen - len);
				inlen -= len;
				return out;
			}
			p = eol + 1;
		}
		if (poll(&pfd, 1, ms) <= 0)
			fail_msg("no \"%s\" line; got: %.*s", tag, (int)inlen, in);
		n = read(sfd, in + inlen, sizeof(in) - inlen);
		if (n <= 0) {
			in[inlen] = '\0';
			return NULL;
		}
		inlen += (size_t)n;
	}
}

/* Send "tag text" and return the response up to its tagged line. */
static const char *
cmd(const char *tag, const char *text)
{
	char line[4096];

	snprintf(line, sizeof(line), "%s %s\r\n", tag, text);
	say(line);
	return until(tag, 10000);
}

#define HAS(r, s)	do { if (strstr((r), (s)) == NULL) \
	fail_msg("missing %s in:\n%s", (s), (r)); } while (0)
#define HASNT(r, s)	do { if (strstr((r), (s)) != NULL) \
	fail_msg("unexpected %s in:\n%s", (s), (r)); } while (0)

/* A session, as after "t0 LOGIN ..." (the tag comes first, as the login process sends it). */
static const char *
start(void)
{
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	if ((child = fork()) == 0) {
		struct stream s;

		close(sp[0]);
		stream_init(&s, sp[1], sp[1], 20000);
		imap_session(&s, &conf, "alice@example.test", "test");
		stream_flush(&s);
		_exit(0);
	}
	assert_true(child > 0);
	close(sp[1]);
	sfd = sp[0];
	inlen = 0;
	say("t0\r\n");
	return until("t0", 10000);
}

static int
setup(void **state)
{
	(void)state;
	str_copy(tmpdir, "/tmp/test_imap_session.XXXXXX", sizeof(tmpdir));
	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(mkdir("new", 0700), 0);
	assert_int_equal(mkdir("cur", 0700), 0);
	assert_int_equal(mkdir("tmp", 0700), 0);
	conf_defaults(&conf);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	int st;

	(void)state;
	if (sfd >= 0)
		close(sfd);
	sfd = -1;
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, &st, 0);
	}
	child = -1;
	assert_int_equal(chdir("/"), 0);
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_login_capability(void **state)
{
	const char *r;

	(void)state;
	r = start();
	HAS(r, "t0 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ");
	HAS(r, " IDLE ");
	HAS(r, " APPENDLIMIT=");
	HAS(r, "] Logged in\r\n");
	r = cmd("a1", "CAPABILITY");
	HAS(r, "* CAPABILITY IMAP4rev1 ");
	HAS(r, " QRESYNC ");
	HAS(r, "a1 OK");
	r = cmd("a2", "NAMESPACE");
	HAS(r, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	r = cmd("a3", "ENABLE QRESYNC UTF8=ACCEPT BOGUS");
	HAS(r, "* ENABLED QRESYNC UTF8=ACCEPT\r\n");
	r = cmd("a4", "ENABLE QRESYNC");
	HAS(r, "* ENABLED\r\n");
	r = cmd("a5", "ID NIL");
	HAS(r, "* ID (\"name\" \"postern\")");
	r = cmd("a6", "LOGIN a b");
	HAS(r, "a6 BAD");
	r = cmd("a7", "LOGOUT");
	HAS(r, "* BYE");
	HAS(r, "a7 OK");
}

static void
test_list(void **state)
{
	const char *r;

	(void)state;
	start();
	HAS(cmd("c1", "CREATE A.B.C"), "c1 OK");
	HAS(cmd("c2", "CREATE INBOX"), "c2 NO [ALREADYEXISTS]");
	HAS(cmd("c3", "CREATE \"Caf&AOk\""), "c3 BAD");	/* not modified UTF-7 */
	r = cmd("l1", "LIST \"\" %");
	HAS(r, "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n");
	HAS(r, "* LIST (\\HasChildren) \".\" \"A\"\r\n");
	HASNT(r, "A.B");
	r = cmd("l2", "LIST \"\" *");
	HAS(r, "* LIST (\\HasNoChildren) \".\" \"A.B.C\"\r\n");
	HAS(r, "* LIST (\\HasChildren) \".\" \"A.B\"\r\n");
	r = cmd("l3", "LIST A. %");
	HAS(r, "\"A.B\"\r\n");
	HASNT(r, "A.B.C");
	r = cmd("l4", "LIST \"\" inbox");
	HAS(r, "\"INBOX\"\r\n");
	r = cmd("l5", "LIST \"\" \"\"");
	HAS(r, "* LIST (\\Noselect) \".\" \"\"\r\n");
	r = cmd("l6", "LIST \"\" A*C");
	HAS(r, "\"A.B.C\"\r\n");
	HASNT(r, "\"A.B\"\r\n");
	r = cmd("l7", "LIST \"\" A%C");
	HASNT(r, "A.B.C");
	/* a subscription to a name that does not exist, two levels down */
	HAS(cmd("s1", "SUBSCRIBE X.Y"), "s1 OK");
	r = cmd("l8", "LSUB \"\" %");
	HAS(r, "* LSUB (\\Noselect) \".\" \"X\"\r\n");
	r = cmd("l9", "LIST (SUBSCRIBED) \"\" *");
	HAS(r, "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \".\" \"X.Y\"\r\n");
	HASNT(r, "\"A.B\"");
	r = cmd("l10", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %");
	HAS(r, "\"X\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
	HAS(cmd("l11", "LIST (RECURSIVEMATCH) \"\" %"), "l11 BAD");
	r = cmd("l12", "LIST \"\" (A A.B) RETURN (STATUS (MESSAGES UIDNEXT) SUBSCRIBED)");
	HAS(r, "* STATUS \"A\" (MESSAGES 0 UIDNEXT 1)\r\n");
	HAS(r, "* STATUS \"A.B\" (MESSAGES 0 UIDNEXT 1)\r\n");
	HAS(cmd("d1", "DELETE A.B.C"), "d1 OK");
	r = cmd("l13", "LIST \"\" A*");
	HAS(r, "* LIST (\\HasNoChildren) \".\" \"A.B\"\r\n");
	HAS(cmd("r1", "RENAME A.B Z"), "r1 OK");
	r = cmd("l14", "LIST \"\" *");
	HAS(r, "\"Z\"\r\n");
	HAS(r, "* LIST (\\HasNoChildren) \".\" \"A\"\r\n");
	HAS(cmd("d2", "DELETE INBOX"), "d2 NO");
	HAS(cmd("d3", "DELETE Nope"), "d3 NO [NONEXISTENT]");
}

static void
test_utf8(void **state)
{
	struct stat st;
	const char *r;

	(void)state;
	start();
	HAS(cmd("u1", "CREATE \"Caf&AOk-\""), "u1 OK");
	assert_int_equal(stat(".Caf&AOk-", &st), 0);
	HAS(cmd("u2", "LIST \"\" Caf*"), "\"Caf&AOk-\"\r\n");
	HAS(cmd("u3", "ENABLE UTF8=ACCEPT"), "u3 OK");
	HAS(cmd("u4", "LIST \"\" Caf*"), "\"Caf\xc3\xa9\"\r\n");
	HAS(cmd("u5", "CREATE \"\xc3\xa9t\xc3\xa9\""), "u5 OK");
	assert_int_equal(stat(".&AOk-t&AOk-", &st), 0);
	r = cmd("u6", "STATUS \"\xc3\xa9t\xc3\xa9\" (MESSAGES)");
	HAS(r, "* STATUS \"\xc3\xa9t\xc3\xa9\" (MESSAGES 0)");
}

static const char msg[] = "From: bob@example.org\nSubject: hi\n\nhello\n";

static void
test_select(void **state)
{
	const char *r;

	(void)state;
	start();
	put("new/1.1.host", msg);
	put("new/2.1.host", msg);
	HAS(cmd("f0", "FETCH 1 FLAGS"), "f0 BAD");	/* no mailbox selected */
	r = cmd("s1", "SELECT INBOX");
	HAS(r, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	HAS(r, "* 2 EXISTS\r\n");
	HAS(r, "* 2 RECENT\r\n");
	HAS(r, "* OK [UNSEEN 1]");
	HAS(r, "* OK [UIDVALIDITY ");
	HAS(r, "* OK [UIDNEXT 3]");
	HAS(r, "* OK [HIGHESTMODSEQ ");
	HAS(r, "s1 OK [READ-WRITE]");
	HAS(cmd("s2", "ENABLE CONDSTORE"), "s2 BAD");	/* RFC 5161: not once selected */
	r = cmd("s3", "EXAMINE INBOX");
	HAS(r, "* OK [CLOSED]");
	HAS(r, "* OK [PERMANENTFLAGS ()]");
	HAS(r, "* 0 RECENT\r\n");
	HAS(r, "s3 OK [READ-ONLY]");
	HAS(cmd("s4", "EXPUNGE"), "s4 NO");
	HAS(cmd("s5", "UNSELECT"), "s5 OK");
	HAS(cmd("s6", "CLOSE"), "s6 BAD");
	r = cmd("s7", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT DELETED SIZE)");
	HAS(r, "* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2 UIDNEXT 3 DELETED 0 SIZE 90)");
	HAS(cmd("s8", "STATUS INBOX (BOGUS)"), "s8 BAD");
	HAS(cmd("s9", "SELECT Nope"), "s9 NO [NONEXISTENT]");
}

static void
test_expunge_qresync(void **state)
{
	char sel[128];
	const char *r, *p;
	unsigned long uv;

	(void)state;
	start();
	put("new/1.1.host", msg);
	put("new/2.1.host:2,T", msg);	/* \Deleted already */
	put("new/3.1.host", msg);
	HAS(cmd("e0", "ENABLE QRESYNC"), "e0 OK");
	r = cmd("e1", "SELECT INBOX");
	assert_non_null(p = strstr(r, "[UIDVALIDITY "));
	uv = strtoul(p + 13, NULL, 10);
	HAS(cmd("e2", "UID EXPUNGE 1"), "e2 OK");	/* not \Deleted: stays */
	r = cmd("e3", "UID EXPUNGE 1:*");
	HAS(r, "* VANISHED 2\r\n");
	HAS(r, "e3 OK [HIGHESTMODSEQ ");
	snprintf(sel, sizeof(sel), "SELECT INBOX (QRESYNC (%lu 1 1:5))", uv);
	r = cmd("e4", sel);
	HAS(r, "* VANISHED (EARLIER) 2\r\n");
	HAS(r, "* 1 FETCH (UID 1 FLAGS (");
	HAS(r, "* 2 FETCH (UID 3 FLAGS (");
	snprintf(sel, sizeof(sel), "SELECT INBOX (QRESYNC (%lu 1))", uv + 1);
	r = cmd("e5", sel);
	HASNT(r, "VANISHED");
	HAS(cmd("e6", "SELECT INBOX (QRESYNC (1))"), "e6 BAD");
	HAS(cmd("e7", "SELECT INBOX (BOGUS)"), "e7 BAD");
}

static void
test_idle(void **state)
{
	const char *r;

	(void)state;
	start();
	put("new/1.1.host", msg);
	HAS(cmd("i1", "SELECT INBOX"), "* 1 EXISTS");
	say("i2 IDLE\r\n");
	r = until("+", 5000);
	HAS(r, "+ idling");
	put("new/2.1.host", msg);	/* a delivery meanwhile */
	r = until("*", 5000);
	HAS(r, "* 2 EXISTS");
	say("DONE\r\n");
	HAS(until("i2", 5000), "i2 OK");
	say("i3 IDLE\r\n");
	until("+", 5000);
	say("NOTDONE\r\n");
	HAS(until("i3", 5000), "i3 BAD");
}

static void
test_bad_limit(void **state)
{
	const char *r;
	int i;

	(void)state;
	start();
	HAS(cmd("b1", "UID BOGUS 1"), "b1 BAD");
	HAS(cmd("b2", "SETQUOTA \"\" (STORAGE 1)"), "b2 NO");
	HAS(cmd("b3", "GETQUOTAROOT INBOX"), "* QUOTAROOT \"INBOX\"\r\n");
	HAS(cmd("b4", "GETQUOTA \"\""), "b4 NO");
	for (i = 0; i < IMAP_ERROR_LIMIT - 1; i++)
		cmd("x", "BOGUS");
	say("y BOGUS\r\n");
	r = until("y", 5000);
	HAS(r, "y BAD");
	r = until("*", 5000);
	HAS(r, "* BYE Too many invalid commands");
}

static void
test_quota(void **state)
{
	const char *r;

	(void)state;
	conf.mailbox_quota = 10 * 1024 * 1024;
	conf.mailbox_quota_messages = 1000;
	start();
	put("new/1.1.host", msg);
	r = cmd("q1", "GETQUOTAROOT INBOX");
	HAS(r, "* QUOTAROOT \"INBOX\" \"\"\r\n");
	HAS(r, "* QUOTA \"\" (STORAGE ");
	HAS(r, " 10240 MESSAGE 1 1000)");
	HAS(cmd("q2", "GETQUOTA \"\""), "* QUOTA \"\" (STORAGE ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_capability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_qresync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
