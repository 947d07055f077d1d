/*
 * imap_section: FETCH BODY[section] (RFC 3501 6.4.5, RFC 9051 6.4.5) and
 * BINARY[section] (RFC 3516 4.2) over a parsed MIME tree: part numbers,
 * HEADER, HEADER.FIELDS[.NOT] (list), TEXT and MIME. A part that does
 * not exist gives an empty string. Runs in imapd's session process as
 * the mail owner; pure computation.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "imap_mime_int.h"

#define SECT_NAMES_MAX	256	/* header names in one HEADER.FIELDS list */

enum sect_text { ST_NONE, ST_HEADER, ST_FIELDS, ST_FIELDS_NOT, ST_TEXT, ST_MIME };

struct hname {
	const char	*s;
	size_t		 len;
};

struct sect {
	const struct imap_mime_part	*part;	/* NULL: the part does not exist */
	int				 nparts;	/* numbers given */
	enum sect_text			 text;
	struct hname			 names[SECT_NAMES_MAX];
	size_t				 nnames;
};

/* nz-number: 1..4294967295, no leading zero. Returns the bytes used, 0 if none. */
static size_t
number_read(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || s[0] < '1' || s[0] > '9')
		return 0;
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 4294967295UL)
			return 0;
	}
	*out = v;
	return i;
}

/*
 * Part n of what p holds (RFC 3501 6.4.5): a multipart's n-th part; in a
 * message/rfc822 part, the parts of the encapsulated message; a message
 * that is not multipart has only a part 1, itself.
 */
static const struct imap_mime_part *
part_child(const struct imap_mime_part *p, unsigned long n, int top)
{
	if (p == NULL)
		return NULL;
	if (!top && !mime_is_multipart(p)) {
		if (!mime_is_msg(p))
			return NULL;
		p = p->children;	/* the encapsulated message */
	}
	if (mime_is_multipart(p))
		return n <= p->nchildren ? &p->children[n - 1] : NULL;
	return n == 1 ? p : NULL;
}

/* header-list: "(" header-fld-name *(SP header-fld-name) ")"; names are astrings. */
static size_t
names_read(const char *s, size_t len, struct sect *st)
{
	size_t i = 0, b;

	if (len < 2 || s[0] != '(')
		return 0;
	for (i = 1; i < len && s[i] != ')';) {
		if (st->nnames > 0 || i > 1) {
			if (s[i] != ' ')
				return 0;
			i++;
		}
		if (st->nnames == SECT_NAMES_MAX)
			return 0;
		b = i;
		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\' || s[i] == '\r' || s[i] == '\n')
					return 0;	/* field names need no quoted-pairs */
			if (i >= len)
				return 0;
			st->names[st->nnames].s = s + b + 1;
			st->names[st->nnames++].len = i - b - 1;
			i++;
			continue;
		}
		while (i < len && s[i] > ' ' && s[i] != '(' && s[i] != ')' &&
		    s[i] != '"' && s[i] != ':' && (unsigned char)s[i] < 0x7f)
			i++;
		if (i == b)
			return 0;
		st->names[st->nnames].s = s + b;
		st->names[st->nnames++].len = i - b;
	}
	if (i >= len || st->nnames == 0)
		return 0;
	return i + 1;
}

static int
word_is(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);

	return len == n && strncasecmp(s, w, n) == 0;
}

/* section-msgtext / "MIME" after the numbers. 0 or -1 (malformed). */
static int
text_read(const char *s, size_t len, struct sect *st)
{
	size_t used;

	if (word_is(s, len, "HEADER"))
		st->text = ST_HEADER;
	else if (word_is(s, len, "TEXT"))
		st->text = ST_TEXT;
	else if (word_is(s, len, "MIME") && st->nparts > 0)
		st->text = ST_MIME;
	else if (len > 14 && strncasecmp(s, "HEADER.FIELDS ", 14) == 0) {
		st->text = ST_FIELDS;
		used = names_read(s + 14, len - 14, st);
		return used != 0 && used == len - 14 ? 0 : -1;
	} else if (len > 18 && strncasecmp(s, "HEADER.FIELDS.NOT ", 18) == 0) {
		st->text = ST_FIELDS_NOT;
		used = names_read(s + 18, len - 18, st);
		return used != 0 && used == len - 18 ? 0 : -1;
	} else
		return -1;
	return 0;
}

static int
sect_parse(const struct imap_mime *m, const char *s, size_t len, struct sect *st)
{
	const struct imap_mime_part *p = &m->root;
	unsigned long n;
	size_t i = 0, used;

	memset(st, 0, sizeof(*st));
	while (i < len && (used = number_read(s + i, len - i, &n)) > 0) {
		p = part_child(p, n, st->nparts == 0);
		st->nparts++;
		i += used;
		if (i == len)
			break;
		if (s[i] != '.' || ++i == len)
			return -1;
	}
	st->part = p;
	if (i < len && text_read(s + i, len - i, st) == -1)
		return -1;
	return 0;
}

/* The message a HEADER / TEXT / HEADER.FIELDS after numbers refers to: a message/rfc822 part's. */
static const struct imap_mime_part *
sect_message(const struct sect *st)
{
	if (st->part == NULL || st->nparts == 0)
		return st->part;
	return mime_is_msg(st->part) ? st->part->children : NULL;
}

static int
name_listed(const struct sect *st, const struct mime_field *f)
{
	size_t i;

	for (i = 0; i < st->nnames; i++)
		if (f->namelen == st->names[i].len &&
		    strncasecmp(f->name, st->names[i].s, f->namelen) == 0)
			return 1;
	return 0;
}

/* HEADER.FIELDS[.NOT]: the chosen fields as they are, then the blank line. */
static int
fields_copy(const struct imap_mime *m, const struct imap_mime_part *p,
    const struct sect *st, struct strbuf *tmp)
{
	struct mime_field f;
	size_t pos = 0;
	int want = st->text == ST_FIELDS;

	strbuf_reset(tmp);
	while (p != NULL && mime_field_next(m->buf + p->hdr_off, p->hdr_len,
	    &pos, &f) == 1) {
		if (name_listed(st, &f) != want)
			continue;
		if (strbuf_append(tmp, f.raw, f.rawlen) == -1)
			return -1;
		if (f.rawlen == 0 || f.raw[f.rawlen - 1] != '\n')
			if (strbuf_puts(tmp, "\r\n") == -1)
				return -1;
	}
	return strbuf_puts(tmp, "\r\n");
}

int
imap_mime_section(const struct imap_mime *m, const char *spec, size_t speclen,
    const char **out, size_t *outlen, struct strbuf *tmp)
{
	struct sect *st;
	const struct imap_mime_part *p;
	int rc = 0;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -1;
	if (sect_parse(m, spec, speclen, st) == -1) {
		free(st);
		return -1;
	}
	*out = "";
	*outlen = 0;
	p = st->text == ST_NONE || st->text == ST_MIME ? st->part : sect_message(st);
	if (st->text == ST_FIELDS || st->text == ST_FIELDS_NOT) {
		if ((rc = fields_copy(m, p, st, tmp)) == 0 && p != NULL) {
			*out = tmp->data;
			*outlen = tmp->len;
		}
	} else if (p == NULL)
		;	/* does not exist: empty */
	else if (st->text == ST_NONE && st->nparts == 0) {
		*out = m->buf;
		*outlen = m->len;
	} else if (st->text == ST_HEADER || st->text == ST_MIME) {
		*out = m->buf + p->hdr_off;
		*outlen = p->hdr_len;
	} else {
		*out = m->buf + p->body_off;
		*outlen = p->body_len;
	}
	free(st);
	return rc;
}

int
imap_mime_binary(const struct imap_mime *m, const char *spec, size_t speclen,
    struct strbuf *out)
{
	struct sect *st;
	const struct imap_mime_part *p;
	int rc = 0;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -1;
	strbuf_reset(out);
	/* RFC 3516 4.2: section-binary = "[" [section-part] "]" */
	if (sect_parse(m, spec, speclen, st) == -1 || st->text != ST_NONE) {
		free(st);
		return -1;
	}
	p = st->part;
	if (st->nparts == 0)
		rc = strbuf_append(out, m->buf, m->len);
	else if (p != NULL && (mime_is_multipart(p) || mime_is_msg(p)))
		rc = strbuf_append(out, m->buf + p->body_off, p->body_len);
	else if (p != NULL)
		rc = mime_decode_body(p->encoding, m->buf + p->body_off,
		    p->body_len, out);
	free(st);
	return rc;
}
