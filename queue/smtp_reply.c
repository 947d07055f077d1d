/*
 * smtp_reply: the parsers of what a remote SMTP server says to the
 * outbound smtp client: reply lines and whole (multiline) replies
 * (RFC 5321 4.2, 4.2.1), enhanced status codes (RFC 3463) and the EHLO
 * keywords (RFC 5321 4.1.1.1). Runs in the smtp per-request child, as
 * mail_owner (chrooted to the queue directory when started as root);
 * every byte it parses comes from the network.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp.h"
#include "stream.h"
#include "strbuf.h"
#include "util.h"

int
smtp_reply_line(const char *l, size_t n, int *code)
{
	if (n < 5 || l[n - 2] != '\r' || l[n - 1] != '\n')
		return -1;
	if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9')
		return -1;
	if (memchr(l, '\0', n) != NULL)
		return -1;
	*code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (n == 5)
		return 0;
	if (l[3] == '-')
		return 1;
	return l[3] == ' ' ? 0 : -1;
}

/* Append line's text (CRLF already cut at n) to the one-line reply. */
static void
smtp_reply_join(char *reply, size_t replylen, const char *line, size_t n)
{
	size_t used = strlen(reply);

	if (used == 0)
		log_sanitize(reply, replylen, line, n);
	else if (used + 2 < replylen && n > 3) {
		reply[used++] = ' ';
		reply[used] = '\0';
		log_sanitize(reply + used, replylen - used, line + 4, n - 4);
	}
}

int
smtp_reply_read(struct stream *st, int *code, char *reply, size_t replylen,
    struct strbuf *lines)
{
	char line[SMTP_REPLY_LINE_MAX + 1];
	ssize_t n;
	int c, first = -1, more, k;

	strbuf_reset(lines);
	reply[0] = '\0';
	for (k = 0; k < SMTP_REPLY_LINES; k++) {
		n = stream_getline(st, line, SMTP_REPLY_LINE_MAX);
		if (n == STREAM_EOF || n == STREAM_ERR) {
			str_copy(reply, n == STREAM_EOF ? "lost connection" :
			    errno == ETIMEDOUT ? "timeout" : "read error", replylen);
			return -1;
		}
		/* RFC 5321 4.2.1: every line of a reply has the same code. */
		if (n == STREAM_TOOLONG || (more = smtp_reply_line(line, (size_t)n, &c)) == -1 ||
		    (first != -1 && c != first)) {
			str_copy(reply, "malformed reply", replylen);
			return -1;
		}
		first = c;
		line[n - 2] = '\0';
		strbuf_printf(lines, "%s\n", n > 5 ? line + 4 : "");
		smtp_reply_join(reply, replylen, line, (size_t)n - 2);
		if (!more) {
			*code = c;
			return 0;
		}
	}
	str_copy(reply, "malformed reply (too many lines)", replylen);
	return -1;
}

void
smtp_reply_enhanced(int code, const char *reply, char *out, size_t outlen)
{
	const char *p = reply + 4;
	size_t a, b, c;

	str_fmt(out, outlen, "%d.0.0", code / 100);
	/* RFC 3463 2: class.subject.detail, 1-3 digits each after the class. */
	if (strlen(reply) < 9 || p[0] != '0' + code / 100 || p[1] != '.')
		return;
	a = strspn(p + 2, "0123456789");
	if (a < 1 || a > 3 || p[2 + a] != '.')
		return;
	b = strspn(p + 3 + a, "0123456789");
	c = 3 + a + b;
	if (b < 1 || b > 3 || (p[c] != ' ' && p[c] != '\0') || c >= outlen)
		return;
	memcpy(out, p, c);
	out[c] = '\0';
}

/* Whether the AUTH parameters (space-separated) list mechanism m. */
static int
smtp_ehlo_mech(const char *p, const char *m)
{
	size_t len = strlen(m), n;

	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n == len && strncasecmp(p, m, len) == 0)
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

/* One EHLO keyword line (w, NUL-terminated) into caps. */
static void
smtp_ehlo_word(const char *w, struct smtp_caps *caps)
{
	unsigned long long v;

	if (str_ieq(w, "PIPELINING"))
		caps->pipelining = 1;
	else if (str_ieq(w, "STARTTLS"))
		caps->starttls = 1;
	else if (str_ieq(w, "DSN"))
		caps->dsn = 1;
	else if (str_ieq(w, "8BITMIME"))
		caps->eightbit = 1;
	else if (str_ieq(w, "SMTPUTF8"))
		caps->utf8 = 1;
	else if (str_iprefix(w, "SIZE") && (w[4] == '\0' || w[4] == ' ')) {
		caps->has_size = 1;
		/* RFC 1870 4: "SIZE" or "SIZE number"; 0 means no limit. */
		if (w[4] == ' ' && parse_ullong(w + 5, 0, 1ULL << 50, &v) == 0)
			caps->sizemax = v;
	} else if (str_iprefix(w, "AUTH ")) {
		caps->auth_plain = smtp_ehlo_mech(w + 5, "PLAIN");
		caps->auth_login = smtp_ehlo_mech(w + 5, "LOGIN");
	}
}

void
smtp_ehlo_caps(const char *lines, struct smtp_caps *caps)
{
	const char *p = lines != NULL ? lines : "";
	const char *e;
	char w[SMTP_REPLY_LINE_MAX];
	size_t len;

	/* RFC 3207 4.2: a new EHLO replaces everything, the SIZE limit too. */
	caps->sizemax = 0;
	caps->pipelining = caps->starttls = caps->dsn = caps->eightbit = 0;
	caps->utf8 = caps->auth_plain = caps->auth_login = caps->has_size = 0;
	for (p = strchr(p, '\n'); p != NULL && p[1]; p = e) {	/* skip line 1 */
		p++;
		e = strchr(p, '\n');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len >= sizeof(w))
			len = sizeof(w) - 1;
		memcpy(w, p, len);
		w[len] = '\0';
		smtp_ehlo_word(w, caps);
		if (e == NULL)
			break;
	}
}
