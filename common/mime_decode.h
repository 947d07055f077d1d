/*
 * mime_decode: transfer encodings, charsets and RFC 2047 encoded words,
 * for every reader of messages (imapd, deliver's rules). Output is
 * appended to a bounded strbuf; on failure nothing is appended.
 */
#ifndef POSTERN_MIME_DECODE_H
#define POSTERN_MIME_DECODE_H

#include <stddef.h>

struct strbuf;

/* Scratch buffers: bounded by the input (a message in memory) anyway. */
#define MIME_DECODE_MAX	((size_t)1 << 30)

/* Remove the transfer encoding enc (NULL = none). 0, -1 when out is full, -2 for an unknown encoding. */
int mime_decode_body(const char *enc, const char *s, size_t len, struct strbuf *out);
/* Convert s from charset (NULL or "" = us-ascii) to UTF-8, appended. 0, -1 full, -2 unknown charset (nothing appended). */
int mime_to_utf8(const char *charset, size_t cslen, const char *s, size_t len,
    struct strbuf *out);
/* UTF-8 (or US-ASCII) copied with invalid bytes as U+FFFD. 0 or -1. */
int mime_utf8_copy(const char *s, size_t len, struct strbuf *out);
/*
 * RFC 2047 encoded words of a header value decoded to UTF-8 (adjacent
 * words joined, RFC 2047 6.2; unknown charsets left as written),
 * appended. 0 or -1.
 */
int mime_hdr_decode(const char *value, size_t len, struct strbuf *out);

#endif
