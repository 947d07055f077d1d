/*
 * addrlist: recipients from the header for `postern-sendmail -t`. Runs
 * in postern-sendmail as the invoking user (no privilege): the header is
 * the user's own, and whatever comes out still passes postdrop's checks
 * (maildrop_addr) before anything is queued.
 */
#include "config.h"

#include <string.h>

#include "addrlist.h"
#include "maildrop.h"
#include "msgfix.h"
#include "strbuf.h"
#include "util.h"

#define ADDRLIST_HDR_MAX	(1024 * 1024)	/* sendmail.c's SM_HDR_MAX */

int
addrlist_add(char ***list, size_t *nlist, const char *a, size_t n)
{
	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	while (n > 0 && (*a == ' ' || *a == '\t')) {
		a++;
		n--;
	}
	if (n == 0)
		return 0;
	if (*nlist >= MAILDROP_RCPT_MAX)
		return -1;
	*list = xreallocarray(*list, *nlist + 1, sizeof(**list));
	(*list)[(*nlist)++] = xstrndup(a, n);
	return 0;
}

/*
 * An RFC 5322 3.4 address-list (To, Cc, Bcc with -t): elements split at
 * commas outside quotes, comments and angle brackets; "<addr>" wins over
 * the bare text; group names ("name:" ... ";") are dropped. What comes
 * out is only what the user could have typed on the command line.
 */
int
addrlist_parse(char ***list, size_t *nlist, const char *v, size_t len)
{
	char bare[1024], angle[1024];
	size_t nb = 0, na = 0, i;
	int quote = 0, comment = 0, inangle = 0, esc = 0, r = 0;

	for (i = 0; i <= len && r == 0; i++) {
		char c = i < len ? v[i] : ',';
		if (esc) {
			esc = 0;	/* a quoted-pair: still in the quote or comment */
			continue;
		} else if (c == '\\' && (quote || comment)) {
			esc = 1;
			continue;
		} else if (quote) {
			quote = c != '"';
			continue;	/* quoted text: a display name or a local part */
		} else if (comment) {
			comment += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		} else if (c == '(') {
			comment = 1;
			continue;
		} else if (c == '"') {
			quote = 1;
			if (!inangle && nb < sizeof(bare) - 1)
				bare[nb++] = '"';	/* kept only for a quoted local part */
			continue;
		} else if (c == '<' && !inangle) {
			inangle = 1;
			na = 0;
			continue;
		} else if (c == '>' && inangle) {
			inangle = 0;
			continue;
		} else if (c == ':' && !inangle) {
			nb = na = 0;	/* a group's display name */
			continue;
		} else if ((c == ',' || c == ';') && !inangle) {
			if (na > 0)
				r = addrlist_add(list, nlist, angle, na);
			else if (nb > 0 && memchr(bare, '"', nb) == NULL)
				r = addrlist_add(list, nlist, bare, nb);
			nb = na = 0;
			continue;
		}
		if (inangle && na < sizeof(angle) - 1)
			angle[na++] = c;
		else if (!inangle && nb < sizeof(bare) - 1)
			bare[nb++] = c;
	}
	return r;
}

static int
addrlist_field_done(char ***list, size_t *nlist, struct strbuf *field)
{
	const char *f = field->data ? field->data : "";
	const char *colon = memchr(f, ':', field->len);
	int r = 0;

	if (colon != NULL && (msgfix_is_field(f, field->len, "To") ||
	    msgfix_is_field(f, field->len, "Cc") ||
	    msgfix_is_field(f, field->len, "Bcc")))
		r = addrlist_parse(list, nlist, colon + 1,
		    field->len - (size_t)(colon + 1 - f));
	strbuf_reset(field);
	return r;
}

int
addrlist_extract(char ***list, size_t *nlist, const char *hdr, size_t len)
{
	struct strbuf field;
	const char *p = hdr, *end = hdr + len, *lf;
	size_t n;
	int r = 0;

	strbuf_init(&field, ADDRLIST_HDR_MAX);
	while (p < end && r == 0) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		if (n > 0 && *p != ' ' && *p != '\t')
			r = addrlist_field_done(list, nlist, &field);
		strbuf_append(&field, p, n);	/* a continuation joins its field */
		p += n + 1;
	}
	if (r == 0)
		r = addrlist_field_done(list, nlist, &field);
	strbuf_free(&field);
	return r;
}
