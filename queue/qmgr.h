/*
 * qmgr internals shared by qmgr.c (scheduling, concurrency slots, the
 * queue directories), qmgr_job.c (one message: aliases, routing, the
 * agent protocol, results), qmgr_agent.c (the agents' connections), qmgr_bounce.c (RFC 3464 bounces),
 * qmgr_dsn.c (success and delay notices, RFC 3461) and
 * qmgr_control.c (the admin socket used by `postern queue`).
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <sys/types.h>
#include <stdint.h>
#include <time.h>

#include "qfile.h"
#include "qmgr_dsn.h"
#include "strbuf.h"

struct conf;
struct aliases;

#define QMGR_DELIVER_SOCKET	"private/deliver"
#define QMGR_DELIVER_USER_SOCKET "private/deliver-user"	/* system_domains */
#define QMGR_SMTP_SOCKET	"private/smtp"
#define QMGR_CONTROL_SOCKET	"private/qmgr-control"
#define QMGR_FIFO		"private/qmgr"
#define QMGR_JOB_TIMEOUT_MS	(600 * 1000)	/* silence from deliver */
#define QMGR_SMTP_TIMEOUT_MS	(3600 * 1000)	/* smtp has its own stage timeouts */
#define QMGR_SMTP_BATCH		100		/* recipients per smtp transaction */
#define QMGR_RES_LOCAL		"*local"	/* throttle resources */
#define QMGR_RES_SMTP		"*smtp"

enum qmgr_agent { QMGR_AGENT_LOCAL, QMGR_AGENT_SMTP };
enum qmgr_admin { QMGR_ADMIN_NONE, QMGR_ADMIN_DELETE, QMGR_ADMIN_HOLD };

/* One recipient handed to an agent. */
struct qmgr_disp {
	size_t	 idx;		/* index in the queue file */
	char	*mbox;		/* final mailbox address */
	int	 answered;
};

/* One connection to an agent (deliver, or smtp for one domain). */
struct qmgr_conn {
	int		 fd;		/* -1 when done */
	enum qmgr_agent	 agent;
	char		 domain[256];	/* smtp: the destination */
	struct qmgr_disp *disp;
	size_t		 ndisp;
	char		 rbuf[4096];
	size_t		 rlen;
	int64_t		 deadline;
	char		 relay[300];	/* "local", or smtp's "host[ip]:port" */
	int		 dsn_passed;	/* smtp: the next hop took NOTIFY (RFC 3461 5.2.1) */
	int		 reused;	/* a kept deliver connection, no reply byte yet */
	int		 waiting;	/* not started: no slot for it (yet) */
	int		 sysuser;	/* local: a Unix account, over deliver-user */
	uid_t		 sys_uid;	/* its uid and gid (qmgr_local.c) */
	gid_t		 sys_gid;
};

/* One message being worked on (in active/). */
struct qmgr_job {
	int		 used;
	struct qfile	 q;
	char		 qid[QID_LEN + 1];
	struct qmgr_conn *conn;
	size_t		 nconn, nopen;
	int		 ntemp;		/* temporary failures this attempt */
	char		 throttle[256];	/* resource it waits for, "" none */
	struct strbuf	 errors;	/* "rcpt: text" lines for defer/ID */
	char		**diag;		/* per recipient: "CODE X.Y.Z text" */
	char		**rmta;		/* per recipient: remote MTA name */
	size_t		 ndiag;
	enum qmgr_admin	 admin;		/* what `postern queue` asked for */
	int		 retake;	/* it had waited for a slot before */
	int		 dirty;		/* successes marked but not yet synced */
	int		 parked;	/* read, waiting in memory for a deliver slot */
	uint64_t	 park_seq;	/* the order of parking */
};

extern struct conf qmgr_conf;
extern struct aliases *qmgr_aliases;

/* qmgr.c */
void qmgr_note_retry(time_t when);
/* Concurrency slots: 0 taken, -1 at the limit. */
int qmgr_slot_get(enum qmgr_agent, const char *domain);
void qmgr_slot_put(enum qmgr_agent, const char *domain);
/*
 * A message left in active/ waits for a slot of resource res; front: it
 * had waited already (it keeps its place, so new mail cannot starve it).
 */
void qmgr_wait_slot(const char *qid, const char *res, int front);
/* The job working on qid, or NULL. */
struct qmgr_job *qmgr_find_job(const char *qid);
/*
 * A job none of whose connections got a slot, all of them to deliver,
 * waits in memory (its file open, its plan made) for a slot instead of
 * being read again later: 1 when it was parked (qmgr_job_resume starts
 * it), 0 when it was not (it finishes as a waiter, qmgr_wait_slot).
 */
int qmgr_park(struct qmgr_job *);
/* Drop qid from the slot waiters; 1 if it was one. */
int qmgr_unwait(const char *qid);
/* Rescan deferred/ treating every message as due (flush). */
void qmgr_flush(void);

/* qmgr_job.c */
/* retake: the message had been waiting for a slot (see qmgr_wait_slot). */
int qmgr_job_start(struct qmgr_job *, const char *qid, int retake);
/* Start the connections of a parked job that were waiting for a slot. */
void qmgr_job_resume(struct qmgr_job *);
/* Input on one connection; 1 when the whole job is over. */
int qmgr_conn_input(struct qmgr_job *, struct qmgr_conn *);
/* Give up on one connection (timeout): the rest is temporary. 1 if the job is over. */
int qmgr_conn_abort(struct qmgr_job *, struct qmgr_conn *, const char *why);
/* Give up on every connection (shutdown). */
void qmgr_job_abort(struct qmgr_job *, const char *why);
/* Remember the diagnostic of recipient i (for the bounce). */
void qmgr_job_diag(struct qmgr_job *, size_t i, const char *text, const char *rmta);
/* Recipient i failed for now (it stays pending) or for good (marked F, synced). */
void qmgr_temp(struct qmgr_job *, size_t i, const char *mbox, const char *relay,
    const char *text);
void qmgr_perm(struct qmgr_job *, size_t i, const char *mbox, const char *text);

/* qmgr_route.c: expand aliases and route every pending recipient to its agent. */
void qmgr_plan(struct qmgr_job *);

/* qmgr_bounce.c: bounce the F recipients; 0 done (they are B now), -1 not. */
int qmgr_bounce(struct qmgr_job *);
/*
 * Queue one report about recipients idx[0..n) (act[k]: what happened to
 * idx[k]; one kind per report: failed, delayed, or delivered/relayed) to
 * `to`, from the null sender. 0 once committed, or -1.
 */
int qmgr_dsn_queue(const struct qmgr_job *, const char *to, const char *proto,
    const size_t *idx, const enum dsn_action *act, size_t n);

/* qmgr_dsn.c */
/*
 * The status byte for a success of recipient i: QRCPT_DONE, or
 * QRCPT_DELIVERED_DSN / QRCPT_RELAYED_DSN when NOTIFY=SUCCESS asks for a
 * notice (not when the smtp connection c passed NOTIFY on, RFC 3461 5.2.1).
 */
char qmgr_dsn_success_status(const struct qmgr_job *, const struct qmgr_conn *,
    size_t i);
/* Queue the success notice owed (S, R recipients), then mark them D. 0 or -1. */
int qmgr_dsn_success(struct qmgr_job *);
/* Before a deferral: the delay notice, once per message, when it is due. */
void qmgr_dsn_delay(struct qmgr_job *);

/* qmgr_local.c */
/*
 * A recipient of system_domains: its Unix account (common/sysuser.h).
 * 0 with *uid and *gid; 5 permanent or 4 temporary with the reason
 * ("X.Y.Z text") in why.
 */
int qmgr_local_account(const char *mbox, uid_t *uid, gid_t *gid, char *why,
    size_t whylen);

/* qmgr_agent.c: connections to the agents, and kept idle ones to deliver. */
/* A new connection to the agent's socket path: fd, or -1 with errno. */
int qmgr_agent_connect(const char *path);
/* An idle kept connection to deliver, or -1. */
int qmgr_agent_take(void);
/* Keep a deliver connection whose statuses all came back (or close it). */
void qmgr_agent_keep(int fd);
/* How many are kept idle: the pollfd entries qmgr_agent_pollfds() fills. */
size_t qmgr_agent_idle(void);
struct pollfd;
void qmgr_agent_pollfds(struct pollfd *);
/* After poll: close the idle ones that were closed or idle too long. */
void qmgr_agent_events(const struct pollfd *, size_t n, int64_t now);

/* qmgr_control.c */
int qmgr_control_open(void);
/* Serve one admin connection on the listening socket. */
void qmgr_control_accept(int lfd);

#endif
