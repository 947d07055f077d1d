/*
 * checks: content checks at SMTP time, as Postfix's header_checks,
 * mime_header_checks and body_checks with pcre: tables. A checks file
 * holds lines "/regex/flags ACTION text" (or "!/regex/flags ..." to act
 * when the pattern does NOT match); '#' starts a comment, a line that
 * starts with white space continues the previous one. Every pattern is
 * compiled once at start-up (common/regex.h: JIT, match/depth/heap
 * limits). The scanner is a streaming filter over the message content
 * (LF line ends): it matches each logical header line unfolded (the
 * message's and, separately, each MIME part's), each body line up to a
 * size cap per body segment, and passes the content on to an output
 * function with PREPEND/REPLACE/IGNORE edits applied. The first rule
 * that matches a line wins; the message's verdict is the strongest of
 * REJECT > DISCARD > HOLD seen. Used by smtpd and submitd (through the
 * SMTP engine, common/smtp_msg.c) and by `postern check`.
 */
#ifndef POSTERN_CHECKS_H
#define POSTERN_CHECKS_H

#include <stddef.h>

enum checks_action {
	CHECKS_NONE = 0,	/* no rule matched */
	CHECKS_DUNNO,		/* DUNNO, OK: stop looking for this line */
	CHECKS_WARN,		/* log the line, change nothing */
	CHECKS_PREPEND,		/* insert a line before this one */
	CHECKS_REPLACE,		/* replace this (logical) line */
	CHECKS_IGNORE,		/* delete this (logical) line */
	CHECKS_HOLD,		/* queue the message into hold/ */
	CHECKS_DISCARD,		/* 250, then drop the message */
	CHECKS_REJECT		/* 550 5.7.1 before the 250: nothing is queued */
};

enum checks_kind {
	CHECKS_HEADER,		/* header_checks: the message's header lines */
	CHECKS_MIME,		/* mime_header_checks: MIME part header lines */
	CHECKS_BODY,		/* body_checks: body lines */
	CHECKS_NKINDS
};

#define CHECKS_TEXT_MAX		512	/* action text, after $n substitution */
#define CHECKS_DEPTH_MAX	10	/* nested multiparts followed */
#define CHECKS_BODY_LIMIT	51200	/* body_checks_size_limit default */

struct checks;

struct checks *checks_new(void);
void checks_free(struct checks *);
/*
 * Parse a rules text (len bytes) as the table of kind; name is the file
 * name for messages and logs. Every pattern is compiled now. 0, or -1
 * with one line per problem in err ("NAME:LINE: error"); then the table
 * keeps only the good rules.
 */
int checks_parse(struct checks *, enum checks_kind, const char *name,
    const char *text, size_t len, char *err, size_t errlen);
/* Read and parse the file path (empty or NULL: nothing). As checks_parse. */
int checks_load(struct checks *, enum checks_kind, const char *path,
    char *err, size_t errlen);
/* Bytes of each body segment given to body_checks (0 = none). */
void checks_set_body_limit(struct checks *, size_t);
/* No rule at all: the engine need not scan. */
int checks_empty(const struct checks *);

/* One message. out receives the (edited) content; it may be called with n == 0. */
typedef void (*checks_out_fn)(void *arg, const char *buf, size_t n);
struct checks_scan;

/*
 * Start a message. logid prefixes every log line ("QID: from [client]"
 * or similar; copied). NULL only on memory exhaustion.
 */
struct checks_scan *checks_scan_new(const struct checks *, const char *logid,
    checks_out_fn out, void *arg);
/* Content bytes with LF line ends, in any chunks. */
void checks_scan_feed(struct checks_scan *, const char *buf, size_t n);
/* The end of the content: flush what is held back. */
void checks_scan_end(struct checks_scan *);
/*
 * The verdict: CHECKS_NONE, CHECKS_HOLD, CHECKS_DISCARD or CHECKS_REJECT,
 * with the text of the rule that decided it (after $n substitution; ""
 * when it had none) in *text when text is not NULL.
 */
enum checks_action checks_scan_verdict(const struct checks_scan *, const char **text);
void checks_scan_free(struct checks_scan *);

/* "REJECT" ... for logs. */
const char *checks_action_name(enum checks_action);

#endif
