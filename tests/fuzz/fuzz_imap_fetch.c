/*
 * libFuzzer target: imapd's FETCH item parser (imapd/imap_fetch_parse.c)
 * behind the command tokeniser. The input is the text after "t FETCH 1 ";
 * an accepted request must be self-consistent: every section lies inside
 * the command buffer, its spec is valid, and the derived flags agree.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fetch.h"
#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "t FETCH 1 ";
	struct imap_fetch_req req;
	struct imap_cmd cmd;
	char err[256], *text;
	size_t i, n;

	if (size > 65536)
		return 0;
	n = sizeof(head) - 1 + size + 2;
	if ((text = malloc(n)) == NULL)
		return 0;
	memcpy(text, head, sizeof(head) - 1);
	memcpy(text + sizeof(head) - 1, data, size);
	memcpy(text + n - 2, "\r\n", 2);
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, text, n, err, sizeof(err)) == IMAP_READ_OK &&
	    cmd.nargs >= 2 && imap_fetch_parse(&req, &cmd.args[1],
	    cmd.nargs > 2 ? &cmd.args[2] : NULL, err, sizeof(err)) == 0) {
		if (req.nsects > IMAP_FETCH_SECTS_MAX || (req.vanished && !req.changedsince_set))
			abort();
		for (i = 0; i < req.nsects; i++) {
			const struct imap_fetch_sect *s = &req.sects[i];
			if (!imap_fetch_section_ok(s->spec, s->speclen,
			    s->kind == IMAP_FK_BINARY || s->kind == IMAP_FK_BINSIZE))
				abort();
			if (!req.needs_content || (!s->peek && !req.sets_seen))
				abort();
		}
	}
	imap_cmd_free(&cmd);
	free(text);
	return 0;
}
