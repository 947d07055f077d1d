/*
 * libFuzzer target for what a remote SMTP server sends the outbound
 * smtp client (queue/smtp_reply.c): the input is read as a stream of
 * replies until one fails (bounded: each read consumes input). An
 * accepted reply has a code 200..599, a NUL-terminated reply text within
 * its buffer, an enhanced status "C.x.y" whose class is the code's, and
 * EHLO keywords from its lines. Build: see README.md (queue/smtp_reply.c
 * common/stream.c common/util.c common/log.c common/strbuf.c).
 */
#include "config.h"

#include <sys/mman.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp.h"
#include "stream.h"
#include "strbuf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_check(int code, const char *reply, size_t replylen, struct strbuf *lines)
{
	struct smtp_caps caps;
	char st[8];

	if (code < 200 || code > 599 || memchr(reply, '\0', replylen) == NULL)
		__builtin_trap();
	smtp_reply_enhanced(code, reply, st, sizeof(st));
	if (strlen(st) < 5 || st[0] != '0' + code / 100 || st[1] != '.')
		__builtin_trap();
	smtp_ehlo_caps(lines->data, &caps);
	if (caps.sizemax > (1ULL << 50))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream st;
	struct strbuf lines;
	char reply[600];
	int fd, code, k, c;

	/* the line classifier alone, on the raw input */
	if (smtp_reply_line((const char *)data, size, &c) != -1 && (c < 200 || c > 599))
		__builtin_trap();
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		return 0;
	if (write_all(fd, data, size) == -1 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	strbuf_init(&lines, 64 * 1024);
	stream_init(&st, fd, fd, 1000);
	for (k = 0; k < 1000; k++) {
		code = -1;
		if (smtp_reply_read(&st, &code, reply, sizeof(reply), &lines) == -1) {
			if (code != -1 || reply[0] == '\0')
				__builtin_trap();
			break;
		}
		fz_check(code, reply, sizeof(reply), &lines);
	}
	stream_close(&st, 0);
	strbuf_free(&lines);
	close(fd);
	return 0;
}
