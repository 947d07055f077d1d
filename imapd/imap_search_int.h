/*
 * imap_search_int: what the files of the search module (imap_search.c,
 * imap_search_eval.c, imap_sort.c, imap_thread.c, imap_subject.c) share
 * among themselves: the key tree, the per-message cache and the
 * string and date helpers. Not for other modules: their interface is
 * imap_search.h.
 */
#ifndef POSTERN_IMAP_SEARCH_INT_H
#define POSTERN_IMAP_SEARCH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "strbuf.h"
#include "imap_mime.h"
#include "imap_search.h"

/* Scratch buffers hold at most one message's text. */
#define SEARCH_STR_MAX	((size_t)1 << 30)

enum skey {
	SK_ALL,
	SK_FLAGS,	/* (flags & mask) == want */
	SK_KEYWORD,	/* has keyword str */
	SK_LARGER,
	SK_SMALLER,
	SK_DATE,	/* internal date, server zone day, cmp */
	SK_SENT,	/* Date header, its own zone day, cmp */
	SK_HEADER,	/* field name, folded needle str */
	SK_BODY,
	SK_TEXT,
	SK_SEQ,
	SK_UID,
	SK_SAVED,	/* "$": uid in set */
	SK_MODSEQ,
	SK_NOT,
	SK_OR,
	SK_AND
};

/* Cost classes: what a key needs of a message. */
#define SK_COST_CHEAP	0	/* flags, numbers, dates */
#define SK_COST_HEADER	1
#define SK_COST_BODY	2

struct imap_search_node {
	enum skey			 type;
	int				 cost;
	int				 cmp;	/* dates: -1 BEFORE, 0 ON, 1 SINCE */
	unsigned			 mask, want;
	int64_t				 day;	/* days since 1970-01-01 */
	uint64_t			 num;
	char				*name;	/* HEADER field name */
	char				*str;	/* folded needle, keyword */
	size_t				 len;
	struct imap_seqset		 set;
	struct imap_search_node		**kids;
	size_t				 nkids;
};

/* What one message has given so far: asked once, kept while it is evaluated. */
struct search_msg {
	const struct imap_search_msgops	*ops;
	uint32_t			 seq;
	int				 got;	/* 0 not asked, 1 have, -1 vanished */
	const char			*buf;
	size_t				 len, hdrlen;
	int				 got_text;	/* 1 text holds the folded body text, -1 failed */
	struct strbuf			 text;
	struct strbuf			 tmp, tmp2;
};

/* imap_search_eval.c */
void search_msg_init(struct search_msg *, const struct imap_search_msgops *, uint32_t seq);
void search_msg_free(struct search_msg *);
/* The message's content: 0, -1 vanished. */
int search_msg_content(struct search_msg *);
/* Field name's values (all of them, decoded to UTF-8) into out: 1 found, 0 not, -1 error. */
int search_msg_header(struct search_msg *, const char *name, struct strbuf *out);
int search_node_match(const struct imap_search_node *, struct search_msg *);

/* imap_search.c */
/* Case-fold UTF-8 (ASCII and Latin-1) s into out (appended). 0 or -1. */
int search_fold(const char *s, size_t len, struct strbuf *out);
/* Days since 1970-01-01 of a civil date. */
int64_t search_days(int64_t y, unsigned m, unsigned d);
/* [CHARSET x] keys (x required for SORT and THREAD) into s: 0, -1 (err), -2 bad charset. */
int search_parse_keys(struct imap_search *, const struct imap_arg *args, int charset_required,
    uint32_t nmsgs, uint32_t maxuid, const struct imap_seqset *saved, char *err, size_t errlen);

/* imap_subject.c */
/* Base subject (RFC 5256 2.1) of an already decoded subject; *isreply when a Re:/Fwd: was taken off. */
int search_base_subject(const char *s, size_t len, struct strbuf *out, int *isreply);
/* The sent date (RFC 5256 2.2): the Date header in UTC, else the internal date. */
time_t search_sent_date(struct search_msg *);

#endif
