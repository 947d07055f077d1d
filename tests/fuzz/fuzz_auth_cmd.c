/*
 * libFuzzer target for authd's request parser (auth/auth_cmd.c): each
 * input line is one request on one connection; every answer must be one
 * LF-ended line, never a crash. SASL is not initialised here, so the
 * exchanges end in "fail temp"; the parsing before them is what runs,
 * with system_domains set, so that PLAIN's own parsing for system logins
 * (auth_plain_ir_sys) runs too: as a non-root start no account but uid
 * 0's own may log in, which never does, so no password is ever hashed.
 * Build: see README.md.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf fz_conf;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct auth_conn c;
	char *line = malloc(AUTHD_LINE + 1);
	const uint8_t *p = data, *end = data + size, *lf;
	size_t n, k;

	if (!init) {
		conf_defaults(&fz_conf);
		free(fz_conf.system_domains);
		fz_conf.system_domains = xstrdup("sys.test");
		auth_sys_init(&fz_conf, 0, 0);
		auth_cmd_init(&fz_conf);
		init = 1;
	}
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	strbuf_init(&c.out, 65536);
	while (line != NULL && p < end && !c.closing) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		k = n > AUTHD_LINE ? AUTHD_LINE : n;
		memcpy(line, p, k);
		line[k] = '\0';	/* authd.c refuses NUL and long lines first */
		if (strlen(line) == k) {
			size_t before = c.out.len;
			auth_cmd_line(&c, line);
			if (c.out.len > before && (c.out.data[c.out.len - 1] != '\n' ||
			    memchr(c.out.data + before, '\n', c.out.len - before - 1) != NULL))
				__builtin_trap();
		}
		p += n + 1;
	}
	auth_cmd_conn_done(&c);
	strbuf_free(&c.out);
	free(line);
	return 0;
}
