/*
 * checks: the content-check tables (header_checks, mime_header_checks,
 * body_checks) parsed and compiled once, as Postfix's pcre: tables read
 * them. Runs in smtpd and submitd at start-up, before the privilege drop
 * and the chroot (the files are the admin's), and in `postern check`.
 * The matcher over a message is checks_scan.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks_int.h"
#include "regex.h"
#include "strbuf.h"
#include "util.h"

#define CHECKS_FILE_MAX		(16 * 1024 * 1024)
#define CHECKS_LINE_MAX		(64 * 1024)	/* one logical rule line */

static const struct {
	const char		*name;
	enum checks_action	 action;
	int			 text;		/* 1 required, 0 optional, -1 none */
} checks_actions[] = {
	{ "REJECT", CHECKS_REJECT, 0 },
	{ "DISCARD", CHECKS_DISCARD, 0 },
	{ "HOLD", CHECKS_HOLD, 0 },
	{ "WARN", CHECKS_WARN, 0 },
	{ "PREPEND", CHECKS_PREPEND, 1 },
	{ "REPLACE", CHECKS_REPLACE, 1 },
	{ "IGNORE", CHECKS_IGNORE, -1 },
	{ "DUNNO", CHECKS_DUNNO, -1 },
	{ "OK", CHECKS_DUNNO, -1 },
};

const char *
checks_action_name(enum checks_action a)
{
	size_t i;

	for (i = 0; i < NELEM(checks_actions); i++)
		if (checks_actions[i].action == a)
			return checks_actions[i].name;
	return "NONE";
}

struct checks *
checks_new(void)
{
	struct checks *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->body_limit = CHECKS_BODY_LIMIT;
	return c;
}

static void
checks_table_free(struct checks_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		regex_free(t->rule[i].re);
		free(t->rule[i].text);
	}
	free(t->rule);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void
checks_free(struct checks *c)
{
	int k;

	if (c == NULL)
		return;
	for (k = 0; k < CHECKS_NKINDS; k++)
		checks_table_free(&c->t[k]);
	free(c);
}

void
checks_set_body_limit(struct checks *c, size_t n)
{
	c->body_limit = n;
}

int
checks_empty(const struct checks *c)
{
	int k;

	if (c == NULL)
		return 1;
	for (k = 0; k < CHECKS_NKINDS; k++)
		if (c->t[k].n > 0)
			return 0;
	return 1;
}

/* Append one problem line to err (truncated silently: the first lines count most). */
static void __attribute__((format(printf, 3, 4)))
checks_problem(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used = strnlen(err, errlen);
	va_list ap;
	int n;

	if (errlen == 0 || used + 1 >= errlen)
		return;
	if (used > 0) {
		err[used++] = '\n';
		err[used] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[used] = '\0';
}

/*
 * Split "/regex/flags" (after an optional '!') off p. Sets the pattern
 * (without delimiters) and flags; returns the rest, or NULL on error.
 * Any punctuation character may delimit the pattern (Postfix); a
 * backslash escapes it.
 */
static const char *
checks_split_pattern(const char *p, const char **pat, size_t *patlen,
    char *flags, size_t flagslen, const char **why)
{
	char delim = *p;
	const char *q;
	size_t n = 0;

	if (delim == '\0' || !ispunct((unsigned char)delim) || delim == '\\') {
		*why = "expected /regex/flags";
		return NULL;
	}
	for (q = p + 1; *q != '\0' && *q != delim; q++)
		if (*q == '\\' && q[1] != '\0')
			q++;
	if (*q != delim) {
		*why = "missing the closing delimiter of the regex";
		return NULL;
	}
	*pat = p + 1;
	*patlen = (size_t)(q - p - 1);
	for (q++; *q != '\0' && !isspace((unsigned char)*q); q++) {
		if (n + 1 >= flagslen) {
			*why = "too many regex flags";
			return NULL;
		}
		flags[n++] = *q;
	}
	flags[n] = '\0';
	return q;
}

/*
 * Postfix's tables match case-insensitively unless the flag 'i' is
 * given, which toggles it: turn Postfix flags into regex_compile's.
 */
static void
checks_flags(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	int caseless = 1;

	for (; *in != '\0' && n + 2 < outlen; in++) {
		if (*in == 'i')
			caseless = !caseless;
		else
			out[n++] = *in;
	}
	if (caseless)
		out[n++] = 'i';
	out[n] = '\0';
}

/* The highest $n in text (0 if none); -1 for a malformed reference. */
static int
checks_text_refs(const char *text)
{
	const char *p;
	int max = 0, n;

	for (p = text; (p = strchr(p, '$')) != NULL; ) {
		p++;
		if (*p == '$') {
			p++;
			continue;
		}
		if (*p == '{' && isdigit((unsigned char)p[1]) && p[2] == '}') {
			n = p[1] - '0';
			p += 3;
		} else if (isdigit((unsigned char)*p)) {
			n = *p++ - '0';
		} else
			return -1;
		if (n > max)
			max = n;
	}
	return max;
}

/* A PREPEND/REPLACE header text must be a field: "Name: value" (RFC 5322 2.2). */
static int
checks_is_field(const char *text)
{
	const char *p = text;

	while (*p > 32 && *p < 127 && *p != ':')
		p++;
	return p != text && *p == ':';
}

static int
checks_find_action(const char *word, size_t len)
{
	size_t i;

	for (i = 0; i < NELEM(checks_actions); i++)
		if (strlen(checks_actions[i].name) == len &&
		    strncasecmp(checks_actions[i].name, word, len) == 0)
			return (int)i;
	return -1;
}

/* Action word and text after the pattern; the rule's action and text are set. */
static const char *
checks_parse_action(struct checks_rule *r, enum checks_kind kind, const char *p)
{
	size_t n;
	int a;

	p += strspn(p, " \t");
	n = strcspn(p, " \t");
	if (n == 0)
		return "missing action";
	if ((a = checks_find_action(p, n)) == -1)
		return "unknown action (REJECT, DISCARD, HOLD, WARN, PREPEND, REPLACE, IGNORE, DUNNO, OK)";
	r->action = checks_actions[a].action;
	p += n;
	p += strspn(p, " \t");
	if ((r->text = xstrdup(p)) == NULL)
		return "out of memory";
	str_trim(r->text);
	if (checks_actions[a].text == 1 && r->text[0] == '\0')
		return "this action needs a text";
	if (checks_actions[a].text == -1 && r->text[0] != '\0')
		return "this action takes no text";
	if (kind != CHECKS_BODY && (r->action == CHECKS_PREPEND ||
	    r->action == CHECKS_REPLACE) && !checks_is_field(r->text))
		return "the text must be a header field (Name: value)";
	return NULL;
}

/* One logical rule line (NUL-terminated, no newline). 0, or -1 with why. */
static int
checks_parse_rule(struct checks_rule *r, enum checks_kind kind, const char *line,
    char *why, size_t whylen)
{
	char flags[16], cflags[20];
	const char *p = line, *pat, *w = NULL;
	size_t patlen;
	int refs;

	if (*p == '!') {
		r->negate = 1;
		p++;
	}
	if ((p = checks_split_pattern(p, &pat, &patlen, flags, sizeof(flags), &w)) == NULL ||
	    (w = checks_parse_action(r, kind, p)) != NULL) {
		str_copy(why, w, whylen);
		return -1;
	}
	checks_flags(flags, cflags, sizeof(cflags));
	if ((r->re = regex_compile(pat, patlen, cflags, why, whylen)) == NULL)
		return -1;
	if ((refs = checks_text_refs(r->text)) == -1) {
		str_copy(why, "bad $ reference in the text ($1..$9, ${1}, $$)", whylen);
		return -1;
	}
	if (refs > 0 && (r->negate || (unsigned)refs > regex_groups(r->re))) {
		str_fmt(why, whylen, "$%d: the pattern has no such group", refs);
		return -1;
	}
	r->subst = refs > 0 || strstr(r->text, "$$") != NULL;
	return 0;
}

static int
checks_add(struct checks_table *t, enum checks_kind kind, const char *line,
    unsigned lineno, char *err, size_t errlen)
{
	struct checks_rule r;
	char why[512];

	memset(&r, 0, sizeof(r));
	if (checks_parse_rule(&r, kind, line, why, sizeof(why)) == -1) {
		checks_problem(err, errlen, "%s:%u: %s", t->name, lineno, why);
		regex_free(r.re);
		free(r.text);
		return -1;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct checks_rule *nr = reallocarray(t->rule, ncap, sizeof(*nr));

		if (nr == NULL) {
			checks_problem(err, errlen, "%s:%u: out of memory", t->name, lineno);
			regex_free(r.re);
			free(r.text);
			return -1;
		}
		t->rule = nr;
		t->cap = ncap;
	}
	r.file = t->name;
	r.line = lineno;
	t->rule[t->n++] = r;
	return 0;
}

/* A physical line (without its newline) into the logical line being built. */
static int
checks_line(struct checks_table *t, enum checks_kind kind, struct strbuf *logical,
    unsigned *start, unsigned lineno, const char *l, size_t n, char *err,
    size_t errlen, int *bad)
{
	const char *s;
	size_t skip = strspn(l, " \t");

	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (skip >= n || l[skip] == '#')
		return 0;	/* blank or comment: does not end a logical line */
	if (skip > 0 && logical->len > 0)
		return strbuf_append(logical, l, n);
	if (logical->len > 0) {
		s = logical->data;
		if (checks_add(t, kind, s, *start, err, errlen) == -1)
			*bad = 1;
		strbuf_reset(logical);
	}
	*start = lineno;
	if (skip > 0) {
		checks_problem(err, errlen, "%s:%u: continuation line without a rule",
		    t->name, lineno);
		*bad = 1;
		return 0;
	}
	return strbuf_append(logical, l, n);
}

int
checks_parse(struct checks *c, enum checks_kind kind, const char *name,
    const char *text, size_t len, char *err, size_t errlen)
{
	struct checks_table *t = &c->t[kind];
	struct strbuf logical;
	const char *p = text, *end = text + len, *nl;
	unsigned lineno = 0, start = 0;
	int bad = 0;

	if (errlen > 0)
		err[0] = '\0';
	free(t->name);
	if ((t->name = xstrdup(name)) == NULL)
		return -1;
	strbuf_init(&logical, CHECKS_LINE_MAX);
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			checks_problem(err, errlen, "%s:%u: NUL byte", name, lineno);
			bad = 1;
		} else if (checks_line(t, kind, &logical, &start, lineno, p,
		    (size_t)(nl - p), err, errlen, &bad) == -1) {
			checks_problem(err, errlen, "%s:%u: rule too long", name, lineno);
			bad = 1;
			strbuf_reset(&logical);
		}
		p = nl + (nl < end);
	}
	if (logical.len > 0 && checks_add(t, kind, logical.data, start, err, errlen) == -1)
		bad = 1;
	strbuf_free(&logical);
	return bad ? -1 : 0;
}

int
checks_load(struct checks *c, enum checks_kind kind, const char *path, char *err,
    size_t errlen)
{
	struct strbuf sb;
	char buf[8192];
	ssize_t n;
	int fd, r;

	if (errlen > 0)
		err[0] = '\0';
	if (path == NULL || *path == '\0')
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		checks_problem(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	strbuf_init(&sb, CHECKS_FILE_MAX);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || strbuf_append(&sb, buf, (size_t)n) == -1) {
			checks_problem(err, errlen, "%s: %s", path,
			    n == -1 ? strerror(errno) : "file too large");
			close(fd);
			strbuf_free(&sb);
			return -1;
		}
	}
	close(fd);
	r = checks_parse(c, kind, path, sb.data != NULL ? sb.data : "", sb.len, err, errlen);
	strbuf_free(&sb);
	return r;
}
