/*
 * Unit tests of queue/smtp_route.c, the outbound smtp client's routing:
 * the map files (transport_map, tls_policy_map, the relayhost
 * credentials with their mode check), /etc/hosts as the chroot copy
 * reads it, the next-hop syntax "[host]:port" and the routing that needs
 * no DNS. No DNS query is made: the resolver is never initialised
 * (res_ok is 0). Split out of test_smtp_client.c.
 */
#include "config.h"

#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

#include "conf.h"
#include "smtp.h"
#include "strbuf.h"
#include "util.h"

static char val[64];

static int
lk(const char *map, const char *key)
{
	memset(val, 0, sizeof(val));
	return smtp_map_lookup(map, key, val, sizeof(val));
}

static void
test_map_lookup(void **state)
{
	const char *m = "# transport_map\n\n  # indented comment\n"
	    "example.test smtp:[mx.example.test]:2525\n"
	    "\tTabbed.Test\t [10.0.0.1]  \t\n"
	    "crlf.test relay.test\r\n"
	    "example.test second\n"
	    "novalue.test\n"
	    "last.test lastvalue";

	(void)state;
	assert_int_equal(lk(m, "example.test"), 0);
	assert_string_equal(val, "smtp:[mx.example.test]:2525");	/* first wins */
	assert_int_equal(lk(m, "EXAMPLE.TEST"), 0);
	assert_int_equal(lk(m, "tabbed.test"), 0);
	assert_string_equal(val, "[10.0.0.1]");
	assert_int_equal(lk(m, "crlf.test"), 0);
	assert_string_equal(val, "relay.test");
	assert_int_equal(lk(m, "last.test"), 0);
	assert_string_equal(val, "lastvalue");
	assert_int_equal(lk(m, "novalue.test"), 0);
	assert_string_equal(val, "");
	/* no partial, prefix or comment matches */
	assert_int_equal(lk(m, "example.tes"), -1);
	assert_int_equal(lk(m, "example.test2"), -1);
	assert_int_equal(lk(m, "xexample.test"), -1);
	assert_int_equal(lk(m, "#"), -1);
	assert_int_equal(lk(m, "transport_map"), -1);
	assert_int_equal(lk(m, ""), -1);
	assert_int_equal(lk(NULL, "example.test"), -1);
	assert_int_equal(lk("", "example.test"), -1);
	assert_int_equal(lk("\n\n\n", "example.test"), -1);
}

static void
test_map_lookup_limit(void **state)
{
	char m[200];

	(void)state;
	/* a value of sizeof(val) - 1 bytes fits; one more does not (-2) */
	memset(val, 0, sizeof(val));
	str_fmt(m, sizeof(m), "k %0*d\n", (int)sizeof(val) - 1, 7);
	assert_int_equal(lk(m, "k"), 0);
	assert_int_equal(strlen(val), sizeof(val) - 1);
	str_fmt(m, sizeof(m), "k %0*d\n", (int)sizeof(val), 7);
	assert_int_equal(lk(m, "k"), -2);
	/* trailing blanks do not count */
	str_fmt(m, sizeof(m), "k %0*d \t\r\n", (int)sizeof(val) - 1, 7);
	assert_int_equal(lk(m, "k"), 0);
}

static struct conf conf;
static struct smtp_ctx ctx;

static int
setup(void **state)
{
	(void)state;
	memset(&conf, 0, sizeof(conf));
	memset(&ctx, 0, sizeof(ctx));
	conf.relayhost = (char *)"";
	ctx.conf = &conf;
	return 0;
}

static void
test_tls_policy(void **state)
{
	(void)state;
	assert_int_equal(smtp_tls_policy(&ctx, "a.test"), SMTP_TLS_MAY);
	ctx.tlspolicy = (char *)"n.test none\nm.test MAY\ne.test encrypt\n"
	    "v.test Verify\ns.test secure\nu.test dane\nx.test encrypt ciphers=high\n"
	    "l.test encrypt protocols=!SSLv2,!SSLv3,!TLSv1,!TLSv1.1\nb.test\n";
	assert_int_equal(smtp_tls_policy(&ctx, "N.test"), SMTP_TLS_NONE);
	assert_int_equal(smtp_tls_policy(&ctx, "m.test"), SMTP_TLS_MAY);
	assert_int_equal(smtp_tls_policy(&ctx, "e.test"), SMTP_TLS_ENCRYPT);
	assert_int_equal(smtp_tls_policy(&ctx, "v.test"), SMTP_TLS_VERIFY);
	assert_int_equal(smtp_tls_policy(&ctx, "s.test"), SMTP_TLS_VERIFY);
	assert_int_equal(smtp_tls_policy(&ctx, "other.test"), SMTP_TLS_MAY);
	/* an unknown level is the strictest, never weaker */
	assert_int_equal(smtp_tls_policy(&ctx, "u.test"), SMTP_TLS_VERIFY);
	assert_int_equal(smtp_tls_policy(&ctx, "x.test"), SMTP_TLS_VERIFY);
	assert_int_equal(smtp_tls_policy(&ctx, "b.test"), SMTP_TLS_VERIFY);
	/* a value too long for the buffer (was: MAY, weaker than written) */
	assert_int_equal(smtp_tls_policy(&ctx, "l.test"), SMTP_TLS_VERIFY);
}

static int
nh(const char *s, char *host, size_t hlen, unsigned *port, int *mx)
{
	*port = 0;
	*mx = -1;
	host[0] = '\0';
	return smtp_parse_nexthop(s, host, hlen, port, mx);
}

static void
test_nexthop_good(void **state)
{
	char h[SMTP_HOST_MAX];
	unsigned port;
	int mx;

	(void)state;
	assert_int_equal(nh("[mx.example.test]:2525", h, sizeof(h), &port, &mx), 0);
	assert_string_equal(h, "mx.example.test");
	assert_int_equal(port, 2525);
	assert_int_equal(mx, 0);
	assert_int_equal(nh("smtp:[127.0.0.1]:10025", h, sizeof(h), &port, &mx), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(port, 10025);
	assert_int_equal(nh("SMTP:[IPv6:::1]", h, sizeof(h), &port, &mx), 0);
	assert_string_equal(h, "IPv6:::1");
	assert_int_equal(port, 25);
	assert_int_equal(mx, 0);
	assert_int_equal(nh("relay.example.test", h, sizeof(h), &port, &mx), 0);
	assert_string_equal(h, "relay.example.test");
	assert_int_equal(port, 25);
	assert_int_equal(mx, 1);
	assert_int_equal(nh("relay.example.test:587", h, sizeof(h), &port, &mx), 0);
	assert_int_equal(port, 587);
	assert_int_equal(mx, 1);
	assert_int_equal(nh("[h]:1", h, sizeof(h), &port, &mx), 0);
	assert_int_equal(port, 1);
	assert_int_equal(nh("[h]:65535", h, sizeof(h), &port, &mx), 0);
	assert_int_equal(port, 65535);
}

static void
test_nexthop_bad(void **state)
{
	static const char *bad[] = {
		"", "smtp:", "[]", "[]:25", "[h", "[h]x", "[h]:", "[h]:0", "[h]:65536",
		"[h]:-1", "[h]:+25", "[h]: 25", "[h]:25 ", "[h]:25x", "[h]:0x19",
		"[h]:99999999999999999999999", "h:", ":25", "h:0", "h:65536", "h:x",
		"dead::beef", "[h]]:25", "[h]:25:25",
	};
	char h[SMTP_HOST_MAX];
	unsigned port;
	size_t i;
	int mx;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (nh(bad[i], h, sizeof(h), &port, &mx) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void
test_nexthop_limit(void **state)
{
	char h[8], in[32];
	unsigned port;
	int mx;

	(void)state;
	/* a host of hlen - 1 bytes fits, hlen does not */
	assert_int_equal(nh("[1234567]:25", h, sizeof(h), &port, &mx), 0);
	assert_string_equal(h, "1234567");
	assert_int_equal(nh("[12345678]:25", h, sizeof(h), &port, &mx), -1);
	assert_int_equal(nh("1234567:25", h, sizeof(h), &port, &mx), 0);
	assert_int_equal(nh("12345678:25", h, sizeof(h), &port, &mx), -1);
	assert_int_equal(nh("12345678", h, sizeof(h), &port, &mx), -1);
	str_fmt(in, sizeof(in), "[%s]", "a\r\nb");
	/* the parser keeps control characters; the resolver refuses them */
	assert_int_equal(nh(in, h, sizeof(h), &port, &mx), 0);
}

static void
test_route(void **state)
{
	struct smtp_host hosts[SMTP_MAX_HOSTS];
	char why[256], big[700];
	size_t n;
	int relay, c;

	(void)state;
	ctx.transport = (char *)"t.test [10.0.0.5]:2525\nbad.test [x\n";
	assert_int_equal(smtp_route(&ctx, "T.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hosts[0].name, "10.0.0.5");
	assert_int_equal(hosts[0].port, 2525);
	assert_int_equal(relay, 0);
	assert_int_equal(smtp_route(&ctx, "bad.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
	assert_string_equal(why, "4.3.5 bad transport_map entry");
	/* a transport_map value too long (was: ignored, mail went by MX) */
	memset(big, 'a', sizeof(big));
	memcpy(big, "long.test [", 11);
	memcpy(big + sizeof(big) - 5, "]:25", 5);
	ctx.transport = big;
	assert_int_equal(smtp_route(&ctx, "long.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
	/* relayhost: used when transport_map has nothing */
	conf.relayhost = (char *)"[relay.example.test]:587";
	assert_int_equal(smtp_route(&ctx, "other.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), 0);
	assert_int_equal(relay, 1);
	assert_string_equal(hosts[0].name, "relay.example.test");
	assert_int_equal(hosts[0].port, 587);
	conf.relayhost = (char *)"[relay.example.test]:0";
	assert_int_equal(smtp_route(&ctx, "other.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
	assert_string_equal(why, "4.3.5 bad relayhost setting");
	/* MX needed but no resolver: a temporary failure, no query made */
	conf.relayhost = (char *)"";
	assert_int_equal(smtp_route(&ctx, "other.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
}

static const char hosts_text[] =
    "# /etc/hosts of a test\n"
    "127.0.0.1\tlocalhost\n"
    "::1 localhost ip6-localhost # v6 too\n"
    "192.0.2.7   Sink.Postern.TEST.  sink alias.test\n"
    "192.0.2.7 sink.postern.test\n"			/* the same once */
    "#192.0.2.99 sink.postern.test\n"			/* commented out */
    "192.0.2.8 other.test # sink.postern.test\n"	/* a comment */
    "fe80::1%eth0 scoped.test\n"			/* not an address here */
    "IPv6:::2 literal.test\n"				/* not hosts(5) syntax */
    "nonsense sink.postern.test\n"
    "10.1.2.3 last.test";					/* no final LF */

static void
test_hosts_lookup(void **state)
{
	struct smtp_addr out[4];
	struct smtp_host h;
	static const char *none[] = { "scoped.test", "literal.test", "nonsense",
	    "ip6-localhos", "localhost.test", "", "#192.0.2.99" };
	char big[300];
	size_t n = 0, i;

	(void)state;
	memset(&h, 0, sizeof(h));
	str_copy(h.name, "sink.postern.test", sizeof(h.name));
	h.port = 2525;
	assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].ip, "192.0.2.7");
	assert_string_equal(out[0].host, "sink.postern.test");
	assert_int_equal(out[0].port, 2525);
	assert_int_equal(out[0].sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&out[0].sa)->sin_port), 2525);
	/* aliases, case, a trailing dot, v4 and v6 in file order */
	str_copy(h.name, "LOCALHOST.", sizeof(h.name));
	assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 2);
	assert_string_equal(out[1].ip, "127.0.0.1");
	assert_string_equal(out[2].ip, "::1");
	assert_int_equal(out[2].sa.ss_family, AF_INET6);
	str_copy(h.name, "alias.test", sizeof(h.name));
	assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 1);
	assert_int_equal(n, 4);
	/* full: nothing more is written */
	str_copy(h.name, "last.test", sizeof(h.name));
	assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 0);
	n = 0;
	assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 1);
	assert_string_equal(out[0].ip, "10.1.2.3");
	/* not found, not addresses, no file */
	n = 0;
	for (i = 0; i < NELEM(none); i++) {
		str_copy(h.name, none[i], sizeof(h.name));
		assert_int_equal(smtp_hosts_lookup(hosts_text, &h, out, 4, &n), 0);
	}
	str_copy(h.name, "sink", sizeof(h.name));
	assert_int_equal(smtp_hosts_lookup(NULL, &h, out, 4, &n), 0);
	assert_int_equal(smtp_hosts_lookup("", &h, out, 4, &n), 0);
	assert_int_equal(n, 0);
	/* a word longer than any host name matches nothing, even its prefix */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "1.2.3.4 ", 8);
	str_copy(h.name, "aaaa", sizeof(h.name));
	assert_int_equal(smtp_hosts_lookup(big, &h, out, 4, &n), 0);
}

/* A name /etc/hosts knows resolves with no resolver at all (no query). */
static void
test_hosts_resolve(void **state)
{
	struct smtp_host hosts[SMTP_MAX_HOSTS];
	struct smtp_addr out[4];
	char why[256];
	size_t n = 0;
	int relay, c;

	(void)state;
	ctx.hosts = (char *)hosts_text;
	ctx.res_ok = 0;
	str_copy(hosts[0].name, "sink.postern.test", sizeof(hosts[0].name));
	hosts[0].port = 25;
	assert_int_equal(smtp_resolve(&ctx, &hosts[0], out, 4, &n, &c, why,
	    sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].ip, "192.0.2.7");
	str_copy(hosts[0].name, "unknown.test", sizeof(hosts[0].name));
	assert_int_equal(smtp_resolve(&ctx, &hosts[0], out, 4, &n, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
	/* transport_map with a bracketed name: no MX lookup */
	ctx.transport = (char *)"h.test smtp:[sink.postern.test]:2525\n"
	    "m.test smtp:sink.postern.test:2526\nu.test smtp:unknown.test\n";
	assert_int_equal(smtp_route(&ctx, "h.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hosts[0].name, "sink.postern.test");
	/* without brackets the MX lookup fails; /etc/hosts knows the name:
	 * it is its own host (implicit MX), not a bounce */
	assert_int_equal(smtp_route(&ctx, "m.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hosts[0].name, "sink.postern.test");
	assert_int_equal(hosts[0].port, 2526);
	assert_int_equal(smtp_route(&ctx, "u.test", hosts, &n, &relay, &c, why,
	    sizeof(why)), -1);
	assert_int_equal(c, 451);
}

static char dir[64];
static char path[128];

static char *
load(const char *text, mode_t mode, int secret, int *bad)
{
	char err[256];
	int fd;

	str_fmt(path, sizeof(path), "%s/map", dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	err[0] = '\0';
	return smtp_map_load(path, secret, bad, err, sizeof(err));
}

static int
setup_dir(void **state)
{
	setup(state);
	str_copy(dir, "/tmp/test_smtp_client.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown_dir(void **state)
{
	char p[160];

	(void)state;
	str_fmt(p, sizeof(p), "%s/map", dir);
	unlink(p);
	str_fmt(p, sizeof(p), "%s/link", dir);
	unlink(p);
	str_fmt(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void
test_map_load(void **state)
{
	char err[256], p[160], *m;
	int bad, fd;

	(void)state;
	m = load("k v\n", 0644, 0, &bad);
	assert_non_null(m);
	assert_string_equal(m, "k v\n");
	assert_int_equal(bad, 0);
	free(m);
	assert_null(smtp_map_load(NULL, 0, &bad, err, sizeof(err)));
	assert_int_equal(bad, 0);
	assert_null(smtp_map_load("", 1, &bad, err, sizeof(err)));
	assert_int_equal(bad, 0);
	/* a missing file is no map, not an error */
	str_fmt(p, sizeof(p), "%s/none", dir);
	assert_null(smtp_map_load(p, 1, &bad, err, sizeof(err)));
	assert_int_equal(bad, 0);
	/* a directory, a symbolic link */
	str_fmt(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_null(smtp_map_load(p, 0, &bad, err, sizeof(err)));
	assert_int_equal(bad, 1);
	str_fmt(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("map", p), 0);
	assert_null(smtp_map_load(p, 0, &bad, err, sizeof(err)));
	assert_int_equal(bad, 1);
	/* 4 MB is the limit: at it loads, one past is refused */
	fd = open(path, O_WRONLY);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024), 0);
	close(fd);
	m = smtp_map_load(path, 0, &bad, err, sizeof(err));
	assert_non_null(m);
	free(m);
	fd = open(path, O_WRONLY);
	assert_int_equal(ftruncate(fd, 4 * 1024 * 1024 + 1), 0);
	close(fd);
	assert_null(smtp_map_load(path, 0, &bad, err, sizeof(err)));
	assert_int_equal(bad, 1);
}

/* /etc/hosts may be a symbolic link: followed (unlike the admin's maps). */
static void
test_hosts_load(void **state)
{
	char p[160], *m;
	int bad;

	(void)state;
	m = load("127.0.0.1 localhost\n", 0644, 0, &bad);
	free(m);
	str_fmt(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("map", p), 0);
	m = smtp_hosts_load(p);
	assert_non_null(m);
	assert_string_equal(m, "127.0.0.1 localhost\n");
	free(m);
	str_fmt(p, sizeof(p), "%s/none", dir);
	assert_null(smtp_hosts_load(p));
	str_fmt(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_null(smtp_hosts_load(p));
}

static void
test_creds_mode(void **state)
{
	static const mode_t loose[] = { 0640, 0604, 0660, 0644, 0601, 0610, 0700 | 04 };
	char *m;
	size_t i;
	int bad;

	(void)state;
	m = load("[relay.test]:587 u:p\n", 0600, 1, &bad);
	assert_non_null(m);
	assert_int_equal(bad, 0);
	free(m);
	m = load("[relay.test]:587 u:p\n", 0400, 1, &bad);
	assert_non_null(m);
	free(m);
	for (i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		assert_null(load("[relay.test]:587 u:p\n", loose[i], 1, &bad));
		assert_int_equal(bad, 1);
	}
	/* the same modes are fine for a map that is not secret */
	m = load("k v\n", 0644, 0, &bad);
	assert_non_null(m);
	free(m);
}

static void
test_creds_secret(void **state)
{
	char u[16], p[16];

	(void)state;
	conf.relayhost = (char *)"[relay.example.test]:587";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), -1);
	ctx.creds = (char *)"# creds\n[other.test]:587 o:o\n"
	    "[RELAY.example.test]:587 alice@example.test:pa:ss\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), -1);	/* user too long */
	{
		char uu[32];

		assert_int_equal(smtp_relay_secret(&ctx, uu, sizeof(uu), p, sizeof(p)), 0);
		assert_string_equal(uu, "alice@example.test");
		assert_string_equal(p, "pa:ss");	/* a password may hold ':' */
	}
	ctx.creds = (char *)"[relay.example.test]:587 user:\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), 0);
	assert_string_equal(u, "user");
	assert_string_equal(p, "");
	ctx.creds = (char *)"[relay.example.test]:587 nocolon\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), -1);
	/* the key is the relayhost as written: no port, no match */
	ctx.creds = (char *)"[relay.example.test] u:p\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), -1);
	/* password one past the buffer; at the limit */
	ctx.creds = (char *)"[relay.example.test]:587 u:123456789012345\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), 0);
	ctx.creds = (char *)"[relay.example.test]:587 u:1234567890123456\n";
	assert_int_equal(smtp_relay_secret(&ctx, u, sizeof(u), p, sizeof(p)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_lookup),
		cmocka_unit_test(test_map_lookup_limit),
		cmocka_unit_test_setup(test_tls_policy, setup),
		cmocka_unit_test(test_nexthop_good),
		cmocka_unit_test(test_nexthop_bad),
		cmocka_unit_test(test_nexthop_limit),
		cmocka_unit_test_setup(test_route, setup),
		cmocka_unit_test(test_hosts_lookup),
		cmocka_unit_test_setup(test_hosts_resolve, setup),
		cmocka_unit_test_setup_teardown(test_hosts_load, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_map_load, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_creds_mode, setup_dir, teardown_dir),
		cmocka_unit_test_setup(test_creds_secret, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
