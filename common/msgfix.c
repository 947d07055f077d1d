/*
 * msgfix: RFC 6409 8.3 (Date) and 8.4 (Message-ID) fix-ups. Runs in
 * submitd's session process (mail_owner, chrooted: no files are opened
 * here) and in pickup (mail_owner). The header text comes from users.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "msgfix.h"
#include "smtp_server.h"
#include "strbuf.h"
#include "util.h"

int
msgfix_is_field(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len <= n || strncasecmp(line, name, n) != 0)
		return 0;
	/* RFC 5322 4.5.3 obs-optional: white space before the colon. */
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':';
}

unsigned
msgfix_present(const char *hdr, size_t len)
{
	const char *p = hdr, *end = hdr + len, *lf;
	unsigned got = 0;
	size_t n;

	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		if (msgfix_is_field(p, n, "Date"))
			got |= MSGFIX_DATE;
		else if (msgfix_is_field(p, n, "Message-ID"))
			got |= MSGFIX_MSGID;
		else if (msgfix_is_field(p, n, "From"))
			got |= MSGFIX_FROM;
		else if (msgfix_is_field(p, n, "Bcc"))
			got |= MSGFIX_BCC;
		p += n + 1;
	}
	return got;
}

const char *
msgfix_msgid(char *buf, size_t len, const char *host)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char rnd[8];
	char r[17];
	size_t i;

	random_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		r[2 * i] = hex[rnd[i] >> 4];
		r[2 * i + 1] = hex[rnd[i] & 15];
	}
	r[16] = '\0';
	if (str_fmt(buf, len, "<%lld.%s@%s>", (long long)time(NULL), r, host) == -1)
		str_copy(buf, "", len);
	return buf;
}

int
msgfix_add(struct strbuf *out, unsigned present, const char *host)
{
	char id[320], date[64];

	if (!(present & MSGFIX_MSGID) && strbuf_printf(out, "Message-ID: %s\n",
	    msgfix_msgid(id, sizeof(id), host)) == -1)
		return -1;
	if (!(present & MSGFIX_DATE) && strbuf_printf(out, "Date: %s\n",
	    smtp_date(date, sizeof(date), (long long)time(NULL))) == -1)
		return -1;
	return 0;
}
