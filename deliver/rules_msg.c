/*
 * rules_msg: the message as delivery rules see it, built by the deliver
 * child (as the mailbox owner) from the first RULES_HDR_MAX bytes of the
 * queued content: the header fields split, unfolded (RFC 5322 2.2.3) and
 * with RFC 2047 encoded words decoded to UTF-8 (common/mime_decode).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_decode.h"
#include "rules_eval.h"
#include "strbuf.h"
#include "util.h"

/*
 * The value with its RFC 2047 words decoded to UTF-8 (common/mime_decode:
 * the decoder imapd's SEARCH uses too); v is freed or returned.
 */
static char *
decode_words(char *v, size_t n, size_t *len)
{
	struct strbuf b;
	char *out;

	if (memmem(v, n, "=?", 2) == NULL) {
		*len = n;
		return v;
	}
	strbuf_init(&b, RULES_HDR_MAX * 4);
	if (mime_hdr_decode(v, n, &b) == -1 || b.data == NULL) {
		strbuf_free(&b);
		*len = n;
		return v;
	}
	free(v);
	out = xmalloc(b.len + 1);	/* not xstrndup: a decoded word may hold a NUL */
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	*len = b.len;
	strbuf_free(&b);
	return out;
}

/* Add one field from a raw "Name: value" (with folds) of n bytes. */
static void
msg_add(struct rules_msg *m, const char *raw, size_t n)
{
	const char *colon = memchr(raw, ':', n);
	struct rules_field *f;
	size_t nl, i, o;
	char *v;

	if (colon == NULL || colon == raw)
		return;	/* not a field: ignored */
	for (nl = (size_t)(colon - raw); nl > 0 && (raw[nl - 1] == ' ' ||
	    raw[nl - 1] == '\t'); nl--)
		;
	if (nl == 0)
		return;
	v = xmalloc(n + 1);
	/* unfold: drop CR and LF, keep the white space after them */
	for (i = (size_t)(colon - raw) + 1, o = 0; i < n; i++)
		if (raw[i] != '\r' && raw[i] != '\n')
			v[o++] = raw[i];
	while (o > 0 && (v[o - 1] == ' ' || v[o - 1] == '\t'))
		o--;
	for (i = 0; i < o && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	memmove(v, v + i, o - i);
	o -= i;
	v[o] = '\0';
	m->f = xreallocarray(m->f, m->nf + 1, sizeof(*m->f));
	f = &m->f[m->nf++];
	f->name = xstrndup(raw, nl);
	f->value = decode_words(v, o, &f->vlen);
}

void
rules_msg_init(struct rules_msg *m, const char *hdr, size_t len,
    const char *sender, const char *rcpt, unsigned long long size)
{
	size_t i = 0, start = 0, eol;
	const char *nl;

	memset(m, 0, sizeof(*m));
	m->sender = sender;
	m->rcpt = rcpt;
	m->size = size;
	if (len > RULES_HDR_MAX)
		len = RULES_HDR_MAX;
	while (i < len && m->nf < RULES_FIELDS_MAX) {
		nl = memchr(hdr + i, '\n', len - i);
		eol = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
		if (eol - i == 1 || (eol - i == 2 && hdr[i] == '\r'))
			break;	/* the empty line: the end of the header */
		if (i > start && hdr[i] != ' ' && hdr[i] != '\t') {
			msg_add(m, hdr + start, i - start);
			start = i;
		}
		i = eol;
	}
	if (i > start && m->nf < RULES_FIELDS_MAX)
		msg_add(m, hdr + start, i - start);
}

void
rules_msg_free(struct rules_msg *m)
{
	size_t i;

	for (i = 0; i < m->nf; i++) {
		free(m->f[i].name);
		free(m->f[i].value);
	}
	free(m->f);
	m->f = NULL;
	m->nf = 0;
}

int
rules_msg_has(const struct rules_msg *m, const char *name, const char *addr)
{
	size_t i, n;
	const char *v;

	for (i = 0; i < m->nf; i++) {
		if (!str_ieq(m->f[i].name, name))
			continue;
		v = m->f[i].value;
		n = strlen(v);
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>' &&
		    n - 2 == strlen(addr) && strncasecmp(v + 1, addr, n - 2) == 0)
			return 1;
		if (str_ieq(v, addr))
			return 1;
	}
	return 0;
}
