/*
 * imap_utf7: modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8 for mailbox
 * names. Runs in imapd's session process (as the mail owner); pure
 * computation.
 *
 * Decoding is strict, so that every mailbox has exactly one wire name:
 * only printable US-ASCII on the wire; "&-" is "&"; a shifted run is
 * non-empty modified BASE64 of UTF-16BE, closed by "-", with its unused
 * bits zero; it may not encode printable US-ASCII, NUL or an unpaired
 * surrogate, and may not be followed directly by another shifted run
 * (the two should have been one). Encoding takes only valid UTF-8.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "imap_utf7.h"
#include "strbuf.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

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
	if (c == ',')
		return 63;
	return -1;
}

/* Append code point cp as UTF-8 (out may be NULL: validation only). */
static int
put_utf8(struct strbuf *out, uint32_t cp)
{
	return out == NULL ? 0 : strbuf_put_utf8(out, cp);
}

/* One UTF-16 unit of a shifted run; *hs holds a pending high surrogate. */
static int
take_unit(struct strbuf *out, uint32_t u, uint32_t *hs)
{
	if (*hs != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;	/* high surrogate without its low one */
		u = 0x10000 + ((*hs - 0xd800) << 10) + (u - 0xdc00);
		*hs = 0;
		return put_utf8(out, u);
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*hs = u;
		return 0;
	}
	if (u >= 0xdc00 && u <= 0xdfff)
		return -1;	/* a lone low surrogate */
	if (u == 0 || (u >= 0x20 && u <= 0x7e))
		return -1;	/* NUL, or printable ASCII that stands for itself */
	return put_utf8(out, u);
}

/* Decode the shifted run after '&' at *pp up to and past its '-'. */
static int
decode_run(const char **pp, const char *end, struct strbuf *out)
{
	const char *p = *pp;
	uint32_t bits = 0, hs = 0;
	int nbits = 0, v;
	size_t nchars = 0;

	for (; p < end && *p != '-'; p++, nchars++) {
		if ((v = b64val((unsigned char)*p)) == -1)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (take_unit(out, (bits >> nbits) & 0xffff, &hs) == -1)
				return -1;
			bits &= (1U << nbits) - 1;
		}
	}
	/* closed by '-', whole units only, unused bits zero, no dangling surrogate */
	if (p == end || nchars == 0 || nbits >= 6 || bits != 0 || hs != 0)
		return -1;
	p++;
	/* "&...-&...-": two runs in a row are a non-shortest form */
	if (end - p >= 2 && p[0] == '&' && p[1] != '-')
		return -1;
	*pp = p;
	return 0;
}

static int
utf7_decode(const char *in, size_t len, struct strbuf *out)
{
	const char *p = in, *end = in + len;

	while (p < end) {
		unsigned char c = (unsigned char)*p++;
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (out != NULL && strbuf_putc(out, (char)c) == -1)
				return -1;
			continue;
		}
		if (p < end && *p == '-') {
			p++;
			if (out != NULL && strbuf_putc(out, '&') == -1)
				return -1;
			continue;
		}
		if (decode_run(&p, end, out) == -1)
			return -1;
	}
	return 0;
}

int
imap_utf7_to_utf8(const char *in, size_t len, struct strbuf *out)
{
	size_t save = out->len;

	if (utf7_decode(in, len, out) == 0)
		return 0;
	if (out->data != NULL) {
		out->len = save;
		out->data[save] = '\0';
	}
	return -1;
}

int
imap_utf7_valid(const char *in, size_t len)
{
	return utf7_decode(in, len, NULL) == 0;
}

/* Next code point of strict UTF-8 (RFC 3629) at *pp, or -1. */
static int32_t
next_utf8(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	uint32_t cp, min;
	size_t n, i;

	if (p[0] < 0x80) {
		*pp = p + 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else
		return -1;
	if ((size_t)(end - p) < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pp = p + n;
	return (int32_t)cp;
}

struct b64w {
	uint32_t	bits;
	int		nbits;
	int		open;
};

static int
b64_unit(struct strbuf *out, struct b64w *w, uint32_t u)
{
	if (!w->open) {
		if (strbuf_putc(out, '&') == -1)
			return -1;
		w->open = 1;
	}
	w->bits = (w->bits << 16) | u;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		if (strbuf_putc(out, b64chars[(w->bits >> w->nbits) & 0x3f]) == -1)
			return -1;
	}
	w->bits &= (1U << w->nbits) - 1;
	return 0;
}

static int
b64_close(struct strbuf *out, struct b64w *w)
{
	if (!w->open)
		return 0;
	if (w->nbits > 0 &&
	    strbuf_putc(out, b64chars[(w->bits << (6 - w->nbits)) & 0x3f]) == -1)
		return -1;
	w->bits = 0;
	w->nbits = 0;
	w->open = 0;
	return strbuf_putc(out, '-');
}

static int
utf7_encode(const char *in, size_t len, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	struct b64w w = { 0, 0, 0 };
	int32_t cp;

	while (p < end) {
		if ((cp = next_utf8(&p, end)) <= 0)
			return -1;	/* invalid UTF-8, or NUL */
		if (cp >= 0x20 && cp <= 0x7e) {
			if (b64_close(out, &w) == -1 || strbuf_putc(out, (char)cp) == -1)
				return -1;
			if (cp == '&' && strbuf_putc(out, '-') == -1)
				return -1;
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			if (b64_unit(out, &w, 0xd800 + ((uint32_t)cp >> 10)) == -1 ||
			    b64_unit(out, &w, 0xdc00 + ((uint32_t)cp & 0x3ff)) == -1)
				return -1;
		} else if (b64_unit(out, &w, (uint32_t)cp) == -1)
			return -1;
	}
	return b64_close(out, &w);
}

int
imap_utf8_to_utf7(const char *in, size_t len, struct strbuf *out)
{
	size_t save = out->len;

	if (utf7_encode(in, len, out) == 0)
		return 0;
	if (out->data != NULL) {
		out->len = save;
		out->data[save] = '\0';
	}
	return -1;
}
