/*
 * Unit tests of authd's request parser (auth/auth_cmd.c): the client
 * line (once, first, lower-case service, bounded fields), the verbs that
 * need it, unknown and malformed requests (which end the connection),
 * base64 fields of start/step/plain (bad alphabet, padding, NUL inside
 * a decoded user or password), and one-use tokens: a real PLAIN login
 * against a sasldb in a temporary directory issues a token that can be
 * redeemed once, only on a connection without a client line. With
 * system_domains set authd runs LOGIN itself (its "Username:" and
 * "Password:" challenges, an initial response as the user name, a
 * virtual user checked against the sasldb).
 */
#include "config.h"

#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"
#include "conf.h"
#include "login.h"
#include "userdb.h"
#include "util.h"

static struct conf conf;
static struct auth_conn conn;
static char dir[64];
static int have_db;

static void
conn_new(void)
{
	auth_cmd_conn_done(&conn);
	strbuf_free(&conn.out);
	memset(&conn, 0, sizeof(conn));
	conn.fd = -1;
	strbuf_init(&conn.out, 65536);
}

/* Run one request; the answer (without the LF), or "" for none. */
static const char *
req(const char *line)
{
	static char ans[AUTHD_LINE + 64];
	char buf[AUTHD_LINE + 1];

	str_copy(buf, line, sizeof(buf));
	strbuf_reset(&conn.out);
	conn.reply_at = 0;
	auth_cmd_line(&conn, buf);
	str_copy(ans, conn.out.data ? conn.out.data : "", sizeof(ans));
	if (conn.out.len > 0) {
		assert_int_equal(ans[conn.out.len - 1], '\n');
		assert_ptr_equal(strchr(ans, '\n'), ans + conn.out.len - 1);
		ans[conn.out.len - 1] = '\0';
	}
	return ans;
}

static int
setup(void **state)
{
	char path[128], err[1024];
	FILE *fp;

	(void)state;
	str_copy(dir, "/tmp/postern-test-authcmd.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	str_fmt(path, sizeof(path), "%s/postern.conf", dir);
	assert_non_null((fp = fopen(path, "w")));
	fprintf(fp, "hostname = mx.example.test\nstate_dir = %s\nsasl_db = %s/sasldb\n",
	    dir, dir);
	fclose(fp);
	if (conf_load(&conf, path, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	auth_cmd_init(&conf);
	have_db = userdb_init(&conf) == 0 &&
	    userdb_set("alice@example.test", "s3cret", 1, err, sizeof(err)) == 0;
	conn_new();
	return 0;
}

static int
teardown(void **state)
{
	pid_t pid;

	(void)state;
	auth_cmd_conn_done(&conn);
	strbuf_free(&conn.out);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
	return 0;
}

static void
test_client_line(void **state)
{
	static const char *const bad[] = {
		"client", "client smtp", "client  192.0.2.1", "client SMTP 192.0.2.1",
		"client sm-tp 192.0.2.1", "client smtp\t192.0.2.1",
		"client abcdefghijklmnop 192.0.2.1",	/* 16: service[16] */
		"client smtp 0123456789012345678901234567890123456789012345678901234567890123",
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		conn_new();
		assert_string_equal(req(bad[i]), "");
		if (!conn.closing || conn.have_client)
			fail_msg("accepted '%s'", bad[i]);
	}
	/* at the limits: 15 and 63 bytes */
	conn_new();
	req("client abcdefghijklmno 012345678901234567890123456789012345678901234567890123456789012");
	assert_false(conn.closing);
	assert_true(conn.have_client);
	assert_string_equal(conn.service, "abcdefghijklmno");
	assert_int_equal(strlen(conn.ip), 63);
	/* once only */
	req("client pop3 192.0.2.2");
	assert_true(conn.closing);
	assert_string_equal(conn.service, "abcdefghijklmno");
}

static void
test_verbs(void **state)
{
	static const char *const need_client[] = { "mechs", "start PLAIN", "step =",
		"plain YQ== Yg==" };
	static const char *const unknown[] = { "", " ", "MECHS", "mechs\r", "foo bar",
		"client\tsmtp 1", "tokens x", "start\tPLAIN" };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(need_client); i++) {
		conn_new();
		assert_string_equal(req(need_client[i]), "");
		if (!conn.closing)
			fail_msg("'%s' without a client line", need_client[i]);
	}
	for (i = 0; i < NELEM(unknown); i++) {
		conn_new();
		req("client smtp 192.0.2.1");
		assert_string_equal(req(unknown[i]), "");
		if (!conn.closing)
			fail_msg("accepted '%s'", unknown[i]);
	}
}

static void
test_base64_fields(void **state)
{
	static const char *const proto[] = {
		"start", "start ", "start PLAIN abc", "start PLAIN ab=c", "start PLAIN a===",
		"start PLAIN ====", "start PLAIN ab-_", "start PLAIN ab\x01=", "start PLAIN ==",
		"step =", "step abcd",	/* no exchange in progress */
		"plain", "plain YWxpY2U=", "plain YWxpY2U= ", "plain = czNjcmV0",
		"plain YWxpY2U= abc", "plain abc czNjcmV0",
		"plain YWxp AGNl czNjcmV0",	/* a space inside the password field */
		"plain YQBi czNjcmV0",		/* "a\0b" as the user */
		"plain YWxpY2U= czMAY3JldA==",	/* "s3\0cret" as the password */
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(proto); i++) {
		conn_new();
		req("client smtp 192.0.2.1");
		if (strcmp(req(proto[i]), "fail proto") != 0 || conn.closing)
			fail_msg("'%s' answered '%s'", proto[i], conn.out.data ? conn.out.data : "");
		/* protocol errors are answered at once and not counted */
		assert_int_equal(conn.reply_at, 0);
	}
}

static void
test_tokens(void **state)
{
	char tok[LOGIN_TOKEN_HEX + 1], line[128];
	const char *a;

	(void)state;
	conn_new();
	assert_string_equal(req("token 0123"), "fail token");
	assert_string_equal(req("token "), "fail token");
	assert_string_equal(req("token"), "fail token");
	memset(tok, 'a', LOGIN_TOKEN_HEX);
	tok[LOGIN_TOKEN_HEX] = '\0';
	str_fmt(line, sizeof(line), "token %s", tok);
	assert_string_equal(req(line), "fail token");
	if (!have_db)
		skip();
	/* a PLAIN login issues a token ... */
	conn_new();
	req("client pop3 192.0.2.1");
	/* "alice@EXAMPLE.test" / "s3cret": the user is lower-cased */
	a = req("plain YWxpY2VARVhBTVBMRS50ZXN0 czNjcmV0");
	assert_int_equal(strncmp(a, "ok ", 3), 0);
	assert_int_equal(strlen(a + 3), LOGIN_TOKEN_HEX);
	str_copy(tok, a + 3, sizeof(tok));
	/* ... that the connection with the client line may not redeem */
	str_fmt(line, sizeof(line), "token %s", tok);
	assert_string_equal(req(line), "");
	assert_true(conn.closing);
	/* a wrong password: "fail auth", answered late */
	conn_new();
	req("client pop3 192.0.2.1");
	assert_string_equal(req("plain YWxpY2VAZXhhbXBsZS50ZXN0 d3Jvbmc="), "fail auth");
	assert_true(conn.reply_at > 0);
	/* redeemed once, on its own connection */
	conn_new();
	str_fmt(line, sizeof(line), "token %s", tok);
	assert_string_equal(req(line), "user alice@example.test");
	assert_string_equal(req(line), "fail token");
	/* a token with one more or one less character is no token */
	conn_new();
	req("client pop3 192.0.2.1");
	a = req("plain YWxpY2VAZXhhbXBsZS50ZXN0 czNjcmV0");
	str_copy(tok, a + 3, sizeof(tok));
	conn_new();
	str_fmt(line, sizeof(line), "token %sa", tok);
	assert_string_equal(req(line), "fail token");
	str_fmt(line, sizeof(line), "token %.*s", LOGIN_TOKEN_HEX - 1, tok);
	assert_string_equal(req(line), "fail token");
	str_fmt(line, sizeof(line), "token %s", tok);
	assert_string_equal(req(line), "user alice@example.test");
}

static void
test_mechs_and_start(void **state)
{
	const char *a;

	(void)state;
	if (!have_db)
		skip();
	conn_new();
	req("client smtp 192.0.2.1");
	a = req("mechs");
	assert_int_equal(strncmp(a, "mechs", 5), 0);
	assert_non_null(strstr(a, "PLAIN"));
	/* an unknown mechanism: "fail mech", at once */
	assert_string_equal(req("start NOSUCHMECH"), "fail mech");
	assert_int_equal(conn.reply_at, 0);
	/* PLAIN with the initial response "\0alice@example.test\0s3cret" */
	a = req("start PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzM2NyZXQ=");
	assert_int_equal(strncmp(a, "ok ", 3), 0);
	/* the exchange is over: a step is a protocol error */
	assert_string_equal(req("step ="), "fail proto");
	/* PLAIN without an initial response: an empty challenge, then the step */
	assert_string_equal(req("start PLAIN"), "cont =");
	assert_string_equal(req("step AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw=="), "fail auth");
}

/* With system_domains, LOGIN is authd's own exchange (auth_login_step). */
static void
test_login_system_domains(void **state)
{
	struct conf sc;
	char path[128], err[1024];
	FILE *fp;

	(void)state;
	if (!have_db)
		skip();
	str_fmt(path, sizeof(path), "%s/sys.conf", dir);
	assert_non_null((fp = fopen(path, "w")));
	fprintf(fp, "hostname = mx.example.test\nstate_dir = %s\nsasl_db = %s/sasldb\n"
	    "system_domains = sys.example.test\n", dir, dir);
	fclose(fp);
	if (conf_load(&sc, path, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	auth_cmd_init(&sc);
	auth_sys_init(&sc, 0, getuid());	/* as authd: the realm of bare names */
	assert_non_null(auth_sys_realm());
	conn_new();
	req("client imap 192.0.2.1");
	assert_string_equal(req("start LOGIN"), "cont VXNlcm5hbWU6");
	/* authd's own exchange, not libsasl2's (whose challenges are the same) */
	assert_null(conn.sasl);
	assert_int_equal(conn.login_step, 1);
	assert_string_equal(req("step YWxpY2VAZXhhbXBsZS50ZXN0"), "cont UGFzc3dvcmQ6");
	assert_int_equal(conn.login_step, 2);
	assert_int_equal(strncmp(req("step czNjcmV0"), "ok ", 3), 0);
	assert_string_equal(req("step ="), "fail proto");	/* it is over */
	/* the user name as the initial response; a wrong password */
	conn_new();
	req("client imap 192.0.2.1");
	assert_string_equal(req("start LOGIN YWxpY2VAZXhhbXBsZS50ZXN0"),
	    "cont UGFzc3dvcmQ6");
	assert_string_equal(req("step d3Jvbmc="), "fail auth");
	/* a NUL in the user name; a new start in the middle begins again */
	conn_new();
	req("client imap 192.0.2.1");
	assert_string_equal(req("start LOGIN"), "cont VXNlcm5hbWU6");
	assert_string_equal(req("step YWxpAGNl"), "fail auth");
	assert_string_equal(req("start LOGIN"), "cont VXNlcm5hbWU6");
	assert_string_equal(req("start LOGIN YWxpY2VAZXhhbXBsZS50ZXN0"),
	    "cont UGFzc3dvcmQ6");
	assert_int_equal(strncmp(req("step czNjcmV0"), "ok ", 3), 0);
	auth_cmd_init(&conf);
	auth_sys_init(&conf, 0, getuid());
	conn_new();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_line),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_base64_fields),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_mechs_and_start),
		cmocka_unit_test(test_login_system_domains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
