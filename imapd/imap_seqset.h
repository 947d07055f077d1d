/*
 * imap_seqset: IMAP sequence sets (RFC 3501 9 "sequence-set", RFC 9051
 * 9; "$" for SEARCHRES, RFC 5182) as a sorted list of ranges, and their
 * compact printing for UIDPLUS, ESEARCH and VANISHED responses.
 * Runs in imapd's session process; pure computation.
 */
#ifndef POSTERN_IMAP_SEQSET_H
#define POSTERN_IMAP_SEQSET_H

#include <stddef.h>
#include <stdint.h>

struct strbuf;

/* More ranges than this (in a parsed text, or added) make a set malformed. */
#define IMAP_SEQSET_RANGES_MAX	100000

struct imap_range {
	uint32_t	lo, hi;		/* lo <= hi after normalising */
};

struct imap_seqset {
	struct imap_range	*r;
	size_t			 n, cap;
	int			 dollar;	/* the set was "$" (SEARCHRES) */
};

void imap_seqset_init(struct imap_seqset *);
void imap_seqset_free(struct imap_seqset *);
void imap_seqset_clear(struct imap_seqset *);

/*
 * Parse text (len bytes, not NUL-terminated) as a sequence set. "*" is
 * given the value star (the highest sequence number or UID: the caller
 * passes it; for an empty mailbox pass 0 and "*" means 0). Ranges are
 * stored normalised (lo <= hi), sorted and merged. "$" alone sets
 * dollar and leaves the ranges empty. 0, or -1 when malformed (0 as a
 * number is malformed: RFC 3501 nz-number).
 */
int imap_seqset_parse(struct imap_seqset *, const char *text, size_t len, uint32_t star);
/*
 * Add one number or a range (any order), keeping the set sorted and
 * merged (adjacent ranges are joined). Adding in ascending order costs
 * O(log n) each; -1 when the set would have more than IMAP_SEQSET_RANGES_MAX.
 */
int imap_seqset_add(struct imap_seqset *, uint32_t lo, uint32_t hi);
int imap_seqset_contains(const struct imap_seqset *, uint32_t v);
/* Count of numbers in the set. */
uint64_t imap_seqset_count(const struct imap_seqset *);
/* Print as "1:3,7,9:12" (the shortest form). Empty set prints nothing.
 * All or nothing: -1 leaves the strbuf as it was. */
int imap_seqset_print(const struct imap_seqset *, struct strbuf *);
/* Copy src into dst (for SEARCHRES saving). */
int imap_seqset_copy(struct imap_seqset *dst, const struct imap_seqset *src);

#endif
