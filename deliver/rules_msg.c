/*
 * rules_msg: the message as delivery rules see it, built by the deliver
 * child (as the mailbox owner) from the first RULES_HDR_MAX bytes of the
 * queued content: the header fields split, unfolded (RFC 5322 2.2.3) and
 * with RFC 2047 encoded words decoded (charsets are not converted: UTF-8
 * and ASCII come out as written, which is what rule files hold).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "util.h"

/* One base64 sextet, or -1. */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the encoded text t (n bytes) of a B or Q word into out. -1 if bad. */
static int
ew_text(char enc, const char *t, size_t n, char *out, size_t *olen)
{
	unsigned acc = 0, bits = 0;
	size_t i, o = 0;
	int v, h;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (enc == 'B') {
			if (c == '=')
				break;
			if ((v = b64_val(c)) < 0)
				return -1;
			acc = (acc << 6) | (unsigned)v;
			if ((bits += 6) >= 8) {
				bits -= 8;
				out[o++] = (char)((acc >> bits) & 0xff);
			}
		} else if (c == '_')
			out[o++] = ' ';
		else if (c == '=') {
			if (i + 2 >= n || (h = hex_val((unsigned char)t[i + 1])) < 0 ||
			    (v = hex_val((unsigned char)t[i + 2])) < 0)
				return -1;
			out[o++] = (char)(h * 16 + v);
			i += 2;
		} else
			out[o++] = (char)c;
	}
	*olen = o;
	return 0;
}

/*
 * An encoded word "=?charset?B|Q?text?=" at s (RFC 2047 2): decoded into
 * out (at most the word's length). Its length in s, or 0 if it is not one.
 */
static size_t
ew_decode(const char *s, size_t len, char *out, size_t *olen)
{
	const char *q1, *end;
	char enc;
	size_t i;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	if ((q1 = memchr(s + 2, '?', len - 2)) == NULL || q1 == s + 2 ||
	    (size_t)(q1 - s) + 3 >= len || q1[2] != '?')
		return 0;
	enc = (char)(q1[1] & ~0x20);
	if (enc != 'B' && enc != 'Q')
		return 0;
	for (end = q1 + 3; (size_t)(end - s) + 1 < len; end++)
		if (end[0] == '?' && end[1] == '=')
			break;
	if ((size_t)(end - s) + 1 >= len)
		return 0;
	for (i = 2; s + i < end; i++)
		if ((unsigned char)s[i] <= ' ')
			return 0;	/* no white space inside a word */
	if (ew_text(enc, q1 + 3, (size_t)(end - (q1 + 3)), out, olen) == -1)
		return 0;
	return (size_t)(end - s) + 2;
}

/* Decode the encoded words of v (n bytes) in place; white space between
 * two adjacent encoded words goes (RFC 2047 6.2). The new length. */
static size_t
ew_decode_all(char *v, size_t n)
{
	char *out = xmalloc(n + 1), dec[256];
	size_t i = 0, o = 0, w, dlen, ws_at = 0;
	int after_ew = 0;

	while (i < n) {
		dlen = 0;
		if (v[i] == '=' && (w = ew_decode(v + i, n - i > 200 ? 200 : n - i,
		    dec, &dlen)) > 0) {
			if (after_ew)
				o = ws_at;
			memcpy(out + o, dec, dlen);
			o += dlen;
			i += w;
			after_ew = 1;
			ws_at = o;
			continue;
		}
		if (v[i] != ' ' && v[i] != '\t')
			after_ew = 0;
		out[o++] = v[i++];
	}
	memcpy(v, out, o);
	v[o] = '\0';
	free(out);
	return o;
}

/* Add one field from a raw "Name: value" (with folds) of n bytes. */
static void
msg_add(struct rules_msg *m, const char *raw, size_t n)
{
	const char *colon = memchr(raw, ':', n);
	struct rules_field *f;
	size_t nl, i, o;
	char *v;

	if (colon == NULL || colon == raw)
		return;	/* not a field: ignored */
	for (nl = (size_t)(colon - raw); nl > 0 && (raw[nl - 1] == ' ' ||
	    raw[nl - 1] == '\t'); nl--)
		;
	if (nl == 0)
		return;
	v = xmalloc(n + 1);
	/* unfold: drop CR and LF, keep the white space after them */
	for (i = (size_t)(colon - raw) + 1, o = 0; i < n; i++)
		if (raw[i] != '\r' && raw[i] != '\n')
			v[o++] = raw[i];
	while (o > 0 && (v[o - 1] == ' ' || v[o - 1] == '\t'))
		o--;
	for (i = 0; i < o && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	memmove(v, v + i, o - i);
	o -= i;
	v[o] = '\0';
	m->f = xreallocarray(m->f, m->nf + 1, sizeof(*m->f));
	f = &m->f[m->nf++];
	f->name = xstrndup(raw, nl);
	f->vlen = ew_decode_all(v, o);
	f->value = v;
}

void
rules_msg_init(struct rules_msg *m, const char *hdr, size_t len,
    const char *sender, const char *rcpt, unsigned long long size)
{
	size_t i = 0, start = 0, eol;
	const char *nl;

	memset(m, 0, sizeof(*m));
	m->sender = sender;
	m->rcpt = rcpt;
	m->size = size;
	if (len > RULES_HDR_MAX)
		len = RULES_HDR_MAX;
	while (i < len && m->nf < RULES_FIELDS_MAX) {
		nl = memchr(hdr + i, '\n', len - i);
		eol = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
		if (eol - i == 1 || (eol - i == 2 && hdr[i] == '\r'))
			break;	/* the empty line: the end of the header */
		if (i > start && hdr[i] != ' ' && hdr[i] != '\t') {
			msg_add(m, hdr + start, i - start);
			start = i;
		}
		i = eol;
	}
	if (i > start && m->nf < RULES_FIELDS_MAX)
		msg_add(m, hdr + start, i - start);
}

void
rules_msg_free(struct rules_msg *m)
{
	size_t i;

	for (i = 0; i < m->nf; i++) {
		free(m->f[i].name);
		free(m->f[i].value);
	}
	free(m->f);
	m->f = NULL;
	m->nf = 0;
}

int
rules_msg_has(const struct rules_msg *m, const char *name, const char *addr)
{
	size_t i, n;
	const char *v;

	for (i = 0; i < m->nf; i++) {
		if (!str_ieq(m->f[i].name, name))
			continue;
		v = m->f[i].value;
		n = strlen(v);
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>' &&
		    n - 2 == strlen(addr) && strncasecmp(v + 1, addr, n - 2) == 0)
			return 1;
		if (str_ieq(v, addr))
			return 1;
	}
	return 0;
}
