/*
 * rules_name: the directory of a fileinto folder name, in the Maildir++
 * layout imapd uses (imapd/imap_store.h): folder "A.B" is ".A.B" under
 * the Maildir, its name on disk in modified UTF-7 (RFC 3501 5.1.3).
 * Used by the parser (rules_parse.c) to refuse a bad name at parse time,
 * so in the deliver child as the mailbox owner and in `postern check`;
 * deliver/rules_folder.c creates the folders.
 */
#include "config.h"

#include <string.h>

#include "rules.h"
#include "strbuf.h"
#include "util.h"

static const char mb64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* One code point from UTF-8 at s; its length, or 0 if invalid. */
static size_t
utf8_get(const unsigned char *s, unsigned long *cp)
{
	size_t n, i;
	unsigned long min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, *cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, *cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, *cp = s[0] & 0x07, min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Append a run of non-ASCII code points as "&...-" (modified base64). */
static int
mutf7_run(struct strbuf *out, const unsigned char **sp)
{
	const unsigned char *s = *sp;
	unsigned long cp, acc = 0;
	unsigned bits = 0, u[2], k, nu;
	size_t n;

	if (strbuf_putc(out, '&') == -1)
		return -1;
	while (*s >= 0x80) {
		if ((n = utf8_get(s, &cp)) == 0)
			return -1;
		s += n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			u[0] = 0xd800 | (unsigned)(cp >> 10);
			u[1] = 0xdc00 | (unsigned)(cp & 0x3ff);
			nu = 2;
		} else {
			u[0] = (unsigned)cp;
			nu = 1;
		}
		for (k = 0; k < nu; k++) {
			acc = (acc << 16) | u[k];
			for (bits += 16; bits >= 6; bits -= 6)
				if (strbuf_putc(out, mb64[(acc >> (bits - 6)) & 0x3f]) == -1)
					return -1;
		}
	}
	if (bits > 0 && strbuf_putc(out, mb64[(acc << (6 - bits)) & 0x3f]) == -1)
		return -1;
	*sp = s;
	return strbuf_putc(out, '-');
}

/* name (UTF-8) in modified UTF-7 (RFC 3501 5.1.3) into out. 0 or -1. */
static int
mutf7_encode(const char *name, struct strbuf *out)
{
	const unsigned char *s = (const unsigned char *)name;

	while (*s != '\0') {
		if (*s == '&') {
			if (strbuf_puts(out, "&-") == -1)
				return -1;
			s++;
		} else if (*s < 0x80) {
			if (strbuf_putc(out, (char)*s++) == -1)
				return -1;
		} else if (mutf7_run(out, &s) == -1)
			return -1;
	}
	return 0;
}

int
rules_folder_dir(const char *name, char *dir, size_t dirlen)
{
	struct strbuf sb;
	const unsigned char *p;
	size_t len;
	int rv = -1;

	if (str_iprefix(name, "INBOX."))
		name += 6;
	else if (str_ieq(name, "INBOX"))
		return str_copy(dir, "", dirlen);
	len = strlen(name);
	if (len == 0 || name[0] == '.' || name[len - 1] == '.' ||
	    strstr(name, "..") != NULL)
		return -1;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\' ||
		    *p == '*' || *p == '%')
			return -1;
	strbuf_init(&sb, RULES_FOLDER_MAX);
	if (strbuf_putc(&sb, '.') == 0 && mutf7_encode(name, &sb) == 0 &&
	    strbuf_putc(&sb, '\0') == 0)
		rv = str_copy(dir, sb.data, dirlen);
	strbuf_free(&sb);
	return rv;
}
