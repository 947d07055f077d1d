/*
 * imap_parse: reading and tokenising IMAP commands (RFC 3501 9 / RFC 9051
 * 9 grammar), shared by imapd's login process (imap_login.c, as
 * login_user) and its session process (as the mail owner).
 *
 * A command is read whole before it is parsed: the line, and every literal
 * it announces ({n} synchronising: "+ OK" is sent before its bytes are
 * read; {n+} non-synchronising, RFC 7888; ~{n} and ~{n+} literal8,
 * RFC 3516; a CRLF or a bare LF ends a line),
 * up to the limits given. The parser then builds an argument tree over
 * that buffer: no copy of the data is made (strings are unescaped and
 * NUL-terminated in place) and the caller terminates nothing.
 *
 * Atoms are taken liberally as Dovecot does, so that FETCH and SEARCH can
 * see their items whole: inside an atom, '[' opens a part that runs to the
 * matching ']' and may hold spaces and parentheses
 * ("BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>" is one ATOM), and '<...>'
 * after ']' belongs to the atom as well. "\Seen", "\*", "1:*", "$Junk" are
 * atoms. NIL (any case) is always IMAP_ARG_NIL, with str/len holding
 * the atom's text as sent, and imap_arg_is_astring()/imap_arg_atom_is()
 * accept it as the atom it also is (a mailbox may be called "NIL").
 * An atom holds no 8-bit byte, '(', ')', '{' or '"' (outside [...]);
 * a quoted string takes \" and \\ only, no CR, LF or NUL, and 8-bit
 * bytes only as valid UTF-8 (RFC 9051 9, RFC 6855); a literal other than
 * literal8 holds no NUL (RFC 3501 9 CHAR8).
 */
#ifndef POSTERN_IMAP_PARSE_H
#define POSTERN_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct stream;

#define IMAP_LINE_MAX		65536	/* one command's text, without literals */
#define IMAP_ARGS_MAX		8192	/* arguments (all levels) in one command */
#define IMAP_DEPTH_MAX		32	/* nested lists */
#define IMAP_TAG_MAX		64
/* Bytes imap_cmd_read skips to stay in step after a refused command; beyond: EOF */
#define IMAP_DRAIN_MAX		(256ULL * 1024 * 1024)
/* LITERAL- (RFC 7888 4): the largest {n+} when LITERAL+ is not advertised */
#define IMAP_LITERAL_MINUS_MAX	4096

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* str/len: the atom text */
	IMAP_ARG_QUOTED,	/* str/len: unescaped contents */
	IMAP_ARG_LITERAL,	/* str/len: the literal's bytes; literal8 set for ~{n} */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,		/* list/n: the elements, in order */
	IMAP_ARG_EOL		/* terminates every argument array */
};

struct imap_arg {
	enum imap_arg_type	 type;
	const char		*str;	/* ATOM, QUOTED, LITERAL; NUL-terminated too */
	size_t			 len;
	struct imap_arg		*list;	/* LIST: n elements, then an EOL entry */
	size_t			 n;
	int			 literal8;
};

/* Results of imap_cmd_read */
#define IMAP_READ_OK		0
#define IMAP_READ_EOF		(-1)	/* connection closed or I/O error */
#define IMAP_READ_TOOBIG	(-2)	/* line or a literal over its limit; see err */
#define IMAP_READ_BAD		(-3)	/* malformed; err holds the reason */

struct imap_limits {
	size_t		line_max;	/* IMAP_LINE_MAX unless smaller */
	uint64_t	literal_max;	/* largest single literal (APPEND: the APPENDLIMIT) */
	uint64_t	total_max;	/* line plus all literals */
	int		literal_plus;	/* "LITERAL+" advertised (else LITERAL-: {n+} <= 4096) */
};

/*
 * One command as read from the client: the tag, the command name (upper
 * case copy), and the arguments after it.
 */
struct imap_cmd {
	char		 tag[IMAP_TAG_MAX + 1];	/* "" when the line had none */
	char		 name[32];		/* "UID FETCH" is given as "UID" */
	struct imap_arg	*args;			/* after name; ends with EOL */
	size_t		 nargs;			/* not counting the EOL */
	/* private: the buffer the arguments point into */
	char		*buf;
	size_t		 buflen, bufcap;
	struct imap_arg	*pool;
	size_t		 npool, poolcap;
	struct imap_arg	*tok;			/* parse scratch: flat tokens */
	size_t		 ntok, tokcap;
};

void imap_cmd_init(struct imap_cmd *);
void imap_cmd_free(struct imap_cmd *);

/*
 * Read one whole command from s into cmd (replacing what it held) and
 * parse it. A synchronising literal over its limit is refused with
 * "<tag> NO [TOOBIG]" before its bytes are sent (RFC 7889 / 9051 7.1);
 * that ends the command for the client too, and imap_cmd_read goes on
 * to read the next one (after 16 refusals in a row it returns TOOBIG).
 * A non-synchronising literal over its limit, or a line over line_max,
 * is read and dropped with the rest of its command (its further literals
 * included), then IMAP_READ_TOOBIG: the caller answers "<tag> BAD
 * [TOOBIG]" and may go on or hang up. A synchronising literal met while
 * dropping is not accepted (no "+"): the caller's BAD ends it. More than
 * IMAP_DRAIN_MAX bytes to drop gives IMAP_READ_EOF (hang up).
 * The continuation "+ OK\r\n" for synchronising literals is written and
 * flushed here. err gets a short reason for TOOBIG and BAD; cmd->tag is
 * set whenever the line had one so that the caller can answer it.
 * limits->line_max 0 means IMAP_LINE_MAX; a line_max over it is cut to it.
 * A command cut short by EOF (even a last line without LF) is EOF.
 */
int imap_cmd_read(struct stream *s, struct imap_cmd *cmd, const struct imap_limits *,
    char *err, size_t errlen);

/*
 * Parse an already complete command text (for the unit tests and the
 * fuzz target: literals appear inline as "{n}\r\n" followed by n bytes).
 * IMAP_READ_OK or IMAP_READ_BAD with err.
 */
int imap_cmd_parse(struct imap_cmd *cmd, const char *text, size_t len,
    char *err, size_t errlen);

/* Helpers over an argument: "astring" is ATOM, QUOTED or LITERAL. */
int imap_arg_is_astring(const struct imap_arg *);
int imap_arg_is_string(const struct imap_arg *);	/* QUOTED or LITERAL */
int imap_arg_atom_is(const struct imap_arg *, const char *upper);	/* case-insensitive */
/* A number (RFC 3501 number / nz-number / mod-sequence). 0 or -1. */
int imap_arg_number(const struct imap_arg *, uint64_t max, uint64_t *out);

/*
 * Output helpers: write s as an IMAP string, choosing atom-safe quoted
 * form when it can ("..." with \" and \\ escaped) and a literal {n}\r\n
 * otherwise (CR, LF, NUL, 8-bit, or over 1024 bytes). NULL -> NIL.
 * A NUL byte has no IMAP string form (RFC 3501 9 CHAR8; only literal8
 * carries it): it goes out in a literal as it is, and callers that may
 * hold NUL (BINARY) write ~{n} themselves.
 */
struct strbuf;
int imap_put_string(struct strbuf *, const char *s, size_t len);
int imap_put_nstring(struct strbuf *, const char *s /* NULL = NIL */, size_t len);
int imap_put_astring(struct strbuf *, const char *s, size_t len);	/* atom when it can */

#endif
