/*
 * imapd's LIST and LSUB: RFC 3501 6.3.8-9, LIST-EXTENDED (RFC 5258:
 * selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE;
 * return options SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS from
 * RFC 5819), \HasChildren / \HasNoChildren (RFC 3348), special-use
 * attributes (RFC 6154), patterns with '*' and '%' after a reference
 * name, and names in UTF-8 once UTF8=ACCEPT is enabled (RFC 6855).
 * Runs in the session process as the mail owner, with the Maildir as cwd.
 *
 * The listing is built once per command: every folder, the parents they
 * imply (Maildir++ may hold ".A.B" without ".A") and the subscriptions,
 * sorted INBOX first; each pattern is then matched against every name.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "imap_mbox.h"
#include "imap_utf7.h"
#include "log.h"
#include "util.h"

#define IMAP_LIST_PATTERNS_MAX	32
#define IMAP_PATTERN_MAX	(2 * IMAP_NAME_MAX + 1)	/* reference + pattern */

struct imap_lentry {
	char		*name;
	unsigned	 special_use;
	unsigned	 exists:1, has_children:1, subscribed:1, childinfo:1;
};

struct imap_listing {
	struct imap_lentry	*e;
	size_t			 n, cap;
};

struct imap_listopt {
	int		 extended, lsub;
	int		 sel_subscribed, sel_recursive, sel_specialuse;
	int		 ret_subscribed, ret_status;
	unsigned char	 status[IMAP_STATUS_ITEMS_MAX];
	size_t		 nstatus;
	char		*pat[IMAP_LIST_PATTERNS_MAX];
	size_t		 npat;
};

static void
imap_listing_add(struct imap_listing *l, const char *name, int exists, int subscribed,
    unsigned special_use)
{
	struct imap_lentry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = xreallocarray(l->e, l->cap, sizeof(*l->e));
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->exists = exists != 0;
	e->subscribed = subscribed != 0;
	e->special_use = special_use;
}

static void
imap_listing_free(struct imap_listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
}

/* INBOX first, then byte order. */
static int
imap_lentry_cmp(const void *a, const void *b)
{
	const char *x = ((const struct imap_lentry *)a)->name;
	const char *y = ((const struct imap_lentry *)b)->name;
	int xi = strcmp(x, "INBOX") == 0, yi = strcmp(y, "INBOX") == 0;

	if (xi || yi)
		return yi - xi;
	return strcmp(x, y);
}

static struct imap_lentry *
imap_listing_find(struct imap_listing *l, const char *name)
{
	struct imap_lentry key = { .name = (char *)name };

	return bsearch(&key, l->e, l->n, sizeof(*l->e), imap_lentry_cmp);
}

/*
 * The subscriptions file: one name per line (a "V\t2" header and tab
 * separated levels, as Dovecot writes it, are read too).
 */
static void
imap_listing_subscriptions(struct imap_listing *l)
{
	char line[IMAP_NAME_MAX + 2], *p;
	FILE *fp;

	if ((fp = fopen("subscriptions", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || strncmp(line, "V\t", 2) == 0)
			continue;
		for (p = line; *p; p++)
			if (*p == '\t')
				*p = IMAP_DELIM;
		imap_listing_add(l, line, 0, 1, 0);
		/* the parents, for RECURSIVEMATCH and LSUB's \Noselect */
		while ((p = strrchr(line, IMAP_DELIM)) != NULL) {
			*p = '\0';
			imap_listing_add(l, line, 0, 0, 0);
		}
	}
	fclose(fp);
}

/* Sort, merge duplicates, add \HasChildren from the existing names. */
static void
imap_listing_settle(struct imap_listing *l)
{
	struct imap_lentry *p;
	char name[IMAP_NAME_MAX + 1], *dot;
	size_t i, o;

	qsort(l->e, l->n, sizeof(*l->e), imap_lentry_cmp);
	for (i = 0, o = 0; i < l->n; i++) {
		if (o > 0 && strcmp(l->e[o - 1].name, l->e[i].name) == 0) {
			p = &l->e[o - 1];
			p->exists |= l->e[i].exists;
			p->subscribed |= l->e[i].subscribed;
			p->has_children |= l->e[i].has_children;
			p->special_use |= l->e[i].special_use;
			free(l->e[i].name);
			continue;
		}
		l->e[o++] = l->e[i];
	}
	l->n = o;
	for (i = 0; i < l->n; i++) {
		if (!l->e[i].exists)
			continue;
		/* the parent; the implied ones above it have has_children already */
		str_copy(name, l->e[i].name, sizeof(name));
		if ((dot = strrchr(name, IMAP_DELIM)) != NULL) {
			*dot = '\0';
			if ((p = imap_listing_find(l, name)) != NULL)
				p->has_children = 1;
		}
	}
}

/* Every folder, the parents they imply, the subscriptions. 0 or -1. */
static int
imap_listing_build(struct imap_listing *l, char *err, size_t errlen)
{
	struct imap_folder_info *fi;
	char name[IMAP_NAME_MAX + 1], *dot;
	size_t n, i;

	memset(l, 0, sizeof(*l));
	if (imap_folder_list(&fi, &n, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		imap_listing_add(l, fi[i].name, 1, fi[i].subscribed, fi[i].special_use);
		l->e[l->n - 1].has_children = fi[i].has_children != 0;
		str_copy(name, fi[i].name, sizeof(name));
		while ((dot = strrchr(name, IMAP_DELIM)) != NULL) {
			*dot = '\0';
			imap_listing_add(l, name, 0, 0, 0);
			l->e[l->n - 1].has_children = 1;
		}
	}
	free(fi);
	imap_listing_subscriptions(l);
	imap_listing_settle(l);
	return 0;
}

/* Add p and what it reaches without reading a character (wildcards match ""). */
static void
imap_match_add(const char *pat, size_t plen, unsigned char *set, size_t p)
{
	while (p < plen && (pat[p] == '*' || pat[p] == '%'))
		set[p++] = 1;
	set[p] = 1;
}

/*
 * Does name match pat ('*' anything, '%' anything but the delimiter)?
 * A position set walked over the name: linear in both, no backtracking.
 * "INBOX" at the start of a name matches without regard to case.
 */
static int
imap_list_match(const char *pat, const char *name)
{
	unsigned char a[IMAP_PATTERN_MAX + 1], b[IMAP_PATTERN_MAX + 1], *cur = a, *nxt = b, *t;
	size_t plen = strlen(pat), p, i;
	int inbox = str_iprefix(name, "INBOX") && (name[5] == '\0' || name[5] == IMAP_DELIM);
	int any;

	if (plen > IMAP_PATTERN_MAX)
		return 0;
	memset(cur, 0, plen + 1);
	imap_match_add(pat, plen, cur, 0);
	for (i = 0; name[i] != '\0'; i++) {
		memset(nxt, 0, plen + 1);
		for (p = 0, any = 0; p < plen; p++) {
			if (!cur[p])
				continue;
			if (pat[p] == '*' || (pat[p] == '%' && name[i] != IMAP_DELIM))
				imap_match_add(pat, plen, nxt, p), any = 1;
			else if (pat[p] == name[i] || (inbox && i < 5 &&
			    toupper((unsigned char)pat[p]) == name[i]))
				imap_match_add(pat, plen, nxt, p + 1), any = 1;
		}
		if (!any)
			return 0;
		t = cur, cur = nxt, nxt = t;
	}
	return cur[plen];
}

static int
imap_list_match_any(const struct imap_listopt *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->npat; i++)
		if (imap_list_match(o->pat[i], name))
			return 1;
	return 0;
}

/* CHILDINFO / LSUB \Noselect: the parents of subscribed names the patterns miss. */
static void
imap_listing_childinfo(struct imap_listing *l, const struct imap_listopt *o)
{
	struct imap_lentry *p;
	char name[IMAP_NAME_MAX + 1], *dot;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (!l->e[i].subscribed || imap_list_match_any(o, l->e[i].name))
			continue;
		str_copy(name, l->e[i].name, sizeof(name));
		while ((dot = strrchr(name, IMAP_DELIM)) != NULL) {
			*dot = '\0';
			if ((p = imap_listing_find(l, name)) != NULL)
				p->childinfo = 1;
		}
	}
}

/* The attributes of an entry, into sb. */
static void
imap_list_attrs(const struct imap_listopt *o, const struct imap_lentry *e, struct strbuf *sb)
{
	static const struct { unsigned bit; const char *name; } su[] = {
		{ IMAP_SU_SENT, "\\Sent" }, { IMAP_SU_DRAFTS, "\\Drafts" },
		{ IMAP_SU_TRASH, "\\Trash" }, { IMAP_SU_JUNK, "\\Junk" },
		{ IMAP_SU_ARCHIVE, "\\Archive" },
	};
	size_t i;

	strbuf_putc(sb, '(');
	if (!e->exists)	/* RFC 5258 3: \NonExistent for what only a subscription names */
		strbuf_puts(sb, o->extended && o->sel_subscribed ? "\\NonExistent " :
		    "\\Noselect ");
	strbuf_puts(sb, e->has_children ? "\\HasChildren" : "\\HasNoChildren");
	if ((o->ret_subscribed || o->sel_subscribed) && e->subscribed)
		strbuf_puts(sb, " \\Subscribed");
	for (i = 0; i < NELEM(su); i++)	/* RFC 6154 2: in every LIST */
		if (e->exists && (e->special_use & su[i].bit))
			strbuf_printf(sb, " %s", su[i].name);
	strbuf_putc(sb, ')');
}

/* Is e listed by LIST with these options? */
static int
imap_list_selected(const struct imap_listopt *o, const struct imap_lentry *e)
{
	if (o->sel_recursive && e->childinfo)
		return 1;
	if (o->sel_subscribed)
		return e->subscribed;
	if (o->sel_specialuse)
		return e->exists && e->special_use != 0;
	return e->exists || e->has_children;
}

static void
imap_list_entry(struct imap_session *sess, const struct imap_listopt *o,
    const struct imap_lentry *e, struct strbuf *sb)
{
	strbuf_reset(sb);
	if (o->lsub) {
		/* RFC 3501 6.3.9: an unsubscribed parent of a subscribed name is \Noselect */
		if (!e->subscribed && !e->childinfo)
			return;
		strbuf_puts(sb, e->subscribed && e->exists ? "* LSUB () " : "* LSUB (\\Noselect) ");
	} else {
		if (!imap_list_selected(o, e))
			return;
		strbuf_puts(sb, "* LIST ");
		imap_list_attrs(o, e, sb);
		strbuf_putc(sb, ' ');
	}
	strbuf_printf(sb, "\"%c\" ", IMAP_DELIM);
	imap_put_mailbox(sess, sb, e->name);
	if (!o->lsub && o->sel_recursive && e->childinfo)
		strbuf_puts(sb, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");	/* RFC 5258 3.5 */
	if (strbuf_puts(sb, "\r\n") == 0)
		stream_write(sess->s, sb->data, sb->len);
	/* RFC 5819: STATUS after its LIST, for what can be selected */
	if (!o->lsub && o->ret_status && e->exists)
		imap_status_send(sess, e->name, o->status, o->nstatus);
}

/* ref + pattern as a store pattern (modified UTF-7). 0 or -1. */
static int
imap_list_pattern(struct imap_session *sess, struct imap_listopt *o,
    const struct imap_arg *ref, const struct imap_arg *pat)
{
	struct strbuf raw, sb;
	int r = -1;

	if (!imap_arg_is_astring(pat) || o->npat == IMAP_LIST_PATTERNS_MAX)
		return -1;
	strbuf_init(&raw, IMAP_PATTERN_MAX);
	strbuf_init(&sb, IMAP_PATTERN_MAX);
	if (strbuf_append(&raw, ref->str, ref->len) == 0 &&
	    strbuf_append(&raw, pat->str, pat->len) == 0 && strlen(raw.data) == raw.len) {
		if (!(sess->enabled & IMAP_EN_UTF8))
			r = strbuf_append(&sb, raw.data, raw.len);
		else
			r = imap_utf8_to_utf7(raw.data, raw.len, &sb);
	}
	if (r == 0)
		o->pat[o->npat++] = xstrdup(sb.data != NULL ? sb.data : "");
	strbuf_free(&raw);
	strbuf_free(&sb);
	return r;
}

/* RFC 5258 3: selection options. 0 or -1. */
static int
imap_list_selopts(struct imap_listopt *o, const struct imap_arg *l)
{
	size_t i;
	int other = 0;

	for (i = 0; i < l->n; i++) {
		if (imap_arg_atom_is(&l->list[i], "SUBSCRIBED"))
			o->sel_subscribed = other = 1;
		else if (imap_arg_atom_is(&l->list[i], "SPECIAL-USE"))
			o->sel_specialuse = other = 1;
		else if (imap_arg_atom_is(&l->list[i], "RECURSIVEMATCH"))
			o->sel_recursive = 1;
		else if (!imap_arg_atom_is(&l->list[i], "REMOTE"))
			return -1;
	}
	/* RECURSIVEMATCH needs another option it can apply to */
	return o->sel_recursive && !other ? -1 : 0;
}

/* RFC 5258 3, RFC 5819: return options. 0 or -1. */
static int
imap_list_retopts(struct imap_listopt *o, const struct imap_arg *l)
{
	size_t i;

	if (l->type != IMAP_ARG_LIST)
		return -1;
	for (i = 0; i < l->n; i++) {
		if (imap_arg_atom_is(&l->list[i], "SUBSCRIBED"))
			o->ret_subscribed = 1;
		else if (imap_arg_atom_is(&l->list[i], "STATUS") && i + 1 < l->n) {
			if (imap_status_parse(&l->list[++i], o->status, &o->nstatus) == -1)
				return -1;
			o->ret_status = 1;
		} else if (!imap_arg_atom_is(&l->list[i], "CHILDREN") &&
		    !imap_arg_atom_is(&l->list[i], "SPECIAL-USE"))
			return -1;
	}
	return 0;
}

/* The arguments of LIST / LSUB. 0 or -1. */
static int
imap_list_args(struct imap_session *sess, struct imap_cmd *cmd, struct imap_listopt *o,
    const struct imap_arg **ref)
{
	const struct imap_arg *a = cmd->args;
	size_t i = 0, j;

	if (!o->lsub && cmd->nargs > 0 && a[0].type == IMAP_ARG_LIST) {
		o->extended = 1;
		if (imap_list_selopts(o, &a[i++]) == -1)
			return -1;
	}
	if (cmd->nargs < i + 2 || !imap_arg_is_astring(&a[i]))
		return -1;
	*ref = &a[i++];
	if (a[i].type == IMAP_ARG_LIST && !o->lsub) {
		o->extended = 1;
		for (j = 0; j < a[i].n; j++)
			if (imap_list_pattern(sess, o, *ref, &a[i].list[j]) == -1)
				return -1;
	} else if (imap_list_pattern(sess, o, *ref, &a[i]) == -1)
		return -1;
	i++;
	if (i < cmd->nargs && !o->lsub) {
		if (!imap_arg_atom_is(&a[i], "RETURN") || i + 2 != cmd->nargs ||
		    imap_list_retopts(o, &a[i + 1]) == -1)
			return -1;
		o->extended = 1;
		i += 2;
	}
	return i == cmd->nargs ? 0 : -1;
}

/* LIST ref "": the delimiter and the root of ref (RFC 3501 6.3.8). */
static void
imap_list_root(struct imap_session *sess, const struct imap_arg *ref)
{
	const char *dot = memchr(ref->str, IMAP_DELIM, ref->len);
	struct strbuf sb;

	strbuf_init(&sb, 4 * IMAP_NAME_MAX + 64);
	strbuf_printf(&sb, "* %s (\\Noselect) \"%c\" ", "LIST", IMAP_DELIM);
	imap_put_string(&sb, ref->str, dot != NULL ? (size_t)(dot - ref->str) + 1 : 0);
	if (strbuf_puts(&sb, "\r\n") == 0)
		stream_write(sess->s, sb.data, sb.len);
	strbuf_free(&sb);
}

static int
imap_list_run(struct imap_session *sess, struct imap_cmd *cmd, struct imap_listopt *o)
{
	const struct imap_arg *ref = NULL;
	struct imap_listing l;
	struct strbuf sb;
	char err[512];
	size_t i;

	if (imap_list_args(sess, cmd, o, &ref) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid %s arguments", cmd->name);
		return 0;
	}
	if (!o->lsub && o->npat == 1 && o->pat[0][0] == '\0') {
		imap_list_root(sess, ref);
		imap_reply(sess, cmd, "OK", NULL, "List completed");
		return 0;
	}
	if (imap_listing_build(&l, err, sizeof(err)) == -1) {
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		imap_reply(sess, cmd, "NO", "UNAVAILABLE", "Cannot list the mailboxes");
		return 0;
	}
	if (o->lsub || o->sel_recursive)
		imap_listing_childinfo(&l, o);
	strbuf_init(&sb, 4 * IMAP_NAME_MAX + 256);
	for (i = 0; i < l.n; i++)
		if (imap_list_match_any(o, l.e[i].name))
			imap_list_entry(sess, o, &l.e[i], &sb);
	strbuf_free(&sb);
	imap_listing_free(&l);
	imap_reply(sess, cmd, "OK", NULL, "%s completed", o->lsub ? "Lsub" : "List");
	return 0;
}

static void
imap_listopt_free(struct imap_listopt *o)
{
	size_t i;

	for (i = 0; i < o->npat; i++)
		free(o->pat[i]);
}

int
imap_cmd_list(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	struct imap_listopt o;
	int r;

	(void)uid;
	memset(&o, 0, sizeof(o));
	r = imap_list_run(sess, cmd, &o);
	imap_listopt_free(&o);
	return r;
}

int
imap_cmd_lsub(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	struct imap_listopt o;
	int r;

	(void)uid;
	memset(&o, 0, sizeof(o));
	o.lsub = 1;
	r = imap_list_run(sess, cmd, &o);
	imap_listopt_free(&o);
	return r;
}
