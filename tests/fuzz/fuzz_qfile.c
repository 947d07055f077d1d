/*
 * libFuzzer target for the queue file reader (common/qfile.c): any bytes
 * as a queue file must give 0 or -1/EINVAL, never a crash or a read past
 * the data. Build: clang -fsanitize=fuzzer,address -I. -Icommon
 * tests/fuzz/fuzz_qfile.c common/qfile.c common/util.c common/log.c
 * common/strbuf.c
 */
#include "config.h"

#include <sys/mman.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qfile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qfile q;
	size_t i;
	int fd = memfd_create("qfile", MFD_CLOEXEC);

	if (fd == -1 || write_all(fd, data, size) == -1) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (qfile_open_fd(&q, fd) == 0) {
		/* Touch everything the parser produced. */
		for (i = 0; i < q.nrcpt; i++)
			if (strlen(q.rcpt[i].addr) == 0 ||
			    (q.rcpt[i].parent != QRCPT_NOPARENT &&
			    q.rcpt[i].parent >= q.nrcpt))
				__builtin_trap();
		if ((unsigned long long)q.data_off + q.size > size ||
		    q.trailer_end < q.data_off + (off_t)q.size ||
		    (unsigned long long)q.trailer_end > size)
			__builtin_trap();
		qfile_close(&q);
	} else
		close(fd);
	return 0;
}
