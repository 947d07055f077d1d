/*
 * Unit tests of authd's client (common/authclient.c): the answers it
 * accepts from authd (ok/cont/fail, mechs, user) and the ones it refuses
 * (unknown, empty, overlong, no LF), the requests it writes (and the
 * fields it refuses to send: no CR, LF or space can add a line or a word
 * to authd's protocol), and the mechanism and base64 checks at their
 * limits. authd's side is played by the test over a socketpair or, for
 * the calls that connect themselves, a forked one-shot server.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "authclient.h"
#include "util.h"

static struct authclient ac;
static int peer = -1;
static char out[512], sent[AUTHC_LINE * 2];

/* A client on a socketpair whose authd has already answered `answer`. */
static void
pair(const char *answer, size_t len)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write_all(sv[1], answer, len), 0);
	ac.fd = sv[0];
	stream_init(&ac.st, sv[0], sv[0], 2000);
	peer = sv[1];
	memset(out, 'Z', sizeof(out));
	out[sizeof(out) - 1] = '\0';
}

/* What the client wrote (non-blocking; "" if nothing). */
static const char *
written(void)
{
	ssize_t n;

	fcntl(peer, F_SETFL, O_NONBLOCK);
	n = read(peer, sent, sizeof(sent) - 1);
	sent[n > 0 ? n : 0] = '\0';
	return sent;
}

static int
teardown(void **state)
{
	(void)state;
	authclient_close(&ac);
	if (peer != -1)
		close(peer);
	peer = -1;
	return 0;
}

static int
start(const char *answer, const char *mech, const char *initial)
{
	authclient_close(&ac);
	if (peer != -1)
		close(peer);
	pair(answer, strlen(answer));
	return authclient_start(&ac, mech, initial, out, sizeof(out));
}

static void
test_answers(void **state)
{
	char tok[200];

	(void)state;
	assert_int_equal(start("ok 0123abcd\n", "PLAIN", "AGFAYgBj"), AUTHC_OK);
	assert_string_equal(out, "0123abcd");
	assert_string_equal(written(), "start PLAIN AGFAYgBj\n");
	assert_int_equal(start("cont =\n", "LOGIN", NULL), AUTHC_CONT);
	assert_string_equal(out, "");
	assert_string_equal(written(), "start LOGIN\n");
	assert_int_equal(start("cont VXNlcm5hbWU6\n", "LOGIN", ""), AUTHC_CONT);
	assert_string_equal(out, "VXNlcm5hbWU6");
	assert_string_equal(written(), "start LOGIN =\n");
	assert_int_equal(start("fail auth\n", "PLAIN", NULL), AUTHC_FAIL);
	assert_string_equal(out, "auth");
	/* a token: 1..128 printable bytes without a space */
	memset(tok, 'a', sizeof(tok));
	memcpy(tok, "ok ", 3);
	memcpy(tok + 3 + 128, "\n", 2);
	assert_int_equal(start(tok, "PLAIN", NULL), AUTHC_OK);
	assert_int_equal(strlen(out), 128);
	memcpy(tok + 3 + 129, "\n", 2);
	tok[3 + 128] = 'a';
	assert_int_equal(start(tok, "PLAIN", NULL), -1);
}

static void
test_bad_answers(void **state)
{
	static const char *const bad[] = {
		"ok \n", "ok a b\n", "ok a\tb\n", "ok\n", "OK abc\n", "cont\n",
		"fail\n", "Fail auth\n", "okabc\n", "\n", "what\n", "ok abc",
		"", "ok a\x01" "b\n", " ok abc\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (start(bad[i], "PLAIN", NULL) != -1)
			fail_msg("accepted answer '%s'", bad[i]);
	/* a NUL ends the answer as a C string (authd never sends one) */
	authclient_close(&ac);
	close(peer);
	pair("ok ab\0cd\n", 9);
	assert_int_equal(authclient_start(&ac, "PLAIN", NULL, out, sizeof(out)), AUTHC_OK);
	assert_string_equal(out, "ab");
	/* an answer that does not fit out */
	authclient_close(&ac);
	close(peer);
	pair("cont abcdefgh\n", 14);
	assert_int_equal(authclient_start(&ac, "PLAIN", NULL, out, 8), -1);
}

static void
test_overlong_answer(void **state)
{
	size_t len = AUTHC_LINE + 100;
	char *big = xmalloc(len + 1);

	(void)state;
	memset(big, 'A', len);
	memcpy(big, "cont ", 5);
	big[len - 1] = '\n';
	big[len] = '\0';
	assert_int_equal(start(big, "PLAIN", NULL), -1);
	/* exactly the longest line authd may send (AUTHC_LINE with its LF) */
	big[AUTHC_LINE - 1] = '\n';
	big[AUTHC_LINE] = '\0';
	authclient_close(&ac);
	close(peer);
	pair(big, AUTHC_LINE);
	assert_int_equal(authclient_start(&ac, "PLAIN", NULL, big, AUTHC_LINE), AUTHC_CONT);
	assert_int_equal(strlen(big), AUTHC_LINE - 6);
	free(big);
}

static void
test_refused_requests(void **state)
{
	(void)state;
	/* nothing is sent for a bad mechanism or bad base64 */
	assert_int_equal(start("ok x\n", "plain", NULL), -1);
	assert_string_equal(written(), "");
	assert_int_equal(start("ok x\n", "PLAIN\nmechs", NULL), -1);
	assert_int_equal(start("ok x\n", "PLAIN MORE", NULL), -1);
	assert_int_equal(start("ok x\n", "", NULL), -1);
	assert_int_equal(start("ok x\n", "PLAIN", "AGFA\nstep"), -1);
	assert_int_equal(start("ok x\n", "PLAIN", "AGFA YgBj"), -1);
	assert_int_equal(start("ok x\n", "PLAIN", "="), -1);
	assert_string_equal(written(), "");
	/* step */
	assert_int_equal(start("cont =\n", "LOGIN", NULL), AUTHC_CONT);
	written();
	assert_int_equal(authclient_step(&ac, "abc", out, sizeof(out)), -1);
	assert_int_equal(authclient_step(&ac, "ab\r\n", out, sizeof(out)), -1);
	assert_string_equal(written(), "");
	write_all(peer, "fail auth\n", 10);
	assert_int_equal(authclient_step(&ac, "", out, sizeof(out)), AUTHC_FAIL);
	assert_string_equal(written(), "step =\n");
	/* a closed client sends nothing */
	authclient_close(&ac);
	assert_int_equal(authclient_step(&ac, "", out, sizeof(out)), -1);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), -1);
}

static void
test_mechs(void **state)
{
	(void)state;
	pair("mechs PLAIN LOGIN\n", 18);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), 0);
	assert_string_equal(out, "PLAIN LOGIN");
	assert_string_equal(written(), "mechs\n");
	write_all(peer, "mechs\n", 6);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	write_all(peer, "mechsPLAIN\n", 11);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), -1);
	write_all(peer, "ok x\n", 5);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), -1);
	write_all(peer, "mechs PLAIN\n", 12);
	assert_int_equal(authclient_mechs(&ac, out, 5), -1);	/* too small */
	shutdown(peer, SHUT_WR);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), -1);	/* EOF */
}

static void
test_checks(void **state)
{
	char b[AUTHC_LINE];

	(void)state;
	assert_true(authclient_mech_ok("SCRAM-SHA-256"));
	assert_true(authclient_mech_ok("X_1"));
	assert_true(authclient_mech_ok("ABCDEFGHIJKLMNOPQRST"));	/* 20 */
	assert_false(authclient_mech_ok("ABCDEFGHIJKLMNOPQRSTU"));	/* 21 */
	assert_false(authclient_mech_ok(""));
	assert_false(authclient_mech_ok("Plain"));
	assert_false(authclient_mech_ok("PL AIN"));
	assert_false(authclient_mech_ok("PLAIN\r"));
	assert_true(authclient_b64_ok("abcd"));
	assert_true(authclient_b64_ok("ab+/"));
	assert_true(authclient_b64_ok("abc="));
	assert_true(authclient_b64_ok("ab=="));
	assert_false(authclient_b64_ok(""));
	assert_false(authclient_b64_ok("abc"));
	assert_false(authclient_b64_ok("a==="));
	assert_false(authclient_b64_ok("=abc"));
	assert_false(authclient_b64_ok("ab=c"));
	assert_false(authclient_b64_ok("abcd=abc"));
	assert_false(authclient_b64_ok("ab-_"));
	assert_false(authclient_b64_ok("ab c"));
	assert_false(authclient_b64_ok("ab\nc"));
	/* the longest: AUTHC_LINE - 64 */
	memset(b, 'A', sizeof(b));
	b[AUTHC_LINE - 64] = '\0';
	assert_true(authclient_b64_ok(b));
	b[AUTHC_LINE - 64] = 'A';
	b[AUTHC_LINE - 60] = '\0';
	assert_false(authclient_b64_ok(b));
}

/*
 * A one-shot authd on a unix socket: accept one connection, read until
 * nlf LFs, answer, and hand what it read to the parent through *rpipe.
 */
static pid_t
server(const char *path, const char *answer, int nlf, int *rpipe)
{
	struct sockaddr_un sun;
	char buf[1024];
	size_t n = 0;
	ssize_t r;
	int ls, fd, p[2], lf = 0;
	pid_t pid;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	unlink(path);
	assert_int_not_equal((ls = socket(AF_UNIX, SOCK_STREAM, 0)), -1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_not_equal((pid = fork()), -1);
	if (pid == 0) {
		alarm(5);
		close(p[0]);
		if ((fd = accept(ls, NULL, NULL)) == -1)
			_exit(1);
		while (lf < nlf && n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0) {
			for (ssize_t i = 0; i < r; i++)
				lf += buf[n + (size_t)i] == '\n';
			n += (size_t)r;
		}
		write_all(fd, answer, strlen(answer));
		write_all(p[1], buf, n);
		_exit(0);
	}
	close(ls);
	close(p[1]);
	*rpipe = p[0];
	return pid;
}

static const char *
server_done(pid_t pid, int rpipe)
{
	ssize_t n = read(rpipe, sent, sizeof(sent) - 1);

	sent[n > 0 ? n : 0] = '\0';
	close(rpipe);
	waitpid(pid, NULL, 0);
	return sent;
}

static void
test_open_and_redeem(void **state)
{
	char path[64], user[300];
	int rp;
	pid_t pid;

	(void)state;
	str_copy(path, "/tmp/postern-test-authc.XXXXXX", sizeof(path));
	assert_non_null(mkdtemp(path));
	str_copy(path + strlen(path), "/auth", sizeof(path) - strlen(path));
	/* the client line goes with the first request */
	pid = server(path, "mechs PLAIN\n", 2, &rp);
	assert_int_equal(authclient_open(&ac, path, "smtp", "192.0.2.1", 2000), 0);
	assert_int_equal(authclient_mechs(&ac, out, sizeof(out)), 0);
	assert_string_equal(out, "PLAIN");
	assert_string_equal(server_done(pid, rp), "client smtp 192.0.2.1\nmechs\n");
	authclient_close(&ac);
	/* words that could add to the protocol are never sent */
	assert_int_equal(authclient_open(&ac, path, "smtp\nmechs", "192.0.2.1", 2000), -1);
	assert_int_equal(authclient_open(&ac, path, "smtp", "192.0.2.1 x", 2000), -1);
	assert_int_equal(authclient_open(&ac, path, "", "192.0.2.1", 2000), -1);
	assert_int_equal(authclient_open(&ac, path, "smtp", "", 2000), -1);
	assert_int_equal(authclient_open(&ac, path, "abcdefghijklmnop", "1", 2000), -1);
	assert_int_equal(ac.fd, -1);
	/* redeem */
	pid = server(path, "user alice@example.test\n", 1, &rp);
	assert_int_equal(authclient_redeem(path, "0123abcd", user, sizeof(user), 2000), 0);
	assert_string_equal(user, "alice@example.test");
	assert_string_equal(server_done(pid, rp), "token 0123abcd\n");
	pid = server(path, "user alice\n", 1, &rp);
	assert_int_equal(authclient_redeem(path, "0123abcd", user, sizeof(user), 2000), -1);
	server_done(pid, rp);
	pid = server(path, "user alice@x.test bob@x.test\n", 1, &rp);
	assert_int_equal(authclient_redeem(path, "0123abcd", user, sizeof(user), 2000), -1);
	server_done(pid, rp);
	pid = server(path, "fail token\n", 1, &rp);
	assert_int_equal(authclient_redeem(path, "0123abcd", user, sizeof(user), 2000), -1);
	server_done(pid, rp);
	pid = server(path, "user alice@example.test", 1, &rp);	/* no LF */
	assert_int_equal(authclient_redeem(path, "0123abcd", user, sizeof(user), 2000), -1);
	server_done(pid, rp);
	pid = server(path, "user alice@example.test\n", 1, &rp);
	assert_int_equal(authclient_redeem(path, "0123abcd", user, 5, 2000), -1);
	server_done(pid, rp);
	/* a token that could add a line is never sent (nobody listens now) */
	assert_int_equal(authclient_redeem(path, "ab\ntoken cd", user, sizeof(user), 2000), -1);
	assert_int_equal(authclient_redeem(path, "", user, sizeof(user), 2000), -1);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_answers, teardown),
		cmocka_unit_test_teardown(test_bad_answers, teardown),
		cmocka_unit_test_teardown(test_overlong_answer, teardown),
		cmocka_unit_test_teardown(test_refused_requests, teardown),
		cmocka_unit_test_teardown(test_mechs, teardown),
		cmocka_unit_test(test_checks),
		cmocka_unit_test_teardown(test_open_and_redeem, teardown),
	};

	ac.fd = -1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
