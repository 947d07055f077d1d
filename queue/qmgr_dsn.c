/*
 * qmgr_dsn: the success and delay notices of RFC 3461 (the failure
 * reports are qmgr_bounce.c's; both are written by qmgr_dsn_queue()).
 * Runs in qmgr (as mail_owner, cwd the queue directory).
 *
 * Success (RFC 3461 5.2.2 (b), 5.2.3): a recipient with NOTIFY=SUCCESS
 * that deliver(8) put into a mailbox, or that the smtp client handed to
 * a next hop that does not offer DSN, is marked S or R instead of D
 * (qmgr_job.c, through qmgr_dsn_success_status). When the attempt ends,
 * qmgr_dsn_success() queues one notice for all of them ("delivered",
 * "relayed") and only then marks them D: a crash in between sends the
 * notice twice at worst, never zero times. A next hop that offers DSN
 * got NOTIFY and ORCPT from the smtp client and reports itself (RFC 3461
 * 5.2.1): no "relayed" notice from us then.
 *
 * Delay (RFC 3464 Action: delayed): when a message is deferred and has
 * been queued for delay_warning_time (0: never), the pending recipients
 * whose NOTIFY has DELAY (or who have no NOTIFY: our default is
 * FAILURE,DELAY, RFC 3461 4.1) are reported once, with
 * Will-Retry-Until. The queue file then gets a "delayed" record
 * (qfile_mark_delay_notice), synced, so a restart does not send it
 * again; a crash between the commit of the notice and that sync sends
 * it twice at worst.
 *
 * No notice ever goes to the null sender (RFC 3461 5.2).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "qmgr.h"
#include "qmgr_dsn.h"
#include "util.h"

#define QD_PROTO	"bounce"	/* a failed notice is a double bounce */

/* The recipient whose NOTIFY and ORCPT apply to i (itself or its parent). */
static const struct qfile_rcpt *
qd_orig(const struct qmgr_job *j, size_t i)
{
	size_t p = j->q.rcpt[i].parent;

	return p == QRCPT_NOPARENT || p >= j->q.nrcpt ? &j->q.rcpt[i] :
	    &j->q.rcpt[p];
}

char
qmgr_dsn_success_status(const struct qmgr_job *j, const struct qmgr_conn *c,
    size_t i)
{
	if (i >= j->q.nrcpt || j->q.sender[0] == '\0' ||
	    !dsn_wants(qd_orig(j, i)->notify, DSN_DELIVERED))
		return QRCPT_DONE;
	if (c->agent != QMGR_AGENT_SMTP)
		return QRCPT_DELIVERED_DSN;	/* deliver(8): into a mailbox */
	return c->dsn_passed ? QRCPT_DONE : QRCPT_RELAYED_DSN;
}

int
qmgr_dsn_success(struct qmgr_job *j)
{
	size_t *idx = xcalloc(j->q.nrcpt + 1, sizeof(*idx));
	enum dsn_action *act = xcalloc(j->q.nrcpt + 1, sizeof(*act));
	size_t i, n = 0;
	int rv = 0;

	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_DELIVERED_DSN &&
		    j->q.rcpt[i].status != QRCPT_RELAYED_DSN)
			continue;
		act[n] = j->q.rcpt[i].status == QRCPT_RELAYED_DSN ? DSN_RELAYED :
		    DSN_DELIVERED;
		idx[n++] = i;
	}
	/* S and R are only set for a sender; a file edited by hand may differ. */
	if (n > 0 && j->q.sender[0] != '\0' &&
	    qmgr_dsn_queue(j, j->q.sender, QD_PROTO, idx, act, n) == -1) {
		log_err("%s: cannot queue the success notice: %s", j->qid,
		    strerror(errno));
		rv = -1;
	}
	/* The notice is committed: only now are the recipients done. */
	for (i = 0; i < n && rv == 0; i++)
		if (qfile_mark(&j->q, idx[i], QRCPT_DONE) == -1)
			rv = -1;
	if (n > 0 && rv == 0 && qfile_sync(&j->q) == -1)
		rv = -1;
	if (n > 0 && rv == -1)
		log_err("%s: success notice not recorded: %s", j->qid, strerror(errno));
	free(idx);
	free(act);
	return rv;
}

/* Is the delay notice due now? */
static int
qd_delay_due(const struct qmgr_job *j, time_t now)
{
	return qmgr_conf.delay_warning_time > 0 && j->q.delay_notice == 0 &&
	    j->q.sender[0] != '\0' &&
	    now - j->q.arrival >= (time_t)qmgr_conf.delay_warning_time &&
	    now - j->q.arrival < (time_t)qmgr_conf.queue_lifetime;
}

void
qmgr_dsn_delay(struct qmgr_job *j)
{
	time_t now = time(NULL);
	size_t *idx, i, n = 0;
	enum dsn_action *act;

	if (!qd_delay_due(j, now))
		return;
	idx = xcalloc(j->q.nrcpt + 1, sizeof(*idx));
	act = xcalloc(j->q.nrcpt + 1, sizeof(*act));
	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].status != QRCPT_PENDING ||
		    !dsn_wants(qd_orig(j, i)->notify, DSN_DELAYED))
			continue;
		act[n] = DSN_DELAYED;
		idx[n++] = i;
	}
	if (n == 0)
		goto out;
	if (qmgr_dsn_queue(j, j->q.sender, QD_PROTO, idx, act, n) == -1) {
		/* Not committed: the next deferral tries again. */
		log_err("%s: cannot queue the delay notice: %s", j->qid,
		    strerror(errno));
		goto out;
	}
	if (qfile_mark_delay_notice(&j->q, now) == -1 || qfile_sync(&j->q) == -1)
		log_err("%s: cannot record the delay notice (it may go again): %s",
		    j->qid, strerror(errno));
out:
	free(idx);
	free(act);
}
