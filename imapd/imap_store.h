/*
 * imap_store: one user's Maildir++ as imapd's session process sees it
 * (runs as the mail owner with the user's Maildir as its working
 * directory; pop3d's common/mailbox.c reads the same files).
 *
 * Layout (Dovecot-compatible, so that Dovecot can be benchmarked on the
 * same tree): INBOX is the Maildir itself; folder "A.B" is the directory
 * ".A.B" (hierarchy delimiter '.', names on disk in modified UTF-7 as on
 * the wire); each folder has cur/ new/ tmp/ and a "maildirfolder" file.
 * Message flags are the maildir info ":2,<letters>" (D draft, F flagged,
 * R answered, S seen, T deleted, a..z keywords through the folder's
 * "postern-keywords" file). The file names hold the truth; per folder,
 * "postern-uidlist" (UIDVALIDITY, next UID, a ceiling over every modseq
 * handed out, and one line per UID with the file's base name up to ':')
 * is the only other state that must survive; "postern-index" is a cache
 * (sizes, dates, flags and modseqs by UID) that may be deleted at any
 * time: rebuilding it loses no flag and no UID, and modseqs restart from
 * the ceiling, never lower. "postern-uidlist.lock" is flock()ed while
 * UIDs or modseqs are handed out. Subscriptions are in "subscriptions"
 * at the Maildir root, one name per line. The files' formats and the
 * crash reasoning are in imap_uidlist.c and imap_index.c.
 *
 * A folder is a snapshot (an array of messages in UID order, seq = index
 * + 1) brought up to date by imap_folder_sync(), which reports what
 * changed since the last call: new messages (appended at the end, UIDs
 * assigned under a lock so that concurrent sessions agree), messages gone
 * (expunged by another session or removed by pop3d) and flag changes made
 * by others. The session turns those into EXISTS / EXPUNGE / VANISHED /
 * FETCH responses when the protocol allows them.
 */
#ifndef POSTERN_IMAP_STORE_H
#define POSTERN_IMAP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IMAP_DELIM		'.'
#define IMAP_NAME_MAX		1024	/* a mailbox name on the wire */
#define IMAP_KEYWORDS_MAX	26	/* maildir keyword letters a..z */
#define IMAP_KEYWORD_LEN	128

/* System flags, as a bit set. */
#define IMAP_F_SEEN		0x01
#define IMAP_F_ANSWERED		0x02
#define IMAP_F_FLAGGED		0x04
#define IMAP_F_DELETED		0x08
#define IMAP_F_DRAFT		0x10
#define IMAP_F_RECENT		0x20	/* session-only, never stored in a file name */

/* Special-use (RFC 6154) of a folder, from its name. */
#define IMAP_SU_SENT		0x01
#define IMAP_SU_DRAFTS		0x02
#define IMAP_SU_TRASH		0x04
#define IMAP_SU_JUNK		0x08
#define IMAP_SU_ARCHIVE		0x10

struct imap_msg {
	uint32_t	 uid;
	unsigned	 flags;		/* IMAP_F_* */
	uint32_t	 keywords;	/* bit k = keyword k of the folder's keyword table */
	uint64_t	 modseq;	/* RFC 7162: changes with every flag change */
	uint64_t	 size;		/* RFC822.SIZE: octets with CRLF line ends */
	time_t		 internaldate;	/* the file's mtime (set by APPEND) */
	char		*name;		/* "cur/<base>:2,<flags>" or "new/<base>" */
};

struct imap_folder {
	char		 name[IMAP_NAME_MAX + 1];	/* wire name (mUTF-7), "INBOX" */
	char		 dir[IMAP_NAME_MAX + 8];	/* "." or ".A.B" */
	int		 readonly;			/* EXAMINE, STATUS */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	struct imap_msg	*msgs;
	size_t		 n, cap;
	char		*keywords[IMAP_KEYWORDS_MAX];	/* NULL where unused */
	/* private to imap_store.c */
	void		*priv;
};

/* What imap_folder_sync found since the last call. Arrays are the store's; valid until the next call. */
struct imap_changes {
	uint32_t	*expunged_seq;	/* sequence numbers, descending, as they were before */
	uint32_t	*expunged_uid;	/* the same messages' UIDs */
	size_t		 nexpunged;
	uint32_t	*changed_seq;	/* flags changed by someone else (after expunges applied) */
	size_t		 nchanged;
	size_t		 nnew;		/* messages appended at the end */
};

/*
 * Open the folder (wire name; "INBOX" in any case is the Maildir root).
 * Creates new/ cur/ tmp/ of INBOX when missing. With readonly, messages in
 * new/ are not moved to cur/ and \Recent is not taken. 0, -1 with err
 * (errno ENOENT when there is no such folder).
 */
int imap_folder_open(struct imap_folder *, const char *name, int readonly,
    char *err, size_t errlen);
void imap_folder_close(struct imap_folder *);
/* Bring the snapshot up to date (see above). 0 or -1 with err. */
int imap_folder_sync(struct imap_folder *, struct imap_changes *, char *err, size_t errlen);
/*
 * A file descriptor that becomes readable when the folder may have
 * changed (inotify on new/ and cur/), for IDLE; -1 when there is none
 * (poll then, once a second). imap_folder_sync() clears it.
 */
int imap_folder_notify_fd(struct imap_folder *);

/* Index of the message with this UID, or -1. Binary search. */
ssize_t imap_folder_find_uid(const struct imap_folder *, uint32_t uid);

/*
 * Change flags and keywords of message i: mode '+' adds, '-' removes,
 * '=' replaces (RECENT is ignored). Renames the file, bumps modseq when
 * anything changed. 0 or -1 with err (a message gone meanwhile is not an
 * error: 0 and nothing changed).
 */
int imap_msg_set_flags(struct imap_folder *, size_t i, int mode, unsigned flags,
    uint32_t keywords, char *err, size_t errlen);
/*
 * Keyword name -> bit index in this folder's table, adding it (and
 * saving the table) when create. -1 when absent, or the table is full,
 * or the name is not a valid atom.
 */
int imap_keyword_index(struct imap_folder *, const char *kw, int create);

/*
 * Read message i whole, with CRLF line ends (bare LF becomes CRLF), into
 * a malloc'd buffer (*buf, *len). 0, or -1 with err (a message whose file
 * has vanished gives errno ENOENT).
 */
int imap_msg_read(struct imap_folder *, size_t i, char **buf, size_t *len,
    char *err, size_t errlen);

/*
 * Expunge: unlink every message with \Deleted (only those whose UID is in
 * uids when uids is not NULL, for UID EXPUNGE; nuids entries, sorted),
 * and remove them from the snapshot. The removed messages are reported
 * like other expunges by the next imap_folder_sync(). 0 or -1.
 */
int imap_folder_expunge(struct imap_folder *, const uint32_t *uids, size_t nuids,
    char *err, size_t errlen);

/*
 * APPEND: store len bytes (CRLF or LF) as a new message in folder name
 * (need not be open), with flags, keyword names (nkw of them) and an
 * internal date (0 = now). Written to tmp/, fsynced, renamed into cur/,
 * directory fsynced, UID assigned at once. *uidvalidity and *uid get the
 * APPENDUID values (RFC 4315). 0, -1 with err; errno ENOSPC/EDQUOT for a
 * full disk, ENOENT for no such folder.
 */
int imap_append(const char *name, const char *data, size_t len, unsigned flags,
    const char *const *kw, size_t nkw, time_t internaldate,
    uint32_t *uidvalidity, uint32_t *uid, char *err, size_t errlen);
/*
 * COPY: copy messages idx[0..n) of the open folder src into folder dst
 * (by hard link when it can, else by copy), with their flags and keywords.
 * dst_uids gets the new UIDs in the same order (COPYUID), *uidvalidity the
 * destination's. 0 or -1 with err (nothing is left half copied: on failure
 * what was linked is removed).
 */
int imap_copy(struct imap_folder *src, const size_t *idx, size_t n, const char *dst,
    uint32_t *uidvalidity, uint32_t *dst_uids, char *err, size_t errlen);

/* Folders. Names are wire names (mUTF-7). */
struct imap_folder_info {
	char		name[IMAP_NAME_MAX + 1];
	int		has_children;
	unsigned	special_use;	/* IMAP_SU_* */
	int		subscribed;
};
/* Every folder, INBOX first then sorted; *n entries, malloc'd. 0 or -1. */
int imap_folder_list(struct imap_folder_info **out, size_t *n, char *err, size_t errlen);
/* Create (parents too, RFC 3501 6.3.3), delete, rename (children follow; INBOX: moves its messages). 0 or -1 with err and errno (EEXIST, ENOENT, ENOTEMPTY, EINVAL). */
int imap_folder_create(const char *name, char *err, size_t errlen);
int imap_folder_delete(const char *name, char *err, size_t errlen);
int imap_folder_rename(const char *from, const char *to, char *err, size_t errlen);
int imap_subscribe(const char *name, int on, char *err, size_t errlen);
/* Is name a valid folder name for CREATE (no empty component, no "..", no '/', not too long)? */
int imap_folder_name_ok(const char *name);
/* Special-use attribute of a name ("Sent" -> IMAP_SU_SENT), 0 when none. */
unsigned imap_special_use(const char *name);
/* First login: create Sent, Drafts, Trash, Junk, Archive (subscribed) when missing. */
int imap_store_first_login(char *err, size_t errlen);

/*
 * Quota (RFC 9208): storage in octets and messages over every folder,
 * from the file names (W=/S=) and the indexes. 0 or -1.
 */
int imap_quota_usage(uint64_t *octets, uint64_t *messages, char *err, size_t errlen);

/*
 * Status of a folder that need not be open (STATUS, LIST-STATUS), cheaply
 * (from the index when it is current). 0 or -1 with err.
 */
struct imap_status {
	uint32_t	messages, recent, unseen, deleted, uidnext, uidvalidity;
	uint64_t	highestmodseq, size;
};
int imap_folder_status(const char *name, struct imap_status *, char *err, size_t errlen);

#endif
