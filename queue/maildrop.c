/*
 * maildrop: the envelope checks that postdrop (setgid maildrop_group,
 * for the user who runs postern-sendmail) and pickup (mail_owner, for the
 * maildrop file it does not trust) both apply, so the user learns of a
 * bad address from postdrop's exit status and pickup never queues one;
 * and the reader of the envelope records of a maildrop file (pickup).
 */
#include "config.h"

#include <sys/types.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "maildrop.h"
#include "util.h"

int
maildrop_text_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max)
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v == 0x7f)
			return 0;
	return 1;
}

int
maildrop_addr(const char *v, int null_ok, const char *domain, char *out,
    size_t outlen, const char **why)
{
	char path[ADDR_BUF * 2 + 8];
	const char *rest;

	if (!maildrop_text_ok(v, ADDR_BUF - 1)) {
		*why = "control characters or too long";
		return -1;
	}
	if (*v == '\0' || strcmp(v, "<>") == 0) {
		if (!null_ok) {
			*why = "empty address";
			return -1;
		}
		return str_copy(out, "", outlen);
	}
	if (*v == '<')	/* "-f <a@b>" as some programs write it */
		v++;
	if (v[strcspn(v, ">")] == '>' && v[strcspn(v, ">") + 1] != '\0') {
		*why = "junk after the address";	/* "a@b> c@d": not cut off */
		return -1;
	}
	if (str_fmt(path, sizeof(path), strchr(v, '@') != NULL ? "<%.*s>" :
	    "<%.*s@%s>", (int)strcspn(v, ">"), v, domain) == -1) {
		*why = "too long";
		return -1;
	}
	if (outlen < ADDR_BUF) {
		*why = "too long";
		return -1;
	}
	if (address_parse_path(path, ADDR_UTF8, out, outlen, &rest, why) == -1)
		return -1;
	if (*rest != '\0') {
		*why = "junk after the address";
		return -1;
	}
	return 0;
}

/* One envelope line into line (LF removed). 0, or -1 (bad: too long, NUL, EOF). */
static int
maildrop_line(FILE *fp, char *line, size_t max)
{
	size_t n = 0;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == '\0' || c == '\r' || n + 1 >= max)
			return -1;
		line[n++] = (char)c;
	}
	line[n] = '\0';
	return c == '\n' ? 0 : -1;
}

/* "name value": the value, or NULL when the line is another record. */
static const char *
maildrop_rec(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncmp(line, name, n) == 0 && line[n] == ' ' ? line + n + 1 : NULL;
}

static int
maildrop_rcpt(struct maildrop_env *m, const char *v, const char *domain,
    const char **why)
{
	if (m->nrcpt >= MAILDROP_RCPT_MAX) {
		*why = "too many recipients";
		return -1;
	}
	m->rcpt = xreallocarray(m->rcpt, m->nrcpt + 1, sizeof(*m->rcpt));
	if (maildrop_addr(v, 0, domain, m->rcpt[m->nrcpt],
	    ADDR_BUF, why) == -1)
		return -1;
	m->nrcpt++;
	return 0;
}

/* The envelope records, strictly in order. 0, or -1 with why. */
int
maildrop_read_envelope(FILE *fp, const char *domain, struct maildrop_env *m,
    const char **why)
{
	char line[MAILDROP_LINE_MAX];
	unsigned long long uid;
	const char *v;

	*why = "malformed envelope";
	if (maildrop_line(fp, line, sizeof(line)) == -1 || strcmp(line, MAILDROP_MAGIC) != 0 ||
	    maildrop_line(fp, line, sizeof(line)) == -1 || (v = maildrop_rec(line, "uid")) == NULL ||
	    parse_ullong(v, 0, (uid_t)-1 - 1, &uid) == -1)
		return -1;
	m->uid = (unsigned long)uid;
	if (maildrop_line(fp, line, sizeof(line)) == -1)
		return -1;
	if ((v = maildrop_rec(line, "sender")) != NULL) {
		if (maildrop_addr(v, 1, domain, m->sender,
		    sizeof(m->sender), why) == -1 || maildrop_line(fp, line, sizeof(line)) == -1)
			return -1;
		m->sender_given = 1;
	}
	if ((v = maildrop_rec(line, "fullname")) != NULL) {
		if (!maildrop_text_ok(v, MAILDROP_NAME_MAX) ||
		    str_copy(m->fullname, v, sizeof(m->fullname)) == -1 ||
		    maildrop_line(fp, line, sizeof(line)) == -1)
			return -1;
	}
	while ((v = maildrop_rec(line, "rcpt")) != NULL) {
		if (maildrop_rcpt(m, v, domain, why) == -1 || maildrop_line(fp, line, sizeof(line)) == -1)
			return -1;
	}
	if (strcmp(line, "data") != 0 || m->nrcpt == 0) {
		*why = m->nrcpt == 0 ? "no recipients" : "malformed envelope";
		return -1;
	}
	return 0;
}
