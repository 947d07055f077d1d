/*
 * qfile: the queue file format, its writer (smtpd, submitd, the maildrop
 * pickup) and its reader (qmgr, deliver, the queue tools).
 *
 * Layout of $state_dir/queue (every process chdir()s there; paths below
 * are relative to it, so they also hold inside smtpd's chroot):
 *   tmp/        files being written; never read by qmgr. Also f.ID:
 *               spent files kept for reuse (qfile_free.c), never a message
 *   incoming/   committed messages qmgr has not yet taken
 *   active/     messages qmgr is working on
 *   deferred/   waiting for a retry
 *   hold/       held by the admin
 *   defer/      per-message text of the last temporary error
 *   maildrop/   postern-sendmail's drop directory (issue 3)
 *   private/    lookup and deliver sockets, the qmgr wake-up FIFO "qmgr",
 *               the FIFO "free" announcing the kept files
 *
 * One file per message, named by its queue id. A text header of records,
 * then the line "data" and the content with LF line ends. Status bytes
 * and the retry fields sit at fixed offsets so they are updated in place
 * with pwrite(2) + fdatasync(2) (Postfix's way): a recipient's state is on
 * disk before the next attempt.
 *
 * Durability (DESIGN.md): qfile_commit() returns 0 only after the file is
 * fsync()ed, renamed into incoming/, and incoming/ is fsync()ed.
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define QID_LEN		20
#define QFILE_ADDR_MAX	512	/* longest address kept (RFC 5321 4.5.3.1.3: 256 path) */

/* Recipient status bytes. */
#define QRCPT_PENDING	'-'
#define QRCPT_DONE	'D'	/* delivered */
#define QRCPT_FAILED	'F'	/* failed permanently; bounce owed */
#define QRCPT_BOUNCED	'B'	/* failed and the bounce is queued */
#define QRCPT_EXPANDED	'X'	/* replaced by its alias expansion (xrcpt records) */
/* Done, and a success notice (RFC 3461 NOTIFY=SUCCESS) is owed: qmgr
 * queues it, then marks the recipient D (queue/qmgr_dsn.c). */
#define QRCPT_DELIVERED_DSN 'S'	/* delivered here (Action: delivered) */
#define QRCPT_RELAYED_DSN 'R'	/* relayed to a next hop without DSN (Action: relayed) */

#define QRCPT_NOPARENT	((size_t)-1)

struct qfile_writer {
	int	fd;
	char	qid[QID_LEN + 1];
	char	tmppath[64];
	char	*buf;			/* write buffer */
	size_t	blen, bcap;
	off_t	size_off;		/* offset of the fixed-width size field */
	unsigned long long size;	/* content bytes so far */
	int	in_data;
	int	failed;			/* sticky: an error happened (errno saved) */
	int	saved_errno;
	off_t	flushed;		/* bytes already written to fd */
	int	have_sender;
	size_t	nrcpt;
	int	defer_wake;		/* set by the caller: commit does not wake qmgr */
	off_t	oldsize;		/* a reused file's old length; -1: a new file */
};

/* Make a unique queue id ([0-9A-Z], QID_LEN chars). */
void qfile_new_id(char out[QID_LEN + 1]);

/*
 * Start a message in tmp/ (cwd must be the queue directory). 0 or -1.
 * Then call qfile_put_attr/qfile_put_sender/qfile_put_rcpt, then
 * qfile_begin_data, then qfile_write any number of times, then commit or abort.
 */
int qfile_create(struct qfile_writer *);
/* Envelope attributes: name is one of client_addr, client_name, helo,
 * protocol, auth_user, body (7BIT/8BITMIME), smtputf8 (yes), envid, ret. */
int qfile_put_attr(struct qfile_writer *, const char *name, const char *value);
int qfile_put_sender(struct qfile_writer *, const char *sender);	/* "" = null sender */
/* orcpt may be NULL (RFC 3461 ORCPT), notify may be NULL ("SUCCESS,FAILURE"...). */
int qfile_put_rcpt(struct qfile_writer *, const char *rcpt, const char *orcpt,
    const char *notify);
int qfile_begin_data(struct qfile_writer *);
/* Content bytes with LF line ends. Buffered. */
int qfile_write(struct qfile_writer *, const void *, size_t);
/* Content bytes so far. */
unsigned long long qfile_size(const struct qfile_writer *);
/*
 * Flush, fix the size field, fsync, rename into incoming/, fsync incoming/,
 * then wake qmgr through private/qmgr with the queue id (best effort). 0 or -1 (errno set;
 * the temporary file is removed).
 */
int qfile_commit(struct qfile_writer *);
/*
 * With w->defer_wake set (after qfile_create), qfile_commit does not wake
 * qmgr: the caller answers its client first, then calls qfile_wake_id()
 * with the queue id, so that qmgr's work never stands between the fsync
 * and the 250. The id on the FIFO lets qmgr take the message without a
 * scan of incoming/.
 */
void qfile_wake_id(const char *qid);
/* The same, into hold/ (a content check's HOLD): as durable, qmgr not woken. */
int qfile_commit_hold(struct qfile_writer *);
void qfile_abort(struct qfile_writer *);
/*
 * qmgr: the message in path ("active/ID", size bytes) is done. Its file
 * is kept as tmp/f.ID for a later qfile_create() to write over (a small
 * file, while the pool has room), else unlinked (qfile_free.c). 0, or -1
 * with errno of unlink(2). A kept file is announced to writers by
 * qfile_free_flush().
 */
int qfile_recycle(const char *path, const char *qid, off_t size);
/*
 * qmgr, in its loop: announce the files qfile_recycle() kept, once the
 * oldest has waited 200 ms (or 256 wait, or force), after an fsync of
 * every queue directory that names messages. qfile_free_due() is the
 * now_ms() by which to call it again, -1 when nothing waits.
 */
void qfile_free_flush(int force);
int64_t qfile_free_due(void);
/* qmgr at start: remove what an earlier qmgr kept (tmp/f.*), empty the FIFO. */
void qfile_free_restore(void);
/* qmgr, every second: with under 256 MiB free, unlink what is kept. */
void qfile_free_check(void);

/* Reader */
struct qfile_rcpt {
	char	*addr;
	char	*orcpt;		/* NULL if none */
	char	*notify;	/* NULL if none */
	char	 status;
	off_t	 status_off;
	size_t	 parent;	/* QRCPT_NOPARENT, or the recipient it was expanded from */
};

struct qfile {
	int	 fd;
	char	 qid[QID_LEN + 1];
	time_t	 arrival;
	unsigned attempts;
	time_t	 next_attempt;
	off_t	 retry_off;		/* offset of the fixed-width retry fields */
	char	*sender;
	char	*client_addr, *client_name, *helo, *protocol, *auth_user;
	char	*body, *envid, *ret;
	int	 smtputf8;
	struct qfile_rcpt *rcpt;
	size_t	 nrcpt;
	off_t	 data_off;		/* first content byte */
	unsigned long long size;	/* content bytes */
	off_t	 trailer_end;		/* end of the last whole trailer record or pad */
	time_t	 delay_notice;		/* when the delay notice went; 0: not yet */
};

/*
 * Open and parse a queue file (path relative to cwd, e.g. "active/ID").
 * writable=1 opens O_RDWR for status updates. 0, or -1 with errno
 * (EINVAL for a malformed file, ESTALE for one whose queue id is not its
 * name: after a crash, an old name of a file reused for another message).
 */
int qfile_open(struct qfile *, const char *path, int writable);
/* Parse from an already open fd (deliver gets the fd from qmgr). The fd is
 * kept and closed by qfile_close; on failure it is left open for the caller. */
int qfile_open_fd(struct qfile *, int fd);
/* Set recipient i's status byte (in place). Durable after qfile_sync. */
int qfile_mark(struct qfile *, size_t i, char status);
/* Set the retry fields (in place). Durable after qfile_sync. */
int qfile_set_retry(struct qfile *, unsigned attempts, time_t next);
int qfile_sync(struct qfile *);
/*
 * Alias expansion (qmgr): append an "xrcpt" record for addr, expanded from
 * recipient parent, after the content. Returns the new recipient's index
 * or -1. Durable after qfile_sync; then mark the parent QRCPT_EXPANDED.
 */
long qfile_add_rcpt(struct qfile *, size_t parent, const char *addr);
/*
 * qmgr: record that the delay notice (RFC 3464 Action: delayed) was
 * queued at `when`: a "delayed SECONDS" record appended after the
 * content, as xrcpt records are. Durable after qfile_sync. 0 or -1.
 */
int qfile_mark_delay_notice(struct qfile *, time_t when);
void qfile_close(struct qfile *);

#endif
