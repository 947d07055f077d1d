/*
 * imap_fetch: the FETCH data item list (RFC 3501 6.4.5, RFC 9051 6.4.5,
 * BINARY RFC 3516, MODSEQ/CHANGEDSINCE/VANISHED RFC 7162 3.1.4, 3.2.6)
 * parsed into a request (imap_fetch_parse.c, pure, unit-tested and
 * fuzzed), and the helpers of the message commands (imap_fetch.c,
 * imap_cmd_msg.c) shared between their files. Runs in imapd's session
 * process as the mail owner.
 */
#ifndef POSTERN_IMAP_FETCH_H
#define POSTERN_IMAP_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct imap_arg;
struct imap_session;
struct imap_seqset;
struct strbuf;

/* Data items served from struct imap_msg (bit set). */
#define IMAP_FA_UID		0x0001
#define IMAP_FA_FLAGS		0x0002
#define IMAP_FA_INTERNALDATE	0x0004
#define IMAP_FA_SIZE		0x0008	/* RFC822.SIZE */
#define IMAP_FA_MODSEQ		0x0010
/* Data items that need the message. */
#define IMAP_FA_ENVELOPE	0x0100
#define IMAP_FA_BODY		0x0200	/* BODY without a section */
#define IMAP_FA_BODYSTRUCTURE	0x0400

#define IMAP_FETCH_SECTS_MAX	64	/* body sections in one FETCH */

enum imap_fetch_kind {
	IMAP_FK_BODY,		/* BODY[...] / BODY.PEEK[...] */
	IMAP_FK_BINARY,		/* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FK_BINSIZE,	/* BINARY.SIZE[...] */
	IMAP_FK_RFC822,		/* RFC822: BODY[] named RFC822 */
	IMAP_FK_RFC822_HEADER,	/* BODY.PEEK[HEADER] named RFC822.HEADER */
	IMAP_FK_RFC822_TEXT	/* BODY[TEXT] named RFC822.TEXT */
};

struct imap_fetch_sect {
	enum imap_fetch_kind	 kind;
	int			 peek;		/* .PEEK (or RFC822.HEADER) */
	const char		*spec;		/* between '[' and ']', not NUL-terminated */
	size_t			 speclen;
	int			 partial;	/* <off.cnt> given */
	uint64_t		 off, cnt;
};

struct imap_fetch_req {
	unsigned		 atts;		/* IMAP_FA_* */
	struct imap_fetch_sect	 sects[IMAP_FETCH_SECTS_MAX];
	size_t			 nsects;
	int			 changedsince_set;
	uint64_t		 changedsince;
	int			 vanished;
	/* derived */
	int			 sets_seen;	/* a non-peek body section */
	int			 needs_content;	/* the message file must be read */
	int			 needs_mime;	/* the MIME structure must be parsed */
};

/*
 * Parse the item list (an atom, a macro, or a parenthesised list) and the
 * optional modifier list (mods: a LIST argument or NULL) into req.
 * Pointers in req point into the arguments. 0, or -1 with err (BAD).
 */
int imap_fetch_parse(struct imap_fetch_req *req, const struct imap_arg *items,
    const struct imap_arg *mods, char *err, size_t errlen);
/*
 * Is spec a valid section-spec (RFC 3501 9: "", HEADER, TEXT, 1.2,
 * 1.2.MIME, HEADER.FIELDS[.NOT] (list)), or for binary a section-binary
 * (part numbers only)? 1 or 0.
 */
int imap_fetch_section_ok(const char *spec, size_t len, int binary);

/* imap_fetch.c, for imap_cmd_msg.c too. */
/*
 * Resolve a sequence-set argument (text, or "$" = the SEARCHRES result,
 * which holds UIDs) into the selected folder's message indexes (0-based,
 * ascending, *n of them, malloc'd, NULL when none). With uid, UIDs that
 * do not exist are skipped; without, a number past the last message is
 * an error. 0, or -1 with err (BAD).
 */
int imap_fetch_resolve(struct imap_session *, const struct imap_arg *set, int uid,
    size_t **idx, size_t *n, char *err, size_t errlen);
/* Highest index whose UID is < uid, plus one (lower bound). */
size_t imap_fetch_lower_uid(struct imap_session *, uint32_t uid);

#endif
