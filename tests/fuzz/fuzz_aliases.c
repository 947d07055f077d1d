/*
 * libFuzzer target for the aliases(5) parser and expansion
 * (common/aliases.c). Build: clang -fsanitize=fuzzer,address -I. -Icommon
 * tests/fuzz/fuzz_aliases.c common/aliases.c common/util.c common/log.c
 * common/strbuf.c
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aliases.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fz_local(const char *domain, void *arg)
{
	(void)arg;
	return str_ieq(domain, "example.test");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probe[] = { "a@example.test", "root@example.test",
		"x@example.test", "postmaster@example.test" };
	struct aliases *a = aliases_new(NULL);
	struct alias_list l;
	char err[256];
	size_t i;

	aliases_load_buffer(a, "fuzz", (const char *)data, size, NULL, NULL);
	for (i = 0; i < NELEM(probe); i++) {
		(void)aliases_exists(a, probe[i]);
		if (aliases_expand(a, probe[i], fz_local, NULL, &l, err,
		    sizeof(err)) == 0) {
			if (l.n == 0 || l.n > ALIASES_MAX_RESULTS)
				__builtin_trap();
			alias_list_free(&l);
		}
	}
	aliases_free(a);
	return 0;
}
