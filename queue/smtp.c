/*
 * smtp: the outbound SMTP client. qmgr connects to private/smtp (bound
 * by the master) and passes an open queue file (SCM_RIGHTS) plus the same
 * request deliver(8) receives (common/agent.h, read by agent_req_read());
 * every recipient of one request has the same domain. The reply is one
 * line "relay HOST[IP]:PORT" (when a host was reached) and then one
 * status line per recipient: "IDX CODE X.Y.Z text".
 *
 * Privileges (DESIGN.md rule 3): the accepting parent reads the maps, the
 * relayhost credentials (refused unless mode 0600 or stricter) and the
 * TLS trust store at start-up, then only accepts and forks. Each child
 * fills its resolver state from /etc/resolv.conf (res_ninit) and reads
 * /etc/hosts into memory, then drops to mail_owner and, when started as
 * root, chroots to the queue directory BEFORE it reads a byte of the
 * request. Names are then looked up in that copy of /etc/hosts first and
 * in DNS second, straight to the name servers with that state: no file
 * and no NSS module is needed inside the chroot.
 *
 * Why not copy etc/hosts, resolv.conf, nsswitch.conf and the NSS modules
 * into the chroot as Postfix's chroot setup does: the copies go stale
 * when the admin edits /etc/hosts (Postfix warns and needs a restart),
 * they put system files into the queue directory, and getaddrinfo() in a
 * chroot also needs libnss_files loaded from inside it. Why not a helper
 * that resolves before the chroot: one more process and protocol for what
 * a per-request read of a small file does. Reading it in every child, as
 * res_ninit() reads resolv.conf, means a changed /etc/hosts counts from
 * the next delivery on. Not root: everything runs as the invoking user
 * without chroot (rule 6), with the same lookups.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "priv.h"
#include "qmgr_dsn.h"
#include "smtp.h"
#include "strbuf.h"
#include "tls.h"
#include "util.h"

static struct conf smtp_conf;
static struct smtp_ctx smtp_ctx;
static struct priv_id smtp_owner;

/*
 * The smtp client's own rules on top of the common reader: the sender
 * and every mailbox go between <> in MAIL/RCPT, so none holds '<', '>'
 * or a space, and every recipient has a domain, the same one.
 */
static int
smtp_req_check(const struct agent_req *a, char *domain, size_t domlen)
{
	const char *at;
	size_t i;

	if (strpbrk(a->sender, "<> ") != NULL)
		return -1;
	for (i = 0; i < a->nrcpt; i++) {
		if ((at = strrchr(a->rcpt[i].addr, '@')) == NULL || at[1] == '\0' ||
		    strpbrk(a->rcpt[i].addr, "<> ") != NULL)
			return -1;
		if (i == 0 && str_copy(domain, at + 1, domlen) == -1)
			return -1;
		if (!str_ieq(domain, at + 1))
			return -1;
	}
	return 0;
}

/* The fields of r as views of the request it owns (r->agent). */
static void
smtp_req_view(struct smtp_req *r)
{
	const struct agent_req *a = &r->agent;
	size_t i;

	r->rcpt = xcalloc(a->nrcpt, sizeof(*r->rcpt));
	for (i = 0; i < a->nrcpt; i++) {
		r->rcpt[i].idx = a->rcpt[i].idx;
		r->rcpt[i].addr = a->rcpt[i].addr;
	}
	r->nrcpt = a->nrcpt;
	memcpy(r->qid, a->qid, sizeof(r->qid));
	r->sender = a->sender;
	r->off = a->off;
	r->size = a->size;
	r->fd = a->fd;
}

/*
 * The DSN parameters of request recipient i (queue recipient k): an
 * alias target has its parent's NOTIFY and ORCPT (RFC 3461 5.2.7.3),
 * and when the parent had no ORCPT the parent's address becomes one
 * (RFC 3461 5.2.1 (d): the address of the RCPT command we received).
 */
static void
smtp_rcpt_dsn(struct smtp_req *r, size_t i, size_t k)
{
	const struct qfile_rcpt *q = &r->q.rcpt[k];
	struct smtp_rcpt *rc = &r->rcpt[i];
	char x[sizeof(rc->orcpt_buf) - 7];

	if (q->parent != QRCPT_NOPARENT && q->parent < r->q.nrcpt)
		q = &r->q.rcpt[q->parent];
	rc->orcpt = q->orcpt;
	rc->notify = q->notify;
	if (rc->orcpt != NULL || q == &r->q.rcpt[k] ||
	    dsn_xtext_encode(q->addr, x, sizeof(x)) == -1 ||
	    str_fmt(rc->orcpt_buf, sizeof(rc->orcpt_buf), "rfc822;%s", x) == -1)
		return;
	rc->orcpt = rc->orcpt_buf;
}

/* ORCPT/NOTIFY/BODY come from the queue file itself (optional). */
static void
smtp_load_q(struct smtp_req *r)
{
	size_t i;
	int fd;

	if ((fd = dup(r->fd)) == -1)
		return;
	if (qfile_open_fd(&r->q, fd) == -1) {
		close(fd);
		return;	/* the envelope extras are optional */
	}
	r->have_q = 1;
	for (i = 0; i < r->nrcpt; i++) {
		if (r->rcpt[i].idx >= r->q.nrcpt)
			continue;
		smtp_rcpt_dsn(r, i, (size_t)r->rcpt[i].idx);
	}
}

/* The request from qmgr: common reader, then our rules. 0 or -1. */
static int
smtp_req_read(int conn, struct smtp_req *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (agent_req_read(conn, &r->agent, AGENT_TIMEOUT_MS) == -1 ||
	    smtp_req_check(&r->agent, r->domain, sizeof(r->domain)) == -1)
		return -1;
	smtp_req_view(r);
	smtp_load_q(r);
	return 0;
}

/* The views go; the request itself (fd, strings) goes with r->agent. */
static void
smtp_req_free(struct smtp_req *r)
{
	if (r->have_q)
		qfile_close(&r->q);
	free(r->rcpt);
	agent_req_free(&r->agent);
}

/* Every recipient without a result gets this one. */
static void
smtp_fail_all(struct smtp_req *r, int code, const char *why)
{
	size_t i, n;
	char st[8] = "4.4.1";

	n = strspn(why, "0123456789.");
	if (n >= 5 && n < sizeof(st) && why[n] == ' ' && why[0] == '0' + code / 100) {
		memcpy(st, why, n);
		st[n] = '\0';
		why += n + 1;
	} else if (code >= 500)
		str_copy(st, "5.4.1", sizeof(st));
	for (i = 0; i < r->nrcpt; i++) {
		if (r->rcpt[i].code != 0)
			continue;
		r->rcpt[i].code = code;
		str_copy(r->rcpt[i].status, st, sizeof(r->rcpt[i].status));
		str_copy(r->rcpt[i].text, why, sizeof(r->rcpt[i].text));
	}
}

/* Route, resolve, try each address until one takes the transaction. */
static void
smtp_run(struct smtp_req *r, char *relay, size_t relaylen)
{
	struct smtp_host hosts[SMTP_MAX_HOSTS];
	struct smtp_addr *addrs = xcalloc(SMTP_MAX_ADDRS, sizeof(*addrs));
	char why[700] = "4.4.1 no next hop could be reached", last[600];
	enum smtp_tls pol = smtp_tls_policy(&smtp_ctx, r->domain);
	size_t nh, na = 0, i;
	int isrelay, code = 451, c2;

	relay[0] = '\0';
	if (smtp_route(&smtp_ctx, r->domain, hosts, &nh, &isrelay, &code, why,
	    sizeof(why)) == -1) {
		smtp_fail_all(r, code, why);
		free(addrs);
		return;
	}
	if (isrelay && smtp_ctx.creds_bad) {
		smtp_fail_all(r, 451, "4.7.0 relayhost_credentials refused "
		    "(mode must be 0600 or stricter)");
		free(addrs);
		return;
	}
	for (i = 0; i < nh; i++)
		smtp_resolve(&smtp_ctx, &hosts[i], addrs, SMTP_MAX_ADDRS, &na, &c2,
		    why, sizeof(why));
	for (i = 0; i < na; i++) {
		if (smtp_deliver(&smtp_ctx, r, &addrs[i], pol, isrelay, last,
		    sizeof(last)) == 0) {
			str_fmt(relay, relaylen, "%s[%s]:%u", addrs[i].host,
			    addrs[i].ip, addrs[i].port);
			free(addrs);
			smtp_fail_all(r, 451, "4.4.2 no result from the remote server");
			return;
		}
		if (strncmp(last, "4.7.", 4) == 0)
			str_copy(why, last, sizeof(why));
		else
			str_fmt(why, sizeof(why), "4.4.1 %s", last);
		log_info("%s: %s", r->qid, why);
	}
	free(addrs);
	smtp_fail_all(r, 451, why);
}

/* relay line, then one status line per recipient, in request order. */
static void
smtp_reply_all(int conn, const struct smtp_req *r, const char *relay)
{
	struct strbuf out;
	char safe[700];
	size_t i;

	strbuf_init(&out, AGENT_REQ_MAX);
	if (*relay != '\0')
		strbuf_printf(&out, "relay %s\n", relay);
	if (*relay != '\0' && r->dsn_passed)
		strbuf_puts(&out, "dsn passed\n");	/* qmgr sends no "relayed" */
	for (i = 0; i < r->nrcpt; i++) {
		const struct smtp_rcpt *rc = &r->rcpt[i];
		log_sanitize(safe, sizeof(safe), rc->text, strlen(rc->text));
		strbuf_printf(&out, "%llu %03d %s %s\n", rc->idx,
		    rc->code >= 200 && rc->code < 600 ? rc->code : 451,
		    rc->status[0] ? rc->status : "4.4.2", safe[0] ? safe : "-");
	}
	if (out.len > 0)
		write_all(conn, out.data, out.len);
	strbuf_free(&out);
}

/* The child: resolver state, privileges, then the request. */
static void
smtp_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct smtp_req r;
	char err[512], relay[400];

	(void)l;
	(void)arg;
	memset(&smtp_ctx.res, 0, sizeof(smtp_ctx.res));
	smtp_ctx.res_ok = res_ninit(&smtp_ctx.res) == 0;
	smtp_ctx.hosts = smtp_hosts_load(_PATH_HOSTS);	/* before the chroot */
	if (priv_drop(priv_is_root() ? &smtp_owner : NULL, smtp_conf.queue_dir,
	    priv_is_root(), err, sizeof(err)) == -1) {
		log_err("%s", err);
		return;
	}
	fd_set_nonblock(conn, 0);
	if (smtp_req_read(conn, &r) == -1) {
		log_warn("malformed delivery request refused");
		write_all(conn, "error malformed request\n", 24);
	} else {
		smtp_run(&r, relay, sizeof(relay));
		smtp_reply_all(conn, &r, relay);
	}
	smtp_req_free(&r);
	if (smtp_ctx.res_ok)
		res_nclose(&smtp_ctx.res);
	free(smtp_ctx.hosts);
	smtp_ctx.hosts = NULL;
}

/* Maps, credentials and TLS contexts: before anything is read. */
static void
smtp_init_ctx(void)
{
	char err[1024];
	int bad;

	smtp_ctx.conf = &smtp_conf;
	smtp_ctx.transport = smtp_map_load(smtp_conf.transport_map, 0, &bad, err,
	    sizeof(err));
	if (bad || (smtp_ctx.transport == NULL && *smtp_conf.transport_map))
		log_warn("transport_map: %s", err);
	smtp_ctx.tlspolicy = smtp_map_load(smtp_conf.tls_policy_map, 0, &bad, err,
	    sizeof(err));
	if (bad || (smtp_ctx.tlspolicy == NULL && *smtp_conf.tls_policy_map))
		log_warn("tls_policy_map: %s", err);
	smtp_ctx.creds = smtp_map_load(smtp_conf.relayhost_credentials, 1, &bad,
	    err, sizeof(err));
	if (bad) {
		smtp_ctx.creds_bad = 1;
		log_err("relayhost_credentials: %s", err);
	}
	if ((smtp_ctx.tls_any = tls_client_ctx(0, err, sizeof(err))) == NULL)
		log_warn("TLS client context: %s (no STARTTLS)", err);
	if ((smtp_ctx.tls_verify = tls_client_ctx(1, err, sizeof(err))) == NULL)
		log_warn("TLS client context with verification: %s", err);
}

int
main(int argc, char **argv)
{
	struct listen_fd lfd[LISTEN_MAXFDS];
	char err[4096];
	size_t nl;

	daemon_start(argc, argv, "smtp", &smtp_conf);
	nl = daemon_sockets("smtp", lfd, NELEM(lfd));
	if (priv_is_root() &&
	    priv_lookup(smtp_conf.mail_owner, &smtp_owner, err, sizeof(err)) == -1)
		fatal("%s", err);
	smtp_init_ctx();
	if (chdir(smtp_conf.queue_dir) == -1)
		fatal("chdir %s: %s", smtp_conf.queue_dir, strerror(errno));
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	log_info("ready");
	if (listen_serve(lfd, nl, (unsigned)(smtp_conf.smtp_concurrency + 2),
	    smtp_serve, NULL) == -1)
		return 1;
	return 0;
}
