/*
 * libFuzzer target for the -t recipient extraction of postern-sendmail
 * (queue/addrlist.c): any header must give a bounded list of non-empty,
 * blank-trimmed elements, never a crash. Build: see README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"
#include "maildrop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **list = NULL;
	size_t n = 0, i, len;
	int r, nul = memchr(data, '\0', size) != NULL;

	r = addrlist_extract(&list, &n, (const char *)data, size);
	if (n > MAILDROP_RCPT_MAX || (r == -1 && n != MAILDROP_RCPT_MAX))
		__builtin_trap();
	for (i = 0; i < n; i++) {
		len = strlen(list[i]);
		/* an element is cut at 1023 bytes (a NUL may end it early) */
		if (len > 1023 || (!nul && len == 0))
			__builtin_trap();
		if (!nul && (list[i][0] == ' ' || list[i][0] == '\t' ||
		    list[i][len - 1] == ' ' || list[i][len - 1] == '\t'))
			__builtin_trap();
		if (strchr(list[i], '\n') != NULL)
			__builtin_trap();
		free(list[i]);
	}
	free(list);
	/* the same bytes as one field body */
	list = NULL;
	n = 0;
	(void)addrlist_parse(&list, &n, (const char *)data, size);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return 0;
}
