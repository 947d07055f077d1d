/*
 * libFuzzer target for the maildrop envelope reader (queue/maildrop.c),
 * which pickup runs on files written by any local user: any bytes must
 * give 0 with a sane envelope or -1 with a reason, never a crash, a read
 * past the input or a recipient that could forge a queue record. Build:
 * see README.md (queue/maildrop.c common/address.c common/util.c
 * common/log.c common/strbuf.c).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildrop.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(const char *s, size_t max)
{
	if (strlen(s) > max || !maildrop_text_ok(s, max))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildrop_env m;
	const char *why = NULL;
	FILE *fp;
	size_t i;

	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	memset(&m, 0, sizeof(m));
	if (maildrop_read_envelope(fp, "host.example.test", &m, &why) == 0) {
		if (m.nrcpt == 0 || m.nrcpt > MAILDROP_RCPT_MAX)
			__builtin_trap();
		for (i = 0; i < m.nrcpt; i++) {
			fz_check(m.rcpt[i], ADDR_BUF - 1);
			if (m.rcpt[i][0] == '\0' || strchr(m.rcpt[i], '@') == NULL)
				__builtin_trap();
		}
		fz_check(m.sender, ADDR_BUF - 1);
		fz_check(m.fullname, MAILDROP_NAME_MAX);
		/* the "data" line was read: at least the magic, uid, rcpt, data */
		if (ftell(fp) < (long)sizeof(MAILDROP_MAGIC) + 5 + 7 + 5 ||
		    (size_t)ftell(fp) > size)
			__builtin_trap();
	} else if (why == NULL)
		__builtin_trap();
	fclose(fp);
	free(m.rcpt);
	return 0;
}
