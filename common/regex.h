/*
 * regex: PCRE2 patterns as postern's content checks (smtpd, submitd) and
 * delivery rules (deliver) use them: compiled once at start-up (with JIT
 * where the platform has it), matched under a match limit and a depth
 * limit so that a hostile pattern or message costs bounded time and
 * memory. One module for every user of PCRE2 (STYLE.md: an engine lives
 * once in common/).
 */
#ifndef POSTERN_REGEX_H
#define POSTERN_REGEX_H

#include <stddef.h>

/* Limits per match (pcre2_set_match_limit, pcre2_set_depth_limit). */
#define REGEX_MATCH_LIMIT	1000000
#define REGEX_DEPTH_LIMIT	10000
#define REGEX_HEAP_LIMIT	20000	/* KiB, pcre2_set_heap_limit */

struct regex;

/*
 * Compile len bytes of pattern with flags, a string of letters as in
 * Postfix's pcre tables: i (caseless), m (multiline), s (dotall),
 * x (extended), U (ungreedy). Unknown flags are an error. NULL with err
 * (the PCRE2 message and the offset) on failure.
 */
struct regex *regex_compile(const char *pattern, size_t len, const char *flags,
    char *err, size_t errlen);
void regex_free(struct regex *);
/*
 * Match subject (len bytes, need not be NUL-terminated). 1 when it
 * matches, 0 when not, -1 when a limit was hit or PCRE2 failed (err
 * says which): callers treat -1 as "no match, and log it".
 */
int regex_match(const struct regex *, const char *subject, size_t len,
    char *err, size_t errlen);
/*
 * As regex_match, and on a match give capture group n (0 = the whole
 * match) as the offsets *start and *end into subject, for $1 substitution.
 * n beyond the groups or unset: *start == *end == 0.
 */
int regex_match_group(const struct regex *, const char *subject, size_t len,
    unsigned n, size_t *start, size_t *end, char *err, size_t errlen);
/* Number of capture groups in the pattern. */
unsigned regex_groups(const struct regex *);

#endif
