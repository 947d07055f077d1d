/*
 * The fake mailbox of the SEARCH, SORT and THREAD unit tests
 * (test_imap_search.c, test_imap_sort.c): messages given as text, the
 * message operations imap_search_run and imap_sort_run read them
 * through, and the command parser for the arguments.
 */
#ifndef POSTERN_IMAP_SEARCH_FIXTURE_H
#define POSTERN_IMAP_SEARCH_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "imap_seqset.h"
#include "imap_search.h"

struct tmsg {
	uint32_t	 uid;
	unsigned	 flags;
	const char	*kw;
	uint64_t	 modseq;
	const char	*idate;	/* "YYYY-MM-DD HH:MM" UTC */
	const char	*text;	/* LF line ends, made CRLF */
};

struct box {
	const struct tmsg	*m;
	size_t			 n;
	char			**crlf;
	unsigned		 content_calls;
	uint32_t		 vanished;	/* this seq's content is gone */
};

extern const struct tmsg mail[4];	/* four messages, UIDs 10-40 */
extern struct box B;			/* the box the operations read */
extern const struct imap_search_msgops ops;
extern struct imap_seqset saved;	/* "$" (SEARCHRES) */
extern struct imap_cmd cmd;		/* what args_of() parsed last */

void box_open(const struct tmsg *m, size_t n);
void box_close(void);
/* Parse "tag CMD args"; the arguments after the command name. */
const struct imap_arg *args_of(const char *text);
/* cmocka setup (the four messages of mail) and teardown (any box). */
int setup_mail(void **st);
int teardown(void **st);

#endif
