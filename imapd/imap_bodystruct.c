/*
 * imap_bodystruct: FETCH BODY and BODYSTRUCTURE (RFC 3501 7.4.2, RFC 9051
 * 7.5.2) written from a parsed MIME tree. Field order and forms follow
 * the formal syntax (RFC 3501 9: body, body-type-1part, body-type-mpart,
 * body-ext-1part, body-ext-mpart); the extension data is always given in
 * full (md5, disposition, language, location). Runs in imapd's session
 * process as the mail owner; pure computation.
 */
#include "config.h"

#include <string.h>

#include "strbuf.h"
#include "imap_parse.h"
#include "imap_mime_int.h"

/* A multipart without parts is not allowed: it gets one empty text part (as Dovecot does). */
#define EMPTY_TEXT	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_TEXT_EXT	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0" \
	" NIL NIL NIL NIL)"

static int part_write(const struct imap_mime *, const struct imap_mime_part *,
    int ext, struct strbuf *);

static int
put_str(struct strbuf *o, const char *s)
{
	return imap_put_string(o, s, strlen(s));
}

static int
put_nstr(struct strbuf *o, const char *s)
{
	return imap_put_nstring(o, s, s != NULL ? strlen(s) : 0);
}

/* body-fld-param; text parts get charset us-ascii when they name none (RFC 2045 5.2). */
static int
params_write(const struct imap_mime_param *p, size_t n, int text,
    struct strbuf *o)
{
	size_t i;
	int rc = 0, first = 1;

	text = text && mime_param(p, n, "charset") == NULL;
	if (n == 0 && !text)
		return strbuf_puts(o, "NIL");
	rc = strbuf_putc(o, '(');
	for (i = 0; i < n && rc == 0; i++, first = 0) {
		if (!first)
			rc = strbuf_putc(o, ' ');
		if (rc == 0)
			rc = put_str(o, p[i].name);
		if (rc == 0)
			rc = strbuf_putc(o, ' ');
		if (rc == 0)
			rc = put_str(o, p[i].value);
	}
	if (text && rc == 0)	/* last, as Dovecot puts it */
		rc = strbuf_puts(o, first ? "\"charset\" \"us-ascii\"" :
		    " \"charset\" \"us-ascii\"");
	return rc == 0 ? strbuf_putc(o, ')') : -1;
}

/* body-fld-dsp: "(" string SP body-fld-param ")" / nil */
static int
dispo_write(const struct imap_mime_part *p, struct strbuf *o)
{
	if (p->disposition == NULL)
		return strbuf_puts(o, "NIL");
	if (strbuf_putc(o, '(') == -1 || put_str(o, p->disposition) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    params_write(p->dparams, p->ndparams, 0, o) == -1)
		return -1;
	return strbuf_putc(o, ')');
}

/* body-fld-lang: the Content-Language tags (RFC 3282) as a list. */
static int
lang_write(const char *v, struct strbuf *o)
{
	const char *p, *e, *s;
	int n = 0;

	if (v == NULL)
		return strbuf_puts(o, "NIL");
	e = v + strlen(v);
	for (p = v; p < e;) {
		p = mime_skip_cfws(p, e);
		s = p;
		while (p < e && *p != ',' && *p != ' ' && *p != '\t' && *p != '(')
			p++;
		if (p > s) {
			if (strbuf_puts(o, n++ ? " " : "(") == -1 ||
			    imap_put_string(o, s, (size_t)(p - s)) == -1)
				return -1;
		}
		p = mime_skip_cfws(p, e);
		if (p < e && *p == ',')
			p++;
		else if (p < e && p == s)
			p++;	/* junk byte */
	}
	return strbuf_puts(o, n ? ")" : "NIL");
}

/* disposition, language, location: shared by body-ext-1part and body-ext-mpart. */
static int
ext_tail_write(const struct imap_mime_part *p, struct strbuf *o)
{
	if (strbuf_putc(o, ' ') == -1 || dispo_write(p, o) == -1 ||
	    strbuf_putc(o, ' ') == -1 || lang_write(p->language, o) == -1 ||
	    strbuf_putc(o, ' ') == -1)
		return -1;
	return put_nstr(o, p->location);
}

/* body-fields: param id desc enc octets */
static int
fields_write(const struct imap_mime_part *p, int text, struct strbuf *o)
{
	if (params_write(p->params, p->nparams, text, o) == -1 ||
	    strbuf_putc(o, ' ') == -1 || put_nstr(o, p->id) == -1 ||
	    strbuf_putc(o, ' ') == -1 || put_nstr(o, p->description) == -1 ||
	    strbuf_putc(o, ' ') == -1 ||
	    put_str(o, p->encoding != NULL && *p->encoding != '\0' ?
	    p->encoding : "7bit") == -1)
		return -1;
	return strbuf_printf(o, " %zu", p->body_len);
}

static int
multipart_write(const struct imap_mime *m, const struct imap_mime_part *p,
    int ext, struct strbuf *o)
{
	size_t i;

	if (p->nchildren == 0 && strbuf_puts(o, ext ? EMPTY_TEXT_EXT : EMPTY_TEXT) == -1)
		return -1;
	for (i = 0; i < p->nchildren; i++)
		if (part_write(m, &p->children[i], ext, o) == -1)
			return -1;
	if (strbuf_putc(o, ' ') == -1 || put_str(o, p->subtype) == -1)
		return -1;
	if (!ext)
		return 0;
	if (strbuf_putc(o, ' ') == -1 ||
	    params_write(p->params, p->nparams, 0, o) == -1)
		return -1;
	return ext_tail_write(p, o);
}

static int
single_write(const struct imap_mime *m, const struct imap_mime_part *p,
    int ext, struct strbuf *o)
{
	const struct imap_mime_part *c = p->children;
	int text = strcmp(p->type, "text") == 0, msg = mime_is_msg(p);

	if (!msg && strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0)) {
		/* Not parsed (encoded, or past the limits): no envelope to give. */
		if (strbuf_puts(o, "\"application\" \"octet-stream\"") == -1)
			return -1;
	} else if (put_str(o, p->type) == -1 || strbuf_putc(o, ' ') == -1 ||
	    put_str(o, p->subtype) == -1)
		return -1;
	if (strbuf_putc(o, ' ') == -1 || fields_write(p, text, o) == -1)
		return -1;
	if (msg && (strbuf_putc(o, ' ') == -1 ||
	    imap_envelope(m->buf + c->hdr_off, c->hdr_len, o) == -1 ||
	    strbuf_putc(o, ' ') == -1 || part_write(m, c, ext, o) == -1))
		return -1;
	if ((text || msg) && strbuf_printf(o, " %llu",
	    (unsigned long long)p->body_lines) == -1)
		return -1;
	if (!ext)
		return 0;
	if (strbuf_putc(o, ' ') == -1 || put_nstr(o, p->md5) == -1)
		return -1;
	return ext_tail_write(p, o);
}

static int
part_write(const struct imap_mime *m, const struct imap_mime_part *p, int ext,
    struct strbuf *o)
{
	if (strbuf_putc(o, '(') == -1)
		return -1;
	if (mime_is_multipart(p)) {
		if (multipart_write(m, p, ext, o) == -1)
			return -1;
	} else if (single_write(m, p, ext, o) == -1)
		return -1;
	return strbuf_putc(o, ')');
}

int
imap_mime_bodystructure(const struct imap_mime *m, int extended,
    struct strbuf *out)
{
	size_t base = out->len;

	if (part_write(m, &m->root, extended, out) == -1) {
		out->len = base;
		if (out->data != NULL)
			out->data[base] = '\0';
		return -1;
	}
	return 0;
}
