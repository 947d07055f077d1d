/*
 * qmgr_route: the plan for one message in active/, in qmgr (as
 * mail_owner). Each pending original recipient is expanded through the
 * aliases (the expansion recorded in the queue file as xrcpt records,
 * fsynced, before the parent is marked X), then every final address is
 * routed: postmaster to its mailbox (common/postmaster.h), a local user
 * or alias (asked of lookupd) to deliver, a Unix account of
 * system_domains to deliver-user (qmgr_local.c), anything else to the
 * smtp client grouped by destination domain. qmgr_job.c then opens the
 * connections and runs the requests.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "aliases.h"
#include "conf.h"
#include "log.h"
#include "lookup.h"
#include "postmaster.h"
#include "qmgr.h"
#include "util.h"

#define QMGR_LOOKUP_MS	5000

static struct qmgr_conn *
qmgr_conn_new(struct qmgr_job *j, enum qmgr_agent a, const char *domain)
{
	struct qmgr_conn *c;

	j->conn = xreallocarray(j->conn, j->nconn + 1, sizeof(*j->conn));
	c = &j->conn[j->nconn++];
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->agent = a;
	str_copy(c->domain, domain, sizeof(c->domain));
	str_copy(c->relay, a == QMGR_AGENT_LOCAL ? "local" : "none", sizeof(c->relay));
	return c;
}

/* Add recipient i to the open group for (agent, domain). */
static void
qmgr_group_add(struct qmgr_job *j, enum qmgr_agent a, const char *domain,
    size_t i, const char *mbox)
{
	struct qmgr_conn *c = NULL;
	size_t k;

	for (k = j->nconn; k > 0; k--) {
		c = &j->conn[k - 1];
		if (c->agent == a && strcmp(c->domain, domain) == 0)
			break;
		c = NULL;
	}
	/* deliver takes at most AGENT_MAX_RCPT per request (alias expansions can be more). */
	if (c == NULL || (a == QMGR_AGENT_SMTP && c->ndisp >= QMGR_SMTP_BATCH) ||
	    (a == QMGR_AGENT_LOCAL && c->ndisp >= AGENT_MAX_RCPT))
		c = qmgr_conn_new(j, a, domain);
	c->disp = xreallocarray(c->disp, c->ndisp + 1, sizeof(*c->disp));
	c->disp[c->ndisp].idx = i;
	c->disp[c->ndisp].mbox = xstrdup(mbox);
	c->disp[c->ndisp].answered = 0;
	c->ndisp++;
}

/*
 * Was recipient i checked with lookupd already? smtpd and submitd ask it
 * at RCPT time (an unknown user gets 550 there), so an original
 * recipient of mail they queued needs no second round trip here. Alias
 * targets, and mail from pickup or from qmgr itself (bounces), are
 * checked here.
 */
static int
qmgr_checked_at_rcpt(const struct qmgr_job *j, size_t i)
{
	const char *proto = j->q.protocol;

	return j->q.rcpt[i].parent == QRCPT_NOPARENT && proto != NULL &&
	    strstr(proto, "SMTP") != NULL;
}

/*
 * RFC 5321 4.5.1: postmaster@ a local domain without an alias or a user of
 * that name goes to postmaster_address, root's alias or the first user
 * (common/postmaster.h). The address to expand for addr, or NULL when it
 * reaches no mailbox (deferred: `postern check` warns about it).
 */
static const char *
qmgr_postmaster(struct qmgr_job *j, size_t i, const char *addr, char *pm,
    size_t pmlen)
{
	switch (postmaster_target(&qmgr_conf, qmgr_aliases, addr, pm, pmlen)) {
	case 0:
		return addr;
	case 1:
		return pm;
	default:
		qmgr_temp(j, i, addr, "none", "4.3.0 postmaster reaches no mailbox "
		    "(no alias, no user, postmaster_address unset)");
		return NULL;
	}
}

/* A system_domains recipient: its own request over deliver-user. */
static void
qmgr_route_user(struct qmgr_job *j, size_t i, const char *mbox)
{
	struct qmgr_conn *c;
	char why[600];
	uid_t uid;
	gid_t gid;

	switch (qmgr_local_account(mbox, &uid, &gid, why, sizeof(why))) {
	case 0:
		break;
	case 5:
		qmgr_perm(j, i, mbox, why);
		return;
	default:
		qmgr_temp(j, i, mbox, "none", why);
		return;
	}
	c = qmgr_conn_new(j, QMGR_AGENT_LOCAL, "*user");	/* never grouped */
	c->sysuser = 1;
	c->sys_uid = uid;
	c->sys_gid = gid;
	c->disp = xreallocarray(NULL, 1, sizeof(*c->disp));
	c->disp[0].idx = i;
	c->disp[0].mbox = xstrdup(mbox);
	c->disp[0].answered = 0;
	c->ndisp = 1;
}

/*
 * Route one final address: local -> deliver (if it exists), else smtp.
 * An alias target that is a bare postmaster@ a local domain goes where
 * qmgr_postmaster sends it (without a second alias expansion).
 */
static void
qmgr_route(struct qmgr_job *j, size_t i, const char *mbox)
{
	const char *at;
	char dom[256], t[700], pm[512];

	if (j->q.rcpt[i].parent != QRCPT_NOPARENT &&
	    (mbox = qmgr_postmaster(j, i, mbox, pm, sizeof(pm))) == NULL)
		return;
	at = strrchr(mbox, '@');
	if (at == NULL || at[1] == '\0' || str_copy(dom, at + 1, sizeof(dom)) == -1) {
		qmgr_perm(j, i, mbox, "5.1.3 bad recipient address syntax");
		return;
	}
	str_lower(dom);
	if (conf_is_system_domain(&qmgr_conf, dom)) {
		qmgr_route_user(j, i, mbox);	/* Unix accounts: qmgr_local.c */
		return;
	}
	if (!conf_is_local_domain(&qmgr_conf, dom)) {
		qmgr_group_add(j, QMGR_AGENT_SMTP, dom, i, mbox);
		return;
	}
	if (qmgr_checked_at_rcpt(j, i)) {
		qmgr_group_add(j, QMGR_AGENT_LOCAL, "", i, mbox);
		return;
	}
	switch (lookup_rcpt(LOOKUP_SOCKET, mbox, QMGR_LOOKUP_MS)) {
	case LOOKUP_OK:
		qmgr_group_add(j, QMGR_AGENT_LOCAL, "", i, mbox);
		break;
	case LOOKUP_NOUSER:
	case LOOKUP_NOTLOCAL:
		str_fmt(t, sizeof(t), "5.1.1 <%s>: no such user here", mbox);
		qmgr_perm(j, i, mbox, t);
		break;
	default:
		qmgr_temp(j, i, mbox, "none", "4.3.0 recipient lookup failed (lookupd)");
		break;
	}
}

static int
qmgr_is_local(const char *domain, void *arg)
{
	(void)arg;
	return conf_is_local_domain(&qmgr_conf, domain);
}

/* Does recipient i already have xrcpt children (a crash after writing them)? */
static int
qmgr_has_children(const struct qmgr_job *j, size_t i)
{
	size_t k;

	for (k = 0; k < j->q.nrcpt; k++)
		if (j->q.rcpt[k].parent == i)
			return 1;
	return 0;
}

/* Expand original recipient i; record the expansion durably. */
static void
qmgr_expand(struct qmgr_job *j, size_t i)
{
	struct alias_list l;
	char err[256], pm[512];
	const char *addr = j->q.rcpt[i].addr, *what;
	size_t k;

	if (qmgr_has_children(j, i))
		goto mark;
	if ((what = qmgr_postmaster(j, i, addr, pm, sizeof(pm))) == NULL)
		return;
	if (aliases_expand(qmgr_aliases, what, qmgr_is_local, NULL, &l, err,
	    sizeof(err)) == -1) {
		char t[300];
		str_fmt(t, sizeof(t), "4.3.5 alias expansion failed: %s", err);
		qmgr_temp(j, i, addr, "none", t);
		return;
	}
	if (what == addr && l.n == 1 && str_ieq(l.addr[0], addr)) {
		qmgr_route(j, i, l.addr[0]);	/* not an alias */
		alias_list_free(&l);
		return;
	}
	for (k = 0; k < l.n; k++)
		if (qfile_add_rcpt(&j->q, i, l.addr[k]) == -1)
			break;
	alias_list_free(&l);
	if (k < l.n || qfile_sync(&j->q) == -1) {
		qmgr_temp(j, i, addr, "none", "4.3.0 cannot record the alias expansion");
		return;
	}
mark:
	if (qfile_mark(&j->q, i, QRCPT_EXPANDED) == -1 || qfile_sync(&j->q) == -1)
		qmgr_temp(j, i, addr, "none", "4.3.0 cannot record the alias expansion");
}

/* Decide what to do with every pending recipient. */
void
qmgr_plan(struct qmgr_job *j)
{
	size_t i, n = j->q.nrcpt;	/* children added now are routed below */

	for (i = 0; i < n; i++)
		if (j->q.rcpt[i].parent == QRCPT_NOPARENT &&
		    j->q.rcpt[i].status == QRCPT_PENDING)
			qmgr_expand(j, i);
	for (i = 0; i < j->q.nrcpt; i++) {
		if (j->q.rcpt[i].parent == QRCPT_NOPARENT ||
		    j->q.rcpt[i].status != QRCPT_PENDING ||
		    j->q.rcpt[j->q.rcpt[i].parent].status != QRCPT_EXPANDED)
			continue;
		qmgr_route(j, i, j->q.rcpt[i].addr);
	}
}

