/*
 * imap_subject: the base subject (RFC 5256 2.1) and the sent date (RFC
 * 5256 2.2) that SORT and THREAD order and group messages by. Pure
 * computation in imapd's session process (as the mail owner).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"
#include "imap_search_int.h"

struct subj {
	const char	*s;
	size_t		 b, e;	/* the text left: s[b..e) */
	int		 isreply;
};

static int
ci_prefix(const struct subj *x, size_t at, const char *lit)
{
	size_t n = strlen(lit);

	return at + n <= x->e && strncasecmp(x->s + at, lit, n) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP: the end of one at p, or 0. */
static size_t
blob_end(const struct subj *x, size_t p)
{
	if (p >= x->e || x->s[p] != '[')
		return 0;
	for (p++; p < x->e && x->s[p] != ']'; p++)
		if (x->s[p] == '[' || x->s[p] == '\0')
			return 0;
	if (p >= x->e)
		return 0;
	for (p++; p < x->e && x->s[p] == ' '; p++)
		;
	return p;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at p: its end or 0. */
static size_t
refwd_end(const struct subj *x, size_t p)
{
	size_t q;

	if (ci_prefix(x, p, "re"))
		p += 2;
	else if (ci_prefix(x, p, "fwd"))
		p += 3;
	else if (ci_prefix(x, p, "fw"))
		p += 2;
	else
		return 0;
	while (p < x->e && x->s[p] == ' ')
		p++;
	if ((q = blob_end(x, p)) != 0)
		p = q;
	return p < x->e && x->s[p] == ':' ? p + 1 : 0;
}

/* (2) subj-trailer = "(fwd)" / WSP, from the end, as long as one matches. */
static void
strip_trailers(struct subj *x)
{
	for (;;) {
		if (x->e > x->b && x->s[x->e - 1] == ' ')
			x->e--;
		else if (x->e - x->b >= 5 && strncasecmp(x->s + x->e - 5, "(fwd)", 5) == 0) {
			x->e -= 5;
			x->isreply = 1;
		} else
			return;
	}
}

/* (3) subj-leader = (*subj-blob subj-refwd) / WSP. 1 when one was taken off. */
static int
strip_leader(struct subj *x)
{
	size_t p = x->b, q;

	if (p < x->e && x->s[p] == ' ') {
		x->b++;
		return 1;
	}
	while ((q = blob_end(x, p)) != 0)
		p = q;
	if ((q = refwd_end(x, p)) == 0)
		return 0;
	x->b = q;
	x->isreply = 1;
	return 1;
}

/* (4) a leading subj-blob, when a non-empty subj-base is left after it. */
static int
strip_blob(struct subj *x)
{
	size_t q = blob_end(x, x->b), p;

	if (q == 0)
		return 0;
	for (p = q; p < x->e; p++)
		if (x->s[p] != ' ')
			break;
	if (p == x->e)
		return 0;
	x->b = q;
	return 1;
}

static void
base_steps(struct subj *x)
{
	for (;;) {
		strip_trailers(x);
		for (;;) {
			int n = 0;

			while (strip_leader(x))
				n++;
			n += strip_blob(x);
			if (n == 0)
				break;
		}
		/* (6) "[fwd:" ... "]" */
		if (x->e - x->b >= 6 && ci_prefix(x, x->b, "[fwd:") && x->s[x->e - 1] == ']') {
			x->b += 5;
			x->e--;
			x->isreply = 1;
			continue;
		}
		return;
	}
}

/* (1) tabs and line ends to spaces, runs of spaces to one. */
static int
squeeze(const char *s, size_t len, struct strbuf *out)
{
	size_t i;
	int sp = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && sp)
			continue;
		sp = c == ' ';
		if (strbuf_putc(out, c) == -1)
			return -1;
	}
	return 0;
}

int
search_base_subject(const char *s, size_t len, struct strbuf *out, int *isreply)
{
	struct strbuf w;
	struct subj x;
	int r;

	strbuf_init(&w, SEARCH_STR_MAX);
	if (squeeze(s, len, &w) == -1) {
		strbuf_free(&w);
		return -1;
	}
	x.s = w.data != NULL ? w.data : "";
	x.b = 0;
	x.e = w.len;
	x.isreply = 0;
	base_steps(&x);
	r = strbuf_append(out, x.s + x.b, x.e - x.b);
	if (isreply != NULL)
		*isreply = x.isreply;
	strbuf_free(&w);
	return r;
}

int
imap_base_subject(const char *subject, size_t len, struct strbuf *out)
{
	struct strbuf d;
	int r;

	strbuf_init(&d, SEARCH_STR_MAX);
	r = mime_hdr_decode(subject, len, &d);
	if (r == 0)
		r = search_base_subject(d.data != NULL ? d.data : "", d.len, out, NULL);
	strbuf_free(&d);
	return r;
}

time_t
search_sent_date(struct search_msg *m)
{
	time_t t;
	int off;

	if (search_msg_header(m, "Date", &m->tmp2) == 1 &&
	    imap_date_parse(m->tmp2.data, m->tmp2.len, &t, &off) == 0)
		return t;
	return m->ops->internaldate(m->ops->ctx, m->seq);
}
