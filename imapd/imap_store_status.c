/*
 * imap_store_status: STATUS of a folder that need not be open, and quota
 * usage (RFC 9208) over all folders. Run in the session process as the
 * mail owner, cwd = the Maildir. When the folder's index was written
 * after a pass over new/ and cur/ whose mtimes still hold (and were more
 * than a second old then, see imap_store.c), the answer comes from the
 * index and two stat()s; otherwise the folder is opened read-only (which
 * numbers new files and refreshes the index for next time).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "imap_store_int.h"
#include "util.h"

static void
status_from_index(const struct store_index *ix, struct imap_status *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->messages = (uint32_t)ix->n;
	st->uidnext = ix->h.uidnext;
	st->uidvalidity = ix->h.uidvalidity;
	st->highestmodseq = ix->h.highestmodseq;
	for (i = 0; i < ix->n; i++) {
		if (ix->r[i].flags & INDEX_F_NEW)
			st->recent++;
		if (!(ix->r[i].flags & IMAP_F_SEEN))
			st->unseen++;
		if (ix->r[i].flags & IMAP_F_DELETED)
			st->deleted++;
		st->size += ix->r[i].size;
	}
}

/* 0 when the index answers for the folder as it is now. */
static int
status_cached(const char *dir, struct imap_status *st)
{
	struct store_index ix;
	struct timespec nm, cm;
	int rv = -1;

	if (index_load(&ix, dir) == -1)
		return -1;
	if (store_index_fresh(&ix, dir, &nm, &cm)) {
		status_from_index(&ix, st);
		rv = 0;
	}
	index_free(&ix);
	return rv;
}

int
imap_folder_status(const char *name, struct imap_status *st, char *err,
    size_t errlen)
{
	char dir[IMAP_NAME_MAX + 8];
	struct imap_folder *f;
	size_t i;

	if (store_folder_dir(name, dir, sizeof(dir)) == 0 &&
	    status_cached(dir, st) == 0)
		return 0;
	f = xmalloc(sizeof(*f));
	if (imap_folder_open(f, name, 1, err, errlen) == -1) {
		free(f);
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->messages = (uint32_t)f->n;
	st->uidnext = f->uidnext;
	st->uidvalidity = f->uidvalidity;
	st->highestmodseq = f->highestmodseq;
	for (i = 0; i < f->n; i++) {
		if (strncmp(f->msgs[i].name, "new/", 4) == 0)
			st->recent++;
		if (!(f->msgs[i].flags & IMAP_F_SEEN))
			st->unseen++;
		if (f->msgs[i].flags & IMAP_F_DELETED)
			st->deleted++;
		st->size += f->msgs[i].size;
	}
	imap_folder_close(f);
	free(f);
	return 0;
}

int
imap_quota_usage(uint64_t *octets, uint64_t *messages, char *err, size_t errlen)
{
	struct imap_folder_info *v;
	struct imap_status st;
	size_t n, i;

	*octets = *messages = 0;
	if (imap_folder_list(&v, &n, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		/* a folder deleted meanwhile counts for nothing */
		if (imap_folder_status(v[i].name, &st, err, errlen) == -1) {
			if (errno == ENOENT)
				continue;
			free(v);
			return -1;
		}
		*octets += st.size;
		*messages += st.messages;
	}
	free(v);
	return 0;
}
