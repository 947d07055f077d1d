/*
 * qmgr_dsn_fmt: the I/O-free parts of delivery status notifications
 * (RFC 3461, RFC 3464; see qmgr_dsn.h). Runs in qmgr (as mail_owner)
 * when it writes a notice, and in the smtp client's per-request child
 * (as mail_owner, chrooted when started as root) when it checks the
 * stored DSN parameters before passing them on. Every input comes from
 * a queue file, so every input is checked here again, not trusted.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "log.h"
#include "qmgr_dsn.h"
#include "strbuf.h"
#include "util.h"

#define DSN_TEXT_MAX	800	/* a diagnostic in a 998-octet line */

/* One NOTIFY keyword of n bytes as its bit, or 0. */
static int
dsn_notify_word(const char *w, size_t n)
{
	static const struct {
		const char *kw;
		int bit;
	} kws[] = {
		{ "NEVER", DSN_NOTIFY_NEVER }, { "SUCCESS", DSN_NOTIFY_SUCCESS },
		{ "FAILURE", DSN_NOTIFY_FAILURE }, { "DELAY", DSN_NOTIFY_DELAY },
	};
	size_t i;

	for (i = 0; i < NELEM(kws); i++)
		if (strlen(kws[i].kw) == n && strncasecmp(w, kws[i].kw, n) == 0)
			return kws[i].bit;
	return 0;
}

/*
 * RFC 3461 4.1: "NEVER" alone, or one or more of SUCCESS, FAILURE and
 * DELAY, comma separated, each at most once. The bits, or -1.
 */
static int
dsn_notify_parse(const char *s)
{
	int bits = 0, b;
	size_t n;

	if (s == NULL || *s == '\0')
		return -1;
	for (;;) {
		n = strcspn(s, ",");
		if ((b = dsn_notify_word(s, n)) == 0 || (bits & b) != 0)
			return -1;
		bits |= b;
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
		return -1;
	return bits;
}

int
dsn_notify_bits(const char *notify)
{
	int bits = dsn_notify_parse(notify);

	return bits == -1 ? DSN_NOTIFY_DEFAULT : bits;
}

int
dsn_wants(const char *notify, enum dsn_action a)
{
	int bits = dsn_notify_bits(notify);

	switch (a) {
	case DSN_FAILED:
		return (bits & DSN_NOTIFY_FAILURE) != 0;
	case DSN_DELAYED:
		return (bits & DSN_NOTIFY_DELAY) != 0;
	case DSN_DELIVERED:
	case DSN_RELAYED:
		return (bits & DSN_NOTIFY_SUCCESS) != 0;
	}
	return 0;
}

int
dsn_ret_full(const char *ret, enum dsn_action a)
{
	return a == DSN_FAILED && ret != NULL && str_ieq(ret, "FULL");
}

const char *
dsn_action_word(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED:
		return "failed";
	case DSN_DELAYED:
		return "delayed";
	case DSN_DELIVERED:
		return "delivered";
	case DSN_RELAYED:
		return "relayed";
	}
	return "failed";
}

int
dsn_xtext_text(const char *xtext, char *out, size_t outlen)
{
	char tmp[DSN_ORCPT_MAX + 1];
	size_t i;

	if (outlen == 0)
		return 1;
	if (strlen(xtext) <= DSN_ORCPT_MAX &&
	    address_xtext_decode(xtext, tmp, sizeof(tmp)) == 0) {
		/* Decoded: printable US-ASCII and tab (RFC 3461 4.2). */
		for (i = 0; tmp[i] != '\0'; i++)
			if (tmp[i] == '\t')
				tmp[i] = ' ';
		if (str_copy(out, tmp, outlen) == 0)
			return 0;
	}
	log_sanitize(out, outlen, xtext, strlen(xtext));
	return 1;
}

int
dsn_orcpt_text(const char *orcpt, char *out, size_t outlen)
{
	char type[64], addr[DSN_ORCPT_MAX + 1];
	const char *semi = strchr(orcpt, ';');
	size_t n;

	if (semi == NULL)
		return -1;
	n = (size_t)(semi - orcpt);
	while (n > 0 && orcpt[n - 1] == ' ')
		n--;
	while (n > 0 && *orcpt == ' ') {
		orcpt++;
		n--;
	}
	if (n == 0 || n >= sizeof(type))
		return -1;
	log_sanitize(type, sizeof(type), orcpt, n);
	semi++;
	while (*semi == ' ')
		semi++;
	dsn_xtext_text(semi, addr, sizeof(addr));
	return str_fmt(out, outlen, "%s; %s", type, addr) == -1 ? -1 : 0;
}

void
dsn_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outlen);
}

void
dsn_duration(long long seconds, char *out, size_t outlen)
{
	static const struct {
		long long unit;
		const char *name;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" } };
	size_t i;

	for (i = 0; i < NELEM(units); i++)
		if (seconds >= units[i].unit && seconds % units[i].unit == 0)
			break;
	if (i < NELEM(units))
		str_fmt(out, outlen, "%lld %s%s", seconds / units[i].unit,
		    units[i].name, seconds == units[i].unit ? "" : "s");
	else
		str_fmt(out, outlen, "%lld second%s", seconds, seconds == 1 ? "" : "s");
}

/* The class digit a status code must have for a (0: 4 or 5). */
static char
dsn_class(enum dsn_action a)
{
	return a == DSN_DELAYED ? '4' : a == DSN_FAILED ? 0 : '2';
}

/* "X.Y.Z" of RFC 3463 2: class 2, 4 or 5, subject 0-999, detail 0-999. */
static int
dsn_code_ok(const char *p, size_t n)
{
	size_t i = 2, dots = 0, run = 0;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return 0;
	for (; i < n; i++) {
		if (p[i] == '.') {
			if (run == 0 || ++dots > 1)
				return 0;
			run = 0;
		} else if (isdigit((unsigned char)p[i]) && ++run <= 3)
			continue;
		else
			return 0;
	}
	return dots == 1 && run > 0;
}

void
dsn_status(const char *diag, enum dsn_action a, char *status, size_t slen,
    const char **rest)
{
	const char *p, *sp;
	char cls = dsn_class(a);
	size_t n;

	str_copy(status, a == DSN_FAILED ? "5.0.0" : a == DSN_DELAYED ?
	    "4.0.0" : "2.0.0", slen);
	*rest = a == DSN_FAILED ? "delivery failed" : "";
	if (diag == NULL)
		return;
	/* "CODE X.Y.Z text": the reply code is optional. */
	p = diag;
	if (strlen(p) >= 4 && isdigit((unsigned char)p[0]) && p[3] == ' ' &&
	    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]))
		p += 4;
	sp = strchr(p, ' ');
	n = sp != NULL ? (size_t)(sp - p) : strlen(p);
	if (dsn_code_ok(p, n) && n < slen &&
	    (cls == 0 ? p[0] != '2' : p[0] == cls)) {
		memcpy(status, p, n);
		status[n] = '\0';
		*rest = sp != NULL ? sp + 1 : "";
	} else if (dsn_code_ok(p, n))
		*rest = sp != NULL ? sp + 1 : "";
	else
		*rest = p;
}

int
dsn_fields_message(struct strbuf *b, const char *reporting_mta, const char *qid,
    const char *envid, time_t arrival)
{
	char date[64], id[DSN_ENVID_MAX * 3 + 1];
	int rv;

	rv = strbuf_printf(b, "Reporting-MTA: dns; %s\n", reporting_mta);
	if (rv == 0 && qid != NULL)
		rv = strbuf_printf(b, "X-Postern-Queue-ID: %s\n", qid);
	/* RFC 3461 6.3 (a): only with an ENVID, decoded from xtext. */
	if (rv == 0 && envid != NULL) {
		dsn_xtext_text(envid, id, sizeof(id));
		rv = strbuf_printf(b, "Original-Envelope-Id: %s\n", id);
	}
	if (rv == 0 && arrival > 0) {
		dsn_date(arrival, date, sizeof(date));
		rv = strbuf_printf(b, "Arrival-Date: %s\n", date);
	}
	return rv;
}

/* A reply "DDD text" (smtp diagnostic, RFC 3461 9.2) or our own text. */
static int
dsn_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && (s[3] == ' ' || s[3] == '-');
}

/* Remote-MTA: the host of "host[ip]:port" (or of "host"). */
static int
dsn_field_rmta(struct strbuf *b, const char *rmta)
{
	char host[300];
	size_t n;

	if (rmta == NULL || *rmta == '\0' || strcmp(rmta, "none") == 0 ||
	    strcmp(rmta, "local") == 0)
		return 0;
	n = strcspn(rmta, "[");
	if (n == 0)
		return 0;
	log_sanitize(host, sizeof(host), rmta, n);
	return strbuf_printf(b, "Remote-MTA: dns; %s\n", host);
}

/* Diagnostic-Code (RFC 3464 2.3.6): "smtp; reply" or "X-Postern; text". */
static int
dsn_field_diag(struct strbuf *b, const struct dsn_rcpt *r, const char *rest)
{
	char t[DSN_TEXT_MAX];

	if (*rest == '\0' || (r->diag == NULL && r->action != DSN_FAILED))
		return 0;
	log_sanitize(t, sizeof(t), rest, strlen(rest));
	return strbuf_printf(b, "Diagnostic-Code: %s; %s\n",
	    dsn_is_reply(t) ? "smtp" : "X-Postern", t);
}

int
dsn_fields_rcpt(struct strbuf *b, const struct dsn_rcpt *r)
{
	char status[16], orig[DSN_ORCPT_MAX + 80], date[64], fin[600];
	const char *rest;
	int rv;

	dsn_status(r->diag, r->action, status, sizeof(status), &rest);
	log_sanitize(fin, sizeof(fin), r->final, strlen(r->final));
	rv = strbuf_printf(b, "\nFinal-Recipient: rfc822; %s\n", fin);
	/* RFC 3461 6.3 (d): only when ORCPT was given. */
	if (rv == 0 && r->orcpt != NULL &&
	    dsn_orcpt_text(r->orcpt, orig, sizeof(orig)) == 0)
		rv = strbuf_printf(b, "Original-Recipient: %s\n", orig);
	if (rv == 0)
		rv = strbuf_printf(b, "Action: %s\nStatus: %s\n",
		    dsn_action_word(r->action), status);
	if (rv == 0)
		rv = dsn_field_rmta(b, r->rmta);
	if (rv == 0)
		rv = dsn_field_diag(b, r, rest);
	if (rv == 0 && r->last_attempt > 0) {
		dsn_date(r->last_attempt, date, sizeof(date));
		rv = strbuf_printf(b, "Last-Attempt-Date: %s\n", date);
	}
	if (rv == 0 && r->until > 0 && r->action == DSN_DELAYED) {
		dsn_date(r->until, date, sizeof(date));
		rv = strbuf_printf(b, "Will-Retry-Until: %s\n", date);
	}
	return rv;
}

int
dsn_xtext_ok(const char *s, size_t max)
{
	char tmp[DSN_ORCPT_MAX + 1];
	size_t n = strlen(s);

	return n > 0 && n <= max && n <= DSN_ORCPT_MAX &&
	    address_xtext_decode(s, tmp, sizeof(tmp)) == 0;
}

/* addr-type = atom (RFC 3461 4.2, RFC 5322 3.2.3). */
static int
dsn_atom_ok(const char *s, size_t n)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(specials, s[i]) == NULL)
			return 0;
	return 1;
}

int
dsn_orcpt_ok(const char *s)
{
	const char *semi = strchr(s, ';');

	return semi != NULL && strlen(s) <= DSN_ORCPT_MAX &&
	    dsn_atom_ok(s, (size_t)(semi - s)) &&
	    dsn_xtext_ok(semi + 1, DSN_ORCPT_MAX);
}

int
dsn_notify_ok(const char *s)
{
	return s != NULL && dsn_notify_parse(s) != -1;
}

int
dsn_ret_ok(const char *s)
{
	return s != NULL && (str_ieq(s, "FULL") || str_ieq(s, "HDRS"));
}

int
dsn_xtext_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c >= '!' && c <= '~' && c != '+' && c != '=') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '+';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return 0;
}
