/*
 * imap_utf7: modified UTF-7 mailbox names (RFC 3501 5.1.3) <-> UTF-8,
 * for UTF8=ACCEPT (RFC 6855) and LIST. Pure computation.
 */
#ifndef POSTERN_IMAP_UTF7_H
#define POSTERN_IMAP_UTF7_H

#include <stddef.h>

struct strbuf;

/* 0, or -1 when in is not valid modified UTF-7 / UTF-8. out is appended to. */
int imap_utf7_to_utf8(const char *in, size_t len, struct strbuf *out);
int imap_utf8_to_utf7(const char *in, size_t len, struct strbuf *out);
/* Is in valid modified UTF-7 (the only form a mailbox name may have on the wire without UTF8=ACCEPT)? */
int imap_utf7_valid(const char *in, size_t len);

#endif
