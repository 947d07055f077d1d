/*
 * Unit tests of sender_login_map (submitd/sender_map.c): the file format
 * (address or @domain, then users separated by commas and blanks;
 * comments; case), the decision (own address, exact entry over @domain),
 * the line and name limits, and malformed lines (missing fields, NUL,
 * an unterminated last line, overlong lines).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "strbuf.h"
#include "submitd.h"
#include "util.h"

#define SM_LINE	4096	/* sender_map.c's SENDER_MAP_LINE, with the LF and NUL */

static char path[64] = "";
static struct sender_map map;
static char err[512];

static void
map_free(void)
{
	size_t i;

	for (i = 0; i < map.n; i++) {
		while (map.e[i].nusers > 0)
			free(map.e[i].users[--map.e[i].nusers]);
		free(map.e[i].users);
		free(map.e[i].key);
	}
	free(map.e);
	memset(&map, 0, sizeof(map));
}

static int
load_n(const char *text, size_t len)
{
	int fd;

	map_free();
	if (*path == '\0') {
		str_copy(path, "/tmp/postern-test-smap.XXXXXX", sizeof(path));
		assert_int_not_equal((fd = mkstemp(path)), -1);
	} else
		assert_int_not_equal((fd = open(path, O_WRONLY | O_TRUNC)), -1);
	assert_int_equal(write_all(fd, text, len), 0);
	close(fd);
	err[0] = '\0';
	return sender_map_load(&map, path, err, sizeof(err));
}

static int
load(const char *text)
{
	return load_n(text, strlen(text));
}

static int
teardown(void **state)
{
	(void)state;
	map_free();
	if (*path != '\0')
		unlink(path);
	*path = '\0';
	return 0;
}

static void
test_good(void **state)
{
	(void)state;
	assert_int_equal(load("# comment\n\n   \n"
	    "Info@Example.TEST   Alice@example.test, bob@example.test\n"
	    "\t@example.test\tadmin@example.test\t\n"
	    "sales@example.test carol@example.test,dave@example.test , ,erin@example.test\n"
	    "  # indented comment\n"
	    "last@example.test frank@example.test"), 0);	/* no final LF */
	assert_int_equal(map.n, 4);
	assert_string_equal(map.e[0].key, "info@example.test");
	assert_int_equal(map.e[0].nusers, 2);
	assert_string_equal(map.e[0].users[0], "alice@example.test");
	assert_int_equal(map.e[2].nusers, 3);
	assert_string_equal(map.e[2].users[2], "erin@example.test");
	/* decisions */
	assert_true(sender_map_allows(&map, "info@example.test", "alice@example.test"));
	assert_true(sender_map_allows(&map, "INFO@example.test", "BOB@Example.test"));
	assert_false(sender_map_allows(&map, "info@example.test", "admin@example.test"));
	assert_true(sender_map_allows(&map, "anyone@example.test", "admin@example.test"));
	assert_true(sender_map_allows(&map, "anyone@EXAMPLE.test", "admin@example.test"));
	assert_false(sender_map_allows(&map, "anyone@sub.example.test", "admin@example.test"));
	assert_false(sender_map_allows(&map, "anyone@example.test", "alice@example.test"));
	assert_true(sender_map_allows(&map, "last@example.test", "frank@example.test"));
	/* one's own address, always; nothing else without an entry */
	assert_true(sender_map_allows(&map, "Zed@other.test", "zed@OTHER.test"));
	assert_false(sender_map_allows(&map, "zed@other.test", "alice@example.test"));
	assert_false(sender_map_allows(&map, "", "alice@example.test"));
	assert_false(sender_map_allows(&map, "alice@example.test", ""));
}

static void
test_empty(void **state)
{
	(void)state;
	assert_int_equal(sender_map_load(&map, NULL, err, sizeof(err)), 0);
	assert_int_equal(map.n, 0);
	assert_int_equal(sender_map_load(&map, "", err, sizeof(err)), 0);
	assert_false(sender_map_allows(&map, "a@x.test", "b@x.test"));
	assert_true(sender_map_allows(&map, "a@x.test", "A@X.test"));
	assert_int_equal(load(""), 0);
	assert_int_equal(map.n, 0);
	assert_int_equal(sender_map_load(&map, "/nonexistent/postern/map", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/postern/map"));
}

static void
test_bad_lines(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "alice@example.test\n", "expected" },
		{ "alice@example.test   \n", "expected" },	/* trimmed: no users */
		{ "alice@example.test ,, \n", "no user" },
		{ "alice alice@example.test\n", "must be an address" },
		{ "ok@x.test a@x.test\nbad\n", "expected" },
		{ "ok@x.test a@x.test\n@x.test ,\n", "no user" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		if (load(bad[i].text) != -1)
			fail_msg("accepted '%s'", bad[i].text);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("'%s': error '%s', expected '%s'", bad[i].text, err, bad[i].why);
	}
	/* the error names the file and the line */
	assert_int_equal(load("# x\nok@x.test a@x.test\nbad\n"), -1);
	assert_non_null(strstr(err, ":3: "));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
}

/* A line "KEY USER" of exactly len bytes before its LF. */
static int
load_line(size_t keylen, size_t userlen)
{
	struct strbuf b;
	size_t i;
	int r;

	strbuf_init(&b, 3 * SM_LINE);
	for (i = 0; i < keylen - 7; i++)
		assert_int_equal(strbuf_putc(&b, 'k'), 0);
	assert_int_equal(strbuf_puts(&b, "@x.test "), 0);
	for (i = 0; i < userlen; i++)
		assert_int_equal(strbuf_putc(&b, 'u'), 0);
	assert_int_equal(strbuf_puts(&b, "\nnext@x.test n@x.test\n"), 0);
	r = load_n(b.data, b.len);
	strbuf_free(&b);
	return r;
}

static void
test_limits(void **state)
{
	(void)state;
	/* the key: ADDR_BUF - 1 bytes fine, ADDR_BUF not */
	assert_int_equal(load_line(ADDR_BUF - 1, 5), 0);
	assert_int_equal(map.n, 2);
	assert_int_equal(strlen(map.e[0].key), ADDR_BUF - 1);
	assert_int_equal(load_line(ADDR_BUF, 5), -1);
	assert_non_null(strstr(err, "must be an address"));
	/* a user name: ADDR_BUF - 1 fine, ADDR_BUF not */
	assert_int_equal(load_line(20, ADDR_BUF - 1), 0);
	assert_int_equal(strlen(map.e[0].users[0]), ADDR_BUF - 1);
	assert_int_equal(load_line(20, ADDR_BUF), -1);
	assert_non_null(strstr(err, "user name too long"));
	/* a line: SM_LINE - 2 bytes and its LF fit, one more does not */
	assert_int_equal(load_line(20, SM_LINE - 2 - 21), -1);	/* the user is too long */
	assert_non_null(strstr(err, "user name too long"));
	assert_int_equal(load_line(20, SM_LINE - 1 - 21), -1);
	assert_non_null(strstr(err, "line too long"));
}

static void
test_many_users(void **state)
{
	struct strbuf b;
	size_t i;

	(void)state;
	strbuf_init(&b, SM_LINE);
	assert_int_equal(strbuf_puts(&b, "@x.test "), 0);
	for (i = 0; i < 300; i++)
		assert_int_equal(strbuf_printf(&b, "%su%zu", i ? "," : "", i), 0);
	assert_int_equal(strbuf_putc(&b, '\n'), 0);
	assert_int_equal(load_n(b.data, b.len), 0);
	strbuf_free(&b);
	assert_int_equal(map.e[0].nusers, 300);
	assert_true(sender_map_allows(&map, "z@x.test", "u299"));
	assert_false(sender_map_allows(&map, "z@x.test", "u300"));
}

static void
test_hostile(void **state)
{
	static const char nul[] = "a@x.test b@x.test\0c@x.test\nd@x.test e@x.test\n";

	(void)state;
	/* CR LF line ends: the CR is white space to str_trim */
	assert_int_equal(load("a@x.test b@x.test\r\n"), 0);
	assert_string_equal(map.e[0].users[0], "b@x.test");
	/* a NUL inside a line is never half-used as a user list */
	assert_int_equal(load_n(nul, sizeof(nul) - 1), -1);
	/* the @domain entry does not match a sender whose domain only ends alike */
	assert_int_equal(load("@x.test a@x.test\n"), 0);
	assert_false(sender_map_allows(&map, "b@evilx.test", "a@x.test"));
	assert_false(sender_map_allows(&map, "x.test", "a@x.test"));
	/* an exact entry wins over the @domain entry */
	assert_int_equal(load("@x.test a@x.test\nboss@x.test b@x.test\n"), 0);
	assert_false(sender_map_allows(&map, "boss@x.test", "a@x.test"));
	assert_true(sender_map_allows(&map, "boss@x.test", "b@x.test"));
	assert_true(sender_map_allows(&map, "other@x.test", "a@x.test"));
	/* a line with one good and one overlong user adds nothing */
	{
		char line[ADDR_BUF + 64];

		memset(line, 'u', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		memcpy(line, "k@x.test ok@x.test,", 19);
		assert_int_equal(load(line), -1);
		assert_non_null(strstr(err, "user name too long"));
		assert_int_equal(map.n, 0);
	}
	/* overlong arguments are refused, not truncated into a match */
	{
		char longs[ADDR_BUF + 10];

		memset(longs, 'a', sizeof(longs) - 1);
		longs[sizeof(longs) - 1] = '\0';
		assert_false(sender_map_allows(&map, longs, longs));
	}
}

static void
test_entry_limit(void **state)
{
	struct strbuf b;
	size_t i;

	(void)state;
	strbuf_init(&b, 4 * 1024 * 1024);
	for (i = 0; i < 100000; i++)
		assert_int_equal(strbuf_printf(&b, "s%zu@x.test u\n", i), 0);
	assert_int_equal(load_n(b.data, b.len), 0);
	assert_int_equal(map.n, 100000);
	assert_true(sender_map_allows(&map, "s99999@x.test", "u"));
	assert_int_equal(strbuf_puts(&b, "one@more.test u\n"), 0);
	assert_int_equal(load_n(b.data, b.len), -1);
	assert_non_null(strstr(err, ":100001: too many entries"));
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_good, teardown),
		cmocka_unit_test_teardown(test_empty, teardown),
		cmocka_unit_test_teardown(test_bad_lines, teardown),
		cmocka_unit_test_teardown(test_limits, teardown),
		cmocka_unit_test_teardown(test_many_users, teardown),
		cmocka_unit_test_teardown(test_hostile, teardown),
		cmocka_unit_test_teardown(test_entry_limit, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
