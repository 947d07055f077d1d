/*
 * sendmail -bs: SMTP on standard input and output for local programs.
 * Runs as the invoking user, unprivileged. The one SMTP engine of
 * common/ does the protocol, in a private directory (mkdtemp) laid out
 * like a queue (tmp/, incoming/); the engine's "committed" hook hands
 * each message on to postdrop -- the same path as plain sendmail -- and
 * the 250 reply waits for postdrop's success, so it means what it means
 * on port 25: the message is on stable storage in the maildrop.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "maildrop.h"
#include "qfile.h"
#include "sendmail.h"
#include "smtp_server.h"
#include "util.h"

struct sm_bs {
	struct sendmail		*sm;
	struct smtp_policy	 pol;
	char			 dir[PATH_MAX];
	char			 hostname[256];
};

static void
sm_bs_rcpt(struct smtp_session *s, const char *rcpt, char *canon,
    size_t canonlen, struct smtp_reply *r, void *arg)
{
	(void)s;
	(void)rcpt;
	(void)canon;
	(void)canonlen;
	(void)arg;
	/* postdrop checks each address; pickup qualifies bare names. */
	smtp_reply_set(r, 250, "2.1.5", "Ok");
}

/* Copy the content of a queue file to fd. 0 or -1. */
static int
sm_bs_copy(const struct qfile *q, int fd)
{
	unsigned long long left = q->size;
	char buf[65536];
	ssize_t n;

	if (lseek(q->fd, q->data_off, SEEK_SET) == -1)
		return -1;
	while (left > 0) {
		n = read(q->fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0)
			return -1;
		if (write_all(fd, buf, (size_t)n) == -1)
			return -1;
		left -= (unsigned long long)n;
	}
	return 0;
}

static void
sm_bs_reply(int status, struct smtp_reply *r)
{
	const char *t = sendmail_postdrop_text(status);

	if (status == POSTDROP_EX_TOOBIG)
		smtp_reply_set(r, 552, "5.3.4", "Error: %s", t);
	else if (status == POSTDROP_EX_ADDR)
		smtp_reply_set(r, 553, "5.1.3", "Error: %s", t);
	else if (status >= 10 && status < 20)
		smtp_reply_set(r, 554, "5.7.1", "Error: %s", t);
	else
		smtp_reply_set(r, 451, "4.3.0", "Error: %s", t);
}

/* The engine committed incoming/QID: give it to postdrop, then drop it. */
static int
sm_bs_committed(struct smtp_session *s, const char *qid, struct smtp_reply *r,
    void *arg)
{
	struct sm_bs *b = arg;
	struct qfile q;
	char path[64], **rcpt;
	size_t i;
	int wfd, status = POSTDROP_EX_WRITE;
	pid_t pid;

	(void)s;
	if (str_fmt(path, sizeof(path), "incoming/%s", qid) == -1 ||
	    qfile_open(&q, path, 0) == -1) {
		sm_bs_reply(status, r);
		return -1;
	}
	rcpt = xcalloc(q.nrcpt + 1, sizeof(*rcpt));
	for (i = 0; i < q.nrcpt; i++)
		rcpt[i] = q.rcpt[i].addr;
	pid = sendmail_postdrop_start(b->sm, *q.sender ? q.sender : "<>", rcpt,
	    q.nrcpt, &wfd);
	if (pid != -1) {
		sm_bs_copy(&q, wfd);	/* a short copy shows in postdrop's status */
		close(wfd);
		status = sendmail_postdrop_wait(pid);
	}
	free(rcpt);
	qfile_close(&q);
	unlink(path);
	if (status == POSTDROP_EX_OK)
		return 0;
	sm_bs_reply(status, r);
	return -1;
}

/* Remove what is left in the private directory. */
static void
sm_bs_cleanup(const char *dir)
{
	static const char *const subs[] = { "tmp", "incoming" };
	char path[PATH_MAX + 128];
	struct dirent *de;
	size_t i;
	DIR *d;

	for (i = 0; i < NELEM(subs); i++) {
		if (str_fmt(path, sizeof(path), "%s/%s", dir, subs[i]) == -1 ||
		    (d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && str_fmt(path, sizeof(path), "%s/%s/%s",
			    dir, subs[i], de->d_name) != -1)
				unlink(path);
		closedir(d);
		if (str_fmt(path, sizeof(path), "%s/%s", dir, subs[i]) != -1)
			rmdir(path);
	}
	rmdir(dir);
}

int
sendmail_bs(struct sendmail *sm)
{
	static struct sm_bs b;
	const char *tmpdir = getenv("TMPDIR");

	b.sm = sm;
	if (tmpdir == NULL || *tmpdir != '/')
		tmpdir = "/tmp";
	if (str_fmt(b.dir, sizeof(b.dir), "%s/postern-bs.XXXXXX", tmpdir) == -1 ||
	    mkdtemp(b.dir) == NULL || chdir(b.dir) == -1 ||
	    mkdir("tmp", 0700) == -1 || mkdir("incoming", 0700) == -1) {
		fprintf(stderr, "sendmail: -bs: cannot make a private directory: %s\n",
		    strerror(errno));
		return EX_CANTCREAT;
	}
	log_init("postern/sendmail", LOG_DEST_SYSLOG);	/* stdout is the session */
	str_copy(b.hostname, sm->conf.hostname, sizeof(b.hostname));
	b.pol.hostname = b.hostname;
	b.pol.size_limit = sm->conf.message_size_limit;
	b.pol.rcpt_limit = MAILDROP_RCPT_MAX;
	b.pol.error_limit = sm->conf.smtpd_error_limit;
	b.pol.timeout_ms = sm->conf.smtpd_timeout >= 2000000 ? 2000000000 :
	    (int)sm->conf.smtpd_timeout * 1000;
	b.pol.rcpt_to = sm_bs_rcpt;
	b.pol.committed = sm_bs_committed;
	b.pol.arg = &b;
	smtp_server_run(&b.pol, STDIN_FILENO, STDOUT_FILENO, "local");
	sm_bs_cleanup(b.dir);
	return EX_OK;
}
