/*
 * imap_search: SEARCH keys (RFC 3501 6.4.4, RFC 9051 6.4.4, with
 * CONDSTORE MODSEQ, RFC 7162 3.1.5, and SEARCHRES "$", RFC 5182) parsed
 * into a tree and evaluated against messages; ESEARCH result options
 * (RFC 4731); SORT and THREAD=REFERENCES / ORDEREDSUBJECT (RFC 5256).
 * Runs in imapd's session process; what it needs of a message it asks
 * through struct imap_search_msgops, so it knows nothing of storage.
 */
#ifndef POSTERN_IMAP_SEARCH_H
#define POSTERN_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap_parse.h"
#include "imap_seqset.h"

struct strbuf;
struct imap_search_node;	/* opaque tree */

/*
 * What the evaluator may ask of message seq (1-based). The cheap ones
 * (flags, size, dates, uid) come first; header and body access is
 * asked only when a key needs it, and only once per message.
 */
struct imap_search_msgops {
	void		*ctx;
	uint32_t	 (*count)(void *ctx);			/* messages in the mailbox */
	uint32_t	 (*uid)(void *ctx, uint32_t seq);
	unsigned	 (*flags)(void *ctx, uint32_t seq);	/* IMAP_F_* from imap_store.h */
	/* Has keyword kw (case-insensitive)? */
	int		 (*has_keyword)(void *ctx, uint32_t seq, const char *kw);
	uint64_t	 (*modseq)(void *ctx, uint32_t seq);
	uint64_t	 (*size)(void *ctx, uint32_t seq);
	time_t		 (*internaldate)(void *ctx, uint32_t seq);
	/*
	 * The whole message (CRLF) for header and body keys: *buf stays
	 * valid until the next call. 0, or -1 (the message vanished: it
	 * matches nothing).
	 */
	int		 (*content)(void *ctx, uint32_t seq, const char **buf, size_t *len);
};

struct imap_search {
	struct imap_search_node	*root;
	int			 uses_modseq;	/* MODSEQ key present: responses carry (MODSEQ n) */
	int			 uses_dollar;	/* "$" used */
	/* ESEARCH (RFC 4731): RETURN (...) options */
	int			 esearch;	/* RETURN given */
	unsigned		 ret;		/* IMAP_SEARCH_RET_* */
};

#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10	/* SEARCHRES */

/* Limits a hostile client cannot push past. */
#define IMAP_SEARCH_NODES_MAX	1000
#define IMAP_SEARCH_DEPTH_MAX	32

/*
 * Parse SEARCH arguments (after the command name; for UID SEARCH too):
 * [RETURN (...)] [CHARSET x] keys. Sequence sets are resolved against
 * the current mailbox: nmsgs and maxuid give "*"; saved is the SEARCHRES
 * result for "$" (may be NULL = empty), kept as UIDs (RFC 5182 2.1: they
 * survive expunges; imap_search_save makes it), so "$" means the same
 * messages in SEARCH and UID SEARCH. Only US-ASCII and UTF-8 charsets
 * are accepted (else -2: the caller answers NO [BADCHARSET (US-ASCII
 * UTF-8)]). 0, -1 with err (BAD), or -2.
 */
int imap_search_parse(struct imap_search *, const struct imap_arg *args,
    uint32_t nmsgs, uint32_t maxuid, const struct imap_seqset *saved,
    char *err, size_t errlen);
void imap_search_free(struct imap_search *);
/* Does message seq match? 1, 0. */
int imap_search_match(const struct imap_search *, const struct imap_search_msgops *, uint32_t seq);
/*
 * Run the search over every message: matching sequence numbers into
 * result (ascending). 0 or -1 (memory).
 */
int imap_search_run(const struct imap_search *, const struct imap_search_msgops *,
    struct imap_seqset *result);

/*
 * SEARCHRES (RFC 5182): the UIDs of the messages in seqs (a result of
 * imap_search_run), to keep as the saved result. 0 or -1 (memory).
 */
int imap_search_save(const struct imap_search_msgops *, const struct imap_seqset *seqs,
    struct imap_seqset *uids);
/*
 * The untagged response for result (sequence numbers, from
 * imap_search_run), appended to out with its CRLF: "* SEARCH 2 3 5
 * [(MODSEQ n)]" (RFC 3501 7.2.5, RFC 7162 3.1.5) or, when RETURN was
 * given or rev2 (RFC 9051: SEARCH answers ESEARCH), "* ESEARCH (TAG
 * "tag") [UID] MIN 2 MAX 5 COUNT 3 ALL 2:3,5 [MODSEQ n]" (RFC 4731).
 * Numbers are UIDs when uid. Nothing for RETURN (SAVE) alone (RFC
 * 5182). 0 or -1.
 */
int imap_search_respond(const struct imap_search *, const struct imap_search_msgops *,
    const struct imap_seqset *result, const char *tag, int uid, int rev2,
    struct strbuf *out);

/* SORT (RFC 5256 3): parse "(criteria) charset keys", run, result in sort order. */
struct imap_sort;
int imap_sort_parse(struct imap_sort **, const struct imap_arg *args, uint32_t nmsgs,
    uint32_t maxuid, const struct imap_seqset *saved, char *err, size_t errlen);
/* Sorted sequence numbers into *out (*n entries, malloc'd). 0 or -1. */
int imap_sort_run(struct imap_sort *, const struct imap_search_msgops *, uint32_t **out,
    size_t *n);
void imap_sort_free(struct imap_sort *);
/* "* SORT 3 1 2 [(MODSEQ n)]\r\n" for seqs (UIDs printed when uid), appended to out. 0 or -1. */
int imap_sort_respond(const struct imap_sort *, const struct imap_search_msgops *,
    const uint32_t *seqs, size_t n, int uid, struct strbuf *out);

/*
 * THREAD (RFC 5256 4): algorithm "REFERENCES" or "ORDEREDSUBJECT", then
 * charset and keys. Prints the thread list ("(1 2)(3 (4)(5))") into out
 * using sequence numbers, or UIDs when uid. 0, -1 with err, -2 bad charset.
 */
int imap_thread(const struct imap_arg *args, int uid, const struct imap_search_msgops *,
    uint32_t maxuid, const struct imap_seqset *saved, struct strbuf *out,
    char *err, size_t errlen);

/* RFC 5256 2.1 base subject of a Subject value (decoded to UTF-8 first), into out. */
int imap_base_subject(const char *subject, size_t len, struct strbuf *out);

#endif
