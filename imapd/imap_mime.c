/*
 * imap_mime: the MIME parser (RFC 2045, RFC 2046 5.1 and 5.2, RFC 6532
 * 3.5). Splits one message held in memory into its tree of parts:
 * multipart bodies at their boundary delimiter lines, message/rfc822 and
 * message/global bodies as a nested message. Depth and part count are
 * bounded (IMAP_MIME_DEPTH_MAX, IMAP_MIME_PARTS_MAX); what goes past them
 * stays body text. Each level scans only its own part, so the cost is at
 * most IMAP_MIME_DEPTH_MAX times the message size. Runs in imapd's
 * session process as the mail owner; pure computation.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"
#include "imap_mime_int.h"

struct mime_ctx {
	const char	*buf;
	size_t		 nparts;
	struct strbuf	 tmp;
};

/* A child's region while its parent is being split. */
struct region {
	size_t	off, len;
};

static int part_parse(struct mime_ctx *, struct imap_mime_part *, size_t off,
    size_t len, int depth, int digest);

/* The header ends with the first empty line (CRLF or LF); the blank line is in it. */
static void
header_split(const char *b, size_t off, size_t len, struct imap_mime_part *p)
{
	size_t i = off, end = off + len;
	const char *nl;

	p->hdr_off = off;
	while (i < end) {
		if (b[i] == '\n') {
			i++;
			break;
		}
		if (b[i] == '\r' && i + 1 < end && b[i + 1] == '\n') {
			i += 2;
			break;
		}
		nl = memchr(b + i, '\n', end - i);
		i = nl == NULL ? end : (size_t)(nl - b) + 1;
	}
	p->hdr_len = i - off;
	p->body_off = i;
	p->body_len = end - i;
}

static uint64_t
count_lines(const char *s, size_t len)
{
	const char *e = s + len, *nl;
	uint64_t n = 0;

	while (s < e && (nl = memchr(s, '\n', (size_t)(e - s))) != NULL) {
		n++;
		s = nl + 1;
	}
	return n;
}

/* The unfolded value of field f into ctx->tmp; NULL on failure. */
static const char *
field_value(struct mime_ctx *c, const struct mime_field *f, size_t *len)
{
	strbuf_reset(&c->tmp);
	if (mime_unfold(f->val, f->vallen, &c->tmp) == -1)
		return NULL;
	*len = c->tmp.len;
	return c->tmp.data != NULL ? c->tmp.data : "";
}

/* Content-Transfer-Encoding: its token (RFC 2045 6.1), comments dropped. */
static char *
encoding_dup(const char *v, size_t len)
{
	const char *p = mime_skip_cfws(v, v + len), *e = v + len, *s;

	s = p;
	while (p < e && *p != ' ' && *p != '\t' && *p != '(' && *p != ';')
		p++;
	return mime_strndup(s, (size_t)(p - s));
}

/* One simple field (the first occurrence wins). 0 or -1. */
static int
field_simple(char **dst, const char *v, size_t len)
{
	if (*dst != NULL)
		return 0;
	*dst = mime_strndup(v, len);
	return *dst == NULL ? -1 : 0;
}

static int
field_ctype(struct imap_mime_part *p, const char *v, size_t len, int *seen)
{
	int rc;

	if (*seen)
		return 0;
	*seen = 1;
	rc = mime_parse_ctype(v, len, 1, &p->type, &p->subtype, &p->params,
	    &p->nparams);
	return rc == -1 ? -1 : 0;	/* invalid: the default (RFC 2045 5.2) */
}

static int
field_dispo(struct imap_mime_part *p, const char *v, size_t len)
{
	char *none = NULL;
	int rc;

	if (p->disposition != NULL)
		return 0;
	rc = mime_parse_ctype(v, len, 0, &p->disposition, &none,
	    &p->dparams, &p->ndparams);
	return rc == -1 ? -1 : 0;
}

/* The Content-* fields of one header (RFC 2045 3, RFC 2183, RFC 3282, RFC 2557). */
static int
fields_read(struct mime_ctx *c, struct imap_mime_part *p)
{
	struct mime_field f;
	const char *hdr = c->buf + p->hdr_off, *v;
	size_t pos = 0, vl;
	int rc = 0, seen_ct = 0;

	while (rc == 0 && mime_field_next(hdr, p->hdr_len, &pos, &f) == 1) {
		if (f.namelen < 8 || strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if ((v = field_value(c, &f, &vl)) == NULL)
			return -1;
		if (mime_field_is(&f, "content-type"))
			rc = field_ctype(p, v, vl, &seen_ct);
		else if (mime_field_is(&f, "content-transfer-encoding")) {
			if (p->encoding == NULL &&
			    (p->encoding = encoding_dup(v, vl)) == NULL)
				rc = -1;
		} else if (mime_field_is(&f, "content-id"))
			rc = field_simple(&p->id, v, vl);
		else if (mime_field_is(&f, "content-description"))
			rc = field_simple(&p->description, v, vl);
		else if (mime_field_is(&f, "content-md5"))
			rc = field_simple(&p->md5, v, vl);
		else if (mime_field_is(&f, "content-location"))
			rc = field_simple(&p->location, v, vl);
		else if (mime_field_is(&f, "content-language"))
			rc = field_simple(&p->language, v, vl);
		else if (mime_field_is(&f, "content-disposition"))
			rc = field_dispo(p, v, vl);
	}
	return rc;
}

static int
type_default(struct imap_mime_part *p, int digest)
{
	if (p->type != NULL)
		return 0;
	p->type = mime_strndup(digest ? "message" : "text", digest ? 7 : 4);
	p->subtype = mime_strndup(digest ? "rfc822" : "plain", digest ? 6 : 5);
	return p->type == NULL || p->subtype == NULL ? -1 : 0;
}

/*
 * Is the line at b[i..end) a boundary delimiter line for bnd (RFC 2046
 * 5.1.1: "--" boundary ["--"] transport-padding CRLF)? 0 no, 1 a
 * delimiter, 2 the close delimiter. *next: the start of the next line.
 */
static int
boundary_at(const char *b, size_t i, size_t end, const char *bnd, size_t blen,
    size_t *next)
{
	int kind = 1;

	if (end - i < blen + 2 || b[i] != '-' || b[i + 1] != '-' ||
	    memcmp(b + i + 2, bnd, blen) != 0)
		return 0;
	i += 2 + blen;
	if (end - i >= 2 && b[i] == '-' && b[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	while (i < end && (b[i] == ' ' || b[i] == '\t'))
		i++;
	if (i < end && b[i] == '\r' && i + 1 < end && b[i + 1] == '\n')
		i++;
	if (i < end && b[i] != '\n')
		return 0;
	*next = i < end ? i + 1 : end;
	return kind;
}

/* Add [from, to) as a child region. 0, or -1 on memory exhaustion. */
static int
region_add(struct region **r, size_t *n, size_t *cap, size_t from, size_t to)
{
	struct region *nr;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;

		if ((nr = reallocarray(*r, nc, sizeof(**r))) == NULL)
			return -1;
		*r = nr;
		*cap = nc;
	}
	(*r)[*n].off = from;
	(*r)[*n].len = to - from;
	(*n)++;
	return 0;
}

/* The end of the part before a delimiter line at i: its CRLF belongs to the delimiter. */
static size_t
part_end(const char *b, size_t start, size_t i)
{
	if (i > start && b[i - 1] == '\n')
		i--;
	if (i > start && b[i - 1] == '\r')
		i--;
	return i;
}

/*
 * Split the body of multipart p into regions (RFC 2046 5.1.1): the
 * preamble and the epilogue are dropped; without a close delimiter the
 * last part runs to the end of the body.
 */
static int
multipart_split(struct mime_ctx *c, const struct imap_mime_part *p,
    const char *bnd, struct region **r, size_t *n)
{
	const char *b = c->buf, *nl;
	size_t i = p->body_off, end = p->body_off + p->body_len, blen = strlen(bnd);
	size_t cap = 0, start = 0, next;
	int in_part = 0, kind;

	*r = NULL;
	*n = 0;
	while (i < end) {
		kind = boundary_at(b, i, end, bnd, blen, &next);
		if (kind != 0) {
			if (in_part && region_add(r, n, &cap, start,
			    part_end(b, start, i)) == -1)
				return -1;
			if (kind == 2 || c->nparts + *n >= IMAP_MIME_PARTS_MAX)
				return 0;
			in_part = 1;
			start = i = next;
			continue;
		}
		nl = memchr(b + i, '\n', end - i);
		i = nl == NULL ? end : (size_t)(nl - b) + 1;
	}
	if (in_part)
		return region_add(r, n, &cap, start, end);
	return 0;
}

static int
multipart_parse(struct mime_ctx *c, struct imap_mime_part *p, int depth)
{
	const char *bnd = mime_param(p->params, p->nparams, "boundary");
	struct region *r;
	size_t n, i;
	int digest = strcmp(p->subtype, "digest") == 0;

	if (bnd == NULL || *bnd == '\0')
		return 0;	/* no parts: written as an empty text part */
	if (multipart_split(c, p, bnd, &r, &n) == -1)
		return -1;
	if (n == 0) {
		free(r);
		return 0;
	}
	p->children = calloc(n, sizeof(*p->children));
	if (p->children == NULL) {
		free(r);
		return -1;
	}
	p->nchildren = n;
	c->nparts += n;
	for (i = 0; i < n; i++)
		if (part_parse(c, &p->children[i], r[i].off, r[i].len,
		    depth + 1, digest) == -1) {
			free(r);
			return -1;
		}
	free(r);
	return 0;
}

/* message/rfc822 or message/global: the body is a message (RFC 2046 5.2.1). */
static int
message_parse(struct mime_ctx *c, struct imap_mime_part *p, int depth)
{
	const char *e = p->encoding;

	/* An encoded message cannot be parsed in place: it stays opaque. */
	if (e != NULL && *e != '\0' && strcasecmp(e, "7bit") != 0 &&
	    strcasecmp(e, "8bit") != 0 && strcasecmp(e, "binary") != 0)
		return 0;
	if (c->nparts >= IMAP_MIME_PARTS_MAX)
		return 0;
	if ((p->children = calloc(1, sizeof(*p->children))) == NULL)
		return -1;
	p->nchildren = 1;
	c->nparts++;
	return part_parse(c, p->children, p->body_off, p->body_len, depth + 1, 0);
}

static int
part_parse(struct mime_ctx *c, struct imap_mime_part *p, size_t off,
    size_t len, int depth, int digest)
{
	header_split(c->buf, off, len, p);
	p->body_lines = count_lines(c->buf + p->body_off, p->body_len);
	if (fields_read(c, p) == -1 || type_default(p, digest) == -1)
		return -1;
	if (depth >= IMAP_MIME_DEPTH_MAX)
		return 0;
	if (strcmp(p->type, "multipart") == 0)
		return multipart_parse(c, p, depth);
	if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0))
		return message_parse(c, p, depth);
	return 0;
}

int
imap_mime_parse(struct imap_mime *m, const char *buf, size_t len)
{
	struct mime_ctx c;
	int rc;

	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	c.buf = buf;
	c.nparts = 1;
	strbuf_init(&c.tmp, MIME_STR_MAX);
	rc = part_parse(&c, &m->root, 0, len, 0, 0);
	strbuf_free(&c.tmp);
	if (rc == -1) {
		imap_mime_free(m);
		return -1;
	}
	return 0;
}

static void
part_free(struct imap_mime_part *p)
{
	size_t i;

	for (i = 0; i < p->nchildren; i++)
		part_free(&p->children[i]);
	free(p->children);
	free(p->type);
	free(p->subtype);
	mime_params_free(p->params, p->nparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->location);
	free(p->disposition);
	mime_params_free(p->dparams, p->ndparams);
	free(p->language);
	memset(p, 0, sizeof(*p));
}

void
imap_mime_free(struct imap_mime *m)
{
	part_free(&m->root);
}

int
mime_is_msg(const struct imap_mime_part *p)
{
	return p->type != NULL && strcmp(p->type, "message") == 0 &&
	    p->nchildren == 1 && (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0);
}

int
mime_is_multipart(const struct imap_mime_part *p)
{
	return p->type != NULL && strcmp(p->type, "multipart") == 0;
}
