/*
 * Fuzz target for imapd's on-disk readers: the uidlist parser
 * (uidlist_parse) and the index parser (index_parse). Both files live in
 * a user's Maildir, which the user (or another program) can write, so
 * any bytes must be refused cleanly or parsed into sane values.
 * The first byte picks the reader; for the index, bit 1 of it has the
 * target write the right checksum at the end first, so that the record
 * checks behind it are reached too. Build (in a configured tree, after
 * make common/libpostern.a):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Icommon -Iimapd \
 *     tests/fuzz/fuzz_imap_index.c imapd/imap_uidlist.c imapd/imap_index.c \
 *     imapd/imap_store_name.c imapd/imap_folders.c common/util.c \
 *     common/log.c common/strbuf.c common/libpostern.a -lssl -lcrypto \
 *     -o /tmp/fuzz_imap_index
 *   /tmp/fuzz_imap_index -max_total_time=60
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uidlist(const uint8_t *data, size_t size)
{
	struct uidlist ul;
	size_t i;

	if (uidlist_parse(&ul, (const char *)data, size) == -1)
		return;
	for (i = 0; i < ul.n; i++) {
		if (ul.e[i].uid == 0 || ul.e[i].uid >= ul.uidnext ||
		    (i > 0 && ul.e[i].uid <= ul.e[i - 1].uid) || ul.e[i].keylen == 0 ||
		    memchr(ul.e[i].key, '\n', ul.e[i].keylen) != NULL ||
		    ul.e[i].key < (const char *)data ||
		    ul.e[i].key + ul.e[i].keylen > (const char *)data + size)
			abort();
	}
	uidlist_free(&ul);
}

/* The index's checksum: FNV-1a 64 of every byte before the last 8. */
static uint64_t
fnv64(const uint8_t *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
check_index(const uint8_t *data, size_t size, int fix)
{
	struct store_index ix;
	uint8_t *copy = NULL;
	uint64_t sum;
	size_t i;
	int r;

	if (fix && size >= 8) {
		copy = malloc(size);
		if (copy == NULL)
			return;
		memcpy(copy, data, size);
		sum = fnv64(copy, size - 8);
		memcpy(copy + size - 8, &sum, 8);
		data = copy;
	}
	r = index_parse(&ix, data, size);
	free(copy);
	if (r == -1)
		return;
	for (i = 0; i < ix.n; i++)
		if (ix.r[i].uid == 0 || ix.r[i].uid >= ix.h.uidnext ||
		    ix.r[i].modseq > ix.h.highestmodseq)
			abort();
	index_free(&ix);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		check_uidlist(data + 1, size - 1);
	else
		check_index(data + 1, size - 1, data[0] & 2);
	return 0;
}
