/*
 * Unit tests of the delivery status notification pieces (RFC 3461,
 * RFC 3464) in queue/qmgr_dsn_fmt.c: NOTIFY and RET policy, xtext to
 * display text (ENVID, ORCPT), status codes from diagnostics, the
 * message/delivery-status fields, the smtp client's parameter checks;
 * and the queue file's "delayed" record (common/qfile.c) that keeps the
 * delay notice to once per message across restarts.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "qfile.h"
#include "qmgr_dsn.h"
#include "strbuf.h"
#include "util.h"

static void
test_notify(void **state)
{
	(void)state;
	assert_int_equal(dsn_notify_bits(NULL), DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
	assert_int_equal(dsn_notify_bits(""), DSN_NOTIFY_DEFAULT);
	assert_int_equal(dsn_notify_bits("NEVER"), DSN_NOTIFY_NEVER);
	assert_int_equal(dsn_notify_bits("success,Delay"),
	    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	/* Not a valid list (a queue file edited by hand): the default. */
	assert_int_equal(dsn_notify_bits("NEVER,SUCCESS"), DSN_NOTIFY_DEFAULT);
	assert_int_equal(dsn_notify_bits("SUCCESS,"), DSN_NOTIFY_DEFAULT);
	assert_int_equal(dsn_notify_bits("FAILURE,FAILURE"), DSN_NOTIFY_DEFAULT);
	assert_int_equal(dsn_notify_bits("SUCCESSFUL"), DSN_NOTIFY_DEFAULT);

	assert_true(dsn_wants(NULL, DSN_FAILED));
	assert_true(dsn_wants(NULL, DSN_DELAYED));
	assert_false(dsn_wants(NULL, DSN_DELIVERED));
	assert_false(dsn_wants("NEVER", DSN_FAILED));
	assert_false(dsn_wants("NEVER", DSN_DELAYED));
	assert_true(dsn_wants("SUCCESS", DSN_DELIVERED));
	assert_true(dsn_wants("SUCCESS", DSN_RELAYED));
	assert_false(dsn_wants("SUCCESS", DSN_FAILED));
	assert_false(dsn_wants("FAILURE", DSN_DELAYED));
	assert_true(dsn_wants("FAILURE,DELAY", DSN_DELAYED));
}

static void
test_ret(void **state)
{
	(void)state;
	assert_true(dsn_ret_full("FULL", DSN_FAILED));
	assert_true(dsn_ret_full("full", DSN_FAILED));
	assert_false(dsn_ret_full("HDRS", DSN_FAILED));
	assert_false(dsn_ret_full(NULL, DSN_FAILED));
	/* RFC 3461 6.2: no failure reported, only the header. */
	assert_false(dsn_ret_full("FULL", DSN_DELAYED));
	assert_false(dsn_ret_full("FULL", DSN_DELIVERED));
	assert_false(dsn_ret_full("FULL", DSN_RELAYED));
	assert_string_equal(dsn_action_word(DSN_RELAYED), "relayed");
	assert_string_equal(dsn_action_word(DSN_DELIVERED), "delivered");
	assert_string_equal(dsn_action_word(DSN_DELAYED), "delayed");
	assert_string_equal(dsn_action_word(DSN_FAILED), "failed");
}

static void
test_xtext(void **state)
{
	char out[600], big[700];

	(void)state;
	assert_int_equal(dsn_xtext_text("abc+2Bdef+3Dx", out, sizeof(out)), 0);
	assert_string_equal(out, "abc+def=x");
	/* Not xtext: shown as stored, control characters replaced. */
	assert_int_equal(dsn_xtext_text("a+zz", out, sizeof(out)), 1);
	assert_string_equal(out, "a+zz");
	assert_int_equal(dsn_xtext_text("a+0Ab", out, sizeof(out)), 1);
	assert_string_equal(out, "a+0Ab");
	assert_int_equal(dsn_xtext_text("tab+09x", out, sizeof(out)), 0);
	assert_string_equal(out, "tab x");
	/* Too long to decode: cut, never overrun. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dsn_xtext_text(big, out, 10);
	assert_true(strlen(out) < 10);

	assert_int_equal(dsn_orcpt_text("rfc822;a+2Bb@example.test", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "rfc822; a+b@example.test");
	assert_int_equal(dsn_orcpt_text("RFC822; x@y", out, sizeof(out)), 0);
	assert_string_equal(out, "RFC822; x@y");
	assert_int_equal(dsn_orcpt_text("no-type", out, sizeof(out)), -1);
	assert_int_equal(dsn_orcpt_text(";x@y", out, sizeof(out)), -1);

	assert_int_equal(dsn_xtext_encode("a+b=c d", out, sizeof(out)), 0);
	assert_string_equal(out, "a+2Bb+3Dc+20d");
	assert_int_equal(dsn_xtext_encode("abcdef", out, 6), -1);
	assert_int_equal(dsn_xtext_encode("abcde", out, 6), 0);
	assert_int_equal(dsn_xtext_encode("a+", out, 4), -1);
}

static void
test_status(void **state)
{
	char st[16];
	const char *rest;

	(void)state;
	dsn_status("550 5.1.1 <u@x>: no such user", DSN_FAILED, st, sizeof(st), &rest);
	assert_string_equal(st, "5.1.1");
	assert_string_equal(rest, "<u@x>: no such user");
	dsn_status("550 4.4.7 message expired", DSN_FAILED, st, sizeof(st), &rest);
	assert_string_equal(st, "4.4.7");
	dsn_status(NULL, DSN_FAILED, st, sizeof(st), &rest);
	assert_string_equal(st, "5.0.0");
	assert_string_equal(rest, "delivery failed");
	dsn_status("451 4.4.1 connect refused", DSN_DELAYED, st, sizeof(st), &rest);
	assert_string_equal(st, "4.4.1");
	/* A code of the wrong class gives the default of the action. */
	dsn_status("250 2.0.0 ok", DSN_DELAYED, st, sizeof(st), &rest);
	assert_string_equal(st, "4.0.0");
	assert_string_equal(rest, "ok");
	dsn_status("451 no code here", DSN_DELAYED, st, sizeof(st), &rest);
	assert_string_equal(st, "4.0.0");
	assert_string_equal(rest, "no code here");
	dsn_status("250 2.0.0 delivered to maildir", DSN_DELIVERED, st,
	    sizeof(st), &rest);
	assert_string_equal(st, "2.0.0");
	assert_string_equal(rest, "delivered to maildir");
	dsn_status("250 2.6.0 250 2.0.0 Ok: queued", DSN_RELAYED, st, sizeof(st),
	    &rest);
	assert_string_equal(st, "2.6.0");
	assert_string_equal(rest, "250 2.0.0 Ok: queued");
	dsn_status("250 2.1234.0 x", DSN_RELAYED, st, sizeof(st), &rest);
	assert_string_equal(st, "2.0.0");
	dsn_status("", DSN_DELIVERED, st, sizeof(st), &rest);
	assert_string_equal(st, "2.0.0");
}

static void
test_duration(void **state)
{
	char out[64];

	(void)state;
	dsn_duration(4 * 3600, out, sizeof(out));
	assert_string_equal(out, "4 hours");
	dsn_duration(86400, out, sizeof(out));
	assert_string_equal(out, "1 day");
	dsn_duration(5 * 86400, out, sizeof(out));
	assert_string_equal(out, "5 days");
	dsn_duration(90, out, sizeof(out));
	assert_string_equal(out, "90 seconds");
	dsn_duration(1, out, sizeof(out));
	assert_string_equal(out, "1 second");
	dsn_duration(120, out, sizeof(out));
	assert_string_equal(out, "2 minutes");
}

static void
test_fields(void **state)
{
	struct strbuf b;
	struct dsn_rcpt r;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	strbuf_init(&b, 65536);
	assert_int_equal(dsn_fields_message(&b, "mx.example.test", "QID1",
	    "env+2Bid", 86400), 0);
	assert_string_equal(b.data, "Reporting-MTA: dns; mx.example.test\n"
	    "X-Postern-Queue-ID: QID1\nOriginal-Envelope-Id: env+id\n"
	    "Arrival-Date: Fri, 02 Jan 1970 00:00:00 +0000\n");
	strbuf_reset(&b);
	assert_int_equal(dsn_fields_message(&b, "mx", NULL, NULL, 0), 0);
	assert_string_equal(b.data, "Reporting-MTA: dns; mx\n");

	strbuf_reset(&b);
	memset(&r, 0, sizeof(r));
	r.final = "bob@remote.test";
	r.orcpt = "rfc822;Bob+2Bx@example.test";
	r.action = DSN_RELAYED;
	r.diag = "250 2.0.0 250 2.0.0 Ok: queued as FAKE";
	r.rmta = "fake.test[127.0.0.1]:2525";
	assert_int_equal(dsn_fields_rcpt(&b, &r), 0);
	assert_string_equal(b.data, "\nFinal-Recipient: rfc822; bob@remote.test\n"
	    "Original-Recipient: rfc822; Bob+x@example.test\n"
	    "Action: relayed\nStatus: 2.0.0\nRemote-MTA: dns; fake.test\n"
	    "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as FAKE\n");

	strbuf_reset(&b);
	memset(&r, 0, sizeof(r));
	r.final = "alice@example.test";
	r.action = DSN_DELAYED;
	r.diag = "451 4.4.1 connect to x: refused";
	r.rmta = "none";
	r.last_attempt = 60;
	r.until = 86400 * 5;
	assert_int_equal(dsn_fields_rcpt(&b, &r), 0);
	assert_string_equal(b.data, "\nFinal-Recipient: rfc822; alice@example.test\n"
	    "Action: delayed\nStatus: 4.4.1\n"
	    "Diagnostic-Code: X-Postern; connect to x: refused\n"
	    "Last-Attempt-Date: Thu, 01 Jan 1970 00:01:00 +0000\n"
	    "Will-Retry-Until: Tue, 06 Jan 1970 00:00:00 +0000\n");

	/* A failure without a diagnostic still says why; CR/LF cannot pass. */
	strbuf_reset(&b);
	memset(&r, 0, sizeof(r));
	r.final = "x\r\ny@z";
	r.action = DSN_FAILED;
	assert_int_equal(dsn_fields_rcpt(&b, &r), 0);
	assert_null(strstr(b.data, "\r"));
	assert_non_null(strstr(b.data, "Status: 5.0.0\n"
	    "Diagnostic-Code: X-Postern; delivery failed\n"));

	/* A full buffer is an error, never a cut report. */
	strbuf_free(&b);
	strbuf_init(&b, 16);
	assert_int_equal(dsn_fields_message(&b, "mx.example.test", "Q", NULL, 0), -1);
	strbuf_free(&b);
}

static void
test_wire_checks(void **state)
{
	(void)state;
	assert_true(dsn_xtext_ok("abc+2Bdef", DSN_ENVID_MAX));
	assert_false(dsn_xtext_ok("", DSN_ENVID_MAX));
	assert_false(dsn_xtext_ok("a b", DSN_ENVID_MAX));	/* another parameter */
	assert_false(dsn_xtext_ok("a=b", DSN_ENVID_MAX));
	assert_false(dsn_xtext_ok("a+2", DSN_ENVID_MAX));
	assert_false(dsn_xtext_ok("abcdef", 5));
	assert_true(dsn_orcpt_ok("rfc822;a@b"));
	assert_true(dsn_orcpt_ok("x-local;a+2Bb"));
	assert_false(dsn_orcpt_ok("rfc822 ;a@b"));
	assert_false(dsn_orcpt_ok(";a@b"));
	assert_false(dsn_orcpt_ok("rfc822;"));
	assert_false(dsn_orcpt_ok("rfc822;a@b NOTIFY=NEVER"));
	assert_true(dsn_notify_ok("SUCCESS,FAILURE"));
	assert_true(dsn_notify_ok("NEVER"));
	assert_false(dsn_notify_ok("NEVER,DELAY"));
	assert_false(dsn_notify_ok("SUCCESS ORCPT=x"));
	assert_false(dsn_notify_ok(NULL));
	assert_true(dsn_ret_ok("FULL"));
	assert_true(dsn_ret_ok("hdrs"));
	assert_false(dsn_ret_ok("HDRS ENVID=x"));
	assert_false(dsn_ret_ok(NULL));
}

/* The "delayed" record: written once, read back, refused when doubled. */
static void
test_qfile_delayed(void **state)
{
	char dir[] = "/tmp/postern-test-dsn.XXXXXX", cwd[4096], path[64], buf[4096];
	struct qfile_writer w;
	struct qfile q;
	int fd;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("tmp", 0700), 0);
	assert_int_equal(mkdir("incoming", 0700), 0);
	assert_int_equal(qfile_create(&w), 0);
	assert_int_equal(qfile_put_sender(&w, "s@example.test"), 0);
	assert_int_equal(qfile_put_rcpt(&w, "a@example.test", NULL, "DELAY"), 0);
	assert_int_equal(qfile_begin_data(&w), 0);
	assert_int_equal(qfile_write(&w, "Subject: x\n\nbody\n", 17), 0);
	assert_int_equal(qfile_commit(&w), 0);
	str_fmt(path, sizeof(path), "incoming/%s", w.qid);

	assert_int_equal(qfile_open(&q, path, 1), 0);
	assert_int_equal(q.delay_notice, 0);
	assert_int_equal(qfile_mark_delay_notice(&q, 0), -1);
	assert_int_equal(qfile_mark_delay_notice(&q, 1700000000), 0);
	assert_int_equal(qfile_mark_delay_notice(&q, 1700000001), -1);	/* once */
	assert_int_equal(qfile_add_rcpt(&q, 0, "b@example.test"), 1);
	assert_int_equal(qfile_mark(&q, 0, QRCPT_DELIVERED_DSN), 0);
	assert_int_equal(qfile_sync(&q), 0);
	qfile_close(&q);

	assert_int_equal(qfile_open(&q, path, 1), 0);
	assert_int_equal(q.delay_notice, 1700000000);
	assert_int_equal(q.nrcpt, 2);
	assert_int_equal(q.rcpt[0].status, QRCPT_DELIVERED_DSN);
	assert_int_equal(q.rcpt[1].parent, 0);
	assert_int_equal(qfile_mark(&q, 0, QRCPT_RELAYED_DSN), 0);
	qfile_close(&q);

	/* A second record, or a bad number, makes the file malformed. */
	fd = open(path, O_RDWR | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "delayed 5\n", 10), 10);
	close(fd);
	assert_int_equal(qfile_open(&q, path, 0), -1);
	fd = open(path, O_RDWR);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 10);
	assert_int_equal(ftruncate(fd, n - 10), 0);
	assert_int_equal(pwrite(fd, "delayed -5\n", 11, n - 10), 11);
	close(fd);
	assert_int_equal(qfile_open(&q, path, 0), -1);

	assert_int_equal(chdir(cwd), 0);
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_ret),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_wire_checks),
		cmocka_unit_test(test_qfile_delayed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
