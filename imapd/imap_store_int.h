/*
 * imap_store_int: what the store's files share and nothing else sees
 * (imap_store.c, imap_store_name.c, imap_store_scan.c, imap_store_msg.c,
 * imap_store_kw.c, imap_uidlist.c, imap_index.c, imap_folders.c,
 * imap_append.c). Everything runs in the session process as the mail
 * owner, cwd = the user's Maildir.
 *
 * The per-folder files:
 *   postern-uidlist       the durable UID map (see imap_uidlist.c)
 *   postern-uidlist.lock  flock()ed while UIDs or modseqs are handed out,
 *                         while a session scans the folder and while a
 *                         file is renamed for a flag change; it also holds
 *                         the current modseq counter (not durable: the
 *                         uidlist's ceiling is)
 *   postern-index         the cache (see imap_index.c)
 *   postern-keywords      "<n> <keyword>" lines, as dovecot-keywords
 */
#ifndef POSTERN_IMAP_STORE_INT_H
#define POSTERN_IMAP_STORE_INT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap_store.h"

#define STORE_UIDLIST		"postern-uidlist"
#define STORE_LOCK		"postern-uidlist.lock"
#define STORE_INDEX		"postern-index"
#define STORE_KEYWORDS		"postern-keywords"
#define STORE_MAXMSGS		10000000	/* sanity bound on one folder */
#define STORE_MODSEQ_RESERVE	1024		/* modseqs reserved per uidlist write */
#define STORE_PATH		(IMAP_NAME_MAX + 512)

/* The parts of a Maildir base name. */
struct store_name {
	size_t		 keylen;	/* the part before ':' (stable across flag changes) */
	int		 has_info;	/* ":2," present */
	unsigned	 flags;		/* IMAP_F_* from the info */
	uint32_t	 keywords;	/* a..z from the info */
	int		 has_s, has_w;
	uint64_t	 s, w;		/* ,S= and ,W= */
	time_t		 time;		/* leading "<sec>." or 0 */
	uint32_t	 usec;		/* the "M<usec>" after it, or 0 */
};

/* imap_store_name.c */
void store_name_parse(const char *base, struct store_name *);
/* "cur/<key>:2,<letters>" into a malloc'd string, or into p (STORE_NAME_LEN bytes). */
char *store_name_make(const char *key, size_t keylen, unsigned flags, uint32_t kw);
#define STORE_NAME_LEN(keylen)	((keylen) + 4 + 3 + 5 + IMAP_KEYWORDS_MAX + 1)
void store_name_write(char *p, const char *key, size_t keylen, unsigned flags,
    uint32_t kw);
/* The base (after "cur/" or "new/") of a msg name, and its key length. */
const char *store_name_base(const char *name);
size_t store_name_keylen(const char *base);
/* Hash of a key (FNV-1a 32). */
uint32_t store_hash(const char *key, size_t len);
/* Folder directory of a wire name: "." for INBOX, ".A.B" else. 0 or -1. */
int store_folder_dir(const char *name, char *dir, size_t dirlen);
/* dir + "/" + file into out (-1 when too long). */
int store_path(char *out, size_t outlen, const char *dir, const char *file);
/* Wire size (bare LF counted as CRLF) of a file's bytes. */
uint64_t store_wire_len(const char *buf, size_t len);
/* Wire size and mtime of the file at path. 0 or -1. */
int store_file_wire(const char *path, uint64_t *wsize, time_t *mtime);
/* Write err the strerror of errno with a prefix; keeps errno. -1. */
int store_err(char *err, size_t errlen, const char *what, const char *arg);

/* A key -> index map (open addressing), over any array of keys. */
struct store_keymap {
	struct {
		uint32_t	idx;	/* + 1; 0 = empty */
		uint32_t	hash;
	}		*slot;		/* one cache line holds both */
	size_t		 mask;
};
typedef const char *store_key_fn(void *arg, uint32_t idx, size_t *len);
void store_keymap_init(struct store_keymap *, size_t n);
void store_keymap_free(struct store_keymap *);
/* Insert idx under its key; an entry with the same key is replaced. */
void store_keymap_put(struct store_keymap *m, store_key_fn *fn, void *arg, uint32_t idx);
/* idx of key, or -1. */
long store_keymap_get(const struct store_keymap *m, store_key_fn *fn, void *arg,
    const char *key, size_t len);

/* imap_uidlist.c: the durable UID map. Keys point into buf. */
struct uidlist_ent {
	uint32_t	 uid;
	uint32_t	 keylen;
	const char	*key;
};
struct uidlist {
	uint32_t		 uidvalidity, uidnext;
	uint64_t		 modseq;	/* ceiling of every modseq handed out */
	struct uidlist_ent	*e;
	size_t			 n, cap;
	char			*buf;		/* the file, mapped */
	size_t			 buflen;
	char			**extra;	/* chunks holding keys added since the read */
	size_t			 nextra, extra_used, extra_size;	/* of the last chunk */
	/* identity of the file read, to skip a re-read */
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime;
	int			 loaded;
	int			 dirty;		/* to save (new entries, ceiling moved) */
	uint64_t		 pending;	/* modseq counter to write after the save */
};
/* Parse a uidlist held in buf (not NUL-terminated); keys point into it. 0 or -1. */
int uidlist_parse(struct uidlist *, const char *buf, size_t len);
/* (Re)read dir's uidlist when it changed; a missing or broken one starts anew. 0 or -1. */
int uidlist_load(struct uidlist *, const char *dir, char *err, size_t errlen);
/* Write it durably (tmp, fsync, rename, fsync dir). 0 or -1. */
int uidlist_save(struct uidlist *, const char *dir, char *err, size_t errlen);
void uidlist_free(struct uidlist *);
/* Append an entry for a key (copied) with the next UID; returns the UID. */
uint32_t uidlist_add(struct uidlist *, const char *key, size_t keylen);
/* The same without a copy: key must outlive the list (a folder's own names). */
uint32_t uidlist_add_ref(struct uidlist *, const char *key, size_t keylen);
/* Room for n more entries. */
void uidlist_reserve(struct uidlist *, size_t n);
/* Drop entries whose UID is not in keep (sorted, n). */
void uidlist_retain(struct uidlist *, const uint32_t *keep, size_t n);

/* Lock of a folder: open (and create) the lock file, flock it. fd or -1. */
int store_lock_open(const char *dir, char *err, size_t errlen);
int store_lock(int fd, char *err, size_t errlen);
void store_unlock(int fd);
/*
 * The next modseq (under the lock): counter + 1. Moves ul's ceiling (and
 * marks ul dirty) when needed; store_modseq_flush() must follow before
 * the lock is dropped and before the modseq is shown to anyone.
 */
uint64_t store_modseq_next(int lockfd, struct uidlist *);
/* Save ul when dirty, then write the counter. 0 or -1 with err. */
int store_modseq_flush(int lockfd, struct uidlist *, const char *dir,
    char *err, size_t errlen);
/* The current counter (under the lock), at least the ceiling's floor. */
uint64_t store_modseq_current(int lockfd, const struct uidlist *);

/* imap_index.c: the cache. */
#define INDEX_F_NEW	0x40		/* the file was in new/ */
#define INDEX_F_CANON	0x80		/* its name is exactly what the store would make */
#define INDEX_SYSFLAGS	(IMAP_F_SEEN | IMAP_F_ANSWERED | IMAP_F_FLAGGED | \
			 IMAP_F_DELETED | IMAP_F_DRAFT)
struct index_rec {
	uint32_t	uid;
	uint32_t	flags;		/* IMAP_F_* but RECENT, | INDEX_F_NEW */
	uint32_t	keywords;
	uint32_t	pad;
	uint64_t	modseq;
	uint64_t	size;
	int64_t		internaldate;
};
struct index_hdr {
	uint32_t	uidvalidity, uidnext;
	uint64_t	highestmodseq;
	int64_t		new_sec, new_nsec, cur_sec, cur_nsec;	/* dir mtimes when scanned */
	int64_t		scan_sec;	/* when that was */
};
struct store_index {
	struct index_hdr	 h;
	struct index_rec	*r;
	size_t			 n;
	void			*map;		/* r points into this mapping of the file, or NULL */
	size_t			 maplen;
};
int index_parse(struct store_index *, const void *buf, size_t len);
/* Read dir's index; -1 (and an empty index) when missing, broken or foreign. */
int index_load(struct store_index *, const char *dir);
int index_save(const struct store_index *, const char *dir);
void index_free(struct store_index *);

/*
 * Names are allocated in a few big blocks when a folder is opened (a
 * malloc per message is a good part of the time of opening a large
 * one); a name replaced later is malloc'd alone. store_name_release()
 * frees a name unless it lives in one of the blocks.
 */
struct store_arena {
	char	*base;
	size_t	 size, used;
};
void store_name_release(struct imap_folder *, char *name);
char *store_arena_alloc(struct store_arena **, size_t *n, size_t len);
/* A block with room for len bytes, faulted in, when the last one lacks it. */
void store_arena_reserve(struct store_arena **, size_t *n, size_t len);
/* Fault in the pages of a range about to be written whole (when large). */
#define STORE_POPULATE_MIN	(64 * 1024)
void store_populate(void *, size_t);
void store_arenas_free(struct store_arena *, size_t n);

/* imap_store_scan.c: one pass over new/ and cur/. */
struct scan_ent {
	char		*name;		/* "new/<base>" or "cur/<base>" */
	uint32_t	 keylen;	/* of the base */
	int		 used;		/* matched to a message */
	int		 taken;		/* name now owned by a message */
};
struct scan {
	struct scan_ent	*e;
	size_t		 n, cap;
	size_t		 ncur;		/* where the cur/ entries start */
	struct store_arena *arenas;	/* the names */
	size_t		 narenas;
	struct timespec	 new_mtime, cur_mtime;
	struct timespec	 started;	/* the clock when the mtimes were read */
};
/* Append the entries of dir/new then dir/cur. 0 or -1 with err. */
int scan_dir(struct scan *, const char *dir, char *err, size_t errlen);
void scan_free(struct scan *);
/* Hand the scan's name blocks over to the folder (at open). */
void scan_keep(struct scan *, struct imap_folder *);
const char *scan_key(void *arg, uint32_t idx, size_t *len);
/* mtimes of dir/new and dir/cur. 0 or -1. */
int scan_mtimes(const char *dir, struct timespec *new_mtime, struct timespec *cur_mtime);

/* imap_store_kw.c: the keyword table. */
int kw_load(struct imap_folder *, char *err, size_t errlen);
int kw_atom_ok(const char *kw);

/* The private part of an open folder. */
struct store_priv {
	int			 lockfd;
	int			 notifyfd;
	struct uidlist		 ul;
	uint64_t		 seen_modseq;	/* the highestmodseq last reported */
	int			 dirty;		/* index to write */
	int			 costly;	/* sizes were read from files: write it soon */
	struct timespec		 new_mtime, cur_mtime;	/* at the last full scan */
	time_t			 scanned_at;	/* started.tv_sec of that scan */
	struct timespec		 scan_start;	/* its started */
	struct timespec		 kw_mtime;
	/* expunges done by imap_folder_expunge, reported by the next sync */
	uint32_t		*pend_seq, *pend_uid;
	size_t			 npend, pendcap;
	struct store_arena	*arenas;	/* names made at open */
	size_t			 narenas;
	/* the arrays handed out in struct imap_changes */
	uint32_t		*ch_seq, *ch_uid, *ch_changed;
};
/* imap_store_sync.c: the pass under the lock (ix only at open). */
int store_sync(struct imap_folder *, struct store_index *ix, struct imap_changes *,
    char *err, size_t errlen);

/*
 * Open from the index and the uidlist alone, without reading new/ and
 * cur/, when neither changed since the index was written. 1 done, 0 not
 * possible (the caller does the full pass), -1 error.
 */
int store_open_cached(struct imap_folder *, const struct store_index *, char *err,
    size_t errlen);
int store_index_fresh(const struct store_index *, const char *dir,
    struct timespec *new_mtime, struct timespec *cur_mtime);
void store_take_new(struct imap_folder *, size_t from);
/* Is a message's name exactly the one the store makes of its key and flags? */
int store_name_canonical(const char *name, unsigned flags, uint32_t kw);

/* imap_store.c */
/* Find message i's file again when it was renamed by someone else; 0, or -1 (gone). */
int store_msg_locate(struct imap_folder *, size_t i);
void store_pend_expunge(struct imap_folder *, uint32_t seq, uint32_t uid);
int store_write_index(struct imap_folder *);

/* imap_append.c, for imap_folders.c (INBOX rename) */
/* A new unique base "<sec>.M<usec>P<pid>Q<n>.<host>" into out. */
int store_new_base(char *out, size_t outlen, time_t sec);
/*
 * Give UIDs to keys of files already in dir's cur/ (under its lock,
 * held by the caller through lockfd). uids gets them. 0 or -1.
 */
int store_assign_uids(const char *dir, int lockfd, char *const *keys, const size_t *keylens,
    size_t n, uint32_t *uidvalidity, uint32_t *uids, char *err, size_t errlen);

#endif
