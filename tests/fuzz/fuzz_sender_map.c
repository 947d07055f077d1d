/*
 * libFuzzer target for sender_login_map (submitd/sender_map.c): any file
 * loads or fails with a "file:line: why" message, never a crash; a map
 * that loaded answers lookups. Build: see README.md.
 */
#include "config.h"

#include <sys/mman.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "submitd.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_free(struct sender_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		while (m->e[i].nusers > 0)
			free(m->e[i].users[--m->e[i].nusers]);
		free(m->e[i].users);
		free(m->e[i].key);
	}
	free(m->e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const probe[][2] = { { "a@x.test", "b@x.test" },
		{ "info@example.test", "alice@example.test" }, { "z@x.test", "u" } };
	struct sender_map m;
	char path[64], err[512];
	size_t i;
	int fd = memfd_create("smap", MFD_CLOEXEC);

	if (fd == -1)
		return 0;
	if (write_all(fd, data, size) == 0 &&
	    str_fmt(path, sizeof(path), "/proc/self/fd/%d", fd) != -1) {
		if (sender_map_load(&m, path, err, sizeof(err)) == 0) {
			for (i = 0; i < m.n; i++)
				if (strchr(m.e[i].key, '@') == NULL || m.e[i].nusers == 0)
					__builtin_trap();
			for (i = 0; i < NELEM(probe); i++)
				(void)sender_map_allows(&m, probe[i][0], probe[i][1]);
		} else if (strstr(err, path) == NULL)
			__builtin_trap();
		fz_free(&m);
	}
	close(fd);
	return 0;
}
