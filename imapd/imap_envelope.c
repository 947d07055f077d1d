/*
 * imap_envelope: the ENVELOPE of a message (RFC 3501 7.4.2, RFC 9051
 * 7.5.2) and the address-list parser behind it (RFC 5322 3.4 with the
 * obsolete forms of 4.4: routes, empty list elements, phrases with dots).
 * Encoded words are left as they are; groups become a start marker
 * (NIL NIL "name" NIL) and an end marker (NIL NIL NIL NIL). Also
 * imap_addr_first for SORT (RFC 5256, RFC 5957). Runs in imapd's session
 * process as the mail owner; pure computation, linear in the input.
 */
#include "config.h"

#include <string.h>

#include "strbuf.h"
#include "imap_parse.h"
#include "imap_mime_int.h"

enum tok_type { T_END, T_WORD, T_QSTR, T_DLIT, T_SPECIAL };

struct tok {
	enum tok_type	 t;
	const char	*s;	/* T_QSTR: the inside, quoted-pairs still escaped */
	size_t		 len;
	char		 c;	/* T_SPECIAL */
};

struct lex {
	const char	*p, *end;
	const char	*cmt;	/* the last comment's inside, for a name-less address */
	size_t		 cmtlen;
};

/* One address being built; the strings live here while fn runs. */
struct addr_build {
	struct strbuf	 phrase, local, domain, adl;
	int		 nwords, has_phrase;
};

static int
is_special(char c)
{
	return strchr("()<>@,;:\\\"[]", c) != NULL;
}

/* CFWS, remembering the last top-level comment (RFC 5322 3.2.2). */
static void
lex_skip(struct lex *l)
{
	const char *s;

	for (;;) {
		while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
		    *l->p == '\r' || *l->p == '\n'))
			l->p++;
		if (l->p >= l->end || *l->p != '(')
			return;
		s = l->p;
		l->p = mime_skip_cfws(l->p, l->end);
		l->cmt = s + 1;
		l->cmtlen = (size_t)(l->p - s) - 1;
		if (l->cmtlen > 0 && l->p[-1] == ')')
			l->cmtlen--;
	}
}

static void
lex_next(struct lex *l, struct tok *t)
{
	const char *s;

	lex_skip(l);
	if (l->p >= l->end) {
		t->t = T_END;
		return;
	}
	s = l->p;
	if (*s == '"' || *s == '[') {
		char close = *s == '"' ? '"' : ']';

		for (l->p++; l->p < l->end && *l->p != close; l->p++)
			if (*l->p == '\\' && l->p + 1 < l->end)
				l->p++;
		t->t = *s == '"' ? T_QSTR : T_DLIT;
		t->s = *s == '"' ? s + 1 : s;
		t->len = (size_t)(l->p - t->s) + (*s == '[' && l->p < l->end);
		if (l->p < l->end)
			l->p++;
		return;
	}
	if (is_special(*s)) {
		t->t = T_SPECIAL;
		t->c = *s;
		l->p++;
		return;
	}
	while (l->p < l->end && !is_special(*l->p) && *l->p != ' ' &&
	    *l->p != '\t' && *l->p != '\r' && *l->p != '\n')
		l->p++;
	t->t = T_WORD;
	t->s = s;
	t->len = (size_t)(l->p - s);
}

/* A quoted-string's inside without its quoted-pairs. */
static int
unquote_append(struct strbuf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (strbuf_putc(b, s[i]) == -1)
			return -1;
	}
	return 0;
}

/* A word of a phrase (display name) and of a local part. */
static int
word_add(struct addr_build *a, const struct tok *t)
{
	if (a->nwords++ > 0 && strbuf_putc(&a->phrase, ' ') == -1)
		return -1;
	if (t->t == T_QSTR) {
		if (unquote_append(&a->phrase, t->s, t->len) == -1 ||
		    strbuf_putc(&a->local, '"') == -1 ||
		    strbuf_append(&a->local, t->s, t->len) == -1 ||
		    strbuf_putc(&a->local, '"') == -1)
			return -1;
		return 0;
	}
	if (strbuf_append(&a->phrase, t->s, t->len) == -1)
		return -1;
	return strbuf_append(&a->local, t->s, t->len);
}

static void
build_reset(struct addr_build *a, struct lex *l)
{
	strbuf_reset(&a->phrase);
	strbuf_reset(&a->local);
	strbuf_reset(&a->domain);
	strbuf_reset(&a->adl);
	a->nwords = 0;
	a->has_phrase = 0;
	l->cmt = NULL;
}

static const char *
sb(const struct strbuf *b)
{
	return b->data != NULL ? b->data : "";
}

typedef int (*addr_fn)(const struct mime_addr *, void *);

static int
emit(struct addr_build *a, struct lex *l, addr_fn fn, void *arg)
{
	struct mime_addr m;

	memset(&m, 0, sizeof(m));
	if (a->has_phrase) {
		m.name = sb(&a->phrase);
		m.namelen = a->phrase.len;
	} else if (l->cmt != NULL) {	/* "user@host (Name)" */
		m.name = l->cmt;
		m.namelen = l->cmtlen;
	}
	if (a->adl.len > 0) {
		m.adl = sb(&a->adl);
		m.adllen = a->adl.len;
	}
	m.mailbox = sb(&a->local);
	m.mailboxlen = a->local.len;
	m.host = sb(&a->domain);
	m.hostlen = a->domain.len;
	return fn(&m, arg);
}

static int
group_mark(const char *name, size_t len, addr_fn fn, void *arg)
{
	struct mime_addr m;

	memset(&m, 0, sizeof(m));
	m.name = m.mailbox = name;
	m.namelen = m.mailboxlen = len;
	return fn(&m, arg);
}

/* Domain (or route) tokens after '@': words, dots and literals joined. */
static int
domain_read(struct lex *l, struct tok *t, struct strbuf *d)
{
	for (lex_next(l, t); t->t == T_WORD || t->t == T_DLIT; lex_next(l, t))
		if (strbuf_append(d, t->s, t->len) == -1)
			return -1;
	return 0;
}

/* Inside "<...>": [route ":"] local-part "@" domain (RFC 5322 3.4, 4.4). */
static int
angle_read(struct lex *l, struct tok *t, struct addr_build *a)
{
	strbuf_reset(&a->local);
	lex_next(l, t);
	while (t->t == T_SPECIAL && (t->c == '@' || t->c == ',')) {	/* obs-route */
		if (t->c == '@' && (strbuf_putc(&a->adl, '@') == -1 ||
		    domain_read(l, t, &a->adl) == -1))
			return -1;
		if (t->t == T_SPECIAL && t->c == ',') {
			if (strbuf_putc(&a->adl, ',') == -1)
				return -1;
			lex_next(l, t);
		}
	}
	if (a->adl.len > 0 && t->t == T_SPECIAL && t->c == ':')
		lex_next(l, t);
	for (; t->t == T_WORD || t->t == T_QSTR; lex_next(l, t)) {
		if (t->t == T_QSTR && (strbuf_putc(&a->local, '"') == -1 ||
		    strbuf_append(&a->local, t->s, t->len) == -1 ||
		    strbuf_putc(&a->local, '"') == -1))
			return -1;
		if (t->t == T_WORD && strbuf_append(&a->local, t->s, t->len) == -1)
			return -1;
	}
	if (t->t == T_SPECIAL && t->c == '@' && domain_read(l, t, &a->domain) == -1)
		return -1;
	while (t->t != T_END && !(t->t == T_SPECIAL && t->c == '>'))
		lex_next(l, t);	/* junk up to '>' */
	if (t->t != T_END)
		lex_next(l, t);
	return 0;
}

struct plstate {
	struct lex		 l;
	struct tok		 t;
	struct addr_build	 a;
	int			 in_group;
	addr_fn			 fn;
	void			*arg;
};

/* One mailbox or group marker at s->t; 0 go on, 1 stop (fn), -1 error. */
static int
element_read(struct plstate *s)
{
	struct addr_build *a = &s->a;
	int rc = 0;

	build_reset(a, &s->l);
	for (; (s->t.t == T_WORD || s->t.t == T_QSTR); lex_next(&s->l, &s->t))
		if (word_add(a, &s->t) == -1)
			return -1;
	if (s->t.t == T_SPECIAL && s->t.c == ':' && !s->in_group && a->nwords > 0) {
		s->in_group = 1;
		lex_next(&s->l, &s->t);
		return group_mark(sb(&a->phrase), a->phrase.len, s->fn, s->arg);
	}
	if (s->t.t == T_SPECIAL && s->t.c == '<') {
		a->has_phrase = a->nwords > 0;
		if (angle_read(&s->l, &s->t, a) == -1)
			return -1;
		rc = emit(a, &s->l, s->fn, s->arg);
	} else if (s->t.t == T_SPECIAL && s->t.c == '@') {
		if (domain_read(&s->l, &s->t, &a->domain) == -1)
			return -1;
		rc = emit(a, &s->l, s->fn, s->arg);
	} else if (a->nwords > 0)	/* a local part alone: "postmaster" */
		rc = emit(a, &s->l, s->fn, s->arg);
	/* Anything else up to the next ',' or ';' is junk. */
	while (rc == 0 && s->t.t != T_END && !(s->t.t == T_SPECIAL &&
	    (s->t.c == ',' || s->t.c == ';')))
		lex_next(&s->l, &s->t);
	if (rc == 0 && s->t.t == T_SPECIAL && s->t.c == ';' && s->in_group) {
		s->in_group = 0;
		rc = group_mark(NULL, 0, s->fn, s->arg);
	}
	if (s->t.t != T_END)
		lex_next(&s->l, &s->t);
	return rc;
}

int
mime_addr_parse(const char *value, size_t len,
    int (*fn)(const struct mime_addr *, void *), void *arg)
{
	struct plstate s;
	int rc = 0;

	memset(&s, 0, sizeof(s));
	s.l.p = value;
	s.l.end = value + len;
	s.fn = fn;
	s.arg = arg;
	strbuf_init(&s.a.phrase, MIME_STR_MAX);
	strbuf_init(&s.a.local, MIME_STR_MAX);
	strbuf_init(&s.a.domain, MIME_STR_MAX);
	strbuf_init(&s.a.adl, MIME_STR_MAX);
	lex_next(&s.l, &s.t);
	while (rc == 0 && s.t.t != T_END)
		rc = element_read(&s);
	if (rc == 0 && s.in_group)	/* RFC 3501: every group has its end marker */
		rc = group_mark(NULL, 0, fn, arg);
	strbuf_free(&s.a.phrase);
	strbuf_free(&s.a.local);
	strbuf_free(&s.a.domain);
	strbuf_free(&s.a.adl);
	return rc == -1 ? -1 : 0;
}

struct env_list {
	struct strbuf	*o;
	int		 n;
};

/* address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")" */
static int
env_addr(const struct mime_addr *a, void *arg)
{
	struct env_list *e = arg;
	struct strbuf *o = e->o;

	/* A group start has its name in the mailbox field only (RFC 3501 7.4.2). */
	if (strbuf_puts(o, e->n++ ? "(" : "((") == -1 ||
	    imap_put_nstring(o, a->host == NULL ? NULL : a->name, a->namelen) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    imap_put_nstring(o, a->adl, a->adllen) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    imap_put_nstring(o, a->mailbox, a->mailboxlen) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    imap_put_nstring(o, a->host, a->hostlen) == -1 ||
	    strbuf_putc(o, ')') == -1)
		return -1;
	return 0;
}

/* An address list, or NIL when the field is absent or holds no address. */
static int
addr_list_write(const char *hdr, size_t hdrlen, const char *name,
    struct strbuf *tmp, struct strbuf *o)
{
	struct env_list e = { o, 0 };
	size_t base = o->len;

	if (imap_hdr_get(hdr, hdrlen, name, tmp) != 1)
		return strbuf_puts(o, "NIL");
	if (mime_addr_parse(sb(tmp), tmp->len, env_addr, &e) == -1)
		return -1;
	if (e.n == 0) {
		o->len = base;
		return strbuf_puts(o, "NIL");
	}
	return strbuf_putc(o, ')');
}

static int
nstring_field(const char *hdr, size_t hdrlen, const char *name,
    struct strbuf *tmp, struct strbuf *o)
{
	if (imap_hdr_get(hdr, hdrlen, name, tmp) != 1)
		return strbuf_puts(o, "NIL");
	return imap_put_string(o, sb(tmp), tmp->len);
}

static int
envelope_write(const char *hdr, size_t hdrlen, struct strbuf *tmp,
    struct strbuf *from, struct strbuf *o)
{
	static const char *const lists[] = { "sender", "reply-to", "to", "cc", "bcc" };
	size_t i, mark;

	if (strbuf_putc(o, '(') == -1 ||
	    nstring_field(hdr, hdrlen, "date", tmp, o) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    nstring_field(hdr, hdrlen, "subject", tmp, o) == -1 ||
	    addr_list_write(hdr, hdrlen, "from", tmp, from) == -1 ||
	    strbuf_putc(o, ' ') == -1 || strbuf_append(o, sb(from), from->len) == -1)
		return -1;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (strbuf_putc(o, ' ') == -1)
			return -1;
		mark = o->len;
		if (addr_list_write(hdr, hdrlen, lists[i], tmp, o) == -1)
			return -1;
		/* RFC 3501 7.4.2: absent or empty Sender / Reply-To are From. */
		if (i < 2 && strcmp(o->data + mark, "NIL") == 0) {
			o->len = mark;
			if (strbuf_append(o, sb(from), from->len) == -1)
				return -1;
		}
	}
	if (strbuf_putc(o, ' ') == -1 ||
	    nstring_field(hdr, hdrlen, "in-reply-to", tmp, o) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    nstring_field(hdr, hdrlen, "message-id", tmp, o) == -1)
		return -1;
	return strbuf_putc(o, ')');
}

int
imap_envelope(const char *hdr, size_t hdrlen, struct strbuf *out)
{
	struct strbuf tmp, from;
	size_t base = out->len;
	int rc;

	strbuf_init(&tmp, MIME_STR_MAX);
	strbuf_init(&from, MIME_STR_MAX);
	rc = envelope_write(hdr, hdrlen, &tmp, &from, out);
	strbuf_free(&tmp);
	strbuf_free(&from);
	if (rc == -1) {
		out->len = base;
		if (out->data != NULL)
			out->data[base] = '\0';
	}
	return rc;
}

struct first_addr {
	struct strbuf	*mailbox, *display;
	int		 found;
};

static int
first_fn(const struct mime_addr *a, void *arg)
{
	struct first_addr *f = arg;

	if (a->host == NULL)	/* group marker */
		return 0;
	f->found = 1;
	if (strbuf_append(f->mailbox, a->mailbox, a->mailboxlen) == -1)
		return -1;
	if (a->name != NULL && mime_hdr_decode(a->name, a->namelen, f->display) == -1)
		return -1;
	return 1;
}

int
imap_addr_first(const char *value, size_t len, struct strbuf *mailbox,
    struct strbuf *display)
{
	struct first_addr f = { mailbox, display, 0 };

	strbuf_reset(mailbox);
	strbuf_reset(display);
	if (mime_addr_parse(value, len, first_fn, &f) == -1)
		return -1;
	return f.found;
}
