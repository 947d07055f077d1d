/*
 * deliver: the local delivery agent. qmgr connects to private/deliver and
 * passes an open queue file (SCM_RIGHTS) plus a request naming the
 * recipients; deliver writes one Maildir copy per recipient under
 * mail_root/<domain>/<local part>/Maildir (or, as the recipient's
 * postern.rules(5) decide, into folders there, to other addresses, or
 * nowhere: deliver_rules.c) and replies one status line per recipient.
 *
 * Privileges (DESIGN.md rule 5): the parent (root when started as root)
 * only keeps a pool of worker processes (common/listen_pool.c); it never
 * accepts nor reads. Each worker drops to vmail_user with priv_drop()
 * once, when it starts, BEFORE it accepts a connection or reads a byte
 * of a request, then serves up to max_use requests one after another,
 * several on one connection when qmgr keeps it (qmgr_agent.c).
 * Not root: everything runs as the invoking user (rule 6).
 *
 * Per request, nothing outlives dl_request(): the request and the reply
 * buffer are freed there, and deliver_rcpt() opens and closes what it
 * needs (the Maildir, the rules files) for each recipient.
 *
 * Request: common/agent.h (the fd rides on its first byte; qid, sender,
 * data, 1..AGENT_MAX_RCPT "rcpt INDEX MAILBOX" lines, end), read with
 * agent_req_read().
 * Reply, one line per rcpt in request order:
 *   INDEX 250 2.0.0 text | INDEX 4xx 4.x.x text | INDEX 5xx 5.x.x text
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "daemon.h"
#include "deliver.h"
#include "gcommit.h"
#include "listen.h"
#include "log.h"
#include "maildir.h"
#include "priv.h"
#include "qfile.h"
#include "strbuf.h"
#include "util.h"

#define DL_KEEP_MS	60000	/* a kept connection idle this long is closed */

static struct conf dl_conf;
static struct priv_id dl_vmail;

/* Check and lower-case a mailbox address; split it. 0, or -1 with why. */
static int
dl_mailbox(char *addr, char **lp, char **dom, const char **why)
{
	char *at;

	str_lower(addr);
	if ((at = strrchr(addr, '@')) == NULL || at == addr) {
		*why = "550 5.1.3 bad mailbox address";
		return -1;
	}
	*at = '\0';
	*lp = addr;
	*dom = at + 1;
	if (!conf_is_local_domain(&dl_conf, *dom)) {
		*why = "550 5.1.2 domain is not local";
		return -1;
	}
	if (!maildir_component_ok(*lp) || !maildir_component_ok(*dom) ||
	    strchr(*lp, '\\') != NULL) {
		*why = "550 5.1.3 mailbox name not allowed";
		return -1;
	}
	return 0;
}

/* Deliver one recipient; put the status line (without index) in rep. */
static void
dl_one(const struct agent_req *r, const char *rcpt, char *rep, size_t replen)
{
	char addr[QFILE_ADDR_MAX + 1];
	const char *why;
	char *lp, *dom;

	str_copy(addr, rcpt, sizeof(addr));
	if (dl_mailbox(addr, &lp, &dom, &why) == -1) {
		str_copy(rep, why, replen);
		return;
	}
	/* plus-addressing, rules, folders, redirect: deliver_rules.c */
	deliver_rcpt(&dl_conf, r, lp, dom, rep, replen);
}

/* Once per worker, before its first accept: vmail_user (rule 5). */
static int
dl_worker_init(void *arg)
{
	char err[512];

	(void)arg;
	if (priv_drop(priv_is_root() ? &dl_vmail : NULL, dl_conf.mail_root, 0,
	    err, sizeof(err)) == -1) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

/* One request in a worker (already vmail_user): read, deliver, reply. 0 or -1. */
static int
dl_request(int conn)
{
	struct agent_req r;
	struct strbuf out;
	char rep[700];
	size_t i;
	int rv = 0;

	/* Blocking: the pool accepts without SOCK_NONBLOCK (pool.nonblock 0). */
	if (agent_req_read(conn, &r, AGENT_TIMEOUT_MS) == -1) {
		if (errno == ENODATA) {		/* qmgr closed a kept connection */
			agent_req_free(&r);
			return -1;
		}
		log_warn("malformed delivery request refused");
		write_all(conn, "error malformed request\n", 24);
		agent_req_free(&r);
		return -1;
	}
	strbuf_init(&out, AGENT_REQ_MAX);
	for (i = 0; i < r.nrcpt; i++) {
		dl_one(&r, r.rcpt[i].addr, rep, sizeof(rep));
		/* Send each status at once: qmgr records it before a crash here. */
		if (strbuf_printf(&out, "%llu %s\n", r.rcpt[i].idx, rep) == -1 ||
		    write_all(conn, out.data, out.len) == -1) {
			rv = -1;
			break;
		}
		strbuf_reset(&out);
	}
	strbuf_free(&out);
	agent_req_free(&r);
	return rv;
}

/*
 * Between two requests on a kept connection: 0 once the next one starts
 * to arrive or qmgr closed it (dl_request reads which); -1 after
 * DL_KEEP_MS of silence (qmgr closes its idle connections well before),
 * or when this worker may not serve more (max_use reached, told to stop:
 * checked each second).
 */
static int
dl_next(int conn)
{
	struct pollfd p = { conn, POLLIN, 0 };
	int64_t deadline = now_ms() + DL_KEEP_MS;
	int r;

	while (listen_pool_more() && now_ms() < deadline) {
		r = poll(&p, 1, 1000);
		if (r == -1 && errno != EINTR)
			return -1;
		/* A request, or qmgr's close: dl_request tells (ENODATA). */
		if (r == 1)
			return 0;
	}
	return -1;
}

/*
 * A connection from qmgr: one request, then more on the same connection
 * while qmgr keeps it (each one counted against max_use). Nothing of a
 * request outlives dl_request().
 */
static void
dl_serve(int conn, const struct listen_fd *l, void *arg)
{
	(void)l;
	(void)arg;
	while (dl_request(conn) == 0 && dl_next(conn) == 0)
		listen_pool_use();
}

int
main(int argc, char **argv)
{
	struct listen_fd lfd[LISTEN_MAXFDS];
	struct listen_pool pool = { 0 };
	char err[4096];
	size_t nl;

	daemon_start(argc, argv, "deliver", &dl_conf);
	/* Unix accounts (system_domains): deliver_user.c, its own process. */
	if (deliver_user_wanted())
		return deliver_user_main(&dl_conf);
	nl = daemon_sockets("deliver", lfd, NELEM(lfd));
	if (priv_is_root() &&
	    priv_lookup(dl_conf.vmail_user, &dl_vmail, err, sizeof(err)) == -1)
		fatal("%s", err);
	/* The parent reads nothing from its peers: it only keeps the workers. */
	if (chdir(dl_conf.mail_root) == -1)
		fatal("chdir %s: %s", dl_conf.mail_root, strerror(errno));
	umask(077);
	/* Before the workers fork: they share the fsyncs of each new/. */
	if (gcommit_init() == -1)
		log_warn("group commit unavailable: %s", strerror(errno));
	log_info("ready");
	pool.max_children = dl_conf.deliver_concurrency > (UINT_MAX - 2) / 2 ?
	    UINT_MAX : (unsigned)(dl_conf.deliver_concurrency * 2 + 2);
	pool.max_use = dl_conf.max_use;
	pool.max_idle = (unsigned long long)dl_conf.max_idle;
	pool.init = dl_worker_init;
	pool.serve = dl_serve;
	if (listen_pool_serve(lfd, nl, &pool) == -1)
		return 1;
	return 0;
}
