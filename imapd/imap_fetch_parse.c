/*
 * imap_fetch_parse: the FETCH data item list and modifiers into a struct
 * imap_fetch_req (RFC 3501 6.4.5 and 9 "fetch-att", RFC 9051 6.4.5,
 * RFC 3516 BINARY, RFC 7162 3.1.4 CHANGEDSINCE and 3.2.6 VANISHED).
 * Pure computation over the parsed command, so that the whole request is
 * checked before any response is sent. Runs in imapd's session process
 * as the mail owner.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "imap_fetch.h"
#include "imap_parse.h"
#include "util.h"

#define MODSEQ_MAX	UINT64_C(0x7fffffffffffffff)	/* RFC 7162 mod-sequence-value */

static int
ieq(const char *s, size_t len, const char *upper)
{
	size_t i;

	if (strlen(upper) != len)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (c != upper[i])
			return 0;
	}
	return 1;
}

/* Case-insensitive prefix test; advances *p past it on success. */
static int
eat(const char **p, const char *end, const char *upper)
{
	size_t n = strlen(upper);

	if ((size_t)(end - *p) < n || !ieq(*p, n, upper))
		return 0;
	*p += n;
	return 1;
}

/* nz-number *("." nz-number), leaving *p after it; 1 when one was read. */
static int
part_numbers(const char **p, const char *end)
{
	const char *q = *p, *after = NULL;

	while (q < end && *q >= '1' && *q <= '9') {
		const char *d = q;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q - d > 9)
			return 0;	/* a part number past any real message */
		after = q;
		if (q + 1 < end && *q == '.' && q[1] >= '1' && q[1] <= '9')
			q++;
		else
			break;
	}
	if (after == NULL)
		return 0;
	*p = after;
	return 1;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" to the end. */
static int
header_list(const char *p, const char *end)
{
	int n = 0;

	if (p == end || *p != '(')
		return 0;
	for (p++; p < end && *p != ')';) {
		if (n > 0 && *p++ != ' ')
			return 0;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && ++p == end)
					return 0;
			if (p++ == end)
				return 0;
		} else {
			const char *s = p;
			while (p < end && *p > ' ' && *p < 0x7f && *p != ')' && *p != '(' &&
			    *p != '"' && *p != '{' && *p != ':')
				p++;
			if (p == s)
				return 0;
		}
		n++;
	}
	return n > 0 && p + 1 == end;
}

int
imap_fetch_section_ok(const char *spec, size_t len, int binary)
{
	const char *p = spec, *end = spec + len;
	int part;

	if (len == 0)
		return 1;
	part = part_numbers(&p, end);
	if (binary)
		return part && p == end;
	if (part) {
		if (p == end)
			return 1;
		if (*p++ != '.')
			return 0;
		if (eat(&p, end, "MIME"))
			return p == end;
	}
	if (eat(&p, end, "HEADER.FIELDS.NOT ") || eat(&p, end, "HEADER.FIELDS "))
		return header_list(p, end);
	if (eat(&p, end, "HEADER") || eat(&p, end, "TEXT"))
		return p == end;
	return 0;
}

/* "<" number "." nz-number ">" at p..end. 0 or -1. */
static int
parse_partial(const char *p, const char *end, struct imap_fetch_sect *s)
{
	char num[24];
	const char *dot;
	unsigned long long off, cnt;
	size_t n;

	if (end - p < 5 || *p != '<' || end[-1] != '>')
		return -1;
	p++;
	end--;
	dot = memchr(p, '.', (size_t)(end - p));
	if (dot == NULL || (n = (size_t)(dot - p)) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (parse_ullong(num, 0, UINT32_MAX, &off) == -1)
		return -1;
	p = dot + 1;
	if ((n = (size_t)(end - p)) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	if (num[0] < '0' || num[0] > '9' || parse_ullong(num, 1, UINT32_MAX, &cnt) == -1)
		return -1;
	s->partial = 1;
	s->off = off;
	s->cnt = cnt;
	return 0;
}

/* BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...]. */
static int
parse_section_item(struct imap_fetch_req *req, const char *a, size_t len,
    char *err, size_t errlen)
{
	const char *open = memchr(a, '[', len), *end = a + len, *close;
	struct imap_fetch_sect *s;
	size_t nlen = (size_t)(open - a);

	if (req->nsects == IMAP_FETCH_SECTS_MAX) {
		snprintf(err, errlen, "Too many body sections");
		return -1;
	}
	s = &req->sects[req->nsects];
	memset(s, 0, sizeof(*s));
	if (ieq(a, nlen, "BODY") || ieq(a, nlen, "BODY.PEEK"))
		s->kind = IMAP_FK_BODY;
	else if (ieq(a, nlen, "BINARY") || ieq(a, nlen, "BINARY.PEEK"))
		s->kind = IMAP_FK_BINARY;
	else if (ieq(a, nlen, "BINARY.SIZE"))
		s->kind = IMAP_FK_BINSIZE;
	else
		goto bad;
	s->peek = nlen > 6 && (a[nlen - 1] == 'K' || a[nlen - 1] == 'k');
	for (close = end; close > open && close[-1] != ']'; close--)
		;
	if (close == open)
		goto bad;
	s->spec = open + 1;
	s->speclen = (size_t)(close - 1 - s->spec);
	if (!imap_fetch_section_ok(s->spec, s->speclen, s->kind != IMAP_FK_BODY))
		goto bad;
	if (close < end && (s->kind == IMAP_FK_BINSIZE || parse_partial(close, end, s) == -1))
		goto bad;
	if (s->kind == IMAP_FK_BINSIZE)
		s->peek = 1;
	req->nsects++;
	return 0;
bad:
	snprintf(err, errlen, "Invalid fetch item %.*s", (int)(len > 60 ? 60 : len), a);
	return -1;
}

static int
add_whole(struct imap_fetch_req *req, enum imap_fetch_kind kind, int peek,
    const char *spec, char *err, size_t errlen)
{
	struct imap_fetch_sect *s;

	if (req->nsects == IMAP_FETCH_SECTS_MAX) {
		snprintf(err, errlen, "Too many body sections");
		return -1;
	}
	s = &req->sects[req->nsects++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->peek = peek;
	s->spec = spec;
	s->speclen = strlen(spec);
	return 0;
}

static const struct {
	const char	*name;
	unsigned	 atts;
} fetch_atts[] = {
	{ "UID", IMAP_FA_UID },
	{ "FLAGS", IMAP_FA_FLAGS },
	{ "INTERNALDATE", IMAP_FA_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FA_SIZE },
	{ "MODSEQ", IMAP_FA_MODSEQ },
	{ "ENVELOPE", IMAP_FA_ENVELOPE },
	{ "BODY", IMAP_FA_BODY },
	{ "BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE },
};

/* One fetch-att (not a macro). 0 or -1. */
static int
parse_att(struct imap_fetch_req *req, const struct imap_arg *a, char *err, size_t errlen)
{
	size_t i;

	if (a->type != IMAP_ARG_ATOM || a->len == 0) {
		snprintf(err, errlen, "Invalid fetch item");
		return -1;
	}
	if (memchr(a->str, '[', a->len) != NULL)
		return parse_section_item(req, a->str, a->len, err, errlen);
	for (i = 0; i < NELEM(fetch_atts); i++)
		if (ieq(a->str, a->len, fetch_atts[i].name)) {
			req->atts |= fetch_atts[i].atts;
			return 0;
		}
	if (ieq(a->str, a->len, "RFC822"))
		return add_whole(req, IMAP_FK_RFC822, 0, "", err, errlen);
	if (ieq(a->str, a->len, "RFC822.HEADER"))
		return add_whole(req, IMAP_FK_RFC822_HEADER, 1, "HEADER", err, errlen);
	if (ieq(a->str, a->len, "RFC822.TEXT"))
		return add_whole(req, IMAP_FK_RFC822_TEXT, 0, "TEXT", err, errlen);
	snprintf(err, errlen, "Unknown fetch item %.*s", (int)(a->len > 60 ? 60 : a->len),
	    a->str);
	return -1;
}

/* RFC 4466 fetch-modifiers: (CHANGEDSINCE n [VANISHED]). 0 or -1. */
static int
parse_mods(struct imap_fetch_req *req, const struct imap_arg *mods, char *err,
    size_t errlen)
{
	size_t i;

	if (mods->type != IMAP_ARG_LIST || mods->n == 0)
		goto bad;
	for (i = 0; i < mods->n; i++) {
		const struct imap_arg *m = &mods->list[i];
		if (imap_arg_atom_is(m, "CHANGEDSINCE") && !req->changedsince_set &&
		    i + 1 < mods->n) {
			if (imap_arg_number(&mods->list[++i], MODSEQ_MAX, &req->changedsince) == -1 ||
			    req->changedsince == 0)
				goto bad;
			req->changedsince_set = 1;
		} else if (imap_arg_atom_is(m, "VANISHED") && !req->vanished)
			req->vanished = 1;
		else
			goto bad;
	}
	if (req->vanished && !req->changedsince_set) {
		/* RFC 7162 3.2.6 */
		snprintf(err, errlen, "VANISHED requires CHANGEDSINCE");
		return -1;
	}
	if (req->changedsince_set)
		req->atts |= IMAP_FA_MODSEQ;	/* RFC 7162 3.1.4.1 */
	return 0;
bad:
	snprintf(err, errlen, "Invalid fetch modifiers");
	return -1;
}

static void
derive(struct imap_fetch_req *req)
{
	size_t i;

	if (req->atts & (IMAP_FA_ENVELOPE | IMAP_FA_BODY | IMAP_FA_BODYSTRUCTURE))
		req->needs_content = 1;
	if (req->atts & (IMAP_FA_BODY | IMAP_FA_BODYSTRUCTURE))
		req->needs_mime = 1;
	for (i = 0; i < req->nsects; i++) {
		const struct imap_fetch_sect *s = &req->sects[i];
		req->needs_content = 1;
		if (!s->peek)
			req->sets_seen = 1;
		/* "", HEADER and TEXT of the whole message are cut without MIME. */
		if (s->kind == IMAP_FK_BINARY || s->kind == IMAP_FK_BINSIZE ||
		    (s->speclen > 0 && !ieq(s->spec, s->speclen, "HEADER") &&
		    !ieq(s->spec, s->speclen, "TEXT")))
			req->needs_mime = 1;
	}
}

int
imap_fetch_parse(struct imap_fetch_req *req, const struct imap_arg *items,
    const struct imap_arg *mods, char *err, size_t errlen)
{
	size_t i;

	memset(req, 0, sizeof(*req));
	if (items->type == IMAP_ARG_ATOM && imap_arg_atom_is(items, "ALL"))
		req->atts = IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE | IMAP_FA_SIZE |
		    IMAP_FA_ENVELOPE;
	else if (items->type == IMAP_ARG_ATOM && imap_arg_atom_is(items, "FAST"))
		req->atts = IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE | IMAP_FA_SIZE;
	else if (items->type == IMAP_ARG_ATOM && imap_arg_atom_is(items, "FULL"))
		req->atts = IMAP_FA_FLAGS | IMAP_FA_INTERNALDATE | IMAP_FA_SIZE |
		    IMAP_FA_ENVELOPE | IMAP_FA_BODY;
	else if (items->type == IMAP_ARG_LIST) {
		if (items->n == 0) {
			snprintf(err, errlen, "Empty fetch item list");
			return -1;
		}
		for (i = 0; i < items->n; i++)
			if (parse_att(req, &items->list[i], err, errlen) == -1)
				return -1;
	} else if (parse_att(req, items, err, errlen) == -1)
		return -1;
	if (mods != NULL && parse_mods(req, mods, err, errlen) == -1)
		return -1;
	derive(req);
	return 0;
}
