/*
 * qmgr_agent: qmgr's connections to the delivery agents, and the kept
 * ones. A connection to deliver (private/deliver) whose every status
 * line has come back is kept idle and carries the next request, as
 * Postfix's qmgr reuses its delivery agents: no socket, connect, accept
 * and close per message (issue 12). deliver counts each request against
 * max_use and closes the connection when it may serve no more (or is
 * told to stop); qmgr closes an idle one after QMGR_KEEP_MS, and at once
 * when it reports anything (deliver closed it). deliver-user (one root
 * parent per request) and the smtp client get a new connection each.
 *
 * A request is idempotent until its first status: when a kept connection
 * turns out closed before any reply byte (deliver retired it just as the
 * request went out), the job sends it again on a new connection
 * (qmgr_job.c). A deliver that died after writing a Maildir file but
 * before its status gives at worst a duplicate, as any crash may.
 */
#include "config.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "qmgr.h"
#include "util.h"

#define QMGR_KEEP_MAX	64		/* idle kept connections at most */
#define QMGR_KEEP_MS	10000		/* an idle one is closed after this */

struct qmgr_kept {
	int	 fd;
	int64_t	 since;
};

static struct qmgr_kept qmgr_kept[QMGR_KEEP_MAX];
static size_t qmgr_nkept;

int
qmgr_agent_connect(const char *path)
{
	return unix_connect(path, 0);
}

/* The most recently kept idle connection to deliver (warmest), or -1. */
int
qmgr_agent_take(void)
{
	if (qmgr_nkept == 0)
		return -1;
	return qmgr_kept[--qmgr_nkept].fd;
}

/* Keep fd idle for the next request, or close it when enough are kept. */
void
qmgr_agent_keep(int fd)
{
	unsigned long long max = qmgr_conf.deliver_concurrency;

	if (qmgr_nkept >= QMGR_KEEP_MAX || qmgr_nkept >= max) {
		close(fd);
		return;
	}
	qmgr_kept[qmgr_nkept].fd = fd;
	qmgr_kept[qmgr_nkept].since = now_ms();
	qmgr_nkept++;
}

size_t
qmgr_agent_idle(void)
{
	return qmgr_nkept;
}

void
qmgr_agent_pollfds(struct pollfd *pfd)
{
	size_t i;

	for (i = 0; i < qmgr_nkept; i++) {
		pfd[i].fd = qmgr_kept[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
}

/*
 * After poll over the n entries qmgr_agent_pollfds() filled (nothing was
 * kept or taken in between): close every idle connection that reports
 * anything (deliver closed it: it sends nothing unasked) or that has
 * been idle for QMGR_KEEP_MS.
 */
void
qmgr_agent_events(const struct pollfd *pfd, size_t n, int64_t now)
{
	size_t i = n < qmgr_nkept ? n : qmgr_nkept;

	while (i-- > 0) {
		if (pfd[i].revents == 0 && now - qmgr_kept[i].since < QMGR_KEEP_MS)
			continue;
		close(qmgr_kept[i].fd);
		memmove(&qmgr_kept[i], &qmgr_kept[i + 1],
		    (qmgr_nkept - i - 1) * sizeof(*qmgr_kept));
		qmgr_nkept--;
	}
}
