/*
 * Unit tests of the postern.conf parser (common/conf.c): the parameter
 * table, defaults, $name references, typed values and error messages
 * that name the key and the line.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "util.h"

static char path[] = "/tmp/postern-test-conf.XXXXXX";

/* Write text to a fresh temporary file and load it. */
static int
load(struct conf *c, const char *text, char *err, size_t errlen)
{
	int fd;

	str_copy(path, "/tmp/postern-test-conf.XXXXXX", sizeof(path));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	int r = conf_load(c, path, err, errlen);
	unlink(path);
	return r;
}

static void
test_defaults(void **state)
{
	struct conf c;
	char err[1024];

	(void)state;
	assert_int_equal(load(&c, "# nothing\n\n", err, sizeof(err)), 0);
	assert_int_equal(c.message_size_limit, 10240000);
	assert_int_equal(c.smtpd_recipient_limit, 1000);
	assert_int_equal(c.queue_retry_min, 300);
	assert_int_equal(c.queue_retry_max, 4000);
	assert_int_equal(c.queue_lifetime, 5 * 86400);
	assert_int_equal(c.listen_backlog, 4096);
	assert_string_equal(c.mail_owner, "postern");
	assert_string_equal(c.vmail_user, "vmail");
	assert_false(conf_is_set("hostname"));
	/* local_domains defaults to $hostname. */
	assert_string_equal(c.local_domains, c.hostname);
}

static void
test_values_and_refs(void **state)
{
	struct conf c;
	char err[1024];

	(void)state;
	assert_int_equal(load(&c,
	    "hostname = mx.example.test\n"
	    "local_domains = example.test, ${hostname}\n"
	    "state_dir = /srv/postern\n"
	    "message_size_limit = 10m\n"
	    "queue_lifetime = 2d\n"
	    "queue_retry_min=30s\n"
	    "smtp_listen = 127.0.0.1:2525, [::1]:2525\n",
	    err, sizeof(err)), 0);
	assert_string_equal(c.hostname, "mx.example.test");
	assert_string_equal(c.local_domains, "example.test, mx.example.test");
	assert_string_equal(c.queue_dir, "/srv/postern/queue");
	assert_int_equal(c.message_size_limit, 10 * 1024 * 1024);
	assert_int_equal(c.queue_lifetime, 2 * 86400);
	assert_int_equal(c.queue_retry_min, 30);
	assert_true(conf_is_set("hostname"));
	assert_string_equal(conf_value("local_domains"), "example.test, mx.example.test");
	assert_true(conf_is_local_domain(&c, "EXAMPLE.test"));
	assert_true(conf_is_local_domain(&c, "mx.example.test"));
	assert_false(conf_is_local_domain(&c, "example.tes"));
	assert_false(conf_is_local_domain(&c, "other.test"));
}

static void
test_errors_name_key_and_line(void **state)
{
	struct conf c;
	char err[2048];

	(void)state;
	assert_int_equal(load(&c, "hostname = a\nbogus_key = 1\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown key 'bogus_key'"));

	assert_int_equal(load(&c, "\n\nmessage_size_limit = lots\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: message_size_limit:"));

	assert_int_equal(load(&c, "smtp_listen = 127.0.0.1\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "smtp_listen"));

	assert_int_equal(load(&c, "smtp_listen = 127.0.0.1:99999\n", err, sizeof(err)), -1);
	assert_int_equal(load(&c, "state_dir = relative/path\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(load(&c, "no equals sign here\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: expected"));
	assert_int_equal(load(&c, "hostname = $nosuch\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuch"));
	assert_int_equal(load(&c, "queue_retry_min = 1h\nqueue_retry_max = 10m\n",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "queue_retry_min"));
	assert_int_equal(load(&c, "tls_cert = /x.pem\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_key"));
	/* Every problem is reported, not only the first. */
	assert_int_equal(load(&c, "a = 1\nb = 2\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'a'"));
	assert_non_null(strstr(err, "'b'"));
}

static void
test_ref_loop_ends(void **state)
{
	struct conf c;
	char err[2048];

	(void)state;
	assert_int_equal(load(&c, "hostname = $local_domains\nlocal_domains = $hostname\n",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nest too deep"));
}

static void
test_missing_explicit_file(void **state)
{
	struct conf c;
	char err[1024];

	(void)state;
	assert_int_equal(conf_load(&c, "/nonexistent/postern.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/postern.conf"));
}

static void
test_table_is_sane(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(conf_nparams >= 30);
	for (i = 0; i < conf_nparams; i++) {
		assert_non_null(conf_params[i].doc);
		for (j = i + 1; j < conf_nparams; j++)
			assert_string_not_equal(conf_params[i].name, conf_params[j].name);
	}
}

static void
test_parsers(void **state)
{
	long long d;
	unsigned long long u;
	int b;

	(void)state;
	assert_int_equal(parse_duration("90", &d), 0);
	assert_int_equal(d, 90);
	assert_int_equal(parse_duration("1w", &d), 0);
	assert_int_equal(d, 604800);
	assert_int_equal(parse_duration("1x", &d), -1);
	assert_int_equal(parse_duration("", &d), -1);
	assert_int_equal(parse_duration("-5s", &d), -1);
	assert_int_equal(parse_msec("8ms", &d), 0);
	assert_int_equal(d, 8);
	assert_int_equal(parse_msec("250", &d), 0);
	assert_int_equal(d, 250);
	assert_int_equal(parse_msec("2S", &d), 0);
	assert_int_equal(d, 2000);
	assert_int_equal(parse_msec("0", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(parse_msec("ms", &d), -1);
	assert_int_equal(parse_msec("5m", &d), -1);	/* minutes are no unit here */
	assert_int_equal(parse_msec("5 ms", &d), -1);
	assert_int_equal(parse_msec("", &d), -1);
	assert_int_equal(parse_msec("-8ms", &d), -1);
	assert_int_equal(parse_msec("99999999999999999999ms", &d), -1);
	assert_int_equal(parse_size("1g", &u), 0);
	assert_int_equal(u, 1024ULL * 1024 * 1024);
	assert_int_equal(parse_size("99999999999999999999", &u), -1);
	assert_int_equal(parse_size("18014398509481984k", &u), -1);	/* overflow */
	assert_int_equal(parse_bool("Yes", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(parse_bool("maybe", &b), -1);
	assert_int_equal(parse_ullong("12a", 0, 100, &u), -1);
	assert_int_equal(parse_ullong("101", 0, 100, &u), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_refs),
		cmocka_unit_test(test_errors_name_key_and_line),
		cmocka_unit_test(test_ref_loop_ends),
		cmocka_unit_test(test_missing_explicit_file),
		cmocka_unit_test(test_table_is_sane),
		cmocka_unit_test(test_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
