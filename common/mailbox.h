/*
 * mailbox: one user's Maildir as the access servers see it (pop3d now,
 * imapd later). Runs in the post-authentication session process, as the
 * mail owner, with the Maildir as its working directory.
 *
 * A snapshot of new/ and cur/ is taken at open: messages sorted by
 * delivery time, each with its wire size (CRLF line ends, before any
 * dot-stuffing) taken from the ,W= (or ,S= plus a count) in the file name
 * when present, else computed once from the file. The UIDL of a message is
 * the unique part of its file name (up to the first ',' or ':'): it never
 * changes while the file exists, survives restarts, and needs no index
 * that could be lost (see mailbox_uidl).
 */
#ifndef POSTERN_MAILBOX_H
#define POSTERN_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#define MAILBOX_INUSE	(-2)	/* mailbox_open: another session holds the lock */
#define MAILBOX_UIDLMAX	70	/* RFC 1939 7: at most 70 characters 0x21..0x7E */

struct mailbox_msg {
	char			*name;		/* "new/<base>" or "cur/<base>:2,<flags>" */
	unsigned long long	 size;		/* octets on the wire, CRLF line ends */
	int			 deleted;	/* marked by DELE, undone by RSET */
	int			 seen;		/* has the S flag */
	char			 uidl[MAILBOX_UIDLMAX + 1];
	/* sort key: delivery time from the file name */
	unsigned long long	 sec, usec;
};

struct mailbox {
	struct mailbox_msg	*msgs;
	size_t			 n;
	int			 lockfd;
};

/*
 * Open the Maildir that is the current directory (every call works
 * relative to it), creating new/ cur/ tmp/ if missing. With lock, take an
 * exclusive lock (flock on postern-pop3.lock); MAILBOX_INUSE if another
 * session has it. 0, -1 with err, or MAILBOX_INUSE.
 */
int mailbox_open(struct mailbox *, int lock, char *err, size_t errlen);
void mailbox_close(struct mailbox *);
/* Sum of the sizes of messages not marked deleted, and their count. */
void mailbox_stat(const struct mailbox *, size_t *count, unsigned long long *octets);
/*
 * Open message i (0-based) for reading. The file may have been renamed
 * (flags changed by another client); then it is found again by its
 * unique part. fd or -1.
 */
int mailbox_msg_open(struct mailbox *, size_t i);
/* Give message i the Seen flag: new/X -> cur/X:2,S, or add S in cur/. 0 or -1. */
int mailbox_msg_seen(struct mailbox *, size_t i);
/* Unlink every message marked deleted (POP3 UPDATE). Returns the number of failures. */
size_t mailbox_expunge(struct mailbox *);

/*
 * The parts of a Maildir file name, for the unit tests and deliver:
 * the unique part (up to ',' or ':'), and the wire size from ,W=
 * (1 when found, 0 when not).
 */
size_t mailbox_name_uniq_len(const char *base);
int mailbox_name_wsize(const char *base, unsigned long long *wsize);
/* The UIDL of a base name into out (MAILBOX_UIDLMAX + 1 bytes). */
void mailbox_uidl(const char *base, char *out);
/* Wire size of the message in fd (LF -> CRLF counted, final CRLF added). 0 or -1. */
int mailbox_count_wire(int fd, unsigned long long *wsize);

#endif
