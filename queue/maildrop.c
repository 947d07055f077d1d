/*
 * maildrop: the envelope checks that postdrop (setgid maildrop_group,
 * for the user who runs postern-sendmail) and pickup (mail_owner, for the
 * maildrop file it does not trust) both apply, so the user learns of a
 * bad address from postdrop's exit status and pickup never queues one.
 */
#include "config.h"

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
