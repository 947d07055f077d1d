/*
 * libFuzzer target for the delivery rules (common/rules_parse.c,
 * deliver/rules_*.c, postern.rules(5)): the input is split at the first
 * NUL byte into a rule file and a message header. The file is parsed; when it parses, it
 * is evaluated against the fuzzed header and against a fixed message,
 * and the result must respect the limits (actions, regex failures).
 * Every folder name accepted by the parser must map to a directory name
 * that starts with '.' and has no '/'. Build: see README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules_eval.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fz_fixed[] =
    "From: Alice <alice@example.test>\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?= [list]\n"
    "List-Id: <dev.lists.example.test>\n"
    "\n"
    "body\n";

static void
fz_eval(const struct rules *r, const char *hdr, size_t len)
{
	struct rules_result res;
	struct rules_msg m;
	char dir[8192];
	size_t i;

	rules_msg_init(&m, hdr, len, "sender@remote.test",
	    "alice+x@example.test", 12345);
	if (m.nf > RULES_FIELDS_MAX)
		abort();
	rules_result_init(&res);
	rules_eval(r, &m, &res);
	if (res.nfolder + res.nredirect > RULES_ACTIONS_MAX ||
	    res.errors > RULES_REGEX_FAILS_MAX)
		abort();
	for (i = 0; i < res.nfolder; i++)
		if (rules_folder_dir(res.folder[i], dir, sizeof(dir)) == -1 ||
		    dir[0] != '.' || strchr(dir, '/') != NULL)
			abort();
	for (i = 0; i < res.nredirect; i++)
		if (strchr(res.redirect[i], '@') == NULL)
			abort();
	(void)rules_result_keep(&res);
	rules_result_free(&res);
	rules_msg_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	char err[512], *text, *hdr;
	struct rules *r;
	size_t hlen = nul != NULL ? size - tlen - 1 : 0;

	/* exact-size copies, so ASan sees any read past either */
	text = malloc(tlen ? tlen : 1);
	hdr = malloc(hlen ? hlen : 1);
	memcpy(text, data, tlen);
	if (hlen)
		memcpy(hdr, nul + 1, hlen);
	r = rules_parse(text, tlen, "fuzz", err, sizeof(err));
	if (r == NULL && strncmp(err, "fuzz:", 5) != 0)
		abort();
	if (r != NULL) {
		fz_eval(r, hdr, hlen);
		fz_eval(r, fz_fixed, sizeof(fz_fixed) - 1);
		rules_free(r);
	}
	free(text);
	free(hdr);
	return 0;
}
