/*
 * Unit tests of the system-user pieces: the 12-byte header qmgr sends
 * deliver on private/deliver-user (common/agent.c: agent_user_send,
 * agent_user_read, which deliver reads as root) on a real socketpair,
 * the local part -> account mapping (common/sysuser.c) against this
 * host's passwd (root and daemon exist on every Debian system), and
 * system_domains as local domains (common/conf.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "conf.h"
#include "sysuser.h"
#include "util.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
test_hdr_roundtrip(void **st)
{
	uid_t u;
	gid_t g;
	int sv[2];
	char c;

	(void)st;
	pair(sv);
	assert_int_equal(agent_user_send(sv[1], 1234, 5678), 0);
	assert_int_equal(write(sv[1], "qid", 3), 3);	/* the request follows */
	assert_int_equal(agent_user_read(sv[0], &u, &g, 1000), 0);
	assert_int_equal(u, 1234);
	assert_int_equal(g, 5678);
	/* nothing past the header was read */
	assert_int_equal(read(sv[0], &c, 1), 1);
	assert_int_equal(c, 'q');
	close(sv[0]);
	close(sv[1]);
}

static void
test_hdr_split(void **st)
{
	unsigned char b[AGENT_USER_HDR_LEN];
	uint32_t u = 7, g = 8;
	uid_t ru;
	gid_t rg;
	int sv[2];

	(void)st;
	pair(sv);
	memcpy(b, AGENT_USER_MAGIC, 4);
	memcpy(b + 4, &u, 4);
	memcpy(b + 8, &g, 4);
	assert_int_equal(write(sv[1], b, 5), 5);	/* in two pieces */
	assert_int_equal(write(sv[1], b + 5, sizeof(b) - 5), (ssize_t)sizeof(b) - 5);
	assert_int_equal(agent_user_read(sv[0], &ru, &rg, 1000), 0);
	assert_int_equal(ru, 7);
	assert_int_equal(rg, 8);
	close(sv[0]);
	close(sv[1]);
}

static void
test_hdr_bad(void **st)
{
	uid_t u;
	gid_t g;
	int sv[2];

	(void)st;
	pair(sv);	/* wrong magic */
	assert_int_equal(write(sv[1], "XSU1\1\0\0\0\1\0\0\0", 12), 12);
	assert_int_equal(agent_user_read(sv[0], &u, &g, 1000), -1);
	close(sv[0]);
	close(sv[1]);
	pair(sv);	/* short, then EOF */
	assert_int_equal(write(sv[1], "PSU1\1\0", 6), 6);
	close(sv[1]);
	assert_int_equal(agent_user_read(sv[0], &u, &g, 1000), -1);
	close(sv[0]);
	pair(sv);	/* silence: the deadline */
	assert_int_equal(agent_user_read(sv[0], &u, &g, 100), -1);
	close(sv[0]);
	close(sv[1]);
}

/* A header with an fd attached is refused and the fd is not kept. */
static void
test_hdr_fd(void **st)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	unsigned char b[AGENT_USER_HDR_LEN] = "PSU1";
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	int sv[2], fd, probe;
	uid_t u;
	gid_t g;

	(void)st;
	pair(sv);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = b;
	iov.iov_len = sizeof(b);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sv[1], &msg, 0), (ssize_t)sizeof(b));
	close(fd);
	assert_int_equal(agent_user_read(sv[0], &u, &g, 1000), -1);
	/* the received copy was closed: the lowest free fd is fd again */
	probe = open("/dev/null", O_RDONLY);
	assert_int_equal(probe, fd);
	close(probe);
	close(sv[0]);
	close(sv[1]);
}

static struct conf *
conf_with(const char *delim, const char *local, const char *sys)
{
	static struct conf c;

	conf_defaults(&c);
	c.recipient_delimiter = (char *)delim;
	c.local_domains = (char *)local;
	c.system_domains = (char *)sys;
	return &c;
}

static void
test_find(void **st)
{
	struct conf *c = conf_with("+", "example.test", "sys.test");
	struct passwd *pw = getpwnam("daemon");
	struct sysuser u;

	(void)st;
	assert_non_null(pw);
	assert_int_equal(sysuser_find(c, "daemon@sys.test", &u), SYSUSER_OK);
	assert_int_equal(u.uid, pw->pw_uid);
	assert_int_equal(u.gid, pw->pw_gid);
	assert_string_equal(u.name, "daemon");
	assert_string_equal(u.ext, "");
	assert_int_equal(sysuser_find(c, "DaeMon+Lists@sys.test", &u), SYSUSER_OK);
	assert_string_equal(u.name, "daemon");
	assert_string_equal(u.ext, "lists");
	assert_int_equal(sysuser_find(c, "root@sys.test", &u), SYSUSER_ROOT);
	assert_int_equal(u.uid, 0);
	assert_int_equal(sysuser_find(c, "root+x@sys.test", &u), SYSUSER_ROOT);
	assert_int_equal(sysuser_find(c, "no-such-account-xq7@sys.test", &u),
	    SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "nobody+x+y@sys.test", &u), SYSUSER_OK);
	assert_string_equal(u.ext, "x+y");
	/* names we never look up */
	assert_int_equal(sysuser_find(c, "-daemon@sys.test", &u), SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "../daemon@sys.test", &u), SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "dae mon@sys.test", &u), SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "@sys.test", &u), SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "daemon", &u), SYSUSER_NOUSER);
	assert_int_equal(sysuser_find(c, "+daemon@sys.test", &u), SYSUSER_NOUSER);
	/* no delimiter: no extension */
	c = conf_with("", "example.test", "sys.test");
	assert_int_equal(sysuser_find(c, "daemon+x@sys.test", &u), SYSUSER_NOUSER);
}

static void
test_allowed(void **st)
{
	struct sysuser u;

	(void)st;
	memset(&u, 0, sizeof(u));
	u.uid = 0;
	assert_false(sysuser_allowed(&u, 1, 0));
	assert_false(sysuser_allowed(&u, 0, 0));
	u.uid = 1000;
	assert_true(sysuser_allowed(&u, 1, 0));
	assert_true(sysuser_allowed(&u, 0, 1000));
	assert_false(sysuser_allowed(&u, 0, 1001));
}

static void
test_domains(void **st)
{
	struct conf *c = conf_with("+", "example.test, example.org", "Sys.test");

	(void)st;
	assert_true(conf_is_system_domain(c, "sys.test"));
	assert_true(conf_is_system_domain(c, "SYS.TEST"));
	assert_false(conf_is_system_domain(c, "example.test"));
	assert_true(conf_is_local_domain(c, "sys.test"));	/* implied */
	assert_true(conf_is_local_domain(c, "example.org"));
	assert_false(conf_is_local_domain(c, "sys.test.evil"));
	c = conf_with("+", "example.test", "");
	assert_false(conf_is_system_domain(c, "sys.test"));
	assert_false(conf_is_local_domain(c, "sys.test"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_split),
		cmocka_unit_test(test_hdr_bad),
		cmocka_unit_test(test_hdr_fd),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
