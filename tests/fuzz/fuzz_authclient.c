/*
 * libFuzzer target for the answers authd's client accepts
 * (common/authclient.c): the input is what "authd" sends on a
 * socketpair; start/step/mechs run until one fails, and whatever they
 * return must be a single line without LF. Build: see README.md.
 */
#include "config.h"

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "authclient.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct authclient ac;
	char out[300];
	int sv[2], r = 0, i;

	if (!init) {
		log_init("fuzz", LOG_DEST_NONE);	/* formatted, not written: the fuzzer's log stays small */
		init = 1;
	}
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 0;
	if (write_all(sv[1], data, size) == -1) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	ac.fd = sv[0];
	stream_init(&ac.st, sv[0], sv[0], 1000);
	for (i = 0; r != -1 && i < 64; i++) {
		switch (i % 3) {
		case 0:
			r = authclient_start(&ac, "PLAIN", i % 2 ? "" : NULL, out, sizeof(out));
			break;
		case 1:
			r = authclient_step(&ac, "AAAA", out, sizeof(out));
			break;
		default:
			r = authclient_mechs(&ac, out, sizeof(out));
			break;
		}
		if (r != -1 && (strchr(out, '\n') != NULL || strlen(out) >= sizeof(out)))
			__builtin_trap();
		if (i % 3 != 2 && r == AUTHC_OK && (out[0] == '\0' || strchr(out, ' ') != NULL))
			__builtin_trap();
	}
	authclient_close(&ac);
	close(sv[1]);
	return 0;
}
