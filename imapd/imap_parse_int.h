/*
 * imap_parse_int: what imap_parse.c (the grammar) and imap_parse_read.c
 * (reading a command off the wire) share. Not for other modules.
 */
#ifndef POSTERN_IMAP_PARSE_INT_H
#define POSTERN_IMAP_PARSE_INT_H

#include <stddef.h>

struct imap_cmd;

/* Make room for need bytes (and a NUL) in cmd->buf. */
void imap_cmd_reserve(struct imap_cmd *, size_t need);
/* Leave cmd with no arguments (args: one EOL entry). */
void imap_cmd_empty(struct imap_cmd *);
/* Parse cmd->buf (buflen bytes) in place. IMAP_READ_OK or IMAP_READ_BAD. */
int imap_parse_buf(struct imap_cmd *, char *err, size_t errlen);

#endif
