/*
 * libFuzzer target for the delivery request parser (common/agent.c,
 * agent_req_parse) that deliver(8) and the smtp client run on qmgr's
 * request: any bytes give 0 or -1, never a crash or a read past the
 * input; an accepted request obeys every rule of common/agent.h. Build:
 * see tests/fuzz/README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No control character and at most max bytes. */
static void
fuzz_check_str(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		__builtin_trap();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			__builtin_trap();
}

static void
fuzz_check(const struct agent_req *r, size_t size)
{
	size_t i;

	if (strlen(r->qid) != QID_LEN ||
	    strspn(r->qid, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != QID_LEN)
		__builtin_trap();
	if (r->sender == NULL || r->off < 0 || r->fd != -1)
		__builtin_trap();
	fuzz_check_str(r->sender, QFILE_ADDR_MAX);
	if (r->nrcpt < 1 || r->nrcpt > AGENT_MAX_RCPT || r->nrcpt * 7 > size)
		__builtin_trap();
	for (i = 0; i < r->nrcpt; i++) {
		if (r->rcpt[i].idx > AGENT_MAX_IDX || r->rcpt[i].addr[0] == '\0')
			__builtin_trap();
		fuzz_check_str(r->rcpt[i].addr, QFILE_ADDR_MAX);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_req r;
	char *copy = malloc(size > 0 ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);	/* exactly size bytes: reads past are caught */
	agent_req_init(&r);
	if (agent_req_parse(&r, copy, size) == 0) {
		fuzz_check(&r, size);
		/* The text must have ended with the line "end". */
		if (size < 4 || memcmp(data + size - 4, "end\n", 4) != 0)
			__builtin_trap();
	}
	agent_req_free(&r);
	free(copy);
	return 0;
}
