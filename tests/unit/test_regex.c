/*
 * Unit tests of common/regex.c: flags, compile errors, groups, and the
 * limits: a pathological pattern on a pathological subject returns -1
 * (logged by callers as "no match") quickly instead of running for ages.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "regex.h"

static struct regex *
re(const char *pat, const char *flags)
{
	char err[256];
	struct regex *r = regex_compile(pat, strlen(pat), flags, err, sizeof(err));

	if (r == NULL)
		fail_msg("%s: %s", pat, err);
	return r;
}

static int
m(const struct regex *r, const char *subj)
{
	char err[256];

	return regex_match(r, subj, strlen(subj), err, sizeof(err));
}

static void
test_flags(void **state)
{
	struct regex *r;
	char err[256];

	(void)state;
	r = re("^abc$", "");
	assert_int_equal(m(r, "abc"), 1);
	assert_int_equal(m(r, "ABC"), 0);
	regex_free(r);
	r = re("^abc$", "i");
	assert_int_equal(m(r, "ABC"), 1);
	regex_free(r);
	r = re("^b$", "m");
	assert_int_equal(m(r, "a\nb\nc"), 1);
	regex_free(r);
	r = re("a.c", "s");
	assert_int_equal(m(r, "a\nc"), 1);
	regex_free(r);
	r = re("a b c", "x");
	assert_int_equal(m(r, "abc"), 1);
	regex_free(r);
	assert_null(regex_compile("a", 1, "q", err, sizeof(err)));
	assert_non_null(strstr(err, "flag"));
	assert_null(regex_compile("(a", 2, "", err, sizeof(err)));
	assert_non_null(strstr(err, "offset"));
}

static void
test_groups(void **state)
{
	struct regex *r = re("^(\\w+): (.*)$", "");
	char err[256];
	size_t s, e;
	const char *subj = "Subject: hello";

	(void)state;
	assert_int_equal(regex_groups(r), 2);
	assert_int_equal(regex_match_group(r, subj, strlen(subj), 2, &s, &e, err,
	    sizeof(err)), 1);
	assert_int_equal(s, 9);
	assert_int_equal(e, 14);
	assert_int_equal(regex_match_group(r, subj, strlen(subj), 7, &s, &e, err,
	    sizeof(err)), 1);
	assert_int_equal(s, 0);
	assert_int_equal(e, 0);
	/* Not NUL-terminated subjects: only len bytes count. */
	assert_int_equal(regex_match(r, "Subject: hello\nX", 14, err, sizeof(err)), 1);
	regex_free(r);
}

static void
test_limits(void **state)
{
	struct regex *r = re("(a+)+$", "");
	char subj[64], err[256];
	struct timespec t0, t1;
	double secs;

	(void)state;
	memset(subj, 'a', 40);
	subj[40] = '!';
	subj[41] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(regex_match(r, subj, 41, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 2.0);
	assert_non_null(strstr(err, "limit"));
	regex_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
