/*
 * rules_eval: runs a parsed rule file (rules_int.h) against one message,
 * in the deliver child as the mailbox owner. Tests compare ASCII
 * case-insensitively (Sieve's i;ascii-casemap, RFC 5228 2.7.3) or match
 * a PCRE2 regex under common/regex.h's limits; a regex that hits a limit
 * is logged with its FILE:LINE and counts as no match, and after
 * RULES_REGEX_FAILS_MAX such failures in one message, or after
 * RULES_TIME_MAX_MS of evaluation, the remaining regexes are not run at
 * all, so that a hostile message costs bounded time. Actions only accumulate in a rules_result: deliver.c acts on it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules_eval.h"
#include "rules_int.h"
#include "util.h"

struct rv {
	const struct rules	*r;
	const struct rules_msg	*m;
	struct rules_result	*res;
};

static int
ci_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return 0;
	}
	return 1;
}

static int
ci_contains(const char *s, size_t len, const char *needle, size_t nlen)
{
	size_t i;

	if (nlen == 0)
		return 1;
	for (i = 0; i + nlen <= len; i++)
		if (ci_eq(s + i, needle, nlen))
			return 1;
	return 0;
}

/* Does s (len bytes) pass c's operator? */
static int
rv_op(struct rv *v, const struct rules_cond *c, const char *s, size_t len)
{
	char err[256], safe[300];
	int r;

	switch (c->op) {
	case RO_CONTAINS:
		return ci_contains(s, len, c->arg, c->arglen);
	case RO_IS:
		return len == c->arglen && ci_eq(s, c->arg, len);
	case RO_MATCHES:
		if (v->res->errors >= RULES_REGEX_FAILS_MAX)
			return 0;
		if (now_ms() > v->res->deadline) {
			v->res->errors = RULES_REGEX_FAILS_MAX;
			log_warn("%s:%u: regexes took more than %d ms for this "
			    "message: no more regexes for it", v->r->file,
			    c->line, RULES_TIME_MAX_MS);
			return 0;
		}
		err[0] = '\0';
		if ((r = regex_match(c->re, s, len, err, sizeof(err))) == -1) {
			v->res->errors++;
			log_warn("%s:%u: regex failed on this message (%s): "
			    "treated as no match%s", v->r->file, c->line,
			    log_sanitize(safe, sizeof(safe), err, strlen(err)),
			    v->res->errors >= RULES_REGEX_FAILS_MAX ?
			    "; no more regexes for this message" : "");
			return 0;
		}
		return r;
	}
	return 0;
}

static int
rv_cond(struct rv *v, const struct rules_cond *c)
{
	const struct rules_msg *m = v->m;
	size_t i;

	switch (c->type) {
	case RC_TRUE:
		return 1;
	case RC_FALSE:
		return 0;
	case RC_NOT:
		return !rv_cond(v, c->l);
	case RC_AND:
		return rv_cond(v, c->l) && rv_cond(v, c->r);
	case RC_OR:
		return rv_cond(v, c->l) || rv_cond(v, c->r);
	case RC_HEADER:
	case RC_EXISTS:
		for (i = 0; i < m->nf; i++)
			if (str_ieq(m->f[i].name, c->name) &&
			    (c->type == RC_EXISTS ||
			    rv_op(v, c, m->f[i].value, m->f[i].vlen)))
				return 1;
		return 0;
	case RC_FROM:
		return rv_op(v, c, m->sender, strlen(m->sender));
	case RC_TO:
		return rv_op(v, c, m->rcpt, strlen(m->rcpt));
	case RC_OVER:
		return m->size > c->size;
	case RC_UNDER:
		return m->size < c->size;
	}
	return 0;
}

/* Add s to the list (no duplicates; ci: compare ignoring case). */
static void
rv_add(struct rv *v, char ***list, size_t *n, const char *s, int ci,
    unsigned line)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (ci ? str_ieq((*list)[i], s) : strcmp((*list)[i], s) == 0)
			return;
	if (v->res->nfolder + v->res->nredirect >= RULES_ACTIONS_MAX) {
		log_warn("%s:%u: more than %d fileinto and redirect actions: "
		    "ignored", v->r->file, line, RULES_ACTIONS_MAX);
		return;
	}
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrdup(s);
}

/* Run a statement list. 1 when stop was reached. */
static int
rv_stmts(struct rv *v, const struct rules_stmt *s)
{
	struct rules_result *res = v->res;
	char dir[RULES_STRING_MAX * 4];

	for (; s != NULL; s = s->next) {
		switch (s->type) {
		case RS_IF:
			if (rv_stmts(v, rv_cond(v, s->cond) ? s->then : s->els))
				return 1;
			break;
		case RS_FILEINTO:
			if (rules_folder_dir(s->arg, dir, sizeof(dir)) == 0 &&
			    dir[0] == '\0')
				res->keep = 1;	/* fileinto "INBOX" */
			else
				rv_add(v, &res->folder, &res->nfolder, s->arg, 0,
				    s->line);
			res->cancel = 1;
			break;
		case RS_REDIRECT:
			rv_add(v, &res->redirect, &res->nredirect, s->arg, 1,
			    s->line);
			res->cancel = 1;
			break;
		case RS_DISCARD:
			res->cancel = 1;
			break;
		case RS_KEEP:
			res->keep = 1;
			break;
		case RS_STOP:
			return 1;
		}
	}
	return 0;
}

void
rules_eval(const struct rules *r, const struct rules_msg *m,
    struct rules_result *res)
{
	struct rv v = { r, m, res };

	if (!res->stop && rv_stmts(&v, r->top))
		res->stop = 1;
}

void
rules_result_init(struct rules_result *res)
{
	memset(res, 0, sizeof(*res));
	res->deadline = now_ms() + RULES_TIME_MAX_MS;
}

void
rules_result_free(struct rules_result *res)
{
	size_t i;

	for (i = 0; i < res->nfolder; i++)
		free(res->folder[i]);
	for (i = 0; i < res->nredirect; i++)
		free(res->redirect[i]);
	free(res->folder);
	free(res->redirect);
	memset(res, 0, sizeof(*res));
}

int
rules_result_keep(const struct rules_result *res)
{
	return res->keep || !res->cancel;
}
