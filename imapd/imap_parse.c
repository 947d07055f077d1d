/*
 * imap_parse: the IMAP command grammar (RFC 3501 9, RFC 9051 9) over a
 * complete command text: tag, command name, and the argument tree of
 * atoms, quoted strings, literals (inline "{n}\r\n" + n bytes), NIL and
 * nested lists; the argument helpers; and the string output helpers.
 * imap_parse_read.c reads a command off the wire into the same buffer.
 * Runs in imapd's login process (as login_user) and its session process
 * (as the mail owner): pure computation on bounded input.
 *
 * Parsing is one linear pass over the buffer. Strings are unescaped and
 * NUL-terminated in place: every token is preceded by at least one byte
 * that produces no output (the tag, SP or '('), and a token's output
 * (its contents and a NUL) is never longer than its text plus that byte,
 * so the write position stays behind the read position. The pass emits
 * flat tokens (a list is an opening entry holding its element count and
 * a closing EOL); a second linear pass lays every list's elements out
 * contiguously in the pool, each block ending with an EOL entry.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "imap_parse_int.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

/* Longest quoted string imap_put_string writes; longer ones are literals. */
#define IMAP_QUOTED_OUT_MAX	1024

struct parser {
	struct imap_cmd	*cmd;
	char		*p, *end;	/* read position and end of the text */
	char		*w;		/* write position (in-place output) */
	size_t		 nelem;		/* elements at all levels */
	size_t		 ntop;		/* elements of the top level */
	size_t		 stack[IMAP_DEPTH_MAX];	/* token index of each open list */
	size_t		 depth;
	char		*err;
	size_t		 errlen;
};

static int
parse_fail(struct parser *ps, const char *why)
{
	if (ps->errlen > 0)
		(void)str_copy(ps->err, why, ps->errlen);
	return -1;
}

/* RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+"> */
static int
is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

/* RFC 3501 9 ATOM-CHAR: CHAR except atom-specials (incl. resp-specials) */
static int
is_strict_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/*
 * The liberal atom of the header comment: ATOM-CHAR, list-wildcards,
 * '\' (flags) and ']'; '[' is handled by the caller.
 */
static int
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"[", c) == NULL;
}

/* Inside [...] of an atom: printable ASCII and SP, but no '[' or '{'. */
static int
is_bracket_char(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '[' && c != '{';
}

/*
 * Length of the valid UTF-8 sequence (RFC 3629 4: shortest form, no
 * surrogates, at most U+10FFFF) at p, or 0.
 */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Append one flat token; NULL when over IMAP_ARGS_MAX. */
static struct imap_arg *
tok_add(struct parser *ps, enum imap_arg_type type)
{
	struct imap_cmd *cmd = ps->cmd;
	struct imap_arg *a;

	if (type != IMAP_ARG_EOL) {
		if (ps->nelem >= IMAP_ARGS_MAX)
			return NULL;
		ps->nelem++;
		if (ps->depth == 0)
			ps->ntop++;
		else
			cmd->tok[ps->stack[ps->depth - 1]].n++;
	}
	if (cmd->ntok == cmd->tokcap) {
		size_t cap = cmd->tokcap ? cmd->tokcap * 2 : 64;
		cmd->tok = xreallocarray(cmd->tok, cap, sizeof(*cmd->tok));
		cmd->tokcap = cap;
	}
	a = &cmd->tok[cmd->ntok++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* Is p at the end of the line: CRLF, LF, or the end of the text? */
static int
at_eol(const struct parser *ps)
{
	if (ps->p == ps->end || ps->p[0] == '\n')
		return 1;
	return ps->p[0] == '\r' && ps->end - ps->p >= 2 && ps->p[1] == '\n';
}

/* Trailing spaces before the end of the line are tolerated: 1 if skipped. */
static int
skip_trailing_spaces(struct parser *ps)
{
	char *save = ps->p;

	while (ps->p < ps->end && *ps->p == ' ')
		ps->p++;
	if (at_eol(ps))
		return 1;
	ps->p = save;
	return 0;
}

/* Move len bytes at src to the write position and terminate them. */
static const char *
emit(struct parser *ps, const char *src, size_t len)
{
	char *dst = ps->w;

	memmove(dst, src, len);
	dst[len] = '\0';
	ps->w += len + 1;
	return dst;
}

static int
parse_atom(struct parser *ps)
{
	char *start = ps->p, *q;
	struct imap_arg *a;
	size_t len;

	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		if (c == '[') {
			/* "BODY[HEADER.FIELDS (A B)]" is one atom */
			for (q = ps->p + 1; q < ps->end && *q != ']'; q++)
				if (!is_bracket_char((unsigned char)*q))
					return parse_fail(ps, "invalid character in [...]");
			if (q == ps->end)
				return parse_fail(ps, "missing ]");
			ps->p = q + 1;
		} else if (is_atom_char(c))
			ps->p++;
		else
			break;
	}
	len = (size_t)(ps->p - start);
	if (len == 0)
		return parse_fail(ps, "invalid character");
	if (len == 3 && strncasecmp(start, "NIL", 3) == 0)
		a = tok_add(ps, IMAP_ARG_NIL);
	else
		a = tok_add(ps, IMAP_ARG_ATOM);
	if (a == NULL)
		return parse_fail(ps, "too many arguments");
	a->str = emit(ps, start, len);
	a->len = len;
	return 0;
}

/* RFC 3501 9 quoted, RFC 9051 9 QUOTED-CHAR with UTF-8 */
static int
parse_quoted(struct parser *ps)
{
	char *out = ps->w;
	struct imap_arg *a;
	size_t n, len = 0;

	ps->p++;
	for (;;) {
		if (ps->p == ps->end)
			return parse_fail(ps, "unterminated quoted string");
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"')
			break;
		if (c == '\0' || c == '\r' || c == '\n')
			return parse_fail(ps, "CR, LF or NUL in quoted string");
		if (c == '\\') {
			if (ps->end - ps->p < 2 || (ps->p[1] != '"' && ps->p[1] != '\\'))
				return parse_fail(ps, "invalid escape in quoted string");
			out[len++] = ps->p[1];
			ps->p += 2;
			continue;
		}
		n = c < 0x80 ? 1 : utf8_seq((const unsigned char *)ps->p,
		    (const unsigned char *)ps->end);
		if (n == 0)
			return parse_fail(ps, "invalid UTF-8 in quoted string");
		memmove(out + len, ps->p, n);
		len += n;
		ps->p += n;
	}
	ps->p++;
	if ((a = tok_add(ps, IMAP_ARG_QUOTED)) == NULL)
		return parse_fail(ps, "too many arguments");
	out[len] = '\0';
	ps->w = out + len + 1;
	a->str = out;
	a->len = len;
	return 0;
}

/* RFC 3501 9 literal, RFC 7888 "{n+}", RFC 3516 literal8 "~{n}" */
static int
parse_literal(struct parser *ps)
{
	struct imap_arg *a;
	uint64_t n = 0;
	int lit8 = 0, digits = 0;

	if (*ps->p == '~') {
		lit8 = 1;
		ps->p++;
	}
	ps->p++;	/* '{' */
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return parse_fail(ps, "literal too big");
		n = n * 10 + (uint64_t)(*ps->p++ - '0');
		digits++;
	}
	if (digits == 0)
		return parse_fail(ps, "invalid literal");
	if (ps->p < ps->end && *ps->p == '+')
		ps->p++;
	if (ps->p == ps->end || *ps->p != '}')
		return parse_fail(ps, "invalid literal");
	ps->p++;
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p == ps->end || *ps->p != '\n')
		return parse_fail(ps, "literal not followed by CRLF");
	ps->p++;
	if (n > (uint64_t)(ps->end - ps->p))
		return parse_fail(ps, "literal longer than the command");
	if (!lit8 && memchr(ps->p, '\0', (size_t)n) != NULL)
		return parse_fail(ps, "NUL in literal (use literal8)");
	if ((a = tok_add(ps, IMAP_ARG_LITERAL)) == NULL)
		return parse_fail(ps, "too many arguments");
	a->literal8 = lit8;
	a->str = emit(ps, ps->p, (size_t)n);
	a->len = (size_t)n;
	ps->p += n;
	return 0;
}

static int
list_open(struct parser *ps)
{
	if (ps->depth == IMAP_DEPTH_MAX)
		return parse_fail(ps, "lists nested too deeply");
	if (tok_add(ps, IMAP_ARG_LIST) == NULL)
		return parse_fail(ps, "too many arguments");
	ps->stack[ps->depth++] = ps->cmd->ntok - 1;
	ps->p++;
	return 0;
}

static void
list_close(struct parser *ps)
{
	ps->depth--;
	(void)tok_add(ps, IMAP_ARG_EOL);	/* closing entries are not counted */
	ps->p++;
}

static int
parse_element(struct parser *ps)
{
	char c = *ps->p;

	if (c == '"')
		return parse_quoted(ps);
	if (c == '{' || (c == '~' && ps->end - ps->p >= 2 && ps->p[1] == '{'))
		return parse_literal(ps);
	return parse_atom(ps);
}

/*
 * The arguments: elements separated by single spaces, lists in
 * parentheses, up to the end of the line, which must end the text.
 */
static int
parse_args(struct parser *ps)
{
	for (;;) {
		/* an element (or the ')' of an empty list) is expected */
		if (ps->p == ps->end)
			return parse_fail(ps, "missing argument");
		if (*ps->p == '(') {
			if (list_open(ps) == -1)
				return -1;
			if (ps->p < ps->end && *ps->p == ')')
				list_close(ps);
			else
				continue;
		} else if (parse_element(ps) == -1)
			return -1;
		while (ps->p < ps->end && *ps->p == ')') {
			if (ps->depth == 0)
				return parse_fail(ps, "unexpected )");
			list_close(ps);
		}
		if (ps->p < ps->end && *ps->p == ' ') {
			ps->p++;
			if (ps->depth > 0 || !skip_trailing_spaces(ps))
				continue;
		}
		if (!at_eol(ps))
			return parse_fail(ps, "missing space between arguments");
		if (ps->depth > 0)
			return parse_fail(ps, "unclosed list");
		return 0;
	}
}

/* Copy the flat tokens into the pool, each list's elements in one block. */
static void
layout(struct imap_cmd *cmd, size_t ntop)
{
	struct imap_arg *blk[IMAP_DEPTH_MAX + 1];
	size_t pos[IMAP_DEPTH_MAX + 1], d = 0, next, i, need;

	need = cmd->ntok + 1;
	if (need > cmd->poolcap) {
		cmd->pool = xreallocarray(cmd->pool, need, sizeof(*cmd->pool));
		cmd->poolcap = need;
	}
	cmd->npool = need;
	blk[0] = cmd->pool;
	pos[0] = 0;
	next = ntop + 1;
	for (i = 0; i < cmd->ntok; i++) {
		struct imap_arg *t = &cmd->tok[i];
		if (t->type == IMAP_ARG_EOL) {
			memset(&blk[d][pos[d]], 0, sizeof(struct imap_arg));
			blk[d][pos[d]].type = IMAP_ARG_EOL;
			d--;
			continue;
		}
		blk[d][pos[d]] = *t;
		if (t->type == IMAP_ARG_LIST) {
			blk[d][pos[d]].list = cmd->pool + next;
			blk[d + 1] = cmd->pool + next;
			pos[d + 1] = 0;
			next += t->n + 1;
			pos[d++]++;
			continue;
		}
		pos[d]++;
	}
	memset(&blk[0][pos[0]], 0, sizeof(struct imap_arg));
	blk[0][pos[0]].type = IMAP_ARG_EOL;
	cmd->args = cmd->pool;
	cmd->nargs = ntop;
}

/* The tag and the command name (RFC 3501 9 command). */
static int
parse_head(struct parser *ps)
{
	struct imap_cmd *cmd = ps->cmd;
	char *start = ps->p;
	size_t len, i;

	while (ps->p < ps->end && is_tag_char((unsigned char)*ps->p))
		ps->p++;
	len = (size_t)(ps->p - start);
	if (len == 0 || len > IMAP_TAG_MAX)
		return parse_fail(ps, "missing or invalid tag");
	memcpy(cmd->tag, start, len);
	cmd->tag[len] = '\0';
	if (ps->p == ps->end || *ps->p != ' ')
		return parse_fail(ps, at_eol(ps) ? "missing command name" :
		    "invalid character in tag");
	start = ++ps->p;
	while (ps->p < ps->end && is_strict_atom_char((unsigned char)*ps->p))
		ps->p++;
	len = (size_t)(ps->p - start);
	if (len == 0 || len >= sizeof(cmd->name))
		return parse_fail(ps, "missing or invalid command name");
	for (i = 0; i < len; i++) {
		char c = start[i];
		cmd->name[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	cmd->name[len] = '\0';
	return 0;
}

/* Parse cmd->buf (buflen bytes, NUL after them) in place. */
int
imap_parse_buf(struct imap_cmd *cmd, char *err, size_t errlen)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	ps.cmd = cmd;
	ps.p = ps.w = cmd->buf;
	ps.end = cmd->buf + cmd->buflen;
	ps.err = err;
	ps.errlen = errlen;
	cmd->tag[0] = cmd->name[0] = '\0';
	cmd->ntok = 0;
	cmd->nargs = 0;
	cmd->args = NULL;
	if (parse_head(&ps) == -1)
		goto bad;
	if (ps.p < ps.end && *ps.p == ' ') {
		ps.p++;
		if (!skip_trailing_spaces(&ps) && parse_args(&ps) == -1)
			goto bad;
	}
	if (!at_eol(&ps))
		goto junk;
	ps.p += ps.p == ps.end ? 0 : (*ps.p == '\r' ? 2 : 1);
	if (ps.p != ps.end)
		goto junk;
	layout(cmd, ps.ntop);
	return IMAP_READ_OK;
junk:
	(void)parse_fail(&ps, "junk after the command");
bad:
	imap_cmd_empty(cmd);
	return IMAP_READ_BAD;
}

void
imap_cmd_empty(struct imap_cmd *cmd)
{
	cmd->ntok = 0;
	layout(cmd, 0);
}

void
imap_cmd_init(struct imap_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	if (cmd->buf != NULL) {
		/* commands carry passwords (LOGIN, AUTHENTICATE) */
		secure_zero(cmd->buf, cmd->bufcap);
		free(cmd->buf);
	}
	free(cmd->pool);
	free(cmd->tok);
	memset(cmd, 0, sizeof(*cmd));
}

void
imap_cmd_reserve(struct imap_cmd *cmd, size_t need)
{
	size_t cap;

	if (need >= SIZE_MAX / 2)
		fatal("imap_cmd_reserve: %zu", need);
	if (need + 1 <= cmd->bufcap)
		return;
	cap = cmd->bufcap ? cmd->bufcap : 1024;
	while (cap < need + 1)
		cap *= 2;
	cmd->buf = xreallocarray(cmd->buf, cap, 1);
	cmd->bufcap = cap;
}

int
imap_cmd_parse(struct imap_cmd *cmd, const char *text, size_t len,
    char *err, size_t errlen)
{
	imap_cmd_reserve(cmd, len);
	memcpy(cmd->buf, text, len);
	cmd->buf[len] = '\0';
	cmd->buflen = len;
	return imap_parse_buf(cmd, err, errlen);
}

int
imap_arg_is_astring(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
	    a->type == IMAP_ARG_LITERAL || a->type == IMAP_ARG_NIL;
}

int
imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

int
imap_arg_atom_is(const struct imap_arg *a, const char *upper)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return 0;
	return strlen(upper) == a->len && strncasecmp(a->str, upper, a->len) == 0;
}

/* RFC 3501 9 number, RFC 7162 3.1 mod-sequence-value: digits only */
int
imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 20)
		return -1;
	for (i = 0; i < a->len; i++) {
		unsigned d = (unsigned)(unsigned char)a->str[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Can s go out as a quoted string (RFC 3501 9 quoted, ASCII only)? */
static int
quotable(const char *s, size_t len)
{
	size_t i;

	if (len > IMAP_QUOTED_OUT_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return 0;
	}
	return 1;
}

int
imap_put_string(struct strbuf *sb, const char *s, size_t len)
{
	size_t save = sb->len, i, run;

	if (!quotable(s, len)) {
		if (strbuf_printf(sb, "{%zu}\r\n", len) == -1)
			return -1;
		if (strbuf_append(sb, s, len) == -1)
			goto fail;
		return 0;
	}
	if (strbuf_putc(sb, '"') == -1)
		return -1;
	for (i = 0; i < len; i += run) {
		for (run = 0; i + run < len && s[i + run] != '"' &&
		    s[i + run] != '\\'; run++)
			;
		if (run == 0) {
			if (strbuf_putc(sb, '\\') == -1 || strbuf_putc(sb, s[i]) == -1)
				goto fail;
			run = 1;
		} else if (strbuf_append(sb, s + i, run) == -1)
			goto fail;
	}
	if (strbuf_putc(sb, '"') == -1)
		goto fail;
	return 0;
fail:
	/* all or nothing, as strbuf's own calls */
	sb->len = save;
	sb->data[save] = '\0';
	return -1;
}

int
imap_put_nstring(struct strbuf *sb, const char *s, size_t len)
{
	if (s == NULL)
		return strbuf_puts(sb, "NIL");
	return imap_put_string(sb, s, len);
}

int
imap_put_astring(struct strbuf *sb, const char *s, size_t len)
{
	size_t i;

	/* RFC 3501 9: 1*ASTRING-CHAR; "NIL" quoted so that it is not read as nil */
	if (len == 0 || len > IMAP_QUOTED_OUT_MAX ||
	    (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return imap_put_string(sb, s, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* '[' is left out: the liberal reader would take it as "[...]" */
		if ((!is_strict_atom_char(c) && c != ']') || c == '[')
			return imap_put_string(sb, s, len);
	}
	return strbuf_append(sb, s, len);
}
