/*
 * imap_fetch: FETCH and UID FETCH (RFC 3501 6.4.5 / 7.4.2, RFC 9051 6.4.5
 * / 7.5.2, BINARY RFC 3516, CONDSTORE/QRESYNC RFC 7162 3.1.4 and 3.2.6)
 * over the selected folder, plus the sequence-set resolution the other
 * message commands share (imap_fetch.h). Responses are streamed one
 * message at a time: cheap items come from the snapshot (struct
 * imap_msg), the file is read once per message through the session's
 * cache and parsed for MIME at most once, and literals go to the stream
 * straight from the message buffer. Runs in imapd's session process as
 * the mail owner, cwd = the user's Maildir.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap.h"
#include "imap_fetch.h"
#include "imap_mime.h"
#include "log.h"
#include "stream.h"
#include "util.h"

#define FETCH_BUF_MAX	((size_t)1 << 30)	/* bounded by the message anyway */

struct fetch_ctx {
	struct imap_session		*s;
	const struct imap_fetch_req	*req;
	int				 uid;
	struct strbuf			 line;	/* response text up to the next literal */
	struct strbuf			 tmp;	/* HEADER.FIELDS, BINARY */
	const char			*buf;	/* the message, CRLF */
	size_t				 len;
	size_t				 hdrlen;
	struct imap_mime		 mime;
	int				 have_mime;
	int				 expunged;	/* a message could not be read */
	int				 unknown_cte;	/* a BINARY part we cannot decode */
	int				 first;		/* no item written yet in this response */
};

size_t
imap_fetch_lower_uid(struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->sel.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->sel.msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Indexes of the messages whose UIDs are in set, appended to idx. */
static size_t
resolve_uids(struct imap_session *s, const struct imap_seqset *set, size_t *idx)
{
	size_t r, i, n = 0;

	for (r = 0; r < set->n; r++)
		for (i = imap_fetch_lower_uid(s, set->r[r].lo);
		    i < s->sel.n && s->sel.msgs[i].uid <= set->r[r].hi; i++)
			idx[n++] = i;
	return n;
}

int
imap_fetch_resolve(struct imap_session *s, const struct imap_arg *arg, int uid,
    size_t **idx, size_t *n, char *err, size_t errlen)
{
	const struct imap_folder *f = &s->sel;
	struct imap_seqset set;
	size_t r, k = 0;
	uint32_t star = uid ? (f->n ? f->msgs[f->n - 1].uid : 0) : (uint32_t)f->n;

	*idx = NULL;
	*n = 0;
	imap_seqset_init(&set);
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(&set, arg->str, arg->len, star) == -1) {
		snprintf(err, errlen, "Invalid sequence set");
		imap_seqset_free(&set);
		return -1;
	}
	if (!set.dollar && !uid && f->n == 0 && memchr(arg->str, '*', arg->len) != NULL) {
		/* "1:*" in an empty mailbox: nothing, as Cyrus and Dovecot answer */
		imap_seqset_free(&set);
		return 0;
	}
	if (!set.dollar && !uid && set.n > 0 &&
	    (set.r[0].lo == 0 || set.r[set.n - 1].hi > f->n)) {
		/* RFC 9051 6.4.5 / 3501 9: a sequence number past EXISTS */
		snprintf(err, errlen, "Invalid message sequence number");
		imap_seqset_free(&set);
		return -1;
	}
	if (f->n > 0)
		*idx = xreallocarray(NULL, f->n, sizeof(**idx));
	if (set.dollar)		/* RFC 5182: the saved result holds UIDs */
		k = f->n ? resolve_uids(s, &s->searchres, *idx) : 0;
	else if (uid)
		k = f->n ? resolve_uids(s, &set, *idx) : 0;
	else
		for (r = 0; r < set.n; r++) {
			uint32_t v;
			for (v = set.r[r].lo; v <= set.r[r].hi && k < f->n; v++)
				(*idx)[k++] = v - 1;
		}
	imap_seqset_free(&set);
	*n = k;
	if (k == 0) {
		free(*idx);
		*idx = NULL;
	}
	return 0;
}

/* date-time (RFC 3501 9): "dd-Mon-yyyy hh:mm:ss +zzzz" in local time. */
static int
put_date(struct strbuf *out, time_t t)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	if (localtime_r(&t, &tm) == NULL || tm.tm_mon < 0 || tm.tm_mon > 11)
		return strbuf_puts(out, "\"01-Jan-1970 00:00:00 +0000\"");
	off = tm.tm_gmtoff / 60;
	return strbuf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"",
	    tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* The separator before an item: nothing before the first one. */
static int
sp(struct fetch_ctx *c)
{
	if (c->first) {
		c->first = 0;
		return 0;
	}
	return strbuf_putc(&c->line, ' ');
}

/* The text so far, then a literal header and its bytes, straight to the stream. */
static int
put_literal(struct fetch_ctx *c, const char *data, size_t len, int literal8)
{
	if (strbuf_printf(&c->line, " %s{%zu}\r\n", literal8 ? "~" : "", len) == -1 ||
	    stream_write(c->s->s, c->line.data, c->line.len) == -1 ||
	    stream_write(c->s->s, data, len) == -1)
		return -1;
	strbuf_reset(&c->line);
	return 0;
}

/* Where the header ends (after its blank line; the whole message when none). */
static size_t
header_len(const char *buf, size_t len)
{
	const char *p;

	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		return 2;
	p = memmem(buf, len, "\r\n\r\n", 4);
	return p == NULL ? len : (size_t)(p - buf) + 4;
}

static int
is_upper(const struct imap_fetch_sect *sc, const char *upper)
{
	size_t i, n = strlen(upper);

	if (sc->speclen != n)
		return 0;
	for (i = 0; i < n; i++)
		if ((sc->spec[i] & ~0x20) != upper[i])
			return 0;
	return 1;
}

/* The octets of a BODY section into data and len. 0 or -1 (memory). */
static int
section_data(struct fetch_ctx *c, const struct imap_fetch_sect *sc, const char **data,
    size_t *len)
{
	if (sc->speclen == 0) {
		*data = c->buf;
		*len = c->len;
	} else if (is_upper(sc, "HEADER")) {
		*data = c->buf;
		*len = c->hdrlen;
	} else if (is_upper(sc, "TEXT")) {
		*data = c->buf + c->hdrlen;
		*len = c->len - c->hdrlen;
	} else if (imap_mime_section(&c->mime, sc->spec, sc->speclen, data, len,
	    &c->tmp) == -1) {
		*data = "";	/* checked when parsed: only memory can fail */
		*len = 0;
	}
	return 0;
}

/* The item's name in the response: "BODY[1.2]<0>", "RFC822.TEXT", ... */
static int
put_sect_name(struct fetch_ctx *c, const struct imap_fetch_sect *sc)
{
	static const char *const names[] = { "BODY", "BINARY", "BINARY.SIZE",
	    "RFC822", "RFC822.HEADER", "RFC822.TEXT" };

	if (strbuf_puts(&c->line, names[sc->kind]) == -1)
		return -1;
	if (sc->kind >= IMAP_FK_RFC822)
		return 0;
	if (strbuf_printf(&c->line, "[%.*s]", (int)sc->speclen, sc->spec) == -1)
		return -1;
	if (sc->partial && strbuf_printf(&c->line, "<%llu>",
	    (unsigned long long)sc->off) == -1)
		return -1;
	return 0;
}

/* BINARY[...], BINARY.SIZE[...] (RFC 3516 4.2): the decoded part. */
static int
fetch_binary(struct fetch_ctx *c, const struct imap_fetch_sect *sc, const char **data,
    size_t *len)
{
	int r;

	strbuf_reset(&c->tmp);
	r = imap_mime_binary(&c->mime, sc->spec, sc->speclen, &c->tmp);
	if (r == -2) {
		c->unknown_cte = 1;
		return 1;
	}
	if (r == -1)
		return -1;
	*data = c->tmp.data;
	*len = c->tmp.len;
	return 0;
}

static int
fetch_sect(struct fetch_ctx *c, const struct imap_fetch_sect *sc)
{
	const char *data = "";
	size_t len = 0;
	int r = 0;

	if (sp(c) == -1 || put_sect_name(c, sc) == -1)
		return -1;
	if (sc->kind == IMAP_FK_BINARY || sc->kind == IMAP_FK_BINSIZE)
		r = fetch_binary(c, sc, &data, &len);
	else
		r = section_data(c, sc, &data, &len);
	if (r == -1)
		return -1;
	if (r == 1)	/* RFC 3516 4.3: the tagged reply is NO [UNKNOWN-CTE] */
		return strbuf_puts(&c->line, " NIL");
	if (sc->kind == IMAP_FK_BINSIZE)
		return strbuf_printf(&c->line, " %zu", len);
	if (sc->partial) {
		if (sc->off >= len)
			len = 0;
		else {
			data += sc->off;
			len -= sc->off;
			if (len > sc->cnt)
				len = (size_t)sc->cnt;
		}
	}
	return put_literal(c, data, len,
	    sc->kind == IMAP_FK_BINARY && memchr(data, '\0', len) != NULL);
}

/* The cheap items, from the snapshot. */
static int
fetch_cheap(struct fetch_ctx *c, size_t i, unsigned atts)
{
	const struct imap_msg *m = &c->s->sel.msgs[i];
	struct strbuf *l = &c->line;

	if ((atts & IMAP_FA_UID) && (sp(c) == -1 || strbuf_printf(l, "UID %u", m->uid) == -1))
		return -1;
	if ((atts & IMAP_FA_FLAGS) && (sp(c) == -1 || strbuf_puts(l, "FLAGS ") == -1 ||
	    imap_put_flags(l, &c->s->sel, m) == -1))
		return -1;
	if ((atts & IMAP_FA_MODSEQ) && (sp(c) == -1 || strbuf_printf(l, "MODSEQ (%llu)",
	    (unsigned long long)m->modseq) == -1))
		return -1;
	if ((atts & IMAP_FA_INTERNALDATE) && (sp(c) == -1 ||
	    strbuf_puts(l, "INTERNALDATE ") == -1 || put_date(l, m->internaldate) == -1))
		return -1;
	if ((atts & IMAP_FA_SIZE) && (sp(c) == -1 || strbuf_printf(l, "RFC822.SIZE %llu",
	    (unsigned long long)m->size) == -1))
		return -1;
	return 0;
}

/* ENVELOPE, BODY, BODYSTRUCTURE and the sections. */
static int
fetch_content(struct fetch_ctx *c, unsigned atts)
{
	size_t k;

	if ((atts & IMAP_FA_ENVELOPE) && (sp(c) == -1 ||
	    strbuf_puts(&c->line, "ENVELOPE ") == -1 ||
	    imap_envelope(c->buf, c->hdrlen, &c->line) == -1))
		return -1;
	if ((atts & IMAP_FA_BODY) && (sp(c) == -1 || strbuf_puts(&c->line, "BODY ") == -1 ||
	    imap_mime_bodystructure(&c->mime, 0, &c->line) == -1))
		return -1;
	if ((atts & IMAP_FA_BODYSTRUCTURE) && (sp(c) == -1 ||
	    strbuf_puts(&c->line, "BODYSTRUCTURE ") == -1 ||
	    imap_mime_bodystructure(&c->mime, 1, &c->line) == -1))
		return -1;
	for (k = 0; k < c->req->nsects; k++)
		if (fetch_sect(c, &c->req->sects[k]) == -1)
			return -1;
	return 0;
}

/* RFC 3501 6.4.5: a body fetch sets \Seen, and the FLAGS go with it. */
static unsigned
mark_seen(struct fetch_ctx *c, size_t i, unsigned atts)
{
	struct imap_session *s = c->s;
	char err[256];

	if (!c->req->sets_seen || s->sel.readonly || (s->sel.msgs[i].flags & IMAP_F_SEEN))
		return atts;
	if (imap_msg_set_flags(&s->sel, i, '+', IMAP_F_SEEN, 0, err, sizeof(err)) == -1) {
		log_warn("%s: cannot set \\Seen on uid %u: %s", s->user,
		    s->sel.msgs[i].uid, err);
		return atts;
	}
	return atts | IMAP_FA_FLAGS;
}

/* One message's FETCH response. 0, or -1 when the session must end. */
static int
fetch_one(struct fetch_ctx *c, size_t i)
{
	const struct imap_fetch_req *req = c->req;
	unsigned atts = req->atts;
	int r = -1;

	if (req->changedsince_set && c->s->sel.msgs[i].modseq <= req->changedsince)
		return 0;	/* RFC 7162 3.1.4.1 */
	if (req->needs_content) {
		if (imap_session_msg(c->s, i, &c->buf, &c->len) == -1) {
			c->expunged = 1;	/* gone meanwhile: reported in the tagged NO */
			return 0;
		}
		c->hdrlen = header_len(c->buf, c->len);
		if (req->needs_mime) {
			if (imap_mime_parse(&c->mime, c->buf, c->len) == -1)
				return -1;
			c->have_mime = 1;
		}
	}
	atts = mark_seen(c, i, atts);
	if (c->uid)
		atts |= IMAP_FA_UID;
	/* as Dovecot does: FLAGS carry their MODSEQ once CONDSTORE is on (RFC 7162 3.1) */
	if ((atts & IMAP_FA_FLAGS) && imap_session_modseq(c->s))
		atts |= IMAP_FA_MODSEQ;
	strbuf_reset(&c->line);
	c->first = 1;
	if (strbuf_printf(&c->line, "* %zu FETCH (", i + 1) == -1 ||
	    fetch_cheap(c, i, atts) == -1 ||
	    (req->needs_content && fetch_content(c, atts) == -1) ||
	    strbuf_puts(&c->line, ")\r\n") == -1)
		goto out;
	r = 0;
	if (c->line.len > 0 && stream_write(c->s->s, c->line.data, c->line.len) == -1)
		r = -1;
out:
	if (c->have_mime) {
		imap_mime_free(&c->mime);
		c->have_mime = 0;
	}
	return r;
}

/*
 * RFC 7162 3.2.6: UIDs of set (below UIDNEXT) no longer in the folder,
 * as "* VANISHED (EARLIER) ...". We keep no modseq of expunged messages,
 * so every such UID is reported, which the RFC allows.
 */
static int
fetch_vanished(struct imap_session *s, const struct imap_arg *arg)
{
	const struct imap_folder *f = &s->sel;
	struct imap_seqset set, gone;
	struct strbuf out;
	size_t r, i;
	int rc = -1;

	imap_seqset_init(&set);
	imap_seqset_init(&gone);
	strbuf_init(&out, FETCH_BUF_MAX);
	if (imap_seqset_parse(&set, arg->str, arg->len,
	    f->n ? f->msgs[f->n - 1].uid : 0) == -1 || set.dollar) {
		rc = 0;
		goto out;
	}
	for (r = 0; r < set.n && f->uidnext > 1; r++) {
		uint32_t v = set.r[r].lo ? set.r[r].lo : 1;
		uint32_t hi = set.r[r].hi < f->uidnext ? set.r[r].hi : f->uidnext - 1;
		/* the gaps between present UIDs within [v, hi]; UIDs < UIDNEXT cannot overflow */
		for (i = imap_fetch_lower_uid(s, v); v <= hi; i++) {
			if (i >= f->n || f->msgs[i].uid > hi) {
				if (imap_seqset_add(&gone, v, hi) == -1)
					goto out;
				break;
			}
			if (f->msgs[i].uid > v && imap_seqset_add(&gone, v, f->msgs[i].uid - 1) == -1)
				goto out;
			v = f->msgs[i].uid + 1;
		}
	}
	rc = 0;
	if (gone.n > 0 && (strbuf_puts(&out, "* VANISHED (EARLIER) ") == -1 ||
	    imap_seqset_print(&gone, &out) == -1 || strbuf_puts(&out, "\r\n") == -1 ||
	    stream_write(s->s, out.data, out.len) == -1))
		rc = -1;
out:
	imap_seqset_free(&set);
	imap_seqset_free(&gone);
	strbuf_free(&out);
	return rc;
}

/* The arguments after "FETCH": set, items, [modifiers]. NULL when malformed. */
static const struct imap_arg *
fetch_args(struct imap_cmd *cmd, const struct imap_arg **mods)
{
	const struct imap_arg *a = cmd->args;

	if (a[0].type == IMAP_ARG_EOL || a[1].type == IMAP_ARG_EOL)
		return NULL;
	*mods = NULL;
	if (a[2].type == IMAP_ARG_LIST) {
		*mods = &a[2];
		if (a[3].type != IMAP_ARG_EOL)
			return NULL;
	} else if (a[2].type != IMAP_ARG_EOL)
		return NULL;
	return a;
}

/* Checks that depend on the session rather than the syntax. 0 or -1 with err. */
static int
fetch_check(struct imap_session *s, const struct imap_fetch_req *req, int uid,
    char *err, size_t errlen)
{
	if (req->vanished && (!uid || !(s->enabled & IMAP_EN_QRESYNC))) {
		/* RFC 7162 3.2.6 */
		snprintf(err, errlen, "VANISHED needs UID FETCH and QRESYNC");
		return -1;
	}
	if (req->changedsince_set || (req->atts & IMAP_FA_MODSEQ))
		s->condstore_seen = 1;	/* RFC 7162 3.1: a CONDSTORE enabling command */
	return 0;
}

static int
fetch_run(struct imap_session *s, struct imap_cmd *cmd, const struct imap_fetch_req *req,
    const size_t *idx, size_t n, int uid)
{
	struct fetch_ctx c;
	size_t k;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.req = req;
	c.uid = uid;
	strbuf_init(&c.line, FETCH_BUF_MAX);
	strbuf_init(&c.tmp, FETCH_BUF_MAX);
	for (k = 0; k < n && rc == 0; k++)
		rc = fetch_one(&c, idx[k]);
	strbuf_free(&c.line);
	strbuf_free(&c.tmp);
	if (rc == -1)
		return -1;
	if (c.unknown_cte)
		imap_reply(s, cmd, "NO", "UNKNOWN-CTE", "Unknown Content-Transfer-Encoding");
	else if (c.expunged)
		imap_reply(s, cmd, "NO", "EXPUNGEISSUED",
		    "Some of the requested messages no longer exist");
	else
		imap_reply(s, cmd, "OK", NULL, "%sFETCH completed", uid ? "UID " : "");
	return 0;
}

/* FETCH / UID FETCH: RFC 3501 6.4.5, 6.4.8; RFC 9051 6.4.5, 6.4.9. */
int
imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	const struct imap_arg *a, *mods;
	struct imap_fetch_req req;
	char err[256];
	size_t *idx = NULL, n = 0;
	int rc;

	if (s->state != IMAP_ST_SELECTED) {
		imap_reply(s, cmd, "BAD", NULL, "No mailbox selected");
		return 0;
	}
	if ((a = fetch_args(cmd, &mods)) == NULL) {
		imap_reply(s, cmd, "BAD", NULL, "Usage: FETCH sequence-set items [(modifiers)]");
		return 0;
	}
	if (imap_fetch_parse(&req, &a[1], mods, err, sizeof(err)) == -1 ||
	    fetch_check(s, &req, uid, err, sizeof(err)) == -1 ||
	    imap_fetch_resolve(s, &a[0], uid, &idx, &n, err, sizeof(err)) == -1) {
		imap_reply(s, cmd, "BAD", NULL, "%s", err);
		return 0;
	}
	if (req.vanished && fetch_vanished(s, &a[0]) == -1) {
		free(idx);
		return -1;
	}
	rc = fetch_run(s, cmd, &req, idx, n, uid);
	free(idx);
	return rc;
}
