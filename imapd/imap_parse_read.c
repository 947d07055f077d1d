/*
 * imap_parse_read: reading one whole IMAP command off the wire (the line
 * and every literal it announces, RFC 3501 7.5 / 4.3, RFC 7888 LITERAL+
 * and LITERAL-, RFC 3516 literal8) into the command buffer, under the
 * caller's limits, before imap_parse.c parses it. Runs in imapd's login
 * process (as login_user) and session process (as the mail owner).
 *
 * A command that goes over a limit is refused without losing step with
 * the client: a synchronising literal is answered "NO [TOOBIG]" before
 * the client sends it (RFC 7888 4, RFC 9051 7.1); an overlong line or a
 * non-synchronising literal is read to its end and dropped, with every
 * further line and literal of the same command, so that literal bytes
 * are never taken for commands. Dropping is bounded by IMAP_DRAIN_MAX.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"
#include "imap_parse_int.h"
#include "stream.h"
#include "util.h"

#define READ_CHUNK	16384
#define TAIL_MAX	32	/* "~{" 20 digits "+}" CRLF fits */
#define READ_REFUSED	(-100)	/* internal: sync literal refused with NO */
#define REFUSALS_MAX	16
#define BUF_KEEP_MAX	(4 * IMAP_LINE_MAX)	/* larger command buffers are freed */

struct reader {
	struct stream		*s;
	struct imap_cmd		*cmd;
	const struct imap_limits *lim;
	size_t			 line_max;
	size_t			 line;		/* line bytes of this command */
	uint64_t		 drained;	/* bytes dropped */
	char			 tail[TAIL_MAX];	/* end of the line being dropped */
	size_t			 taillen;
	char			*err;
	size_t			 errlen;
};

struct literal {
	uint64_t	n;
	int		sync;
	int		lit8;
};

static int
read_fail(struct reader *rd, int rc, const char *why)
{
	if (rd->errlen > 0)
		(void)str_copy(rd->err, why, rd->errlen);
	return rc;
}

/*
 * Does the line p (len bytes, ending with LF) end with a literal's
 * announcement: "{n}", "{n+}", "~{n}", "~{n+}" before CRLF or LF?
 * A number over 2^64-1 is taken as UINT64_MAX (over any limit).
 */
static int
find_literal(const char *p, size_t len, struct literal *l)
{
	const char *e = p + len, *d;
	uint64_t n = 0;

	if (e > p && e[-1] == '\n')
		e--;
	if (e > p && e[-1] == '\r')
		e--;
	if (e == p || *--e != '}')
		return 0;
	l->sync = 1;
	if (e > p && e[-1] == '+') {
		l->sync = 0;
		e--;
	}
	for (d = e; d > p && d[-1] >= '0' && d[-1] <= '9'; d--)
		;
	if (d == e || d == p || d[-1] != '{')
		return 0;
	l->lit8 = d - 1 > p && d[-2] == '~';
	for (; d < e; d++) {
		unsigned v = (unsigned)(*d - '0');
		n = n > (UINT64_MAX - v) / 10 ? UINT64_MAX : n * 10 + v;
	}
	l->n = n;
	return 1;
}

/* Take the tag from the start of the command, when it has a valid one. */
static void
peek_tag(struct imap_cmd *cmd)
{
	size_t i;

	cmd->tag[0] = '\0';
	for (i = 0; i < cmd->buflen && i <= IMAP_TAG_MAX; i++) {
		unsigned char c = (unsigned char)cmd->buf[i];
		if (c == ' ')
			break;
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c) != NULL)
			return;
	}
	if (i == 0 || i > IMAP_TAG_MAX || i == cmd->buflen)
		return;
	memcpy(cmd->tag, cmd->buf, i);
	cmd->tag[i] = '\0';
}

/* Read one line into the buffer. OK, EOF, or TOOBIG with the line unfinished. */
static int
read_line(struct reader *rd)
{
	struct imap_cmd *cmd = rd->cmd;
	size_t room, want;
	ssize_t n;

	for (;;) {
		room = rd->line_max - rd->line;
		if (room == 0)
			return IMAP_READ_TOOBIG;
		want = room < READ_CHUNK ? room : READ_CHUNK;
		imap_cmd_reserve(cmd, cmd->buflen + want);
		n = stream_getline_part(rd->s, cmd->buf + cmd->buflen, want);
		if (n <= 0)
			return IMAP_READ_EOF;
		cmd->buflen += (size_t)n;
		rd->line += (size_t)n;
		if (cmd->buf[cmd->buflen - 1] == '\n')
			return IMAP_READ_OK;
	}
}

/* Keep the last TAIL_MAX bytes of what is being dropped. */
static void
tail_add(struct reader *rd, const char *p, size_t n)
{
	size_t keep;

	if (n >= TAIL_MAX) {
		memcpy(rd->tail, p + n - TAIL_MAX, TAIL_MAX);
		rd->taillen = TAIL_MAX;
		return;
	}
	keep = rd->taillen + n > TAIL_MAX ? TAIL_MAX - n : rd->taillen;
	memmove(rd->tail, rd->tail + rd->taillen - keep, keep);
	memcpy(rd->tail + keep, p, n);
	rd->taillen = keep + n;
}

/* Drop the rest of the current line. OK or EOF. */
static int
drain_line(struct reader *rd)
{
	char buf[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = stream_getline_part(rd->s, buf, sizeof(buf));
		if (n <= 0)
			return IMAP_READ_EOF;
		rd->drained += (uint64_t)n;
		if (rd->drained > IMAP_DRAIN_MAX)
			return read_fail(rd, IMAP_READ_EOF, "command too big to skip");
		tail_add(rd, buf, (size_t)n);
		if (buf[n - 1] == '\n')
			return IMAP_READ_OK;
	}
}

/* Drop n bytes of a literal. OK or EOF. */
static int
drain_bytes(struct reader *rd, uint64_t n)
{
	char buf[READ_CHUNK];
	ssize_t k;

	if (n > IMAP_DRAIN_MAX - rd->drained)
		return read_fail(rd, IMAP_READ_EOF, "literal too big to skip");
	rd->drained += n;
	while (n > 0) {
		k = stream_read(rd->s, buf, n < sizeof(buf) ? (size_t)n : sizeof(buf));
		if (k <= 0)
			return IMAP_READ_EOF;
		n -= (uint64_t)k;
	}
	return IMAP_READ_OK;
}

/*
 * Drop the rest of a refused command: the current line, and while it
 * announces a non-synchronising literal, that literal and the next line.
 * A synchronising literal is not invited: the caller's BAD ends it.
 * TOOBIG (err is already set) or EOF.
 */
static int
drain_command(struct reader *rd)
{
	struct literal l;
	int rc;

	for (;;) {
		if ((rc = drain_line(rd)) != IMAP_READ_OK)
			return rc;
		if (!find_literal(rd->tail, rd->taillen, &l) || l.sync)
			return IMAP_READ_TOOBIG;
		if ((rc = drain_bytes(rd, l.n)) != IMAP_READ_OK)
			return rc;
		rd->taillen = 0;
	}
}

/* Is the literal over one of the limits? */
static int
literal_over(const struct reader *rd, const struct literal *l)
{
	const struct imap_limits *lim = rd->lim;

	if (l->n > lim->literal_max)
		return 1;
	if (lim->total_max < rd->cmd->buflen || l->n > lim->total_max - rd->cmd->buflen)
		return 1;
	/* RFC 7888 4: LITERAL- takes {n+} only up to 4096 octets */
	return !l->sync && !lim->literal_plus && l->n > IMAP_LITERAL_MINUS_MAX;
}

static int
refuse_literal(struct reader *rd, const struct literal *l)
{
	const char *tag = rd->cmd->tag[0] != '\0' ? rd->cmd->tag : "*";

	(void)read_fail(rd, 0, "literal too big");
	if (!l->sync) {
		if (drain_bytes(rd, l->n) != IMAP_READ_OK)
			return IMAP_READ_EOF;
		rd->taillen = 0;
		return drain_command(rd);
	}
	/* RFC 9051 7.1 TOOBIG, before the client sends the bytes */
	if (stream_printf(rd->s, "%s NO [TOOBIG] Literal too big\r\n", tag) == -1 ||
	    stream_flush(rd->s) == -1)
		return IMAP_READ_EOF;
	return READ_REFUSED;
}

static int
read_literal(struct reader *rd, uint64_t n)
{
	struct imap_cmd *cmd = rd->cmd;
	size_t want;
	ssize_t k;

	while (n > 0) {
		want = n < READ_CHUNK * 4 ? (size_t)n : READ_CHUNK * 4;
		imap_cmd_reserve(cmd, cmd->buflen + want);
		k = stream_read(rd->s, cmd->buf + cmd->buflen, want);
		if (k <= 0)
			return IMAP_READ_EOF;
		cmd->buflen += (size_t)k;
		n -= (uint64_t)k;
	}
	return IMAP_READ_OK;
}

/* The lines and literals of one command, unparsed. */
static int
read_command(struct reader *rd)
{
	struct imap_cmd *cmd = rd->cmd;
	struct literal l;
	size_t start;
	int rc, first;

	if (cmd->bufcap > BUF_KEEP_MAX) {
		/* an APPEND's literal is not kept for the rest of the session */
		secure_zero(cmd->buf, cmd->bufcap);
		free(cmd->buf);
		cmd->buf = NULL;
		cmd->bufcap = 0;
	}
	cmd->buflen = 0;
	rd->line = 0;
	rd->taillen = 0;
	for (first = 1;; first = 0) {
		start = cmd->buflen;
		rc = read_line(rd);
		if (first)
			peek_tag(cmd);
		if (rc == IMAP_READ_EOF)
			return read_fail(rd, rc, "connection closed or timed out");
		if (rc == IMAP_READ_TOOBIG) {
			(void)read_fail(rd, rc, "command line too long");
			tail_add(rd, cmd->buf + start, cmd->buflen - start);
			return drain_command(rd);
		}
		if (!find_literal(cmd->buf + start, cmd->buflen - start, &l))
			return IMAP_READ_OK;
		if (literal_over(rd, &l))
			return refuse_literal(rd, &l);
		if (l.sync && (stream_puts(rd->s, "+ OK\r\n") == -1 ||
		    stream_flush(rd->s) == -1))
			return read_fail(rd, IMAP_READ_EOF, "write failed");
		if (read_literal(rd, l.n) != IMAP_READ_OK)
			return read_fail(rd, IMAP_READ_EOF, "connection closed in a literal");
	}
}

int
imap_cmd_read(struct stream *s, struct imap_cmd *cmd, const struct imap_limits *lim,
    char *err, size_t errlen)
{
	struct reader rd;
	int rc, refused = 0;

	memset(&rd, 0, sizeof(rd));
	rd.s = s;
	rd.cmd = cmd;
	rd.lim = lim;
	rd.line_max = lim->line_max == 0 || lim->line_max > IMAP_LINE_MAX ?
	    IMAP_LINE_MAX : lim->line_max;
	rd.err = err;
	rd.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	for (;;) {
		rc = read_command(&rd);
		if (rc == READ_REFUSED && ++refused < REFUSALS_MAX)
			continue;
		if (rc != IMAP_READ_OK) {
			imap_cmd_empty(cmd);
			return rc == READ_REFUSED ? IMAP_READ_TOOBIG : rc;
		}
		return imap_parse_buf(cmd, err, errlen);
	}
}
