/*
 * imap_mime: the MIME structure of one message (RFC 2045, 2046, 2231,
 * 5322) for FETCH BODY/BODYSTRUCTURE/ENVELOPE/BODY[section]/BINARY and for
 * SEARCH and SORT. Works on a whole message in memory with CRLF line ends
 * (imap_msg_read gives that); pure computation with bounded depth and
 * part count, so a hostile message costs time linear in its size.
 * Runs in imapd's session process.
 */
#ifndef POSTERN_IMAP_MIME_H
#define POSTERN_IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mime_decode.h"

struct strbuf;

#define IMAP_MIME_DEPTH_MAX	32	/* nested multiparts / message/rfc822 */
#define IMAP_MIME_PARTS_MAX	2000	/* parts in one message; the rest is body text */
#define IMAP_MIME_PARAMS_MAX	128	/* parameters read from one Content-Type/-Disposition */

struct imap_mime_param {
	char	*name;		/* lower case */
	char	*value;		/* RFC 2231 continuations joined; still %-encoded with charset'lang' if extended */
};

struct imap_mime_part {
	/* Offsets into the message buffer. */
	size_t			 hdr_off, hdr_len;	/* header, including the blank line */
	size_t			 body_off, body_len;	/* body of this part */
	uint64_t		 body_lines;		/* CRLFs in the body */
	char			*type, *subtype;	/* lower case; default text/plain (or message/rfc822 in multipart/digest) */
	struct imap_mime_param	*params;		/* Content-Type parameters */
	size_t			 nparams;
	char			*id, *description, *encoding, *md5, *location;	/* NULL when absent */
	char			*disposition;		/* NULL when absent */
	struct imap_mime_param	*dparams;
	size_t			 ndparams;
	char			*language;		/* raw Content-Language value, NULL when absent */
	struct imap_mime_part	*children;		/* multipart: the parts; message/rfc822: one, the message */
	size_t			 nchildren;
};

struct imap_mime {
	const char		*buf;	/* not owned */
	size_t			 len;
	struct imap_mime_part	 root;
};

/* Parse buf (len bytes, CRLF). Never fails on bad MIME: what cannot be parsed is text. 0, or -1 on memory exhaustion. */
int imap_mime_parse(struct imap_mime *, const char *buf, size_t len);
void imap_mime_free(struct imap_mime *);

/* BODY (extended = 0) or BODYSTRUCTURE (extended = 1), RFC 3501 7.4.2, appended to out. */
int imap_mime_bodystructure(const struct imap_mime *, int extended, struct strbuf *out);
/* ENVELOPE of a header block (RFC 3501 7.4.2; encoded words left as they are). */
int imap_envelope(const char *hdr, size_t hdrlen, struct strbuf *out);

/*
 * A FETCH section (the text between '[' and ']': "", "HEADER", "TEXT",
 * "1.2", "1.2.MIME", "2.HEADER.FIELDS (FROM TO)", "HEADER.FIELDS.NOT
 * (X)"). On success *out / *outlen point into the message, or into tmp
 * (which is reset first) for HEADER.FIELDS[.NOT]. A part that does not
 * exist gives an empty string (RFC 3501 6.4.5). 0, or -1 when the
 * section text is malformed (the caller answers BAD).
 */
int imap_mime_section(const struct imap_mime *, const char *spec, size_t speclen,
    const char **out, size_t *outlen, struct strbuf *tmp);
/*
 * BINARY[section] (RFC 3516): the part's body with its
 * Content-Transfer-Encoding removed, into out. 0, -1 when the section is
 * malformed, -2 for an encoding we do not know (NO [UNKNOWN-CTE]).
 * BINARY.SIZE is the length of the same.
 */
int imap_mime_binary(const struct imap_mime *, const char *spec, size_t speclen,
    struct strbuf *out);

/* Header access, for SEARCH, SORT and THREAD. */
/* The first field called name (case-insensitive) in hdr, unfolded, into out. 1 found, 0 not, -1 full. */
int imap_hdr_get(const char *hdr, size_t hdrlen, const char *name, struct strbuf *out);
/* Every field called name, unfolded, joined by "\n". 1 found, 0 not, -1 full. */
int imap_hdr_get_all(const char *hdr, size_t hdrlen, const char *name, struct strbuf *out);
/* RFC 2047 words in header text: mime_hdr_decode() of common/mime_decode.h. */
/*
 * Every text part's body, transfer-decoded and converted to UTF-8 (bytes
 * that are not: U+FFFD), joined by "\n" and appended, for SEARCH
 * BODY/TEXT. 0, or -1 when out is full.
 */
int imap_mime_text_utf8(const struct imap_mime *, struct strbuf *out);
/* An RFC 5322 date (obsolete forms too). 0 with *t (UTC) and *tzoff (seconds east), or -1. */
int imap_date_parse(const char *s, size_t len, time_t *t, int *tzoff);
/*
 * The first address of an address-list header value: its mailbox (local
 * part, "" when none) and display name (decoded, "" when none), for SORT
 * FROM/TO/CC and DISPLAYFROM/DISPLAYTO (RFC 5256, 5957).
 */
int imap_addr_first(const char *value, size_t len, struct strbuf *mailbox,
    struct strbuf *display);	/* 1 found, 0 no address, -1 full */

#endif
