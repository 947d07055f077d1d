/*
 * msgfix: header fix-ups of a submission (RFC 6409 8): find which of
 * Date, Message-ID and From a header section has, and make the missing
 * fields. Used by submitd (its header_fixup hook) and by pickup (mail
 * from postern-sendmail). Pure functions on LF-ended text.
 */
#ifndef POSTERN_MSGFIX_H
#define POSTERN_MSGFIX_H

#include <stddef.h>

struct strbuf;

#define MSGFIX_DATE	0x01
#define MSGFIX_MSGID	0x02
#define MSGFIX_FROM	0x04
#define MSGFIX_BCC	0x08

/* Is the field at line (a header line start) named name ("Date")? */
int msgfix_is_field(const char *line, size_t len, const char *name);
/* MSGFIX_* bits for the fields present in hdr[0..len) (field names at line starts). */
unsigned msgfix_present(const char *hdr, size_t len);
/* "<SECONDS.RANDOM@host>" (RFC 5322 3.6.4). Returns buf. */
const char *msgfix_msgid(char *buf, size_t len, const char *host);
/*
 * Append "Message-ID: ...\n" and "Date: ...\n" to out for those missing
 * from present. 0, or -1 when out is full.
 */
int msgfix_add(struct strbuf *out, unsigned present, const char *host);

#endif
