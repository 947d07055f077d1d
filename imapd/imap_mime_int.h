/*
 * imap_mime_int: what the files of the MIME module (imap_mime.c,
 * imap_mime_hdr.c, imap_bodystruct.c, imap_section.c, imap_envelope.c,
 * imap_decode.c, imap_date.c) share among themselves. Not for other
 * modules: their interface is imap_mime.h.
 */
#ifndef POSTERN_IMAP_MIME_INT_H
#define POSTERN_IMAP_MIME_INT_H

#include <stddef.h>

#include "imap_mime.h"

struct strbuf;

/* Scratch buffers: bounded by the input (a message in memory) anyway. */
#define MIME_STR_MAX	MIME_DECODE_MAX

/* One header field: name (without trailing WSP), raw value (folds kept, no final EOL), whole raw text. */
struct mime_field {
	const char	*name;
	size_t		 namelen;
	const char	*val;
	size_t		 vallen;
	const char	*raw;	/* the field's lines including their line ends */
	size_t		 rawlen;
};

/* imap_mime_hdr.c */
/* The next field of hdr from *pos. 1 with f, 0 at the end of the header (blank line or end). */
int mime_field_next(const char *hdr, size_t len, size_t *pos, struct mime_field *f);
int mime_field_is(const struct mime_field *, const char *name);
/* Append v with line ends removed and surrounding WSP trimmed. 0 or -1. */
int mime_unfold(const char *v, size_t len, struct strbuf *out);
/* Skip CFWS (RFC 5322 3.2.2: WSP, CR, LF, nested comments) from p. */
const char *mime_skip_cfws(const char *p, const char *end);
/*
 * "type[/subtype] *(; param)" (Content-Type when want_sub, else
 * Content-Disposition). Names are lower-cased; RFC 2231 continuations are
 * joined. 0, 1 when the value is syntactically invalid (nothing set),
 * -1 on memory exhaustion.
 */
int mime_parse_ctype(const char *v, size_t len, int want_sub, char **type,
    char **subtype, struct imap_mime_param **params, size_t *nparams);
void mime_params_free(struct imap_mime_param *, size_t);
const char *mime_param(const struct imap_mime_param *, size_t n, const char *name);
char *mime_strndup(const char *, size_t);

/* imap_bodystruct.c */
int mime_is_msg(const struct imap_mime_part *);	/* message/rfc822 or global with its message parsed */
int mime_is_multipart(const struct imap_mime_part *);

/* Decoders (transfer encodings, charsets): common/mime_decode.h. */

/* imap_envelope.c: the address-list parser shared by ENVELOPE and imap_addr_first. */
struct mime_addr {
	const char	*name;	/* NULL = NIL; group start: the group's name */
	size_t		 namelen;
	const char	*adl;
	size_t		 adllen;
	const char	*mailbox;	/* NULL with host NULL: group end */
	size_t		 mailboxlen;
	const char	*host;	/* NULL: group start or end */
	size_t		 hostlen;
};
/* Calls fn for each address of value (unfolded). fn returns 0 to go on, 1 to stop, -1 error. */
int mime_addr_parse(const char *value, size_t len,
    int (*fn)(const struct mime_addr *, void *), void *arg);

#endif
