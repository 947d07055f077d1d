/*
 * Unit tests of imapd/imap_seqset.c: parsing sequence sets with "*" and
 * "$", normalising, sorting and merging, the bound on ranges, adding in
 * any order, membership, counting, the shortest printing and copying.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_seqset.h"
#include "strbuf.h"
#include "util.h"

/* Parse text with star and return its printed form (static buffer), or NULL. */
static const char *
norm(const char *text, uint32_t star)
{
	static char out[1024];
	struct imap_seqset set;
	struct strbuf sb;

	imap_seqset_init(&set);
	if (imap_seqset_parse(&set, text, strlen(text), star) == -1) {
		assert_int_equal(set.n, 0);
		imap_seqset_free(&set);
		return NULL;
	}
	strbuf_init(&sb, sizeof(out) - 1);
	assert_int_equal(imap_seqset_print(&set, &sb), 0);
	assert_int_equal(str_copy(out, sb.len > 0 ? sb.data : "", sizeof(out)), 0);
	strbuf_free(&sb);
	imap_seqset_free(&set);
	return out;
}

static void
test_parse(void **state)
{
	(void)state;
	assert_string_equal(norm("1:3,7,9:12", 100), "1:3,7,9:12");
	assert_string_equal(norm("1", 0), "1");
	assert_string_equal(norm("*", 10), "10");
	assert_string_equal(norm("1:*", 10), "1:10");
	assert_string_equal(norm("*:5", 3), "3:5");	/* RFC 3501 9: either order */
	assert_string_equal(norm("5:2", 3), "2:5");
	assert_string_equal(norm("*:*", 7), "7");
	assert_string_equal(norm("4294967295", 1), "4294967295");
	assert_string_equal(norm("1:4294967295,7", 1), "1:4294967295");
	assert_string_equal(norm("007", 1), "7");
	/* sorted and merged, adjacent ranges joined */
	assert_string_equal(norm("1,2,3", 0), "1:3");
	assert_string_equal(norm("5:7,1:4", 0), "1:7");
	assert_string_equal(norm("1:5,3:8,20,19,30:25", 0), "1:8,19:20,25:30");
	assert_string_equal(norm("9,7,5,3,1,2,4,6,8", 0), "1:9");
	assert_string_equal(norm("10:12,1,1,1,11", 0), "1,10:12");
	assert_string_equal(norm("4294967294,4294967295,1", 0), "1,4294967294:4294967295");
	/* an empty mailbox: "*" is 0 (the caller decides what it matches) */
	assert_string_equal(norm("*", 0), "0");
}

static void
test_malformed(void **state)
{
	static const char *bad[] = { "", "0", "1:0", "0:1", ",", "1,", ",1", "1::2",
	    "1:2:3", "a", "-1", "+1", "4294967296", "99999999999999999999", "1 ",
	    " 1", "**", "1*", "*1", "1,,2", "$,1", "1,$", "$$", "$:1", "1:$",
	    "1:", ":1", "1.5", "1\n", "\xc2\xb9" };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++)
		if (norm(bad[i], 5) != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
}

/* RFC 5182: "$" alone is the saved result */
static void
test_dollar(void **state)
{
	struct imap_seqset set;

	(void)state;
	imap_seqset_init(&set);
	assert_int_equal(imap_seqset_parse(&set, "$", 1, 9), 0);
	assert_int_equal(set.dollar, 1);
	assert_int_equal(set.n, 0);
	/* a new parse replaces it */
	assert_int_equal(imap_seqset_parse(&set, "1:2", 3, 9), 0);
	assert_int_equal(set.dollar, 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(imap_seqset_parse(&set, "$x", 2, 9), -1);
	assert_int_equal(set.dollar, 0);
	imap_seqset_free(&set);
}

static void
test_bounds(void **state)
{
	struct imap_seqset set;
	struct strbuf sb;
	uint32_t i;
	int64_t t0;

	(void)state;
	imap_seqset_init(&set);
	strbuf_init(&sb, 4 << 20);
	/* IMAP_SEQSET_RANGES_MAX disjoint numbers, in descending order */
	for (i = IMAP_SEQSET_RANGES_MAX; i >= 1; i--)
		assert_int_equal(strbuf_printf(&sb, "%s%u", i == IMAP_SEQSET_RANGES_MAX ?
		    "" : ",", 2 * i), 0);
	t0 = now_ms();
	assert_int_equal(imap_seqset_parse(&set, sb.data, sb.len, 0), 0);
	assert_int_equal(set.n, IMAP_SEQSET_RANGES_MAX);
	assert_int_equal(set.r[0].lo, 2);
	assert_true(imap_seqset_contains(&set, 2 * IMAP_SEQSET_RANGES_MAX));
	assert_false(imap_seqset_contains(&set, 3));
	assert_int_equal(imap_seqset_count(&set), IMAP_SEQSET_RANGES_MAX);
	/* one more is malformed, even when it would merge */
	assert_int_equal(strbuf_puts(&sb, ",3"), 0);
	assert_int_equal(imap_seqset_parse(&set, sb.data, sb.len, 0), -1);
	assert_int_equal(set.n, 0);
	assert_true(now_ms() - t0 < 5000);
	/* adding up to the bound, then one more disjoint range fails */
	for (i = 1; i <= IMAP_SEQSET_RANGES_MAX; i++)
		assert_int_equal(imap_seqset_add(&set, 2 * i, 2 * i), 0);
	assert_int_equal(imap_seqset_add(&set, 1000000, 1000000), -1);
	/* merging ones still work */
	assert_int_equal(imap_seqset_add(&set, 3, 3), 0);
	assert_int_equal(set.n, IMAP_SEQSET_RANGES_MAX - 1);
	strbuf_free(&sb);
	imap_seqset_free(&set);
}

static void
test_add(void **state)
{
	struct imap_seqset set;
	struct strbuf sb;

	(void)state;
	imap_seqset_init(&set);
	strbuf_init(&sb, 1024);
	assert_int_equal(imap_seqset_print(&set, &sb), 0);
	assert_int_equal(sb.len, 0);
	assert_int_equal(imap_seqset_add(&set, 10, 10), 0);
	assert_int_equal(imap_seqset_add(&set, 20, 15), 0);	/* swapped */
	assert_int_equal(imap_seqset_add(&set, 1, 1), 0);
	assert_int_equal(imap_seqset_add(&set, 30, 30), 0);
	assert_int_equal(imap_seqset_add(&set, 5, 5), 0);
	assert_int_equal(imap_seqset_print(&set, &sb), 0);
	assert_string_equal(sb.data, "1,5,10,15:20,30");
	/* joining neighbours on both sides, and swallowing several */
	assert_int_equal(imap_seqset_add(&set, 11, 14), 0);
	strbuf_reset(&sb);
	assert_int_equal(imap_seqset_print(&set, &sb), 0);
	assert_string_equal(sb.data, "1,5,10:20,30");
	assert_int_equal(imap_seqset_add(&set, 2, 29), 0);
	strbuf_reset(&sb);
	assert_int_equal(imap_seqset_print(&set, &sb), 0);
	assert_string_equal(sb.data, "1:30");
	assert_int_equal(imap_seqset_add(&set, 3, 4), 0);	/* inside */
	assert_int_equal(set.n, 1);
	assert_int_equal(imap_seqset_add(&set, 31, 31), 0);	/* touching */
	assert_int_equal(set.n, 1);
	assert_int_equal(imap_seqset_count(&set), 31);
	/* the top of the range */
	assert_int_equal(imap_seqset_add(&set, UINT32_MAX, UINT32_MAX), 0);
	assert_int_equal(imap_seqset_add(&set, UINT32_MAX - 1, UINT32_MAX), 0);
	assert_int_equal(set.n, 2);
	assert_int_equal(imap_seqset_add(&set, 0, UINT32_MAX), 0);
	assert_int_equal(set.n, 1);
	assert_true(imap_seqset_count(&set) == (uint64_t)UINT32_MAX + 1);
	assert_true(imap_seqset_contains(&set, 0));
	assert_true(imap_seqset_contains(&set, UINT32_MAX));
	/* clear keeps nothing */
	imap_seqset_clear(&set);
	assert_int_equal(set.n, 0);
	assert_false(imap_seqset_contains(&set, 1));
	assert_int_equal(imap_seqset_count(&set), 0);
	strbuf_free(&sb);
	imap_seqset_free(&set);
}

/* Adding in a scrambled order gives the same set as a reference bitmap. */
static void
test_add_reference(void **state)
{
	enum { N = 2000 };
	static unsigned char ref[N + 2];
	struct imap_seqset set;
	uint32_t x = 12345, lo, hi, v;
	int i;
	size_t k;

	(void)state;
	imap_seqset_init(&set);
	for (i = 0; i < 600; i++) {
		x = x * 1103515245 + 12345;
		lo = 1 + (x >> 8) % N;
		x = x * 1103515245 + 12345;
		hi = lo + (x >> 8) % 7;
		if (hi > N)
			hi = N;
		assert_int_equal(imap_seqset_add(&set, i % 2 ? hi : lo, i % 2 ? lo : hi), 0);
		for (v = lo; v <= hi; v++)
			ref[v] = 1;
		for (k = 1; k < set.n; k++)
			assert_true(set.r[k].lo > set.r[k - 1].hi + 1);
	}
	for (v = 0; v <= N + 1; v++)
		assert_int_equal(imap_seqset_contains(&set, v), ref[v]);
	imap_seqset_free(&set);
}

static void
test_print_copy(void **state)
{
	struct imap_seqset a, b;
	struct strbuf sb;

	(void)state;
	imap_seqset_init(&a);
	imap_seqset_init(&b);
	assert_int_equal(imap_seqset_parse(&a, "1:3,5,100:200", 13, 0), 0);
	assert_int_equal(imap_seqset_count(&a), 3 + 1 + 101);
	/* all or nothing */
	strbuf_init(&sb, 8);
	assert_int_equal(strbuf_puts(&sb, "x "), 0);
	assert_int_equal(imap_seqset_print(&a, &sb), -1);
	assert_string_equal(sb.data, "x ");
	strbuf_free(&sb);
	assert_int_equal(imap_seqset_copy(&b, &a), 0);
	assert_int_equal(imap_seqset_copy(&b, &b), 0);
	assert_int_equal(b.n, 3);
	assert_true(imap_seqset_contains(&b, 150));
	assert_false(imap_seqset_contains(&b, 4));
	assert_false(imap_seqset_contains(&b, 201));
	/* the copy is independent */
	assert_int_equal(imap_seqset_add(&a, 4, 4), 0);
	assert_false(imap_seqset_contains(&b, 4));
	/* dollar travels; an empty copy */
	assert_int_equal(imap_seqset_parse(&a, "$", 1, 0), 0);
	assert_int_equal(imap_seqset_copy(&b, &a), 0);
	assert_int_equal(b.dollar, 1);
	assert_int_equal(b.n, 0);
	imap_seqset_free(&a);
	imap_seqset_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_dollar),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_reference),
		cmocka_unit_test(test_print_copy),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
