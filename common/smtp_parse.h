/*
 * smtp_parse: the pure parts of the SMTP server engine, with no I/O so
 * they can be unit-tested and fuzzed: the command-line splitter, the DATA
 * line classifier (end-of-data, dot-unstuffing, line-end normalisation:
 * the SMTP smuggling defence), the BDAT line-end normaliser, and the
 * header scanner that counts Received hops.
 */
#ifndef POSTERN_SMTP_PARSE_H
#define POSTERN_SMTP_PARSE_H

#include <stddef.h>

#define SMTP_CMD_MAX	512	/* RFC 5321 4.5.3.1.4, with the CRLF */
#define SMTP_TEXT_MAX	1000	/* RFC 5321 4.5.3.1.6, with the CRLF */
#define SMTP_HOPS_MAX	100	/* Received headers before we call it a loop */

/*
 * Split a command line (as read, with its CRLF or LF) in place into the
 * verb and its argument. The line end is removed, trailing spaces and
 * tabs are trimmed, and the verb ends at the first space (one or more
 * spaces separate it from the argument). *arg is "" when there is none.
 * Returns 0, or -1 when the line holds a NUL, a bare CR, another control
 * character other than TAB, or no verb (the caller answers 500 5.5.2).
 */
int smtp_cmd_split(char *line, size_t len, char **verb, char **arg);

/*
 * If arg starts with keyword (case-insensitive, e.g. "FROM:" or "TO:"),
 * return a pointer just after it (spaces after the colon are left for the
 * path parser, which skips them); else NULL.
 */
const char *smtp_cmd_keyword(const char *arg, const char *keyword);

/*
 * The DATA reader (RFC 5321 4.1.1.4, 4.5.2). It is fed the lines that
 * stream_getline() returns, each ending in LF (or not, at EOF). Only
 * "." CR LF at the start of a line that follows a CR LF (or is the first
 * line) ends the message. Every other line end -- CR LF, a bare LF, a
 * bare CR -- is stored as one LF and never ends the message, so none of
 * <LF>.<LF>, <LF>.<CR><LF>, <CR><LF>.<LF>, <CR>.<CR><LF> can smuggle a
 * second message. A line starting with "." and holding more loses that
 * first ".": RFC 5321 4.5.2 transparency.
 */
enum smtp_dot_result {
	SMTP_DOT_MORE = 0,	/* content; keep reading */
	SMTP_DOT_END = 1,	/* the end-of-data line; nothing written */
	SMTP_DOT_AMBIGUOUS = 2	/* ".\r\n" after a line whose end was lost: see smtp_dot_lost() */
};

struct smtp_dot {
	int	 bol_crlf;	/* at a line start after CR LF (or the first line) */
	int	 lost_end;	/* the previous line was too long for the buffer */
	int	 toolong;	/* some text line was over SMTP_TEXT_MAX octets */
	size_t	 linelen;	/* octets of the current line so far */
};

void smtp_dot_init(struct smtp_dot *);
/*
 * Classify one line in[0..n) and append its content with LF line ends to
 * out (which needs room for n bytes; *outlen is set to what was written).
 */
enum smtp_dot_result smtp_dot_line(struct smtp_dot *, const char *in, size_t n,
    char *out, size_t *outlen);
/*
 * The reader had to drop a line longer than its buffer (STREAM_TOOLONG),
 * so whether it ended in CR LF is unknown: the message is refused (it is
 * over the text line limit anyway), and if the next line is "." CR LF the
 * end of the message cannot be known either; smtp_dot_line then returns
 * SMTP_DOT_AMBIGUOUS and the engine must close the session.
 */
void smtp_dot_lost(struct smtp_dot *);

/*
 * BDAT content (RFC 3030) is not dot-stuffed. Line ends are normalised:
 * CR LF and a bare CR become LF; a CR at the end of a chunk waits for the
 * next byte. out needs room for n (+1 for smtp_crlf_finish) bytes.
 */
struct smtp_crlf {
	int	 cr;		/* the last byte seen was a CR */
};
void smtp_crlf_init(struct smtp_crlf *);
size_t smtp_crlf_feed(struct smtp_crlf *, const char *in, size_t n, char *out);
/* At the end of the message: a trailing CR becomes LF. Returns 0 or 1 bytes. */
size_t smtp_crlf_finish(struct smtp_crlf *, char *out);

/*
 * Header scanner over stored content (LF line ends): counts Received
 * fields (RFC 5321 6.3 loop detection) and finds where the header ends.
 */
struct smtp_hdrscan {
	int		 in_header;
	int		 bol;		/* at the start of a line */
	int		 match;		/* chars of "received:" matched, -1 = no match */
	unsigned	 received;
	unsigned long long off;		/* content bytes scanned */
};
void smtp_hdrscan_init(struct smtp_hdrscan *);
/*
 * Scan buf[0..n). Returns the index in buf of the LF of the empty line
 * that ends the header, when it is in this chunk, else n.
 */
size_t smtp_hdrscan_feed(struct smtp_hdrscan *, const char *buf, size_t n);

#endif
