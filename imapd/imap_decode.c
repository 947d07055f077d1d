/*
 * imap_decode: the decoded text of a message for SEARCH BODY / TEXT
 * (RFC 3501 6.4.4): every text part transfer-decoded and in UTF-8, and
 * the headers of attached messages. The decoders themselves are
 * common/mime_decode.c. Runs in imapd's session process as the mail
 * owner; pure computation.
 */
#include "config.h"

#include <string.h>

#include "mime_decode.h"
#include "strbuf.h"
#include "imap_mime_int.h"

/* A text part's body, transfer-decoded and in UTF-8, appended. */
static int
text_append(const struct imap_mime *m, const struct imap_mime_part *p,
    struct strbuf *tmp, struct strbuf *out)
{
	const char *cs = mime_param(p->params, p->nparams, "charset");
	const char *s = m->buf + p->body_off;
	size_t len = p->body_len;
	int rc;

	strbuf_reset(tmp);
	rc = mime_decode_body(p->encoding, s, len, tmp);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		s = tmp->data != NULL ? tmp->data : "";
		len = tmp->len;
	}
	if (out->len > 0 && strbuf_putc(out, '\n') == -1)
		return -1;
	rc = mime_to_utf8(cs, cs != NULL ? strlen(cs) : 0, s, len, out);
	if (rc == -2)
		rc = mime_utf8_copy(s, len, out);
	return rc;
}

static int
text_walk(const struct imap_mime *m, const struct imap_mime_part *p,
    struct strbuf *tmp, struct strbuf *out)
{
	size_t i;

	/*
	 * RFC 3501 6.4.4 TEXT: an attached message's header is part of the
	 * outer message's body, so it is searched too (decoded like a header).
	 */
	if (mime_is_msg(p) && p->nchildren == 1) {
		const struct imap_mime_part *c = &p->children[0];

		if (out->len > 0 && strbuf_putc(out, '\n') == -1)
			return -1;
		/* Raw 8-bit bytes and unknown charsets stay as written: made
		 * valid UTF-8 (U+FFFD), as the text parts are. */
		strbuf_reset(tmp);
		if (mime_hdr_decode(m->buf + c->hdr_off, c->hdr_len, tmp) == -1 ||
		    mime_utf8_copy(tmp->data != NULL ? tmp->data : "", tmp->len, out) == -1)
			return -1;
	}
	for (i = 0; i < p->nchildren; i++)
		if (text_walk(m, &p->children[i], tmp, out) == -1)
			return -1;
	if (p->nchildren == 0 && p->type != NULL && strcmp(p->type, "text") == 0)
		return text_append(m, p, tmp, out);
	return 0;
}

int
imap_mime_text_utf8(const struct imap_mime *m, struct strbuf *out)
{
	struct strbuf tmp;
	int rc;

	strbuf_init(&tmp, out->max);
	rc = text_walk(m, &m->root, &tmp, out);
	strbuf_free(&tmp);
	return rc;
}
