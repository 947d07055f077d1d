/*
 * Unit tests of the command-line grammar (common/cmdline.c) that postern,
 * postern-sendmail, mailq and newaliases share: options before, between
 * and after the operands, clusters and attached arguments, optional
 * arguments, "--", "-" as an operand, --help and -h, and the one-line
 * errors (unknown option, missing argument, a refusal from the caller).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmdline.h"

/* The options seen, as "c=FILE n f h " and so on. */
static char seen[512];

static int
record(struct cmdline *c, int opt, const char *arg, void *ctx)
{
	size_t n = strlen(seen);

	(void)ctx;
	if (opt == 'x')
		return cmdline_error(c, "-x refused\nsecond line");
	snprintf(seen + n, sizeof(seen) - n, "%c%s%s ", opt == CMDLINE_HELP ? 'H' : opt,
	    arg ? "=" : "", arg ? arg : "");
	return 0;
}

/* Parse the words (NULL-ended) against optstring. */
static int
parse(struct cmdline *c, const char *optstring, ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0;

	argv[argc++] = "prog";
	va_start(ap, optstring);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	seen[0] = '\0';
	return cmdline_parse(c, argc, argv, optstring, record, NULL);
}

static void
test_anywhere(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "c:nf", "queue", "list", "-c", "F", NULL), 0);
	assert_string_equal(seen, "c=F ");
	assert_int_equal(c.noperands, 2);
	assert_string_equal(c.operands[0], "queue");
	assert_string_equal(c.operands[1], "list");
	assert_null(c.operands[2]);
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:nf", "-c", "F", "user", "add", "a@b", "-f", NULL), 0);
	assert_string_equal(seen, "c=F f ");
	assert_int_equal(c.noperands, 3);
	assert_string_equal(c.operands[2], "a@b");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:nf", "user", "-c", "F", "add", "a@b", NULL), 0);
	assert_int_equal(c.noperands, 3);
	assert_string_equal(c.operands[1], "add");
	cmdline_free(&c);
}

static void
test_clusters(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "c:nf", "-nfcFILE", "x", NULL), 0);
	assert_string_equal(seen, "n f c=FILE ");
	assert_int_equal(c.noperands, 1);
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:nf", "-nc", "FILE", NULL), 0);
	assert_string_equal(seen, "n c=FILE ");
	assert_int_equal(c.noperands, 0);
	cmdline_free(&c);
	/* The argument of -c is taken whatever it looks like. */
	assert_int_equal(parse(&c, "c:", "-c", "-n", NULL), 0);
	assert_string_equal(seen, "c=-n ");
	cmdline_free(&c);
}

static void
test_optional(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "q::t", "-q30m", "-q", "-t", "r", NULL), 0);
	assert_string_equal(seen, "q=30m q t ");
	assert_int_equal(c.noperands, 1);
	cmdline_free(&c);
	/* Postfix style: -oi is -o with the argument i, -o i the same. */
	assert_int_equal(parse(&c, "o:", "-oi", "-o", "i", NULL), 0);
	assert_string_equal(seen, "o=i o=i ");
	cmdline_free(&c);
}

static void
test_end_of_options(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "c:", "a", "--", "-c", "--help", "-", NULL), 0);
	assert_string_equal(seen, "");
	assert_int_equal(c.noperands, 4);
	assert_string_equal(c.operands[1], "-c");
	assert_string_equal(c.operands[2], "--help");
	assert_string_equal(c.operands[3], "-");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:", "-", NULL), 0);
	assert_int_equal(c.noperands, 1);
	cmdline_free(&c);
}

static void
test_help(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "c:", "run", "--help", NULL), 0);
	assert_string_equal(seen, "H ");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:", "-h", NULL), 0);
	assert_string_equal(seen, "H ");
	cmdline_free(&c);
	/* Where h takes an argument (sendmail's hop count), it is that. */
	assert_int_equal(parse(&c, "h:", "-h", "5", NULL), 0);
	assert_string_equal(seen, "h=5 ");
	cmdline_free(&c);
}

static void
test_errors(void **state)
{
	struct cmdline c;

	(void)state;
	assert_int_equal(parse(&c, "c:", "status", "-Z", NULL), -1);
	assert_string_equal(c.err, "unknown option -Z");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:", "status", "-c", NULL), -1);
	assert_string_equal(c.err, "option -c needs an argument");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:", "--conf=x", NULL), -1);
	assert_string_equal(c.err, "unknown option --conf=x");
	cmdline_free(&c);
	assert_int_equal(parse(&c, "c:", "-:", NULL), -1);
	assert_string_equal(c.err, "unknown option -:");
	cmdline_free(&c);
	/* The caller's refusal, kept to one line. */
	assert_int_equal(parse(&c, "cx", "-cx", NULL), -1);
	assert_string_equal(c.err, "-x refused second line");
	cmdline_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anywhere),
		cmocka_unit_test(test_clusters),
		cmocka_unit_test(test_optional),
		cmocka_unit_test(test_end_of_options),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
