/*
 * Unit tests of the aliases(5) parser and expansion (common/aliases.c):
 * syntax, continuation lines, comments, refused targets, recursion, the
 * owner rule, loops, and the depth and size limits.
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

#include "aliases.h"
#include "strbuf.h"
#include "util.h"

static char problems[8192];

static void
collect(const char *msg, void *arg)
{
	size_t n = strlen(problems);

	(void)arg;
	str_fmt(problems + n, sizeof(problems) - n, "%s\n", msg);
}

static int
is_local(const char *domain, void *arg)
{
	(void)arg;
	return str_ieq(domain, "example.test") || str_ieq(domain, "other.test");
}

static struct aliases *
load(const char *text, int want_problems)
{
	struct aliases *a = aliases_new(NULL);

	problems[0] = '\0';
	int n = aliases_load_buffer(a, "aliases", text, strlen(text), collect,
	    NULL);
	if (n != want_problems)
		print_message("# problems:\n%s", problems);
	assert_int_equal(n, want_problems);
	return a;
}

/* Expand and return the results joined by spaces ("" on error). */
static const char *
expand(struct aliases *a, const char *addr, int want)
{
	static char out[4096];
	struct alias_list l;
	char err[256];
	size_t i;

	out[0] = '\0';
	assert_int_equal(aliases_expand(a, addr, is_local, NULL, &l, err,
	    sizeof(err)), want);
	if (want != 0)
		return out;
	for (i = 0; i < l.n; i++) {
		size_t n = strlen(out);
		str_fmt(out + n, sizeof(out) - n, "%s%s", i ? " " : "", l.addr[i]);
	}
	alias_list_free(&l);
	return out;
}

static void
test_parse_basic(void **state)
{
	struct aliases *a;

	(void)state;
	a = load("# comment\n\nPostmaster: Alice\n"
	    "team: alice, bob@Example.TEST,\n  carol,\n\t# inside\n\tdave@other.test\n"
	    "sales@other.test: <erin@example.test>\n", 0);
	assert_true(aliases_exists(a, "postmaster@example.test"));
	assert_true(aliases_exists(a, "POSTMASTER@other.test"));
	assert_true(aliases_exists(a, "sales@other.test"));
	assert_false(aliases_exists(a, "sales@example.test"));
	assert_false(aliases_exists(a, "alice@example.test"));
	assert_string_equal(expand(a, "postmaster@other.test", 0), "alice@other.test");
	assert_string_equal(expand(a, "Team@Example.Test", 0),
	    "alice@example.test bob@example.test carol@example.test dave@other.test");
	assert_string_equal(expand(a, "sales@other.test", 0), "erin@example.test");
	assert_string_equal(expand(a, "nobody@example.test", 0), "nobody@example.test");
	/* Non-local addresses are never looked up. */
	assert_string_equal(expand(a, "team@remote.example", 0), "team@remote.example");
	aliases_free(a);
}

static void
test_bad_lines(void **state)
{
	struct aliases *a;

	(void)state;
	a = load("  orphan continuation\n"
	    "ok: alice\n"
	    "pipe: |/usr/bin/prog\n"
	    "file: /var/mail/x\n"
	    "inc: :include:/etc/list\n"
	    "quoted: \"|prog\"\n"
	    "nocolon alice\n"
	    ": alice\n"
	    "empty:\n"
	    "two words: alice\n"
	    "bad: a b\n"
	    "ok: bob,\n", 11);
	(void)a;
	assert_non_null(strstr(problems, "aliases:1: continuation"));
	assert_non_null(strstr(problems, "aliases:3: target '|/usr/bin/prog' "
	    "refused: postern delivers to Maildirs only"));
	assert_non_null(strstr(problems, "aliases:9: alias 'empty' has no target"));
	assert_non_null(strstr(problems, "aliases:7: missing ':'"));
	assert_non_null(strstr(problems, "aliases:12: duplicate alias 'ok'"));
	/* Good lines survive; the first definition wins. */
	assert_string_equal(expand(a, "ok@example.test", 0), "alice@example.test");
	assert_false(aliases_exists(a, "pipe@example.test"));
	aliases_free(a);
}

static void
test_recursion_and_owner(void **state)
{
	struct aliases *a;

	(void)state;
	a = load("all: staff, ops\nstaff: alice, bob\nops: bob, carol\n"
	    "bob: bob, bob-archive\nloop1: loop2\nloop2: loop1, zed\n", 0);
	/* Duplicates removed; bob lists himself, so bob's mailbox gets it. */
	assert_string_equal(expand(a, "all@example.test", 0),
	    "alice@example.test bob@example.test bob-archive@example.test "
	    "carol@example.test");
	assert_string_equal(expand(a, "bob@example.test", 0),
	    "bob@example.test bob-archive@example.test");
	/* A loop ends at the address met again: it is delivered. */
	assert_string_equal(expand(a, "loop1@example.test", 0),
	    "loop1@example.test zed@example.test");
	aliases_free(a);
}

static void
test_limits(void **state)
{
	struct aliases *a;
	struct strbuf sb;
	int i;

	(void)state;
	/* a0 -> a1 -> ... deeper than the limit. */
	strbuf_init(&sb, 1 << 20);
	for (i = 0; i < ALIASES_MAX_DEPTH + 5; i++)
		assert_int_equal(strbuf_printf(&sb, "a%d: a%d\n", i, i + 1), 0);
	a = load(sb.data, 0);
	expand(a, "a0@example.test", -1);
	/* Within the limit it works. */
	assert_string_equal(expand(a, "a10@example.test", 0),
	    ALIASES_MAX_DEPTH + 5 - 10 > ALIASES_MAX_DEPTH ?
	    "" : "a25@example.test");
	aliases_free(a);
	/* More results than allowed. */
	strbuf_reset(&sb);
	strbuf_puts(&sb, "big: ");
	for (i = 0; i < ALIASES_MAX_RESULTS + 1; i++)
		strbuf_printf(&sb, "%su%d", i ? ", " : "", i);
	strbuf_puts(&sb, "\n");
	a = load(sb.data, 0);
	expand(a, "big@example.test", -1);
	aliases_free(a);
	strbuf_free(&sb);
}

static void
test_check_file(void **state)
{
	char path[] = "/tmp/postern-test-aliases.XXXXXX";
	char out[] = "/tmp/postern-test-aliases-out.XXXXXX";
	char buf[1024];
	int fd, ofd;
	ssize_t n;

	(void)state;
	fd = mkstemp(path);
	ofd = mkstemp(out);
	assert_true(fd >= 0 && ofd >= 0);
	assert_int_equal(write_all(fd, "a: b\nc: |cmd\n", 13), 0);
	close(fd);
	assert_int_equal(aliases_check(path, ofd), 1);
	assert_true((n = pread(ofd, buf, sizeof(buf) - 1, 0)) > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, ":2: target '|cmd' refused"));
	assert_int_equal(strncmp(buf, path, strlen(path)), 0);
	close(ofd);
	unlink(out);
	unlink(path);
	assert_int_equal(aliases_check(path, 2), 0);	/* missing file: fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_recursion_and_owner),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_check_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
