/*
 * checks_scan: the streaming content-check matcher. The SMTP engine
 * (common/smtp_msg.c) feeds it the message as it arrives, in any chunks;
 * it holds back at most one logical header line (or one body line),
 * matches it and passes it on, edited, to the output function. A small
 * state machine follows the multipart boundaries (RFC 2046 5.1.1) of the
 * message and of nested parts up to CHECKS_DEPTH_MAX levels, so that
 * MIME part headers go to mime_header_checks and everything else in the
 * body to body_checks, each body segment up to body_checks_size_limit
 * bytes. Runs in the smtpd/submitd session process, unprivileged; the
 * content is the peer's, so every line is bounded and a regex that hits
 * a PCRE2 limit is logged, treated as not matching, and skipped for the
 * rest of the message (bounded time per message).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checks_int.h"
#include "log.h"
#include "regex.h"
#include "strbuf.h"
#include "util.h"

#define CHECKS_HOLD_MAX		(64 * 1024)	/* one logical header or body line */
#define CHECKS_BND_MAX		200		/* RFC 2046 5.1.1: 70; be lenient */
#define CHECKS_LOG_SUBJ		200

enum checks_state { CS_HDR, CS_MIMEHDR, CS_BODY };

struct checks_scan {
	const struct checks	*c;
	char			*logid;
	checks_out_fn		 out;
	void			*arg;
	enum checks_state	 state;
	struct strbuf		 hold;		/* pending logical header + the current line */
	size_t			 cur;		/* where the current physical line starts */
	int			 skip_line;	/* pass bytes unmatched up to the next LF */
	int			 skip_hdr;	/* ... and the continuations of that header */
	struct strbuf		 unf;		/* the unfolded header */
	size_t			 seg_bytes;	/* body bytes of this segment inspected */
	char			 bnd[CHECKS_DEPTH_MAX][CHECKS_BND_MAX + 1];
	int			 depth;
	char			 next_bnd[CHECKS_BND_MAX + 1];	/* from this header's Content-Type */
	enum checks_action	 verdict;
	char			 vtext[CHECKS_TEXT_MAX];
	unsigned char		*off[CHECKS_NKINDS];	/* rules skipped after a limit hit */
};

struct checks_scan *
checks_scan_new(const struct checks *c, const char *logid, checks_out_fn out,
    void *arg)
{
	struct checks_scan *s;
	int k;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->c = c;
	s->out = out;
	s->arg = arg;
	s->state = CS_HDR;
	strbuf_init(&s->hold, CHECKS_HOLD_MAX);
	strbuf_init(&s->unf, CHECKS_HOLD_MAX);
	if ((s->logid = strdup(logid != NULL ? logid : "")) == NULL)
		goto fail;
	for (k = 0; k < CHECKS_NKINDS; k++)
		if (c->t[k].n > 0 && (s->off[k] = calloc(c->t[k].n, 1)) == NULL)
			goto fail;
	return s;
fail:
	checks_scan_free(s);
	return NULL;
}

void
checks_scan_free(struct checks_scan *s)
{
	int k;

	if (s == NULL)
		return;
	strbuf_free(&s->hold);
	strbuf_free(&s->unf);
	for (k = 0; k < CHECKS_NKINDS; k++)
		free(s->off[k]);
	free(s->logid);
	free(s);
}

enum checks_action
checks_scan_verdict(const struct checks_scan *s, const char **text)
{
	if (text != NULL)
		*text = s->vtext;
	return s->verdict;
}

/* Append src to the text, control characters made spaces (a reply or a header line). */
static void
checks_put_text(char *dst, size_t *n, size_t max, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && *n + 1 < max; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[(*n)++] = (ch < 32 && ch != '\t') || ch == 127 ? ' ' : (char)ch;
	}
	dst[*n] = '\0';
}

/* The rule's text with $1..$9, ${n} and $$ replaced from the match on subj. */
static void
checks_expand(const struct checks_rule *r, const char *subj, size_t len,
    char *dst, size_t max)
{
	const char *p = r->text;
	size_t n = 0, st, en;
	char err[256];
	unsigned g;

	dst[0] = '\0';
	if (!r->subst) {
		checks_put_text(dst, &n, max, p, strlen(p));
		return;
	}
	while (*p != '\0') {
		if (*p != '$') {
			checks_put_text(dst, &n, max, p++, 1);
			continue;
		}
		p++;
		if (*p == '$') {
			checks_put_text(dst, &n, max, p++, 1);
			continue;
		}
		if (*p == '{')
			p++;
		g = (unsigned)(*p++ - '0');	/* checks_parse made sure it is a digit */
		if (*p == '}')
			p++;
		if (regex_match_group(r->re, subj, len, g, &st, &en, err, sizeof(err)) == 1)
			checks_put_text(dst, &n, max, subj + st, en - st);
	}
}

static const char *const checks_what[CHECKS_NKINDS] = { "header", "mime header", "body" };

/* The first rule of table kind that matches subj, or NULL. */
static const struct checks_rule *
checks_match(struct checks_scan *s, enum checks_kind kind, const char *subj,
    size_t len)
{
	const struct checks_table *t = &s->c->t[kind];
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < t->n; i++) {
		if (s->off[kind][i])
			continue;
		rc = regex_match(t->rule[i].re, subj, len, err, sizeof(err));
		if (rc == -1) {
			/* A hostile pattern or message: never a hang, never a loss. */
			log_err("%s: %s:%u: %s; treated as no match, rule skipped for "
			    "the rest of this message", s->logid, t->rule[i].file,
			    t->rule[i].line, err);
			s->off[kind][i] = 1;
			continue;
		}
		if ((rc == 1) != t->rule[i].negate)
			return &t->rule[i];
	}
	return NULL;
}

/* Log one match as Postfix does ("QID: warning: header Subject: x: text"). */
static void
checks_log(const struct checks_scan *s, enum checks_kind kind,
    const struct checks_rule *r, const char *subj, size_t len, const char *text)
{
	char line[CHECKS_LOG_SUBJ + 4], t[CHECKS_TEXT_MAX + 4], act[16];

	if (r->action == CHECKS_DUNNO)
		return;
	str_copy(act, r->action == CHECKS_WARN ? "warning" : checks_action_name(r->action),
	    sizeof(act));
	str_lower(act);
	log_info("%s: %s: %s %s (%s:%u)%s%s", s->logid, act, checks_what[kind],
	    log_sanitize(line, sizeof(line), subj, len), r->file, r->line,
	    *text != '\0' ? ": " : "", log_sanitize(t, sizeof(t), text, strlen(text)));
}

/*
 * Match one logical line (subject subj, stored form raw) against table
 * kind and pass it on with the first matching rule's action applied.
 */
static void
checks_apply(struct checks_scan *s, enum checks_kind kind, const char *subj,
    size_t len, const char *raw, size_t rawlen)
{
	const struct checks_rule *r = NULL;
	char text[CHECKS_TEXT_MAX];
	int nl = rawlen > 0 && raw[rawlen - 1] == '\n';

	if (s->c->t[kind].n > 0 && s->verdict != CHECKS_REJECT)
		r = checks_match(s, kind, subj, len);
	if (r == NULL) {
		s->out(s->arg, raw, rawlen);
		return;
	}
	checks_expand(r, subj, len, text, sizeof(text));
	checks_log(s, kind, r, subj, len, text);
	switch (r->action) {
	case CHECKS_REJECT:
	case CHECKS_DISCARD:
	case CHECKS_HOLD:
		if (r->action > s->verdict) {
			s->verdict = r->action;
			str_copy(s->vtext, text, sizeof(s->vtext));
		}
		s->out(s->arg, raw, rawlen);
		break;
	case CHECKS_PREPEND:
		s->out(s->arg, text, strlen(text));
		s->out(s->arg, "\n", 1);
		s->out(s->arg, raw, rawlen);
		break;
	case CHECKS_REPLACE:
		s->out(s->arg, text, strlen(text));
		s->out(s->arg, "\n", nl);
		break;
	case CHECKS_IGNORE:
		break;
	default:
		s->out(s->arg, raw, rawlen);
		break;
	}
}

/* RFC 2045 5.1: the boundary parameter of a multipart Content-Type value. */
static void
checks_boundary(struct checks_scan *s, const char *v, size_t len)
{
	const char *end = v + len, *p;
	size_t n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if ((size_t)(end - v) < 10 || strncasecmp(v, "multipart/", 10) != 0)
		return;
	for (p = v; p + 9 <= end; p++) {
		if (strncasecmp(p, "boundary=", 9) != 0 ||
		    (p > v && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t'))
			continue;
		p += 9;
		if (p < end && *p == '"') {
			p++;
			n = 0;
			while (p + n < end && p[n] != '"')
				n++;
		} else
			n = strcspn(p, "; \t\r");
		if (p + n > end)
			n = (size_t)(end - p);
		if (n > 0 && n <= CHECKS_BND_MAX) {
			memcpy(s->next_bnd, p, n);
			s->next_bnd[n] = '\0';
		}
		return;
	}
}

/* A complete logical header in raw: unfold (RFC 5322 2.2.3), sniff, match. */
static void
checks_header(struct checks_scan *s, const char *raw, size_t rawlen)
{
	enum checks_kind kind = s->state == CS_HDR ? CHECKS_HEADER : CHECKS_MIME;
	size_t i;

	strbuf_reset(&s->unf);
	for (i = 0; i < rawlen; i++) {
		if (raw[i] == '\n' || (raw[i] == '\r' && i + 1 < rawlen && raw[i + 1] == '\n'))
			continue;
		if (strbuf_putc(&s->unf, raw[i]) == -1)
			break;	/* cannot happen: unf is as large as hold */
	}
	if (s->unf.len >= 13 && strncasecmp(s->unf.data, "Content-Type:", 13) == 0)
		checks_boundary(s, s->unf.data + 13, s->unf.len - 13);
	checks_apply(s, kind, s->unf.data != NULL ? s->unf.data : "", s->unf.len,
	    raw, rawlen);
}

/* The empty line after a header section: the body (segment) starts. */
static void
checks_end_headers(struct checks_scan *s)
{
	if (s->next_bnd[0] != '\0' && s->depth < CHECKS_DEPTH_MAX)
		str_copy(s->bnd[s->depth++], s->next_bnd, sizeof(s->bnd[0]));
	s->next_bnd[0] = '\0';
	s->state = CS_BODY;
	s->seg_bytes = 0;
}

/* "--boundary" (part) or "--boundary--" (close) of an open multipart? */
static int
checks_boundary_line(struct checks_scan *s, const char *l, size_t len)
{
	size_t n;
	int i;

	while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r' ||
	    l[len - 1] == ' ' || l[len - 1] == '\t'))
		len--;	/* RFC 2046 5.1.1: transport padding */
	if (len < 3 || l[0] != '-' || l[1] != '-')
		return 0;
	for (i = s->depth - 1; i >= 0; i--) {
		n = strlen(s->bnd[i]);
		if (len < 2 + n || memcmp(l + 2, s->bnd[i], n) != 0)
			continue;
		if (len == 2 + n) {
			s->depth = i + 1;
			s->state = CS_MIMEHDR;
			s->next_bnd[0] = '\0';
			return 1;
		}
		if (len == 4 + n && l[2 + n] == '-' && l[3 + n] == '-') {
			s->depth = i;
			s->state = CS_BODY;	/* the epilogue */
			s->seg_bytes = 0;
			return 1;
		}
	}
	return 0;
}

static void
checks_body_line(struct checks_scan *s, const char *l, size_t len)
{
	size_t sl = len;

	if (s->depth > 0 && checks_boundary_line(s, l, len)) {
		s->out(s->arg, l, len);
		return;
	}
	if (s->c->t[CHECKS_BODY].n == 0 || s->seg_bytes >= s->c->body_limit) {
		s->out(s->arg, l, len);
		return;
	}
	s->seg_bytes += len;
	if (sl > 0 && l[sl - 1] == '\n')
		sl--;
	if (sl > 0 && l[sl - 1] == '\r')
		sl--;
	checks_apply(s, CHECKS_BODY, l, sl, l, len);
}

/* Is the line "name:" (RFC 5322 2.2: printable, no space, then a colon)? */
static int
checks_is_field_line(const char *l, size_t len)
{
	size_t i;

	for (i = 0; i < len && l[i] > 32 && l[i] < 127 && l[i] != ':'; i++)
		;
	return i > 0 && i < len && l[i] == ':';
}

/* A complete line (hold[cur..len)) in a header section. */
static void
checks_header_line(struct checks_scan *s)
{
	const char *l = s->hold.data + s->cur;
	size_t len = s->hold.len - s->cur;

	if (*l == ' ' || *l == '\t') {
		if (s->skip_hdr) {
			s->out(s->arg, l, len);
			s->hold.len = s->cur;
		} else
			s->cur = s->hold.len;	/* a continuation: part of the header */
		return;
	}
	s->skip_hdr = 0;
	if (s->cur > 0) {
		checks_header(s, s->hold.data, s->cur);
		strbuf_consume(&s->hold, s->cur);
		s->cur = 0;
		l = s->hold.data;
	}
	if (len == 1 || (len == 2 && l[0] == '\r') || !checks_is_field_line(l, len)) {
		/* The end of the header section; a non-field line starts the body. */
		checks_end_headers(s);
		if (len == 1 || (len == 2 && l[0] == '\r'))
			s->out(s->arg, l, len);
		else
			checks_body_line(s, l, len);
		strbuf_reset(&s->hold);
		return;
	}
	s->cur = s->hold.len;
}

/* hold has a complete line (or the last bytes of the message). */
static void
checks_line(struct checks_scan *s)
{
	if (s->state == CS_BODY) {
		checks_body_line(s, s->hold.data, s->hold.len);
		strbuf_reset(&s->hold);
		s->cur = 0;
	} else
		checks_header_line(s);
}

/*
 * A line too long to hold: pass what is held on unmatched, then the rest
 * of the line. next is the byte that did not fit. A pending header is
 * still matched when the current line is not one of its continuations.
 */
static void
checks_overflow(struct checks_scan *s, char next)
{
	char first = s->cur < s->hold.len ? s->hold.data[s->cur] : next;

	if (s->state != CS_BODY && s->cur > 0 && first != ' ' && first != '\t') {
		checks_header(s, s->hold.data, s->cur);
		strbuf_consume(&s->hold, s->cur);
	}
	log_info("%s: %s line over %d bytes: not checked", s->logid,
	    s->state == CS_BODY ? "body" : "header", CHECKS_HOLD_MAX);
	s->out(s->arg, s->hold.data, s->hold.len);
	strbuf_reset(&s->hold);
	s->cur = 0;
	s->skip_line = 1;
	s->skip_hdr = s->state != CS_BODY;
}

/* Nothing left to match in the rest of the message: pass it through. */
static int
checks_passthrough(const struct checks_scan *s)
{
	if (s->verdict == CHECKS_REJECT)
		return 1;
	return s->state == CS_BODY && s->depth == 0 &&
	    (s->c->t[CHECKS_BODY].n == 0 || s->seg_bytes >= s->c->body_limit);
}

void
checks_scan_feed(struct checks_scan *s, const char *buf, size_t n)
{
	const char *nl;
	size_t seg;

	while (n > 0) {
		if (s->hold.len == 0 && !s->skip_line && checks_passthrough(s)) {
			s->out(s->arg, buf, n);
			return;
		}
		nl = memchr(buf, '\n', n);
		seg = nl != NULL ? (size_t)(nl - buf) + 1 : n;
		if (s->skip_line)
			s->out(s->arg, buf, seg);
		else if (strbuf_append(&s->hold, buf, seg) == -1) {
			checks_overflow(s, *buf);
			continue;	/* the same bytes again, now skipped */
		}
		buf += seg;
		n -= seg;
		if (nl == NULL)
			continue;
		if (s->skip_line)
			s->skip_line = 0;
		else
			checks_line(s);
	}
}

void
checks_scan_end(struct checks_scan *s)
{
	if (s->hold.len > s->cur)
		checks_line(s);	/* a last line without LF */
	if (s->state != CS_BODY && s->cur > 0)
		checks_header(s, s->hold.data, s->cur);
	strbuf_reset(&s->hold);
	s->cur = 0;
}
