/*
 * imap_seqset: IMAP sequence sets (RFC 3501 9 sequence-set, RFC 9051 9,
 * RFC 5182 "$") as a sorted array of disjoint, non-adjacent ranges.
 * Runs in imapd's session process (as the mail owner); pure computation.
 *
 * A parsed set is collected unsorted, then sorted once and merged, so a
 * hostile order costs O(n log n); the number of ranges is bounded by
 * IMAP_SEQSET_RANGES_MAX.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_seqset.h"
#include "strbuf.h"
#include "util.h"

void
imap_seqset_init(struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	memset(set, 0, sizeof(*set));
}

void
imap_seqset_clear(struct imap_seqset *set)
{
	set->n = 0;
	set->dollar = 0;
}

static int
seqset_reserve(struct imap_seqset *set, size_t need)
{
	size_t cap;

	if (need > IMAP_SEQSET_RANGES_MAX)
		return -1;
	if (need <= set->cap)
		return 0;
	cap = set->cap ? set->cap * 2 : 8;
	if (cap < need)
		cap = need;
	if (cap > IMAP_SEQSET_RANGES_MAX)
		cap = IMAP_SEQSET_RANGES_MAX;
	set->r = xreallocarray(set->r, cap, sizeof(*set->r));
	set->cap = cap;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Do a (ending at hi) and a range starting at lo overlap or touch? */
static int
joins(uint32_t hi, uint32_t lo)
{
	return hi == UINT32_MAX || lo <= hi + 1;
}

/* Sort and merge the ranges in place. */
static void
seqset_normalise(struct imap_seqset *set)
{
	size_t i, o = 0;

	if (set->n < 2)
		return;
	qsort(set->r, set->n, sizeof(*set->r), range_cmp);
	for (i = 1; i < set->n; i++) {
		if (joins(set->r[o].hi, set->r[i].lo)) {
			if (set->r[i].hi > set->r[o].hi)
				set->r[o].hi = set->r[i].hi;
		} else
			set->r[++o] = set->r[i];
	}
	set->n = o + 1;
}

/* One seq-number (nz-number or "*") at *pp. 0 or -1. */
static int
parse_number(const char **pp, const char *end, uint32_t star, uint32_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p < end && *p == '*') {
		*out = star;
		*pp = p + 1;
		return 0;
	}
	if (p == end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p++ - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;	/* RFC 3501 9: nz-number */
	*out = (uint32_t)v;
	*pp = p;
	return 0;
}

int
imap_seqset_parse(struct imap_seqset *set, const char *text, size_t len, uint32_t star)
{
	const char *p = text, *end = text + len;
	uint32_t a, b;

	imap_seqset_clear(set);
	if (len == 1 && text[0] == '$') {
		set->dollar = 1;	/* RFC 5182 2 */
		return 0;
	}
	for (;;) {
		if (parse_number(&p, end, star, &a) == -1)
			goto bad;
		b = a;
		if (p < end && *p == ':') {
			p++;
			if (parse_number(&p, end, star, &b) == -1)
				goto bad;
		}
		if (seqset_reserve(set, set->n + 1) == -1)
			goto bad;
		set->r[set->n].lo = a < b ? a : b;
		set->r[set->n].hi = a < b ? b : a;
		set->n++;
		if (p == end)
			break;
		if (*p++ != ',')
			goto bad;
	}
	seqset_normalise(set);
	return 0;
bad:
	imap_seqset_clear(set);
	return -1;
}

/* Index of the first range whose hi + 1 >= v (where v could join), or n. */
static size_t
seqset_find(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (joins(set->r[mid].hi, v))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int
imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	size_t i, j;

	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	i = seqset_find(set, lo);
	/* ranges i..j-1 overlap or touch [lo, hi] */
	for (j = i; j < set->n && joins(hi, set->r[j].lo); j++)
		;
	if (j == i) {
		if (seqset_reserve(set, set->n + 1) == -1)
			return -1;
		memmove(set->r + i + 1, set->r + i, (set->n - i) * sizeof(*set->r));
		set->r[i].lo = lo;
		set->r[i].hi = hi;
		set->n++;
		return 0;
	}
	if (set->r[i].lo < lo)
		lo = set->r[i].lo;
	if (set->r[j - 1].hi > hi)
		hi = set->r[j - 1].hi;
	set->r[i].lo = lo;
	set->r[i].hi = hi;
	memmove(set->r + i + 1, set->r + j, (set->n - j) * sizeof(*set->r));
	set->n -= j - i - 1;
	return 0;
}

int
imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < set->n; i++)
		c += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return c;
}

int
imap_seqset_print(const struct imap_seqset *set, struct strbuf *sb)
{
	size_t save = sb->len, i;
	int r;

	for (i = 0; i < set->n; i++) {
		const char *sep = i > 0 ? "," : "";
		if (set->r[i].lo == set->r[i].hi)
			r = strbuf_printf(sb, "%s%u", sep, set->r[i].lo);
		else
			r = strbuf_printf(sb, "%s%u:%u", sep, set->r[i].lo, set->r[i].hi);
		if (r == -1) {
			if (sb->data != NULL) {
				sb->len = save;
				sb->data[save] = '\0';
			}
			return -1;
		}
	}
	return 0;
}

int
imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src)
{
	if (dst == src)
		return 0;
	imap_seqset_clear(dst);
	if (seqset_reserve(dst, src->n) == -1)
		return -1;
	if (src->n > 0)
		memcpy(dst->r, src->r, src->n * sizeof(*src->r));
	dst->n = src->n;
	dst->dollar = src->dollar;
	return 0;
}
