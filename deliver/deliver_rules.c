/*
 * deliver_rules: one recipient's delivery, run by the deliver child after
 * it dropped to the virtual-mail user (or as the invoking user when not
 * root). Plus-addressing cuts "+ext" from the local part (the extension
 * names the keep folder when it exists); the global delivery_rules file
 * and then the user's mail_root/<domain>/<user>/rules (postern.rules(5);
 * for a Unix account of system_domains ~/.postern.rules and ~/Maildir,
 * given as paths by deliver_user.c, which runs this as that account)
 * decide where the message goes: INBOX, folders (created and subscribed
 * here), other addresses (re-injected through postdrop(8) with a
 * Delivered-To field, so that loops are seen), or nowhere. Every copy is
 * a Maildir delivery (common/maildir.c: tmp/, fsync, link, fsync).
 *
 * Never losing mail: a rule file that cannot be read or parsed is logged
 * with FILE:LINE and the message goes to INBOX; a folder that cannot be
 * made, and a redirect that would loop, also fall back to INBOX. A
 * temporary failure anywhere answers 4xx, and qmgr retries the whole
 * recipient (copies made before may then be made twice, never zero).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "maildir.h"
#include "rules_eval.h"
#include "strbuf.h"
#include "util.h"

#define DR_COPYBUF	65536
/* postdrop(8)'s exit status contract: 0 queued, 1x permanent, 7x temporary. */
#define DR_PD_OK	0
#define DR_PD_TEMP	72	/* as POSTDROP_EX_WRITE: we could not run it */

struct dr {
	const struct conf	*c;
	const struct agent_req	*r;
	const char		*rcpt;		/* lp@dom as addressed */
	char			 maildir[PATH_MAX];
	struct strbuf		 pre;		/* Return-Path, Delivered-To */
	const char		*head;		/* the content's first headlen bytes */
	size_t			 headlen;
	int			 temp, perm;	/* a failure of each kind */
	int			 temp_errno;	/* the Maildir's errno of that temp */
	int			 fallback;	/* keep, because an action failed */
	char			 why[300];
	unsigned		 copies;
};

/* alice+lists -> user alice, ext lists, unless "alice+lists" is a user. */
static void
dr_split(const struct conf *c, const char *lp, const char *dom, char *user,
    size_t ulen, char *ext, size_t elen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n;

	str_copy(user, lp, ulen);
	ext[0] = '\0';
	if (*c->recipient_delimiter == '\0')
		return;
	n = strcspn(lp, c->recipient_delimiter);
	if (n == 0 || lp[n] == '\0' || n >= ulen)
		return;
	if (str_fmt(path, sizeof(path), "%s/%s/%s", c->mail_root, dom, lp) != -1 &&
	    stat(path, &st) == 0)
		return;	/* a mailbox whose name holds the delimiter */
	user[n] = '\0';
	str_copy(ext, lp + n + 1, elen);
}

/* The first bytes of the content (the header section), at most len. */
static size_t
dr_header(const struct agent_req *r, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (r->size < len)
		len = (size_t)r->size;
	while (got < len) {
		n = pread(r->fd, buf + got, len - got, r->off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Evaluate one rule file into res; a broken file means keep. */
static void
dr_apply(const char *qid, const char *path, const struct rules_msg *m,
    struct rules_result *res)
{
	struct rules *ru;
	char err[700], safe[800];

	switch (rules_load(path, &ru, err, sizeof(err))) {
	case 0:
		return;
	case -1:
		log_warn("%s: rules error: %s; the message goes to INBOX", qid,
		    log_sanitize(safe, sizeof(safe), err, strlen(err)));
		res->keep = 1;
		return;
	}
	rules_eval(ru, m, res);
	rules_free(ru);
}

/* One Maildir copy into dir ("" = INBOX). */
static int
dr_store(struct dr *x, const char *dir)
{
	char path[PATH_MAX], err[512], safe[600], name[600];
	int st, e;

	if (str_fmt(path, sizeof(path), "%s%s%s", x->maildir, *dir ? "/" : "",
	    dir) == -1) {
		str_copy(x->why, "mailbox path too long", sizeof(x->why));
		x->perm = 1;
		return MAILDIR_PERM;
	}
	st = maildir_deliver(path, x->c->hostname, x->pre.data, x->pre.len,
	    x->head, x->headlen, x->r->fd, x->r->off, x->r->size, name,
	    sizeof(name), err, sizeof(err));
	e = errno;
	log_sanitize(safe, sizeof(safe), err, strlen(err));
	if (st == MAILDIR_OK) {
		x->copies++;
		log_debug("%s: delivered to %s/new/%s", x->r->qid, path, name);
		return st;
	}
	log_warn("%s: maildir delivery: %s", x->r->qid, safe);
	str_copy(x->why, safe, sizeof(x->why));
	if (st == MAILDIR_TEMP) {
		x->temp = 1;
		x->temp_errno = e;
	} else
		x->perm = 1;
	return st;
}

/* fileinto: make and subscribe the folder, then store; else fall back. */
static void
dr_fileinto(struct dr *x, const char *name)
{
	char dir[PATH_MAX], err[512], safe[600], sname[300];

	log_sanitize(sname, sizeof(sname), name, strlen(name));
	if (rules_folder_dir(name, dir, sizeof(dir)) == -1 ||
	    rules_folder_ensure(x->maildir, dir, err, sizeof(err)) == -1) {
		log_warn("%s: <%s>: folder \"%s\" unusable (%s); the message "
		    "goes to INBOX", x->r->qid, x->rcpt, sname,
		    log_sanitize(safe, sizeof(safe), err, strlen(err)));
		x->fallback = 1;
		return;
	}
	if (dr_store(x, dir) == MAILDIR_OK)
		log_info("%s: <%s>: filed into \"%s\"", x->r->qid, x->rcpt, sname);
}

/* postdrop: the build tree's queue/postdrop next to deliver/, else installed. */
static int
dr_postdrop_path(const struct conf *c, char *out, size_t outlen)
{
	char exe[PATH_MAX], st[PATH_MAX + 32], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if (str_fmt(st, sizeof(st), "%s/../config.status", exe) != -1 &&
			    access(st, F_OK) == 0)
				return str_fmt(out, outlen, "%s/../queue/postdrop",
				    exe) == -1 ? -1 : 0;
		}
	}
	return str_fmt(out, outlen, "%s/postdrop", c->daemon_directory) == -1 ?
	    -1 : 0;
}

/* Write "Delivered-To: rcpt" and the content to fd. 0 or -1. */
static int
dr_feed(struct dr *x, int fd)
{
	unsigned long long left = x->r->size;
	off_t off = x->r->off;
	char *buf;
	ssize_t n;
	int rv = -1;

	if (write_all(fd, "Delivered-To: ", 14) == -1 ||
	    write_all(fd, x->rcpt, strlen(x->rcpt)) == -1 ||
	    write_all(fd, "\n", 1) == -1)
		return -1;
	buf = xmalloc(DR_COPYBUF);
	while (left > 0) {
		n = pread(x->r->fd, buf, left > DR_COPYBUF ? DR_COPYBUF :
		    (size_t)left, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(fd, buf, (size_t)n) == -1)
			goto out;
		off += n;
		left -= (unsigned long long)n;
	}
	rv = 0;
out:
	free(buf);
	return rv;
}

/* Run postdrop -f SENDER -- to with the message on its input. Its status. */
static int
dr_postdrop(struct dr *x, const char *to)
{
	char path[PATH_MAX + 32], def[PATH_MAX];
	const char *argv[9];
	int p[2], status, fed, n = 0;
	pid_t pid;

	if (dr_postdrop_path(x->c, path, sizeof(path)) == -1 || pipe(p) == -1)
		return DR_PD_TEMP;
	argv[n++] = "postdrop";
	/* -c only for another file: postdrop drops its group for -c */
	str_fmt(def, sizeof(def), "%s/postern/postern.conf", SYSCONFDIR);
	if (strcmp(conf_path(), def) != 0) {
		argv[n++] = "-c";
		argv[n++] = conf_path();
	}
	argv[n++] = "-f";
	argv[n++] = *x->r->sender ? x->r->sender : "<>";
	argv[n++] = "--";
	argv[n++] = to;
	argv[n] = NULL;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return DR_PD_TEMP;
	}
	if (pid == 0) {
		close(p[1]);
		if (dup2(p[0], STDIN_FILENO) == -1)
			_exit(DR_PD_TEMP);
		execv(path, (char *const *)argv);
		_exit(DR_PD_TEMP);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	fed = dr_feed(x, p[1]);
	close(p[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return DR_PD_TEMP;
	if (!WIFEXITED(status))
		return DR_PD_TEMP;
	return fed == -1 && WEXITSTATUS(status) == 0 ? DR_PD_TEMP :
	    WEXITSTATUS(status);
}

/* redirect: refuse a loop (Delivered-To), else re-inject. */
static void
dr_redirect(struct dr *x, const struct rules_msg *m, const char *to)
{
	char safe[600];
	int st;

	log_sanitize(safe, sizeof(safe), to, strlen(to));
	if (rules_msg_has(m, "Delivered-To", to) ||
	    rules_msg_has(m, "Delivered-To", x->rcpt)) {
		log_warn("%s: <%s>: redirect to <%s> refused: mail loop "
		    "(Delivered-To); the message goes to INBOX", x->r->qid,
		    x->rcpt, safe);
		x->fallback = 1;
		return;
	}
	if ((st = dr_postdrop(x, to)) == DR_PD_OK) {
		x->copies++;
		log_info("%s: <%s>: redirected to <%s>", x->r->qid, x->rcpt, safe);
		return;
	}
	log_warn("%s: <%s>: redirect to <%s>: postdrop status %d", x->r->qid,
	    x->rcpt, safe, st);
	if (st >= 70) {
		x->temp = 1;
		str_fmt(x->why, sizeof(x->why), "redirect to <%s> failed", safe);
	} else
		x->fallback = 1;	/* a permanent refusal: keep it here */
}

/* Carry out what the rules decided. */
static void
dr_act(struct dr *x, const struct rules_msg *m, const struct rules_result *res,
    const char *ext)
{
	char dir[PATH_MAX];
	size_t i;

	for (i = 0; i < res->nfolder && !x->temp; i++)
		dr_fileinto(x, res->folder[i]);
	for (i = 0; i < res->nredirect && !x->temp; i++)
		dr_redirect(x, m, res->redirect[i]);
	if (x->temp || !(rules_result_keep(res) || x->fallback))
		return;
	/* plus-addressing: the keep folder is the extension's, if it exists */
	if (*ext == '\0' || !rules_folder_find(x->maildir, ext, dir, sizeof(dir)))
		dir[0] = '\0';
	if (dr_store(x, dir) == MAILDIR_OK && dir[0] != '\0')
		log_info("%s: <%s>: filed into \"%s\" (address extension)",
		    x->r->qid, x->rcpt, dir + 1);
}

/* The status line from what happened. */
static void
dr_reply(struct dr *x, const struct rules_result *res, char *rep, size_t replen)
{
	/* A full file system or quota defers, never bounces: RFC 3463 4.3.1
	 * (mail system full), 4.2.2 (mailbox full). */
	if (x->temp && x->temp_errno == ENOSPC)
		str_fmt(rep, replen, "452 4.3.1 maildir delivery failed: %s", x->why);
	else if (x->temp && x->temp_errno == EDQUOT)
		str_fmt(rep, replen, "452 4.2.2 maildir delivery failed: %s", x->why);
	else if (x->temp)
		str_fmt(rep, replen, "451 4.3.0 maildir delivery failed: %s", x->why);
	else if (x->perm && x->copies == 0)
		str_fmt(rep, replen, "550 5.2.0 maildir delivery failed: %s", x->why);
	else if (x->copies == 0 && res->cancel) {
		log_info("%s: <%s>: discarded by delivery rules", x->r->qid, x->rcpt);
		str_copy(rep, "250 2.0.0 discarded by delivery rules", replen);
	} else
		str_copy(rep, "250 2.0.0 delivered to maildir", replen);
}

void
deliver_rcpt_at(const struct conf *c, const struct agent_req *r,
    const char *rcpt, const char *maildir, const char *rules, const char *ext,
    char *rep, size_t replen)
{
	struct rules_result res;
	struct rules_msg m;
	struct dr x;
	char *hdr;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.r = r;
	x.rcpt = rcpt;
	if (str_copy(x.maildir, maildir, sizeof(x.maildir)) == -1) {
		str_copy(rep, "550 5.1.3 mailbox path too long", replen);
		return;
	}
	/* Read once: the rules' header section, and the copies' first bytes. */
	hdr = xmalloc(RULES_HDR_MAX);
	x.head = hdr;
	x.headlen = dr_header(r, hdr, RULES_HDR_MAX);
	rules_msg_init(&m, hdr, x.headlen, r->sender, rcpt, r->size);
	rules_result_init(&res);
	if (*c->delivery_rules != '\0')
		dr_apply(r->qid, c->delivery_rules, &m, &res);
	if (!res.stop)
		dr_apply(r->qid, rules, &m, &res);
	/* RFC 5321 4.4: Return-Path is added at final delivery. */
	strbuf_init(&x.pre, 4096);
	if (strbuf_printf(&x.pre, "Return-Path: <%s>\nDelivered-To: %s\n",
	    r->sender, rcpt) == -1)
		str_copy(rep, "451 4.3.0 header too long", replen);
	else {
		dr_act(&x, &m, &res, ext);
		dr_reply(&x, &res, rep, replen);
	}
	strbuf_free(&x.pre);
	free(hdr);
	rules_msg_free(&m);
	rules_result_free(&res);
}

void
deliver_rcpt(const struct conf *c, const struct agent_req *r, const char *lp,
    const char *dom, char *rep, size_t replen)
{
	char user[QFILE_ADDR_MAX + 1], ext[QFILE_ADDR_MAX + 1], rcpt[QFILE_ADDR_MAX + 2];
	char maildir[PATH_MAX], path[PATH_MAX];

	dr_split(c, lp, dom, user, sizeof(user), ext, sizeof(ext));
	if (str_fmt(rcpt, sizeof(rcpt), "%s@%s", lp, dom) == -1 ||
	    str_fmt(maildir, sizeof(maildir), "%s/%s/%s/Maildir",
	    c->mail_root, dom, user) == -1 ||
	    str_fmt(path, sizeof(path), "%s/%s/%s/rules", c->mail_root, dom,
	    user) == -1) {
		str_copy(rep, "550 5.1.3 mailbox path too long", replen);
		return;
	}
	deliver_rcpt_at(c, r, rcpt, maildir, path, ext, rep, replen);
}
