/*
 * qmgr_local: the routing of system_domains recipients, in qmgr (as
 * mail_owner, not chrooted: it reads the passwd database). A recipient
 * there is a Unix account (common/sysuser.h: lower-cased local part, the
 * extension cut at recipient_delimiter); qmgr_job.c sends it to deliver
 * over private/deliver-user in a request of its own, preceded by the
 * account's uid and gid as resolved here (common/agent.h). deliver
 * trusts that header only as far as it must: it checks the peer is
 * mail_owner, refuses uid 0, and re-checks every recipient against the
 * account once it runs as it.
 *
 * uid 0 is never delivered to (root's mail needs an alias, as Postfix
 * local(8) has it): a permanent failure, 5.7.1. No account: 5.1.1.
 */
#include "config.h"

#include <string.h>

#include "conf.h"
#include "qmgr.h"
#include "sysuser.h"
#include "util.h"

int
qmgr_local_account(const char *mbox, uid_t *uid, gid_t *gid, char *why,
    size_t whylen)
{
	struct sysuser u;

	switch (sysuser_find(&qmgr_conf, mbox, &u)) {
	case SYSUSER_OK:
		*uid = u.uid;
		*gid = u.gid;
		return 0;
	case SYSUSER_ROOT:
		str_fmt(why, whylen, "5.7.1 <%s>: mail to uid 0 is not delivered "
		    "(give root an alias)", mbox);
		return 5;
	case SYSUSER_NOUSER:
		str_fmt(why, whylen, "5.1.1 <%s>: no such user here", mbox);
		return 5;
	default:
		str_copy(why, "4.3.0 passwd lookup failed", whylen);
		return 4;
	}
}
