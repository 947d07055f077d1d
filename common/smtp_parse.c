/*
 * smtp_parse: command splitting, the DATA line classifier, BDAT line-end
 * normalisation and the header scanner of the SMTP server engine. Pure
 * functions over bytes the engine has read; they run in smtpd/submitd
 * session processes (unprivileged) and in the unit tests and fuzzers.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"

int
smtp_cmd_split(char *line, size_t len, char **verb, char **arg)
{
	size_t i;
	char *p;

	/* RFC 5321 2.3.8: lines end in CRLF; a bare LF is tolerated here. */
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 32 && c != '\t') || c == 127)
			return -1;	/* NUL, bare CR, other controls */
	}
	line[len] = '\0';
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0 || line[0] == ' ' || line[0] == '\t')
		return -1;
	*verb = line;
	if ((p = strchr(line, ' ')) == NULL) {
		*arg = line + len;
		return 0;
	}
	*p++ = '\0';
	while (*p == ' ')
		p++;
	*arg = p;
	return 0;
}

const char *
smtp_cmd_keyword(const char *arg, const char *keyword)
{
	size_t n = strlen(keyword);

	if (strncasecmp(arg, keyword, n) != 0)
		return NULL;
	return arg + n;
}

void
smtp_dot_init(struct smtp_dot *d)
{
	memset(d, 0, sizeof(*d));
	d->bol_crlf = 1;	/* the first line counts as after CRLF */
}

void
smtp_dot_lost(struct smtp_dot *d)
{
	d->toolong = 1;
	d->lost_end = 1;
	d->bol_crlf = 0;
	d->linelen = 0;
}

/* A line ended: check its length (RFC 5321 4.5.3.1.6) and start the next. */
static void
smtp_dot_eol(struct smtp_dot *d, size_t termlen, int crlf)
{
	if (d->linelen + termlen > SMTP_TEXT_MAX)
		d->toolong = 1;
	d->linelen = 0;
	d->bol_crlf = crlf;
}

enum smtp_dot_result
smtp_dot_line(struct smtp_dot *d, const char *in, size_t n, char *out,
    size_t *outlen)
{
	size_t i = 0, o = 0;

	*outlen = 0;
	/* RFC 5321 4.1.1.4: <CRLF>.<CRLF>, nothing else. */
	if ((d->bol_crlf || d->lost_end) && n == 3 && memcmp(in, ".\r\n", 3) == 0)
		return d->lost_end ? SMTP_DOT_AMBIGUOUS : SMTP_DOT_END;
	d->lost_end = 0;
	while (i < n) {
		/* RFC 5321 4.5.2: drop a leading "." when more follows on the line. */
		if (d->linelen == 0 && in[i] == '.' && i + 1 < n &&
		    in[i + 1] != '\r' && in[i + 1] != '\n')
			i++;
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
			smtp_dot_eol(d, 2, 1);
		} else if (in[i] == '\r' || in[i] == '\n') {
			/* A bare CR or bare LF: a line break, never an end. */
			out[o++] = '\n';
			i++;
			smtp_dot_eol(d, 1, 0);
		} else {
			out[o++] = in[i++];
			d->linelen++;
			d->bol_crlf = 0;
		}
	}
	*outlen = o;
	return SMTP_DOT_MORE;
}

void
smtp_crlf_init(struct smtp_crlf *c)
{
	c->cr = 0;
}

size_t
smtp_crlf_feed(struct smtp_crlf *c, const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (c->cr) {
			c->cr = 0;
			out[o++] = '\n';
			if (in[i] == '\n')
				continue;	/* CR LF */
		}
		if (in[i] == '\r')
			c->cr = 1;
		else
			out[o++] = in[i];
	}
	return o;
}

size_t
smtp_crlf_finish(struct smtp_crlf *c, char *out)
{
	if (!c->cr)
		return 0;
	c->cr = 0;
	out[0] = '\n';
	return 1;
}

void
smtp_hdrscan_init(struct smtp_hdrscan *h)
{
	memset(h, 0, sizeof(*h));
	h->in_header = 1;
	h->bol = 1;
	h->match = -1;
}

size_t
smtp_hdrscan_feed(struct smtp_hdrscan *h, const char *buf, size_t n)
{
	static const char rcvd[] = "received:";
	size_t i;

	for (i = 0; i < n && h->in_header; i++) {
		unsigned char c = (unsigned char)buf[i];

		h->off++;
		if (h->bol) {
			h->bol = 0;
			if (c == '\n') {
				h->in_header = 0;	/* RFC 5322 2.1: the empty line */
				return i;
			}
			h->match = 0;
		}
		if (h->match >= 0) {
			if (tolower(c) == rcvd[h->match]) {
				if (++h->match == (int)sizeof(rcvd) - 1) {
					h->received++;
					h->match = -1;
				}
			} else {
				h->match = -1;
			}
		}
		if (c == '\n')
			h->bol = 1;
	}
	return n;
}
