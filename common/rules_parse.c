/*
 * rules_parse: the parser of postern.rules(5), run by the deliver child
 * as the mailbox owner on a file the user (or the admin) wrote, and by
 * `postern check` as whoever runs it (it only parses and reports). A
 * recursive-descent parser over the text, with every input bounded (file
 * size, nodes, depth, string length); the first error stops it and is
 * reported as "FILE:LINE: what". Regexes are compiled here, once per
 * parse, through common/regex.h.
 *
 *   file   := stmt*
 *   stmt   := "if" cond block ("elsif" cond block)* ["else" block]
 *           | action ";"
 *   block  := "{" stmt* "}"
 *   cond   := and ("or" and)*
 *   and    := unary ("and" unary)*
 *   unary  := "not" unary | "(" cond ")" | test
 *   test   := "header" STRING op | "exists" STRING | "from" op | "to" op
 *           | "size" ("over" | "under") SIZE | "true" | "false"
 *   op     := "contains" STRING | "is" STRING | "matches" REGEX
 *   action := "fileinto" STRING | "redirect" (STRING | ADDRESS)
 *           | "discard" | "keep" | "stop"
 */
#include "config.h"

#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules_int.h"
#include "util.h"

struct rp {
	const char	*s;
	size_t		 len, pos;
	unsigned	 line;
	unsigned	 depth;
	int		 failed;
	char		*err;
	size_t		 errlen;
	struct rules	*r;
};

static void rp_fail(struct rp *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static struct rules_cond *rp_cond(struct rp *);
static struct rules_stmt *rp_stmts(struct rp *, int);

static void
rp_fail(struct rp *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	str_fmt(p->err, p->errlen, "%s:%u: %s", p->r->file, p->line, msg);
}

/* A new node of each kind, counted against RULES_NODES_MAX. */
static int
rp_count(struct rp *p)
{
	if (p->r->nconds + p->r->nstmts >= RULES_NODES_MAX) {
		rp_fail(p, "too many statements and tests (at most %d)",
		    RULES_NODES_MAX);
		return -1;
	}
	return 0;
}

static struct rules_cond *
rp_new_cond(struct rp *p, enum rules_ctype type)
{
	struct rules_cond *c;

	if (rp_count(p) == -1)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->type = type;
	c->line = p->line;
	p->r->conds = xreallocarray(p->r->conds, p->r->nconds + 1,
	    sizeof(*p->r->conds));
	p->r->conds[p->r->nconds++] = c;
	return c;
}

static struct rules_stmt *
rp_new_stmt(struct rp *p, enum rules_stype type)
{
	struct rules_stmt *s;

	if (rp_count(p) == -1)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->type = type;
	s->line = p->line;
	p->r->stmts = xreallocarray(p->r->stmts, p->r->nstmts + 1,
	    sizeof(*p->r->stmts));
	p->r->stmts[p->r->nstmts++] = s;
	return s;
}

/* Skip white space and # comments, counting lines. */
static void
rp_skip(struct rp *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c == '\n') {
			p->line++;
			p->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		    c == '\v')
			p->pos++;
		else if (c == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
		} else
			break;
	}
}

static int
rp_eof(struct rp *p)
{
	rp_skip(p);
	return p->pos >= p->len;
}

/* Consume the punctuation c if it comes next. */
static int
rp_punct(struct rp *p, char c)
{
	rp_skip(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return 1;
	}
	return 0;
}

static int
rp_expect(struct rp *p, char c)
{
	if (rp_punct(p, c))
		return 0;
	rp_fail(p, "'%c' expected", c);
	return -1;
}

/* The next word (letters, '_', '-'), lower-cased, without consuming it. */
static size_t
rp_peek(struct rp *p, char *w, size_t wlen)
{
	size_t n = 0, i;

	rp_skip(p);
	for (i = p->pos; i < p->len && n + 1 < wlen; i++, n++) {
		unsigned char c = (unsigned char)p->s[i];
		if (!isalpha(c) && c != '_' && c != '-')
			break;
		w[n] = (char)tolower(c);
	}
	w[n] = '\0';
	return n;
}

/* Consume the keyword kw if it comes next. */
static int
rp_word(struct rp *p, const char *kw)
{
	char w[16];
	size_t n = rp_peek(p, w, sizeof(w));

	if (n == 0 || strcmp(w, kw) != 0)
		return 0;
	if (p->pos + n < p->len && isalnum((unsigned char)p->s[p->pos + n]))
		return 0;
	p->pos += n;
	return 1;
}

/* A "quoted string" with \" and \\ escapes, on one line. NULL on error. */
static char *
rp_string(struct rp *p, size_t *outlen)
{
	char buf[RULES_STRING_MAX + 1];
	size_t n = 0;
	char c;

	rp_skip(p);
	if (p->pos >= p->len || p->s[p->pos] != '"') {
		rp_fail(p, "a quoted string expected");
		return NULL;
	}
	for (p->pos++; p->pos < p->len; p->pos++) {
		c = p->s[p->pos];
		if (c == '"') {
			p->pos++;
			buf[n] = '\0';
			if (outlen != NULL)
				*outlen = n;
			return xstrndup(buf, n);
		}
		if (c == '\\' && p->pos + 1 < p->len &&
		    (p->s[p->pos + 1] == '"' || p->s[p->pos + 1] == '\\'))
			c = p->s[++p->pos];
		else if (c == '\n' || c == '\0')
			break;
		if (n >= RULES_STRING_MAX) {
			rp_fail(p, "string longer than %d bytes", RULES_STRING_MAX);
			return NULL;
		}
		buf[n++] = c;
	}
	rp_fail(p, "unterminated string");
	return NULL;
}

/* /regex/flags, "\/" standing for '/'; compiled. NULL on error. */
static struct regex *
rp_regex(struct rp *p)
{
	char buf[RULES_STRING_MAX + 1], flags[8], err[300];
	struct regex *re;
	size_t n = 0, f = 0;

	rp_skip(p);
	if (p->pos >= p->len || p->s[p->pos] != '/') {
		rp_fail(p, "a /regex/ expected");
		return NULL;
	}
	for (p->pos++;; p->pos++) {
		if (p->pos >= p->len || p->s[p->pos] == '\n' || p->s[p->pos] == '\0') {
			rp_fail(p, "unterminated regex");
			return NULL;
		}
		if (p->s[p->pos] == '/')
			break;
		if (p->s[p->pos] == '\\' && p->pos + 1 < p->len &&
		    p->s[p->pos + 1] == '/')
			p->pos++;
		if (n >= RULES_STRING_MAX) {
			rp_fail(p, "regex longer than %d bytes", RULES_STRING_MAX);
			return NULL;
		}
		buf[n++] = p->s[p->pos];
	}
	for (p->pos++; p->pos < p->len && isalpha((unsigned char)p->s[p->pos]);
	    p->pos++) {
		if (f + 1 >= sizeof(flags)) {
			rp_fail(p, "too many regex flags");
			return NULL;
		}
		flags[f++] = p->s[p->pos];
	}
	flags[f] = '\0';
	if ((re = regex_compile(buf, n, flags, err, sizeof(err))) == NULL)
		rp_fail(p, "bad regex: %s", err);
	return re;
}

/* A size: digits with an optional K, M or G suffix. */
static int
rp_size(struct rp *p, unsigned long long *out)
{
	char buf[32];
	size_t n = 0;

	rp_skip(p);
	while (p->pos < p->len && isalnum((unsigned char)p->s[p->pos]) &&
	    n + 1 < sizeof(buf))
		buf[n++] = p->s[p->pos++];
	buf[n] = '\0';
	if (n == 0 || !isdigit((unsigned char)buf[0]) ||
	    parse_size(buf, out) == -1) {
		rp_fail(p, "a size expected (like 100K or 1M)");
		return -1;
	}
	return 0;
}

/* contains "x" | is "x" | matches /re/ */
static int
rp_op(struct rp *p, struct rules_cond *c)
{
	if (rp_word(p, "contains"))
		c->op = RO_CONTAINS;
	else if (rp_word(p, "is"))
		c->op = RO_IS;
	else if (rp_word(p, "matches")) {
		c->op = RO_MATCHES;
		return (c->re = rp_regex(p)) == NULL ? -1 : 0;
	} else {
		rp_fail(p, "'contains', 'is' or 'matches' expected");
		return -1;
	}
	return (c->arg = rp_string(p, &c->arglen)) == NULL ? -1 : 0;
}

/* A header field name: printable, no ':' (RFC 5322 2.2). */
static int
rp_field_name(struct rp *p, struct rules_cond *c)
{
	const char *s;

	if ((c->name = rp_string(p, NULL)) == NULL)
		return -1;
	for (s = c->name; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == ':')
			break;
	if (*s != '\0' || *c->name == '\0') {
		rp_fail(p, "bad header field name \"%s\"", c->name);
		return -1;
	}
	return 0;
}

static struct rules_cond *
rp_test(struct rp *p)
{
	static const struct {
		const char	*kw;
		enum rules_ctype type;
	} tests[] = {
		{ "header", RC_HEADER }, { "exists", RC_EXISTS },
		{ "from", RC_FROM }, { "to", RC_TO }, { "size", RC_OVER },
		{ "true", RC_TRUE }, { "false", RC_FALSE },
	};
	struct rules_cond *c;
	size_t i;
	int rv = 0;

	for (i = 0; i < NELEM(tests) && !rp_word(p, tests[i].kw); i++)
		;
	if (i == NELEM(tests)) {
		rp_fail(p, "a test expected (header, exists, from, to, size, "
		    "true, false, not or '(')");
		return NULL;
	}
	if ((c = rp_new_cond(p, tests[i].type)) == NULL)
		return NULL;
	switch (c->type) {
	case RC_HEADER:
		rv = rp_field_name(p, c) == -1 ? -1 : rp_op(p, c);
		break;
	case RC_EXISTS:
		rv = rp_field_name(p, c);
		break;
	case RC_FROM:
	case RC_TO:
		rv = rp_op(p, c);
		break;
	case RC_OVER:
		if (rp_word(p, "under"))
			c->type = RC_UNDER;
		else if (!rp_word(p, "over")) {
			rp_fail(p, "'over' or 'under' expected after 'size'");
			return NULL;
		}
		rv = rp_size(p, &c->size);
		break;
	default:
		break;
	}
	return rv == -1 ? NULL : c;
}

static struct rules_cond *
rp_unary(struct rp *p)
{
	struct rules_cond *c = NULL, *in;

	if (++p->depth > RULES_DEPTH_MAX) {
		rp_fail(p, "nested too deeply (at most %d levels)", RULES_DEPTH_MAX);
		return NULL;
	}
	if (rp_word(p, "not")) {
		if ((in = rp_unary(p)) != NULL &&
		    (c = rp_new_cond(p, RC_NOT)) != NULL)
			c->l = in;
	} else if (rp_punct(p, '(')) {
		if ((c = rp_cond(p)) != NULL && rp_expect(p, ')') == -1)
			c = NULL;
	} else
		c = rp_test(p);
	p->depth--;
	return c;
}

/* A left-associative chain of sub-expressions joined by kw. */
static struct rules_cond *
rp_chain(struct rp *p, const char *kw, enum rules_ctype type,
    struct rules_cond *(*sub)(struct rp *))
{
	struct rules_cond *l, *r, *c;

	if ((l = sub(p)) == NULL)
		return NULL;
	while (rp_word(p, kw)) {
		if ((r = sub(p)) == NULL || (c = rp_new_cond(p, type)) == NULL)
			return NULL;
		c->l = l;
		c->r = r;
		l = c;
	}
	return l;
}

static struct rules_cond *
rp_and(struct rp *p)
{
	return rp_chain(p, "and", RC_AND, rp_unary);
}

/* "and" binds tighter than "or", as in C and Sieve's allof/anyof nesting. */
static struct rules_cond *
rp_cond(struct rp *p)
{
	return rp_chain(p, "or", RC_OR, rp_and);
}

static struct rules_stmt *
rp_block(struct rp *p)
{
	struct rules_stmt *s;

	if (rp_expect(p, '{') == -1)
		return NULL;
	if (++p->depth > RULES_DEPTH_MAX) {
		rp_fail(p, "nested too deeply (at most %d levels)", RULES_DEPTH_MAX);
		return NULL;
	}
	s = rp_stmts(p, 1);
	p->depth--;
	if (p->failed || rp_expect(p, '}') == -1)
		return NULL;
	return s;
}

/* "if" (already read) cond block, then elsif/else chains. */
static struct rules_stmt *
rp_if(struct rp *p)
{
	struct rules_stmt *s;

	if ((s = rp_new_stmt(p, RS_IF)) == NULL ||
	    (s->cond = rp_cond(p)) == NULL)
		return NULL;
	s->then = rp_block(p);
	if (p->failed)
		return NULL;
	if (rp_word(p, "elsif"))
		s->els = rp_if(p);
	else if (rp_word(p, "else"))
		s->els = rp_block(p);
	return p->failed ? NULL : s;
}

/* The address of redirect: a quoted string or a bare word up to ';'. */
static char *
rp_address(struct rp *p)
{
	const char *at;
	char *a;
	size_t n = 0, i;

	rp_skip(p);
	if (p->pos < p->len && p->s[p->pos] == '"')
		a = rp_string(p, NULL);
	else {
		while (p->pos + n < p->len && !isspace((unsigned char)p->s[p->pos + n]) &&
		    p->s[p->pos + n] != ';' && n <= RULES_ADDR_MAX)
			n++;
		a = xstrndup(p->s + p->pos, n);
		p->pos += n;
	}
	if (a == NULL)
		return NULL;
	if (*a == '<' && (n = strlen(a)) > 1 && a[n - 1] == '>') {
		memmove(a, a + 1, n - 2);
		a[n - 2] = '\0';
	}
	at = strrchr(a, '@');
	for (i = 0; a[i] != '\0'; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f || a[i] == '<' ||
		    a[i] == '>' || a[i] == ',' || a[i] == '"')
			break;
	if (a[i] != '\0' || at == NULL || at == a || at[1] == '\0' ||
	    strlen(a) > RULES_ADDR_MAX) {
		rp_fail(p, "bad redirect address '%s'", a);
		free(a);
		return NULL;
	}
	return a;
}

static struct rules_stmt *
rp_action(struct rp *p)
{
	static const struct {
		const char	*kw;
		enum rules_stype type;
	} acts[] = {
		{ "fileinto", RS_FILEINTO }, { "redirect", RS_REDIRECT },
		{ "discard", RS_DISCARD }, { "keep", RS_KEEP }, { "stop", RS_STOP },
	};
	struct rules_stmt *s;
	char dir[RULES_STRING_MAX * 4];
	size_t i;

	for (i = 0; i < NELEM(acts) && !rp_word(p, acts[i].kw); i++)
		;
	if (i == NELEM(acts)) {
		rp_fail(p, "a statement expected (if, fileinto, redirect, "
		    "discard, keep or stop)");
		return NULL;
	}
	if ((s = rp_new_stmt(p, acts[i].type)) == NULL)
		return NULL;
	if (s->type == RS_FILEINTO) {
		if ((s->arg = rp_string(p, NULL)) == NULL)
			return NULL;
		if (rules_folder_dir(s->arg, dir, sizeof(dir)) == -1) {
			rp_fail(p, "bad folder name \"%s\"", s->arg);
			return NULL;
		}
	} else if (s->type == RS_REDIRECT && (s->arg = rp_address(p)) == NULL)
		return NULL;
	return rp_expect(p, ';') == -1 ? NULL : s;
}

/* Statements up to '}' (in_block) or the end of the file. */
static struct rules_stmt *
rp_stmts(struct rp *p, int in_block)
{
	struct rules_stmt *head = NULL, **tail = &head, *s;

	while (!p->failed && !rp_eof(p)) {
		if (in_block && p->s[p->pos] == '}')
			break;
		if (rp_word(p, "if"))
			s = rp_if(p);
		else
			s = rp_action(p);
		if (s == NULL)
			break;
		*tail = s;
		tail = &s->next;
	}
	if (!p->failed && in_block && rp_eof(p))
		rp_fail(p, "'}' expected before the end of the file");
	return head;
}

struct rules *
rules_parse(const char *text, size_t len, const char *file, char *err,
    size_t errlen)
{
	struct rp p;

	memset(&p, 0, sizeof(p));
	p.r = xcalloc(1, sizeof(*p.r));
	p.r->file = xstrdup(file != NULL ? file : "rules");
	p.s = text;
	p.len = len;
	p.line = 1;
	p.err = err;
	p.errlen = errlen;
	if (len > RULES_FILE_MAX) {
		p.line = 0;
		rp_fail(&p, "file larger than %d bytes", RULES_FILE_MAX);
	} else if (memchr(text, '\0', len) != NULL) {
		p.line = 0;
		rp_fail(&p, "file contains a NUL byte");
	} else
		p.r->top = rp_stmts(&p, 0);
	if (p.failed) {
		rules_free(p.r);
		return NULL;
	}
	return p.r;
}

int
rules_load(const char *path, struct rules **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		str_fmt(err, errlen, "%s:0: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		str_fmt(err, errlen, "%s:0: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > RULES_FILE_MAX) {
		str_fmt(err, errlen, "%s:0: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "file too large");
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (n < 0 || n > st.st_size) {
		str_fmt(err, errlen, "%s:0: %s", path, n < 0 ? strerror(errno) :
		    "file changed while read");
		free(buf);
		return -1;
	}
	*out = rules_parse(buf, (size_t)n, path, err, errlen);
	free(buf);
	return *out == NULL ? -1 : 1;
}

void
rules_free(struct rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nconds; i++) {
		free(r->conds[i]->name);
		free(r->conds[i]->arg);
		if (r->conds[i]->re != NULL)
			regex_free(r->conds[i]->re);
		free(r->conds[i]);
	}
	for (i = 0; i < r->nstmts; i++) {
		free(r->stmts[i]->arg);
		free(r->stmts[i]);
	}
	free(r->conds);
	free(r->stmts);
	free(r->file);
	free(r);
}

const char *
rules_file(const struct rules *r)
{
	return r->file;
}
