/*
 * address: RFC 5321 4.1.2 path parsing and the ESMTP parameters of MAIL
 * and RCPT. Runs inside smtpd and submitd (unprivileged, chrooted for
 * smtpd) on text straight from the network, so every function is bounded
 * by the RFC 5321 4.5.3.1 limits, reads nothing past the NUL, and never
 * allocates.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "util.h"

/* RFC 5322 3.2.3 atext. */
static int
addr_is_atext(unsigned char c, int utf8)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	if (c >= 0x80)
		return utf8;	/* RFC 6531 3.3: atext =/ UTF8-non-ascii */
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
addr_is_letdig(unsigned char c, int utf8)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (utf8 && c >= 0x80);
}

/* Length of one UTF-8 sequence at s (up to end), 0 if invalid. */
static size_t
addr_utf8_seq(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int
address_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if ((n = addr_utf8_seq(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* RFC 5321 4.1.2 Dot-string: Atom *("." Atom). Returns its length, 0 if none. */
static size_t
addr_dot_string(const char *s, int utf8)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;

		while (addr_is_atext((unsigned char)s[i], utf8))
			i++;
		if (i == start)
			return 0;	/* empty atom: leading, trailing or double dot */
		if (s[i] != '.')
			return i;
		i++;
	}
}

/*
 * RFC 5321 4.1.2 Quoted-string, with RFC 6531 UTF-8 in qtextSMTP.
 * Returns the length including both quotes, 0 if malformed.
 */
static size_t
addr_quoted_string(const char *s, int utf8)
{
	size_t i = 1;

	if (s[0] != '"')
		return 0;
	for (;;) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			return i + 1;
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			c = (unsigned char)s[i + 1];
			if (c < 32 || c > 126)
				return 0;
			i += 2;
		} else if ((c >= 32 && c <= 126) || (utf8 && c >= 0x80)) {
			i++;	/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
		} else {
			return 0;
		}
	}
}

/* RFC 5321 4.1.2 Domain; labels of at most 63 octets (RFC 1035 2.3.4). */
static size_t
addr_domain(const char *s, int utf8)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;

		if (!addr_is_letdig((unsigned char)s[i], utf8))
			return 0;
		while (addr_is_letdig((unsigned char)s[i], utf8) || s[i] == '-')
			i++;
		if (s[i - 1] == '-' || i - start > 63)
			return 0;
		if (s[i] != '.' || !addr_is_letdig((unsigned char)s[i + 1], utf8))
			return i;
		i++;
	}
}

/* RFC 5321 4.1.3 address literal "[...]". Returns its length, 0 if bad. */
static size_t
addr_literal(const char *s)
{
	char buf[64];
	unsigned char bin[16];
	const char *end;
	size_t n;

	if (s[0] != '[' || (end = strchr(s, ']')) == NULL)
		return 0;
	n = (size_t)(end - s - 1);
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s + 1, n);
	buf[n] = '\0';
	if (str_iprefix(buf, "IPv6:")) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1)
			return 0;
	} else if (strspn(buf, "0123456789.") != n ||
	    inet_pton(AF_INET, buf, bin) != 1) {
		/* General-address-literal: no standardized tag is known here. */
		return 0;
	}
	return n + 2;
}

int
address_valid_domain(const char *d, int utf8)
{
	size_t n, len = strlen(d);

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	n = d[0] == '[' ? addr_literal(d) : addr_domain(d, utf8);
	if (n != len)
		return 0;
	return !utf8 || address_utf8_valid(d, len);
}

/* Skip an RFC 5321 A-d-l source route "@a,@b:"; it is ignored (4.1.1.3, C.). */
static int
addr_skip_route(const char **pp)
{
	const char *p = *pp;
	size_t n;

	for (;;) {
		if (*p != '@')
			return -1;
		p++;
		n = p[0] == '[' ? addr_literal(p) : addr_domain(p, 0);
		if (n == 0)
			return -1;
		p += n;
		if (*p == ':') {
			*pp = p + 1;
			return 0;
		}
		if (*p != ',')
			return -1;
		p++;
	}
}

/*
 * Copy a quoted local part into out: unquoted if the decoded text is a
 * plain dot-string, else as written. 0 or -1 (no room).
 */
static int
addr_put_local(const char *lp, size_t n, int utf8, char *out, size_t outlen)
{
	char dec[ADDR_LOCAL_MAX + 1];
	size_t i, o = 0;

	if (lp[0] == '"') {
		for (i = 1; i + 1 < n && o < ADDR_LOCAL_MAX; i++) {
			if (lp[i] == '\\')
				i++;
			dec[o++] = lp[i];
		}
		dec[o] = '\0';
		if (o > 0 && addr_dot_string(dec, utf8) == o) {
			lp = dec;
			n = o;
		}
	}
	if (n >= outlen)
		return -1;
	memcpy(out, lp, n);
	out[n] = '\0';
	return 0;
}

/* The Mailbox (or bare postmaster) part, up to the closing '>'. */
static int
addr_mailbox(const char **pp, int flags, char *out, size_t outlen,
    const char **why)
{
	const char *p = *pp, *dom;
	int utf8 = (flags & ADDR_UTF8) != 0;
	size_t ln, dn, o;

	ln = *p == '"' ? addr_quoted_string(p, utf8) : addr_dot_string(p, utf8);
	if (ln == 0)
		return *why = "bad local part", -1;
	if (ln > ADDR_LOCAL_MAX)
		return *why = "local part too long", -1;
	if (p[ln] == '>' && (flags & ADDR_POSTMASTER) && ln == 10 &&
	    strncasecmp(p, "postmaster", 10) == 0) {
		if (addr_put_local(p, ln, utf8, out, outlen) == -1)
			return *why = "path too long", -1;
		*pp = p + ln;
		return 0;
	}
	if (p[ln] != '@')
		return *why = "address must be local@domain", -1;
	dom = p + ln + 1;
	dn = dom[0] == '[' ? addr_literal(dom) : addr_domain(dom, utf8);
	if (dn == 0)
		return *why = "bad domain", -1;
	if (dn > ADDR_DOMAIN_MAX)
		return *why = "domain too long", -1;
	if (addr_put_local(p, ln, utf8, out, outlen) == -1)
		return *why = "path too long", -1;
	o = strlen(out);
	if (o + 1 + dn >= outlen)
		return *why = "path too long", -1;
	out[o] = '@';
	memcpy(out + o + 1, dom, dn);
	out[o + 1 + dn] = '\0';
	*pp = dom + dn;
	return 0;
}

/* Bytes >= 0x80 in the path: only with SMTPUTF8, and only valid UTF-8. */
static int
addr_check_8bit(const char *path, size_t len, int utf8, const char **why)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)path[i] >= 0x80)
			break;
	if (i == len)
		return 0;
	if (!utf8)
		return *why = "non-ASCII address needs SMTPUTF8", -1;
	if (!address_utf8_valid(path, len))
		return *why = "invalid UTF-8 in address", -1;
	return 0;
}

/* A failed parse of an 8-bit path without SMTPUTF8 says so (RFC 6531 3.5). */
static int
addr_fail_8bit(const char *s, int flags, const char **why)
{
	size_t i, n = strnlen(s, ADDR_PATH_MAX);

	if (!(flags & ADDR_UTF8))
		for (i = 0; i < n && s[i] != ' '; i++)
			if ((unsigned char)s[i] >= 0x80) {
				*why = "non-ASCII address needs SMTPUTF8";
				break;
			}
	return -1;
}

int
address_parse_path(const char *s, int flags, char *out, size_t outlen,
    const char **rest, const char **why)
{
	const char *p, *start;

	*why = "syntax error";
	while (*s == ' ')
		s++;
	if (*s != '<')
		return *why = "address must be in <>", -1;
	start = s;
	p = s + 1;
	if (*p == '>') {
		if (!(flags & ADDR_NULL_OK))
			return *why = "null address not allowed here", -1;
		if (outlen < 1)
			return -1;
		out[0] = '\0';
	} else {
		if (*p == '@' && addr_skip_route(&p) == -1)
			return *why = "bad source route", -1;
		if (addr_mailbox(&p, flags, out, outlen, why) == -1)
			return addr_fail_8bit(start, flags, why);
		if (*p != '>')
			return *why = "syntax error after address", -1;
	}
	p++;
	/* RFC 5321 4.5.3.1.3: 256 octets with the punctuation. */
	if ((size_t)(p - start) > ADDR_PATH_MAX)
		return *why = "path too long", -1;
	if (addr_check_8bit(start, (size_t)(p - start), flags & ADDR_UTF8, why) == -1)
		return -1;
	if (*p != '\0' && *p != ' ')
		return *why = "syntax error after >", -1;
	while (*p == ' ')
		p++;
	*rest = p;
	return 0;
}

int
address_split(const char *addr, char *local, size_t llen, char *domain,
    size_t dlen)
{
	const char *at = strrchr(addr, '@');
	size_t n;

	if (at == NULL || at == addr || at[1] == '\0')
		return -1;
	n = (size_t)(at - addr);
	if (n >= llen)
		return -1;
	memcpy(local, addr, n);
	local[n] = '\0';
	if (str_copy(domain, at + 1, dlen) == -1)
		return -1;
	str_lower(domain);
	return 0;
}

static int
addr_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;	/* RFC 3461 4: "two upper case hexadecimal digits" */
}

int
address_xtext_decode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	int c;

	for (; *in != '\0'; in++) {
		unsigned char ch = (unsigned char)*in;

		if (ch == '+') {
			int hi = addr_hexval(in[1]), lo;

			if (hi < 0 || (lo = addr_hexval(in[2])) < 0)
				return -1;
			c = hi * 16 + lo;
			in += 2;
			/* printable (graphic and white space) US-ASCII */
			if (!((c >= 32 && c <= 126) || c == '\t'))
				return -1;
		} else if (ch >= 33 && ch <= 126 && ch != '=') {
			c = ch;
		} else {
			return -1;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/*
 * One esmtp-param (RFC 5321 4.1.2): keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-"), value = 1*(%d33-60 / %d62-126). Copies them
 * out and advances *pp past the parameter and its trailing spaces.
 * 1 for a parameter, 0 at the end, -1 on bad syntax.
 */
static int
addr_param_next(const char **pp, char *key, size_t klen, char *val,
    size_t vlen, int *has_val)
{
	const char *p = *pp;
	size_t k = 0, v = 0;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || (*p == '-' && k > 0)) {
		if (k + 1 >= klen)
			return -1;
		key[k++] = *p++;
	}
	key[k] = '\0';
	*has_val = 0;
	val[0] = '\0';
	if (k == 0)
		return -1;
	if (*p == '=') {
		p++;
		*has_val = 1;
		while ((unsigned char)*p >= 33 && (unsigned char)*p <= 126 &&
		    *p != '=') {
			if (v + 1 >= vlen)
				return -1;
			val[v++] = *p++;
		}
		val[v] = '\0';
		if (v == 0)
			return -1;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	*pp = p;
	return 1;
}

static int
addr_perr(struct address_perr *e, int code, const char *ecode, const char *text)
{
	e->code = code;
	e->ecode = ecode;
	e->text = text;
	return -1;
}

#define PERR_SYNTAX(e, t)	addr_perr((e), 501, "5.5.4", (t))
#define PERR_UNKNOWN(e, t)	addr_perr((e), 555, "5.5.4", (t))

/* Is an xtext value well formed (and its decoded form printable ASCII)? */
static int
addr_xtext_ok(const char *v)
{
	char tmp[ADDR_ORCPT_MAX + 1];

	return address_xtext_decode(v, tmp, sizeof(tmp)) == 0;
}

static int
addr_mail_size(const char *val, int has_val, unsigned long long limit,
    struct address_mail_params *p, struct address_perr *e)
{
	size_t n = strlen(val);

	/* RFC 1870 4: size-value ::= 1*20DIGIT */
	if (!has_val || n == 0 || n > 20 || strspn(val, "0123456789") != n)
		return PERR_SYNTAX(e, "Bad SIZE parameter");
	if (parse_ullong(val, 0, ULLONG_MAX, &p->size) == -1)
		p->size = ULLONG_MAX;
	p->has_size = 1;
	if (limit != 0 && p->size > limit)
		return addr_perr(e, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size");
	return 0;
}

static int
addr_mail_body(const char *val, struct address_mail_params *p,
    struct address_perr *e)
{
	if (str_ieq(val, "7BIT"))
		p->body = ADDR_BODY_7BIT;
	else if (str_ieq(val, "8BITMIME"))
		p->body = ADDR_BODY_8BITMIME;
	else if (str_ieq(val, "BINARYMIME"))	/* RFC 3030 3: not offered */
		return PERR_UNKNOWN(e, "BODY=BINARYMIME is not supported");
	else
		return PERR_SYNTAX(e, "Bad BODY parameter");
	return 0;
}

/* One MAIL parameter; seen tracks duplicates (RFC 3461 4.5, RFC 1869). */
static int
addr_mail_one(const char *key, const char *val, int has_val, int offered,
    unsigned long long limit, unsigned *seen, struct address_mail_params *p,
    struct address_perr *e)
{
	static const char *const names[] = { "SIZE", "BODY", "SMTPUTF8", "RET",
	    "ENVID", "AUTH" };
	size_t i;

	for (i = 0; i < NELEM(names); i++)
		if (str_ieq(key, names[i]))
			break;
	if (i == NELEM(names) || (i >= 3 && i <= 4 && !(offered & ADDR_P_DSN)) ||
	    (i == 5 && !(offered & ADDR_P_AUTH)))
		return PERR_UNKNOWN(e, "Unsupported MAIL parameter");
	if (*seen & (1u << i))
		return PERR_SYNTAX(e, "Duplicate MAIL parameter");
	*seen |= 1u << i;
	switch (i) {
	case 0:
		return addr_mail_size(val, has_val, limit, p, e);
	case 1:
		return has_val ? addr_mail_body(val, p, e) :
		    PERR_SYNTAX(e, "Bad BODY parameter");
	case 2:	/* RFC 6531 3.4: no value */
		if (has_val)
			return PERR_SYNTAX(e, "SMTPUTF8 takes no value");
		p->smtputf8 = 1;
		return 0;
	case 3:	/* RFC 3461 4.3 */
		if (has_val && str_ieq(val, "FULL"))
			p->ret = ADDR_RET_FULL;
		else if (has_val && str_ieq(val, "HDRS"))
			p->ret = ADDR_RET_HDRS;
		else
			return PERR_SYNTAX(e, "Bad RET parameter");
		return 0;
	case 4:	/* RFC 3461 4.4 */
		if (!has_val || strlen(val) > ADDR_ENVID_MAX || !addr_xtext_ok(val))
			return PERR_SYNTAX(e, "Bad ENVID parameter");
		return str_copy(p->envid, val, sizeof(p->envid)) == -1 ?
		    PERR_SYNTAX(e, "Bad ENVID parameter") : 0;
	default:	/* RFC 4954 5: AUTH=<> or AUTH=xtext */
		if (!has_val || (strcmp(val, "<>") != 0 && !addr_xtext_ok(val)) ||
		    str_copy(p->auth, val, sizeof(p->auth)) == -1)
			return PERR_SYNTAX(e, "Bad AUTH parameter");
		return 0;
	}
}

int
address_parse_mail_params(const char *s, int offered,
    unsigned long long size_limit, struct address_mail_params *p,
    struct address_perr *err)
{
	char key[32], val[ADDR_ORCPT_MAX + 2];
	unsigned seen = 0;
	int has_val, r;

	memset(p, 0, sizeof(*p));
	while ((r = addr_param_next(&s, key, sizeof(key), val, sizeof(val),
	    &has_val)) == 1)
		if (addr_mail_one(key, val, has_val, offered, size_limit, &seen,
		    p, err) == -1)
			return -1;
	if (r == -1)
		return PERR_SYNTAX(err, "Syntax error in parameters");
	return 0;
}

/* RFC 3461 4.1: NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY. */
static int
addr_notify(const char *val, int *out)
{
	static const char *const kw[] = { "NEVER", "SUCCESS", "FAILURE", "DELAY" };
	const char *p = val;
	int bits = 0;
	size_t i, n;

	while (*p != '\0') {
		n = strcspn(p, ",");
		for (i = 0; i < NELEM(kw); i++)
			if (strlen(kw[i]) == n && strncasecmp(p, kw[i], n) == 0)
				break;
		if (i == NELEM(kw) || (bits & (1 << i)))
			return -1;
		bits |= 1 << i;
		p += n;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	if (bits == 0 || ((bits & ADDR_NOTIFY_NEVER) && bits != ADDR_NOTIFY_NEVER))
		return -1;
	*out = bits;
	return 0;
}

/* RFC 3461 4.2: ORCPT=addr-type ";" xtext, up to 500 characters. */
static int
addr_orcpt(const char *val)
{
	const char *semi = strchr(val, ';');
	size_t i;

	if (semi == NULL || semi == val || strlen(val) > ADDR_ORCPT_MAX)
		return -1;
	for (i = 0; val + i < semi; i++)
		if (!addr_is_atext((unsigned char)val[i], 0))
			return -1;
	return semi[1] != '\0' && addr_xtext_ok(semi + 1) ? 0 : -1;
}

int
address_parse_rcpt_params(const char *s, int offered,
    struct address_rcpt_params *p, struct address_perr *err)
{
	char key[32], val[ADDR_ORCPT_MAX + 2];
	int has_val, r, seen_notify = 0, seen_orcpt = 0;

	memset(p, 0, sizeof(*p));
	while ((r = addr_param_next(&s, key, sizeof(key), val, sizeof(val),
	    &has_val)) == 1) {
		if ((offered & ADDR_P_DSN) && str_ieq(key, "NOTIFY")) {
			if (seen_notify++ || !has_val || addr_notify(val, &p->notify) == -1)
				return PERR_SYNTAX(err, "Bad NOTIFY parameter");
		} else if ((offered & ADDR_P_DSN) && str_ieq(key, "ORCPT")) {
			if (seen_orcpt++ || !has_val || addr_orcpt(val) == -1 ||
			    str_copy(p->orcpt, val, sizeof(p->orcpt)) == -1)
				return PERR_SYNTAX(err, "Bad ORCPT parameter");
		} else {
			return PERR_UNKNOWN(err, "Unsupported RCPT parameter");
		}
	}
	if (r == -1)
		return PERR_SYNTAX(err, "Syntax error in parameters");
	return 0;
}

const char *
address_notify_str(int notify, char *buf, size_t len)
{
	static const char *const kw[] = { "NEVER", "SUCCESS", "FAILURE", "DELAY" };
	size_t i, o = 0, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < NELEM(kw); i++) {
		if (!(notify & (1 << i)))
			continue;
		n = strlen(kw[i]);
		if (o + n + 2 > len)
			break;
		if (o > 0)
			buf[o++] = ',';
		memcpy(buf + o, kw[i], n + 1);
		o += n;
	}
	return buf;
}
