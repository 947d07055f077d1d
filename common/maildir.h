/*
 * maildir: delivery into a Maildir by the Maildir protocol (tmp/, fsync,
 * link into new/, fsync new/), with Dovecot-compatible file names
 * "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size with CRLF>" so that
 * pop3d and imapd can read sizes from the name.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>

enum maildir_status {
	MAILDIR_OK = 0,
	MAILDIR_TEMP = 1,	/* try again later (full disk, quota, I/O error) */
	MAILDIR_PERM = 2	/* will never work (bad mailbox name) */
};

/*
 * Is s safe as one path component of a mailbox (a domain or a local part)?
 * Not empty, no '/', no leading '.', no control characters or NUL.
 */
int maildir_component_ok(const char *s);

/*
 * Create the Maildir at path (tmp/, new/, cur/ and any missing parent,
 * mode 0700), fsyncing the parent of every directory created. A
 * maildir_status; err says why on failure.
 */
int maildir_create(const char *path, char *err, size_t errlen);

/*
 * Deliver one message into the Maildir at path (created if missing): the
 * bytes of prefix, then len bytes of content read from fd at offset off,
 * of which the first headlen (at most len) are already in memory at head
 * (NULL, 0: none; deliver read the header section for its rules), so
 * they are not read again. hostname goes
 * into the file name. On MAILDIR_OK, name (if not NULL) gets the new/ file
 * name. A maildir_status; err says why on failure, and errno is its
 * cause (ENOSPC, EDQUOT: MAILDIR_TEMP). No file is left in tmp/ or new/.
 */
int maildir_deliver(const char *path, const char *hostname, const void *prefix,
    size_t plen, const void *head, size_t headlen, int fd, off_t off,
    unsigned long long len, char *name, size_t namelen, char *err,
    size_t errlen);

/*
 * Readers' cleanup of tmp/ (Maildir and Dovecot's rule): remove the
 * regular files in dir/tmp whose mtime and ctime are both more than
 * MAILDIR_TMP_MAX_AGE old (what a killed writer left), at most once per
 * MAILDIR_TMP_SCAN_SECS: the time of the last scan is tmp/'s atime,
 * set explicitly after each scan. now is the time to judge ages by
 * (time(NULL); the unit test moves it). The number of files removed, or -1.
 */
#define MAILDIR_TMP_MAX_AGE	(36 * 3600)
#define MAILDIR_TMP_SCAN_SECS	(8 * 3600)
int maildir_clean_tmp(const char *dir, time_t now);

#endif
