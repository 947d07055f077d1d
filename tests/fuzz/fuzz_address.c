/*
 * libFuzzer entry point for RFC 5321 path and ESMTP parameter parsing
 * (common/address.c). The first byte picks the flags; the rest is the
 * text after "MAIL FROM:" / "RCPT TO:". See README.md.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[1024], out[ADDR_BUF], l[ADDR_BUF], d[ADDR_BUF], x[ADDR_ORCPT_MAX + 1];
	struct address_mail_params mp;
	struct address_rcpt_params rp;
	struct address_perr e;
	const char *rest, *why;
	int flags;

	if (size < 1 || size > sizeof(in))
		return 0;
	flags = data[0] & (ADDR_NULL_OK | ADDR_UTF8 | ADDR_POSTMASTER);
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	(void)address_xtext_decode(in, x, sizeof(x));
	(void)address_valid_domain(in, flags & ADDR_UTF8);
	if (address_parse_path(in, flags, out, sizeof(out), &rest, &why) == -1)
		return 0;
	if (strlen(out) > ADDR_PATH_MAX - 2 || rest < in || rest > in + strlen(in))
		abort();
	if (!(flags & ADDR_UTF8) && !address_utf8_valid(out, strlen(out)))
		abort();
	if (out[0] != '\0' && strchr(out, '@') != NULL &&
	    address_split(out, l, sizeof(l), d, sizeof(d)) == -1)
		abort();
	(void)address_parse_mail_params(rest, ADDR_P_DSN | ADDR_P_AUTH, 1000, &mp, &e);
	(void)address_parse_rcpt_params(rest, ADDR_P_DSN, &rp, &e);
	return 0;
}
