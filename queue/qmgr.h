/*
 * qmgr internals shared by qmgr.c (scheduling, the queue directories) and
 * qmgr_job.c (one message: aliases, the deliver protocol, results).
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stdint.h>
#include <time.h>

#include "qfile.h"
#include "strbuf.h"

struct conf;
struct aliases;

#define QMGR_DELIVER_SOCKET	"private/deliver"
#define QMGR_FIFO		"private/qmgr"
#define QMGR_JOB_TIMEOUT_MS	(600 * 1000)	/* silence from deliver */

/* One recipient handed to deliver. */
struct qmgr_disp {
	size_t	 idx;		/* index in the queue file */
	char	*mbox;		/* final mailbox address */
	int	 answered;
};

/* One message being worked on (in active/). */
struct qmgr_job {
	struct qfile	 q;
	char		 qid[QID_LEN + 1];
	int		 fd;		/* connection to deliver, -1 if none */
	int64_t		 deadline;
	struct qmgr_disp *disp;
	size_t		 ndisp;
	char		 rbuf[4096];	/* partial reply line */
	size_t		 rlen;
	int		 ntemp;		/* temporary failures this attempt */
	struct strbuf	 errors;	/* "rcpt: text" lines for defer/ID */
};

extern struct conf qmgr_conf;
extern struct aliases *qmgr_aliases;

/* A deferred message is due at when: rescan deferred/ then. */
void qmgr_note_retry(time_t when);
/* Start a job on active/ID: 0 (in flight or finished), -1 (could not). */
int qmgr_job_start(struct qmgr_job *, const char *qid);
/* Read deliver's replies; 1 when the job is over (it is then finished). */
int qmgr_job_input(struct qmgr_job *);
/* Give up on deliver (timeout, shutdown): the rest is temporary. */
void qmgr_job_abort(struct qmgr_job *, const char *why);

#endif
