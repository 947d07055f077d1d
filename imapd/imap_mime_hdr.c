/*
 * imap_mime_hdr: header fields of a message or body part (RFC 5322 2.2,
 * 3.2.2) and the Content-Type / Content-Disposition values with their
 * parameters (RFC 2045 5.1, RFC 2183, RFC 2231 3 and 4). Also the public
 * imap_hdr_get / imap_hdr_get_all. Pure computation in imapd's session
 * process (as the mail owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"
#include "imap_mime_int.h"

#define MIME_SECT_MAX	128	/* highest RFC 2231 section number joined */

char *
mime_strndup(const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the field that starts at p: the line end not followed by WSP. */
static size_t
field_end(const char *h, size_t len, size_t p)
{
	const char *nl;

	for (;;) {
		nl = memchr(h + p, '\n', len - p);
		if (nl == NULL)
			return len;
		p = (size_t)(nl - h) + 1;
		if (p >= len || !is_wsp(h[p]))
			return p;
	}
}

int
mime_field_next(const char *h, size_t len, size_t *pos, struct mime_field *f)
{
	size_t p = *pos, e, v, c;
	const char *colon;

	while (p < len) {
		if (h[p] == '\n' || (h[p] == '\r' && p + 1 < len && h[p + 1] == '\n'))
			return 0;	/* the blank line */
		e = field_end(h, len, p);
		colon = memchr(h + p, ':', e - p);
		if (colon == NULL) {	/* not a field: skipped */
			p = e;
			continue;
		}
		c = (size_t)(colon - h);
		f->raw = h + p;
		f->rawlen = e - p;
		f->name = h + p;
		f->namelen = c - p;
		while (f->namelen > 0 && is_wsp(f->name[f->namelen - 1]))
			f->namelen--;	/* obs-optional: "Subject :" */
		v = e;
		if (v > c + 1 && h[v - 1] == '\n')
			v--;
		if (v > c + 1 && h[v - 1] == '\r')
			v--;
		f->val = h + c + 1;
		f->vallen = v - (c + 1);
		*pos = e;
		return 1;
	}
	*pos = p;
	return 0;
}

int
mime_field_is(const struct mime_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && strncasecmp(f->name, name, n) == 0;
}

int
mime_unfold(const char *v, size_t len, struct strbuf *out)
{
	size_t i, start, n, base = out->len;

	while (len > 0 && (is_wsp(v[0]) || v[0] == '\r' || v[0] == '\n')) {
		v++;
		len--;
	}
	for (i = 0; i < len;) {
		start = i;
		while (i < len && v[i] != '\r' && v[i] != '\n')
			i++;
		if (strbuf_append(out, v + start, i - start) == -1)
			goto full;
		while (i < len && (v[i] == '\r' || v[i] == '\n'))
			i++;
	}
	n = out->len;
	while (n > base && (is_wsp(out->data[n - 1])))
		n--;
	out->len = n;
	if (out->data != NULL)	/* nothing appended yet: no buffer */
		out->data[n] = '\0';
	return 0;
full:
	out->len = base;
	if (out->data != NULL)
		out->data[base] = '\0';
	return -1;
}

const char *
mime_skip_cfws(const char *p, const char *end)
{
	int depth;

	while (p < end) {
		if (is_wsp(*p) || *p == '\r' || *p == '\n') {
			p++;
			continue;
		}
		if (*p != '(')
			break;
		for (depth = 0; p < end; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
	return p;
}

/* RFC 2045 5.1 token; 8-bit bytes are let through (lenient). */
static int
is_tchar(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static const char *
token_end(const char *p, const char *end)
{
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	return p;
}

static char *
lower_dup(const char *s, size_t n)
{
	char *p = mime_strndup(s, n);

	if (p != NULL)
		str_lower(p);
	return p;
}

void
mime_params_free(struct imap_mime_param *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

const char *
mime_param(const struct imap_mime_param *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

/* A raw parameter before RFC 2231 joining. */
struct rawparam {
	const char	*name, *val;
	size_t		 namelen, vallen;
	int		 quoted;	/* val is a quoted-string's inside, with quoted-pairs */
	int		 sect;		/* -1: no section number */
	int		 ext;		/* name ended in '*' */
	size_t		 baselen;
};

static int
param_value_append(struct strbuf *b, const struct rawparam *r)
{
	size_t i;

	if (!r->quoted)
		return strbuf_append(b, r->val, r->vallen);
	for (i = 0; i < r->vallen; i++) {
		if (r->val[i] == '\\' && i + 1 < r->vallen)
			i++;
		if (strbuf_putc(b, r->val[i]) == -1)
			return -1;
	}
	return 0;
}

/* A plain segment joined into an extended value: RFC 2231 7 attribute-chars only. */
static int
param_escape_append(struct strbuf *b, const struct rawparam *r)
{
	struct strbuf t;
	size_t i;
	unsigned char c;
	int rc = 0;

	strbuf_init(&t, MIME_STR_MAX);
	if (param_value_append(&t, r) == -1) {
		strbuf_free(&t);
		return -1;
	}
	for (i = 0; i < t.len && rc == 0; i++) {
		c = (unsigned char)t.data[i];
		if (is_tchar(c) && c < 0x80 && c != '*' && c != '\'' && c != '%')
			rc = strbuf_putc(b, (char)c);
		else
			rc = strbuf_printf(b, "%%%02X", c);
	}
	strbuf_free(&t);
	return rc;
}

/* Split "name*3*" into base, section and the extended flag (RFC 2231 3, 4). */
static void
param_name_split(struct rawparam *r)
{
	const char *n = r->name;
	size_t l = r->namelen, d;
	int v = 0;

	r->sect = -1;
	r->ext = 0;
	if (l > 1 && n[l - 1] == '*') {
		r->ext = 1;
		l--;
	}
	for (d = l; d > 0 && n[d - 1] >= '0' && n[d - 1] <= '9'; d--)
		;
	if (d < l && d > 1 && n[d - 1] == '*' && l - d <= 3 &&
	    (l - d == 1 || n[d] != '0')) {
		for (size_t i = d; i < l; i++)
			v = v * 10 + (n[i] - '0');
		if (v < MIME_SECT_MAX) {
			r->sect = v;
			l = d - 1;
		}
	}
	r->baselen = l;
}

struct plist {
	struct imap_mime_param	*p;
	size_t			 n, cap;
};

static int
plist_add(struct plist *l, const char *name, size_t namelen, int star,
    struct strbuf *val)
{
	struct imap_mime_param *np;
	char *nm, *v;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 4;

		np = reallocarray(l->p, nc, sizeof(*np));
		if (np == NULL)
			return -1;
		l->p = np;
		l->cap = nc;
	}
	nm = malloc(namelen + 2);
	v = mime_strndup(val->data != NULL ? val->data : "", val->len);
	if (nm == NULL || v == NULL) {
		free(nm);
		free(v);
		return -1;
	}
	memcpy(nm, name, namelen);
	nm[namelen] = '*';
	nm[namelen + star] = '\0';
	str_lower(nm);
	l->p[l->n].name = nm;
	l->p[l->n].value = v;
	l->n++;
	return 0;
}

/* Join the sections 0, 1, 2 ... of base b (stops at the first gap). */
static int
join_sections(struct rawparam *r, size_t n, size_t b, struct plist *l)
{
	struct strbuf v;
	size_t i;
	int s, ext = 0, found, rc = 0, joined = 0;

	strbuf_init(&v, MIME_STR_MAX);
	for (s = 0; s < MIME_SECT_MAX; s++) {
		for (found = 0, i = b; i < n && !found; i++)
			if (r[i].sect == s && r[i].baselen == r[b].baselen &&
			    strncasecmp(r[i].name, r[b].name, r[b].baselen) == 0)
				found = 1 + (int)i;
		if (!found)
			break;
		if (s == 0)
			ext = r[found - 1].ext;
	}
	for (i = b; i < n && rc == 0; i++)
		if (r[i].sect >= 0 && r[i].baselen == r[b].baselen &&
		    strncasecmp(r[i].name, r[b].name, r[b].baselen) == 0)
			r[i].sect = -2 - r[i].sect;	/* mark used; keeps the number */
	for (s = 0; s < MIME_SECT_MAX && rc == 0; s++) {
		for (found = 0, i = b; i < n && !found; i++)
			if (r[i].sect == -2 - s && r[i].baselen == r[b].baselen &&
			    strncasecmp(r[i].name, r[b].name, r[b].baselen) == 0)
				found = 1 + (int)i;
		if (!found)
			break;
		if (!ext || r[found - 1].ext)
			rc = param_value_append(&v, &r[found - 1]);
		else
			rc = param_escape_append(&v, &r[found - 1]);
		joined++;
	}
	if (rc == 0 && joined > 0)	/* no section 0: dropped */
		rc = plist_add(l, r[b].name, r[b].baselen, ext, &v);
	strbuf_free(&v);
	return rc;
}

/*
 * RFC 2231 as Dovecot does it: plain parameters first, in order, then
 * each continued one joined under its base name; an extended value keeps
 * the name "name*" and its charset'lang'%XX text, undecoded (RFC 3501
 * 7.4.2 gives parameters as they are; a client decodes RFC 2231).
 */
static int
params_build(struct rawparam *r, size_t n, struct plist *l)
{
	struct strbuf v;
	size_t i;
	int rc = 0;

	strbuf_init(&v, MIME_STR_MAX);
	for (i = 0; i < n && rc == 0; i++) {
		param_name_split(&r[i]);
		if (r[i].sect != -1)
			continue;
		strbuf_reset(&v);
		rc = param_value_append(&v, &r[i]);
		if (rc == 0)
			rc = plist_add(l, r[i].name, r[i].namelen, 0, &v);
	}
	strbuf_free(&v);
	for (i = 0; i < n && rc == 0; i++)
		if (r[i].sect >= 0)
			rc = join_sections(r, n, i, l);
	return rc;
}

/* The value after '=': quoted-string or token (or, leniently, up to ';'). */
static const char *
param_value(const char *p, const char *end, struct rawparam *r)
{
	const char *s;

	r->quoted = 0;
	if (p < end && *p == '"') {
		s = ++p;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			p++;
		}
		r->val = s;
		r->vallen = (size_t)(p - s);
		r->quoted = 1;
		return p < end ? p + 1 : p;
	}
	s = p;
	p = token_end(p, end);
	if (p > s && mime_skip_cfws(p, end) == end) {	/* token [comment] */
		r->val = s;
		r->vallen = (size_t)(p - s);
		return end;
	}
	if (p > s && *mime_skip_cfws(p, end) == ';') {
		r->val = s;
		r->vallen = (size_t)(p - s);
		return mime_skip_cfws(p, end);
	}
	while (p < end && *p != ';')	/* lenient: name=foo bar.pdf */
		p++;
	r->val = s;
	r->vallen = (size_t)(p - s);
	while (r->vallen > 0 && (is_wsp(s[r->vallen - 1]) || s[r->vallen - 1] == '\r' ||
	    s[r->vallen - 1] == '\n'))
		r->vallen--;
	return p;
}

static size_t
params_scan(const char *p, const char *end, struct rawparam *r, size_t max)
{
	const char *ne;
	size_t n = 0;

	while (p < end && n < max) {
		p = mime_skip_cfws(p, end);
		if (p < end && *p != ';') {	/* junk: to the next ';' */
			while (p < end && *p != ';')
				p++;
		}
		if (p >= end)
			break;
		p = mime_skip_cfws(p + 1, end);
		ne = token_end(p, end);
		if (ne == p)
			continue;
		r[n].name = p;
		r[n].namelen = (size_t)(ne - p);
		p = mime_skip_cfws(ne, end);
		if (p >= end || *p != '=')
			continue;
		p = mime_skip_cfws(p + 1, end);
		p = param_value(p, end, &r[n]);
		n++;
	}
	return n;
}

int
mime_parse_ctype(const char *v, size_t len, int want_sub, char **type,
    char **subtype, struct imap_mime_param **params, size_t *nparams)
{
	const char *p = v, *end = v + len, *t, *te, *s = NULL, *se = NULL;
	struct rawparam *raw;
	struct plist l = { NULL, 0, 0 };
	size_t n;

	p = mime_skip_cfws(p, end);
	te = token_end(t = p, end);
	if (te == t)
		return 1;
	p = mime_skip_cfws(te, end);
	if (want_sub) {
		if (p >= end || *p != '/')
			return 1;
		p = mime_skip_cfws(p + 1, end);
		se = token_end(s = p, end);
		if (se == s)
			return 1;
		p = se;
	}
	raw = calloc(IMAP_MIME_PARAMS_MAX, sizeof(*raw));
	if (raw == NULL)
		return -1;
	n = params_scan(p, end, raw, IMAP_MIME_PARAMS_MAX);
	*type = lower_dup(t, (size_t)(te - t));
	*subtype = want_sub ? lower_dup(s, (size_t)(se - s)) : NULL;
	if (*type == NULL || (want_sub && *subtype == NULL) ||
	    params_build(raw, n, &l) == -1) {
		free(raw);
		free(*type);
		free(*subtype);
		*type = *subtype = NULL;
		mime_params_free(l.p, l.n);
		return -1;
	}
	free(raw);
	*params = l.p;
	*nparams = l.n;
	return 0;
}

static int
hdr_find(const char *hdr, size_t hdrlen, const char *name, struct strbuf *out,
    int all)
{
	struct mime_field f;
	size_t pos = 0;
	int found = 0;

	strbuf_reset(out);
	while (mime_field_next(hdr, hdrlen, &pos, &f) == 1) {
		if (!mime_field_is(&f, name))
			continue;
		if (found && strbuf_putc(out, '\n') == -1)
			return -1;
		if (mime_unfold(f.val, f.vallen, out) == -1)
			return -1;
		found = 1;
		if (!all)
			break;
	}
	return found;
}

int
imap_hdr_get(const char *hdr, size_t hdrlen, const char *name, struct strbuf *out)
{
	return hdr_find(hdr, hdrlen, name, out, 0);
}

int
imap_hdr_get_all(const char *hdr, size_t hdrlen, const char *name, struct strbuf *out)
{
	return hdr_find(hdr, hdrlen, name, out, 1);
}
