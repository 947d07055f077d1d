/*
 * libFuzzer target for pop3d's command line reader and splitter
 * (pop3d/pop3_login.c): the input is what a client sends; every line
 * returned must fit POP3_LINE_MAX and hold no LF or NUL; the verb no space. Build: see README.md.
 */
#include "config.h"

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pop3.h"
#include "stream.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream st;
	char line[POP3_LINE_MAX + 1];
	const char *arg;
	int sv[2], r, i;

	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 0;
	if (write_all(sv[1], data, size) == -1) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	stream_init(&st, sv[0], sv[0], 1000);
	for (i = 0; i < 100000 && (r = pop3_getline(&st, line, POP3_LINE_MAX)) != -1; i++) {
		if (r == 0)
			continue;
		/* POP3_LINE_MAX with the LF; a last line without one may use it all */
		if (strlen(line) > POP3_LINE_MAX || strchr(line, '\n') != NULL)
			__builtin_trap();
		arg = pop3_split(line);
		if (strchr(line, ' ') != NULL || arg < line || arg > line + POP3_LINE_MAX)
			__builtin_trap();
	}
	stream_close(&st, 1);
	close(sv[1]);
	return 0;
}
