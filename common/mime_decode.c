/*
 * mime_decode: content transfer encodings (RFC 2045 6.7 quoted-printable,
 * 6.8 base64), charsets to UTF-8 (tables for the common ones, iconv(3)
 * for the rest) and RFC 2047 encoded words in header text. Shared by
 * imapd's session process (FETCH BINARY, SEARCH, SORT, THREAD) and
 * deliver (delivery rules), each with its own privileges; pure
 * computation on bounded buffers.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mime_decode.h"
#include "strbuf.h"

#define EW_MAX	256	/* longest encoded word taken (RFC 2047 2 says 75; be lenient) */
#define CS_MAX	64	/* longest charset name */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(unsigned char c)
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

/* RFC 2045 6.8: characters outside the alphabet are ignored; '=' ends the data. */
static int
b64_decode(const char *s, size_t len, struct strbuf *out)
{
	uint32_t acc = 0;
	size_t i;
	int n = 0, v;
	char b[3];

	for (i = 0; i < len && s[i] != '='; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			b[0] = (char)(acc >> 16);
			b[1] = (char)(acc >> 8);
			b[2] = (char)acc;
			if (strbuf_append(out, b, 3) == -1)
				return -1;
			acc = 0;
			n = 0;
		}
	}
	if (n == 2) {
		b[0] = (char)(acc >> 4);
		return strbuf_append(out, b, 1);
	}
	if (n == 3) {
		b[0] = (char)(acc >> 10);
		b[1] = (char)(acc >> 2);
		return strbuf_append(out, b, 2);
	}
	return 0;
}

/*
 * RFC 2045 6.7: "=XX", soft line breaks "=" [WSP] EOL, trailing white
 * space on a line dropped (rule 3). A bad "=" is kept as it is. hdr: the
 * RFC 2047 4.2 "Q" form, where "_" is a space.
 */
static int
qp_decode(const char *s, size_t len, int hdr, struct strbuf *out)
{
	size_t i, j, k;
	int h, l;

	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			for (j = i + 1; j < len && (s[j] == ' ' || s[j] == '\t'); j++)
				;
			if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
				j++;
			if (!hdr && (j == len || s[j] == '\n')) {	/* soft break */
				i = j;
				continue;
			}
			if (i + 2 < len && (h = hexval(s[i + 1])) >= 0 &&
			    (l = hexval(s[i + 2])) >= 0) {
				if (strbuf_putc(out, (char)(h << 4 | l)) == -1)
					return -1;
				i += 2;
				continue;
			}
		} else if (!hdr && (s[i] == ' ' || s[i] == '\t')) {
			for (k = i; k < len && (s[k] == ' ' || s[k] == '\t'); k++)
				;
			if (k == len || s[k] == '\n' || (s[k] == '\r' &&
			    k + 1 < len && s[k + 1] == '\n')) {
				i = k - 1;	/* trailing white space */
				continue;
			}
			if (strbuf_append(out, s + i, k - i) == -1)
				return -1;
			i = k - 1;
			continue;
		} else if (hdr && s[i] == '_') {
			if (strbuf_putc(out, ' ') == -1)
				return -1;
			continue;
		}
		if (strbuf_putc(out, s[i]) == -1)
			return -1;
	}
	return 0;
}

int
mime_decode_body(const char *enc, const char *s, size_t len, struct strbuf *out)
{
	if (enc == NULL || *enc == '\0' || strcasecmp(enc, "7bit") == 0 ||
	    strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0)
		return strbuf_append(out, s, len);
	if (strcasecmp(enc, "base64") == 0)
		return b64_decode(s, len, out);
	if (strcasecmp(enc, "quoted-printable") == 0)
		return qp_decode(s, len, 0, out);
	return -2;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 4), 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	c = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/* UTF-8 (and US-ASCII, which is often 8-bit in practice): invalid bytes become U+FFFD. */
int
mime_utf8_copy(const char *s, size_t len, struct strbuf *out)
{
	size_t i = 0, start, n;

	while (i < len) {
		start = i;
		while (i < len && (n = utf8_seq((const unsigned char *)s + i,
		    len - i)) > 0)
			i += n;
		if (strbuf_append(out, s + start, i - start) == -1)
			return -1;
		if (i < len) {
			if (strbuf_put_utf8(out, 0xfffd) == -1)
				return -1;
			i++;
		}
	}
	return 0;
}

/* windows-1252 0x80..0x9f (0 = undefined, kept as the C1 control). */
static const uint16_t cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* ISO-8859-15 differs from ISO-8859-1 in eight places. */
static uint32_t
latin9(uint32_t c)
{
	static const uint16_t from[] = { 0xa4, 0xa6, 0xa8, 0xb4, 0xb8, 0xbc, 0xbd, 0xbe };
	static const uint16_t to[] = { 0x20ac, 0x160, 0x161, 0x17d, 0x17e, 0x152, 0x153, 0x178 };
	size_t i;

	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		if (c == from[i])
			return to[i];
	return c;
}

enum cs { CS_UTF8, CS_LATIN1, CS_LATIN9, CS_CP1252, CS_OTHER };

static enum cs
cs_kind(const char *n)
{
	if (*n == '\0' || strcasecmp(n, "us-ascii") == 0 ||
	    strcasecmp(n, "ascii") == 0 || strcasecmp(n, "utf-8") == 0 ||
	    strcasecmp(n, "utf8") == 0 || strcasecmp(n, "ansi_x3.4-1968") == 0)
		return CS_UTF8;
	if (strcasecmp(n, "iso-8859-1") == 0 || strcasecmp(n, "iso8859-1") == 0 ||
	    strcasecmp(n, "latin1") == 0 || strcasecmp(n, "iso_8859-1") == 0)
		return CS_LATIN1;
	if (strcasecmp(n, "iso-8859-15") == 0 || strcasecmp(n, "iso8859-15") == 0 ||
	    strcasecmp(n, "latin9") == 0)
		return CS_LATIN9;
	if (strcasecmp(n, "windows-1252") == 0 || strcasecmp(n, "cp1252") == 0)
		return CS_CP1252;
	return CS_OTHER;
}

static int
table_conv(enum cs k, const char *s, size_t len, struct strbuf *out)
{
	size_t i;
	uint32_t c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (k == CS_LATIN9)
			c = latin9(c);
		else if (k == CS_CP1252 && c >= 0x80 && c < 0xa0 && cp1252[c - 0x80])
			c = cp1252[c - 0x80];
		if (strbuf_put_utf8(out, c) == -1)
			return -1;
	}
	return 0;
}

/* Any other charset through iconv(3); bytes it cannot take become U+FFFD. */
static int
iconv_conv(const char *cs, const char *s, size_t len, struct strbuf *out)
{
	char buf[1024], *in = (char *)(uintptr_t)s, *o;
	size_t inl = len, ol, r;
	iconv_t cd;
	int rc = 0;

	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return -2;
	while (rc == 0) {
		o = buf;
		ol = sizeof(buf);
		r = iconv(cd, inl > 0 ? &in : NULL, inl > 0 ? &inl : NULL, &o, &ol);
		if (strbuf_append(out, buf, sizeof(buf) - ol) == -1)
			rc = -1;
		else if (r != (size_t)-1 && inl == 0)
			break;
		else if (r == (size_t)-1 && errno == E2BIG)
			continue;
		else if (r == (size_t)-1 && inl > 0) {	/* EILSEQ, EINVAL */
			rc = strbuf_put_utf8(out, 0xfffd);
			in++;
			inl--;
		}
	}
	iconv_close(cd);
	return rc;
}

int
mime_to_utf8(const char *charset, size_t cslen, const char *s, size_t len,
    struct strbuf *out)
{
	char name[CS_MAX + 1];
	size_t base = out->len;
	enum cs k;
	int rc;

	if (charset == NULL)
		cslen = 0;
	if (cslen > CS_MAX)
		return -2;
	if (cslen > 0)
		memcpy(name, charset, cslen);
	name[cslen] = '\0';
	if (memchr(name, '\0', cslen) != NULL)
		return -2;
	k = cs_kind(name);
	if (k == CS_UTF8)
		rc = mime_utf8_copy(s, len, out);
	else if (k != CS_OTHER)
		rc = table_conv(k, s, len, out);
	else
		rc = iconv_conv(name, s, len, out);
	if (rc == -1) {
		out->len = base;
		if (out->data != NULL)
			out->data[base] = '\0';
	}
	return rc;
}

/* One encoded word at s (RFC 2047 2): "=?" charset "?" B/Q "?" text "?=". */
struct ew {
	const char	*cs, *text;
	size_t		 cslen, textlen, len;
	char		 enc;
};

static int
ew_parse(const char *s, size_t len, struct ew *w)
{
	size_t i, max = len < EW_MAX ? len : EW_MAX;

	if (max < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (i = 2; i < max && s[i] != '?' && s[i] > ' '; i++)
		;
	if (i >= max - 4 || s[i] != '?' || i == 2 || s[i + 2] != '?')
		return 0;
	w->cs = s + 2;
	w->cslen = i - 2;
	w->enc = s[i + 1];
	if (w->enc != 'B' && w->enc != 'b' && w->enc != 'Q' && w->enc != 'q')
		return 0;
	w->text = s + i + 3;
	for (i += 3; i < max && s[i] != '?' && s[i] > ' ' && s[i] != 0x7f; i++)
		;
	if (i + 1 >= max || s[i] != '?' || s[i + 1] != '=')
		return 0;
	w->textlen = (size_t)(s + i - w->text);
	w->len = i + 2;
	/* RFC 2231 5: charset*language */
	for (i = 0; i < w->cslen && w->cs[i] != '*'; i++)
		;
	w->cslen = i;
	return w->cslen > 0 && w->cslen <= CS_MAX;
}

/* Adjacent words of one charset are decoded together: a character may span two. */
struct ew_run {
	struct strbuf	 bytes;
	char		 cs[CS_MAX + 1];
	const char	*raw;	/* the words as written, for an unknown charset */
	size_t		 rawlen;
	int		 active;
};

static int
run_flush(struct ew_run *r, struct strbuf *out)
{
	int rc;

	if (!r->active)
		return 0;
	r->active = 0;
	rc = mime_to_utf8(r->cs, strlen(r->cs), r->bytes.data != NULL ?
	    r->bytes.data : "", r->bytes.len, out);
	strbuf_reset(&r->bytes);
	if (rc == -2)	/* unknown charset: left as it is */
		rc = strbuf_append(out, r->raw, r->rawlen);
	return rc;
}

static int
run_add(struct ew_run *r, const struct ew *w, const char *at, struct strbuf *out)
{
	if (r->active && (strlen(r->cs) != w->cslen ||
	    strncasecmp(r->cs, w->cs, w->cslen) != 0) && run_flush(r, out) == -1)
		return -1;
	if (!r->active) {
		memcpy(r->cs, w->cs, w->cslen);
		r->cs[w->cslen] = '\0';
		r->raw = at;
		r->active = 1;
	}
	r->rawlen = (size_t)(at + w->len - r->raw);
	if (w->enc == 'B' || w->enc == 'b')
		return b64_decode(w->text, w->textlen, &r->bytes);
	return qp_decode(w->text, w->textlen, 1, &r->bytes);
}

static int
is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2047 6.2: white space between adjacent encoded words is dropped. */
static int
hdr_decode(const char *s, size_t len, struct ew_run *r, struct strbuf *out)
{
	struct ew w;
	size_t i = 0, j;

	while (i < len) {
		if (s[i] == '=' && ew_parse(s + i, len - i, &w)) {
			if (run_add(r, &w, s + i, out) == -1)
				return -1;
			i += w.len;
			continue;
		}
		if (r->active && is_lwsp(s[i])) {
			for (j = i; j < len && is_lwsp(s[j]); j++)
				;
			if (j < len && s[j] == '=' && ew_parse(s + j, len - j, &w)) {
				i = j;
				continue;
			}
		}
		if (run_flush(r, out) == -1)
			return -1;
		for (j = i + 1; j < len && s[j] != '=' && !is_lwsp(s[j]); j++)
			;
		if (strbuf_append(out, s + i, j - i) == -1)
			return -1;
		i = j;
	}
	return run_flush(r, out);
}

int
mime_hdr_decode(const char *value, size_t len, struct strbuf *out)
{
	struct ew_run r;
	size_t base = out->len;
	int rc;

	memset(&r, 0, sizeof(r));
	strbuf_init(&r.bytes, MIME_DECODE_MAX);
	rc = hdr_decode(value, len, &r, out);
	strbuf_free(&r.bytes);
	if (rc == -1) {
		out->len = base;
		if (out->data != NULL)
			out->data[base] = '\0';
	}
	return rc;
}

