/*
 * Unit tests of authd's failure block per network (auth/auth_cmd.c,
 * issue 13): auth_net_key() cuts a client address to
 * auth_block_prefix_ipv4 / auth_block_prefix_ipv6 bits (IPv4-mapped IPv6
 * counts as IPv4, non-addresses are their own key, prefix lengths are
 * clamped); the configuration refuses lengths past 32 and 128; and
 * failed logins from many addresses of one IPv6 /64 block that /64 (and
 * only it), against a sasldb in a temporary directory.
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
#include "userdb.h"
#include "util.h"

/* alice@example.test with the password "wrong", then "s3cret" */
#define PLAIN_WRONG	"plain YWxpY2VAZXhhbXBsZS50ZXN0 d3Jvbmc="
#define PLAIN_RIGHT	"plain YWxpY2VAZXhhbXBsZS50ZXN0 czNjcmV0"

static struct conf conf;
static char dir[64];
static int have_db;

/* The key of ip with these prefix lengths (a static buffer; "" on error). */
static const char *
key(const char *ip, unsigned v4, unsigned v6)
{
	static char out[64];

	if (auth_net_key(ip, v4, v6, out, sizeof(out)) == -1)
		return "";
	return out;
}

static void
test_ipv4(void **state)
{
	(void)state;
	assert_string_equal(key("192.0.2.77", 32, 64), "192.0.2.77/32");
	assert_string_equal(key("192.0.2.77", 24, 64), "192.0.2.0/24");
	assert_string_equal(key("192.0.2.77", 20, 64), "192.0.0.0/20");
	assert_string_equal(key("203.0.113.200", 25, 64), "203.0.113.128/25");
	assert_string_equal(key("203.0.113.200", 31, 64), "203.0.113.200/31");
	assert_string_equal(key("203.0.113.201", 31, 64), "203.0.113.200/31");
	assert_string_equal(key("10.255.255.255", 8, 64), "10.0.0.0/8");
	assert_string_equal(key("10.255.255.255", 1, 64), "0.0.0.0/1");
	assert_string_equal(key("200.1.2.3", 1, 64), "128.0.0.0/1");
	assert_string_equal(key("192.0.2.77", 0, 64), "0.0.0.0/0");
	/* past 32: the whole address */
	assert_string_equal(key("192.0.2.77", 33, 64), "192.0.2.77/32");
	assert_string_equal(key("192.0.2.77", 4000000000u, 64), "192.0.2.77/32");
	/* the same network for every address inside it, another outside */
	assert_string_equal(key("127.0.0.1", 24, 64), key("127.0.0.254", 24, 64));
	assert_string_not_equal(key("127.0.0.1", 24, 64), "127.0.1.0/24");
}

static void
test_ipv6(void **state)
{
	char a[64];

	(void)state;
	assert_string_equal(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 32, 64),
	    "2001:db8:1:2::/64");
	/* a client hopping addresses inside its /64 is one client */
	str_copy(a, key("2001:db8:1:2::1", 32, 64), sizeof(a));
	assert_string_equal(a, key("2001:db8:1:2:ffff:ffff:ffff:ffff", 32, 64));
	assert_string_equal(a, key("2001:DB8:1:2:0:0:0:99", 32, 64));
	assert_string_not_equal(a, key("2001:db8:1:3::1", 32, 64));
	assert_string_equal(key("2001:db8:1:2ff::7", 32, 56), "2001:db8:1:200::/56");
	assert_string_equal(key("2001:db8:1:2ff::7", 32, 48), "2001:db8:1::/48");
	assert_string_equal(key("2001:db8:1:2ff::7", 32, 63), "2001:db8:1:2fe::/63");
	assert_string_equal(key("2001:db8::7", 32, 128), "2001:db8::7/128");
	assert_string_equal(key("2001:db8::7", 32, 129), "2001:db8::7/128");
	assert_string_equal(key("2001:db8::7", 32, 0), "::/0");
	assert_string_equal(key("::1", 32, 64), "::/64");
	assert_string_equal(key("fe80::1:2:3:4", 32, 64), "fe80::/64");
	assert_string_equal(key("2001:db8:1:2:3:4:5:6", 32, 127),
	    "2001:db8:1:2:3:4:5:6/127");
	assert_string_equal(key("2001:db8:1:2:3:4:5:7", 32, 127),
	    "2001:db8:1:2:3:4:5:6/127");
	/* IPv4-mapped: the IPv4 prefix applies */
	assert_string_equal(key("::ffff:192.0.2.9", 24, 64), "192.0.2.0/24");
	assert_string_equal(key("::ffff:192.0.2.9", 32, 64), "192.0.2.9/32");
}

static void
test_not_addresses(void **state)
{
	char small[12];

	(void)state;
	assert_string_equal(key("unknown", 24, 64), "unknown");
	assert_string_equal(key("local", 24, 64), "local");
	assert_string_equal(key("fe80::1%eth0", 24, 64), "fe80::1%eth0");
	assert_string_equal(key("192.0.2.256", 24, 64), "192.0.2.256");
	assert_string_equal(key("", 24, 64), "");
	/* too small for the key: -1, never a truncated key */
	assert_int_equal(auth_net_key("192.0.2.77", 24, 64, small, sizeof(small)), -1);
	assert_int_equal(auth_net_key("2001:db8:1:2::1", 24, 64, small,
	    sizeof(small)), -1);
	assert_int_equal(auth_net_key("unknown-host-name", 24, 64, small,
	    sizeof(small)), -1);
}

/* Load a configuration with the extra text; 0 or -1. */
static int
load(const char *extra, struct conf *c)
{
	char path[128], err[1024];
	FILE *fp;

	str_fmt(path, sizeof(path), "%s/postern.conf", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp, "hostname = mx.example.test\nstate_dir = %s\nsasl_db = %s/sasldb\n%s",
	    dir, dir, extra);
	fclose(fp);
	return conf_load(c, path, err, sizeof(err));
}

static void
test_conf_keys(void **state)
{
	struct conf c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(load("", &c), 0);
	assert_int_equal(c.auth_block_prefix_ipv4, 32);
	assert_int_equal(c.auth_block_prefix_ipv6, 64);
	assert_string_equal(c.auth_user, "postern-auth");
	assert_int_equal(load("auth_block_prefix_ipv4 = 24\nauth_block_prefix_ipv6 = 48\n",
	    &c), 0);
	assert_int_equal(c.auth_block_prefix_ipv4, 24);
	assert_int_equal(c.auth_block_prefix_ipv6, 48);
	assert_int_equal(load("auth_block_prefix_ipv4 = 33\n", &c), -1);
	assert_int_equal(load("auth_block_prefix_ipv6 = 129\n", &c), -1);
	assert_int_equal(load("auth_block_prefix_ipv6 = 128\nauth_block_prefix_ipv4 = 0\n",
	    &c), 0);
}

/* One login attempt from ip on a new connection: authd's answer. */
static const char *
attempt(const char *ip, const char *request)
{
	static char ans[256];
	struct auth_conn c;
	char line[256];

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	strbuf_init(&c.out, 65536);
	str_fmt(line, sizeof(line), "client imap %s", ip);
	auth_cmd_line(&c, line);
	str_copy(line, request, sizeof(line));
	auth_cmd_line(&c, line);
	str_copy(ans, c.out.data ? c.out.data : "", sizeof(ans));
	ans[strcspn(ans, "\n")] = '\0';
	if (strncmp(ans, "ok ", 3) == 0)
		str_copy(ans, "ok", sizeof(ans));
	auth_cmd_conn_done(&c);
	strbuf_free(&c.out);
	return ans;
}

static void
test_block_per_64(void **state)
{
	char ip[64];
	int i;

	(void)state;
	assert_true(have_db);	/* a sasldb is needed: never skip silently */
	/* test_conf_keys loaded others over it: the defaults again */
	assert_int_equal(load("", &conf), 0);
	assert_string_equal(attempt("2001:db8:7:7::1", PLAIN_RIGHT), "ok");
	/* ten failures, each from another address of 2001:db8:7:7::/64 */
	for (i = 0; i < 10; i++) {
		str_fmt(ip, sizeof(ip), "2001:db8:7:7:%x::%x", i * 4099, i + 2);
		assert_string_equal(attempt(ip, PLAIN_WRONG), "fail auth");
	}
	/* the /64 is blocked, for an address it never used and the right password */
	assert_string_equal(attempt("2001:db8:7:7:abcd::1", PLAIN_RIGHT), "fail limit");
	assert_string_equal(attempt("2001:db8:7:7::1", PLAIN_RIGHT), "fail limit");
	assert_string_equal(attempt("2001:db8:7:7::1", "start PLAIN"), "fail limit");
	/* the next /64 and IPv4 clients are not */
	assert_string_equal(attempt("2001:db8:7:8::1", PLAIN_RIGHT), "ok");
	assert_string_equal(attempt("192.0.2.50", PLAIN_RIGHT), "ok");
	/* IPv4 is counted per address here (prefix 32) */
	for (i = 0; i < 10; i++) {
		str_fmt(ip, sizeof(ip), "198.51.100.%d", i + 1);
		assert_string_equal(attempt(ip, PLAIN_WRONG), "fail auth");
	}
	assert_string_equal(attempt("198.51.100.11", PLAIN_RIGHT), "ok");
	for (i = 0; i < 9; i++)
		assert_string_equal(attempt("198.51.100.1", PLAIN_WRONG), "fail auth");
	assert_string_equal(attempt("198.51.100.1", PLAIN_RIGHT), "fail limit");
	assert_string_equal(attempt("198.51.100.2", PLAIN_RIGHT), "ok");
}

static int
setup(void **state)
{
	char err[1024];

	(void)state;
	str_copy(dir, "/tmp/postern-test-authprefix.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	if (load("", &conf) == -1)
		fail_msg("configuration");
	auth_cmd_init(&conf);
	have_db = userdb_init(&conf) == 0 &&
	    userdb_set("alice@example.test", "s3cret", 1, err, sizeof(err)) == 0;
	return 0;
}

static int
teardown(void **state)
{
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(1);
	}
	waitpid(pid, NULL, 0);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_not_addresses),
		cmocka_unit_test(test_conf_keys),
		cmocka_unit_test(test_block_per_64),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
