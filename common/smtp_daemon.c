/*
 * smtp_daemon: the start-up, privilege drop, connection handling and
 * local-recipient check shared by smtpd and submitd. smtp_daemon_setup()
 * runs as root when the daemon was started as root (it reads the TLS
 * key); everything after smtp_daemon_drop() runs as mail_owner chrooted
 * to the queue directory (DESIGN.md rules 1, 2, 3, 6), and
 * smtp_daemon_rcpt() in the session processes (the workers of
 * common/listen_pool.c, each serving up to max_use connections).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gcommit.h"
#include "listen.h"
#include "log.h"
#include "lookup.h"
#include "priv.h"
#include "smtp_daemon.h"
#include "tls.h"
#include "util.h"

#define SMTP_DAEMON_LOOKUP_TIMEOUT	10000	/* ms for one lookupd answer */

/* RFC 5321 4.5.1: "<postmaster>" is postmaster@ the first local domain. */
static void
smtp_daemon_set_postmaster(struct smtp_daemon *sd)
{
	const char *p = sd->conf.local_domains;
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t n;

	sd->postmaster[0] = '\0';
	if (p == NULL)
		return;
	p += strspn(p, ", \t");
	n = strcspn(p, ", \t");
	if (n == 0 || n >= sizeof(dom))
		return;
	memcpy(dom, p, n);
	dom[n] = '\0';
	str_lower(dom);
	if (str_fmt(sd->postmaster, sizeof(sd->postmaster), "postmaster@%s", dom) == -1)
		sd->postmaster[0] = '\0';
}

/* header_checks, mime_header_checks, body_checks: compiled once, here. */
static void
smtp_daemon_checks(struct smtp_daemon *sd)
{
	const char *files[CHECKS_NKINDS];
	char err[4096];
	int k;

	files[CHECKS_HEADER] = sd->conf.header_checks;
	files[CHECKS_MIME] = sd->conf.mime_header_checks;
	files[CHECKS_BODY] = sd->conf.body_checks;
	sd->checks = NULL;
	for (k = 0; k < CHECKS_NKINDS; k++) {
		if (files[k] == NULL || *files[k] == '\0')
			continue;
		if (sd->checks == NULL && (sd->checks = checks_new()) == NULL)
			fatal("out of memory");
		if (checks_load(sd->checks, (enum checks_kind)k, files[k], err,
		    sizeof(err)) == -1)
			fatal("%s", err);
	}
	if (sd->checks != NULL)
		checks_set_body_limit(sd->checks,
		    sd->conf.body_checks_size_limit > SIZE_MAX ? SIZE_MAX :
		    (size_t)sd->conf.body_checks_size_limit);
}

void
smtp_daemon_setup(struct smtp_daemon *sd, const char *conffile)
{
	char err[4096];

	if (conf_load(&sd->conf, conffile, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (sd->conf.hostname != NULL && sd->conf.hostname[0] != '\0')
		str_copy(sd->hostname, sd->conf.hostname, sizeof(sd->hostname));
	else if (gethostname(sd->hostname, sizeof(sd->hostname) - 1) == -1)
		str_copy(sd->hostname, "localhost", sizeof(sd->hostname));
	smtp_daemon_set_postmaster(sd);
	/* The key is readable by root only: load it before the drop. */
	sd->tls_ctx = NULL;
	if (sd->conf.tls_cert != NULL && sd->conf.tls_cert[0] != '\0' &&
	    sd->conf.tls_key != NULL && sd->conf.tls_key[0] != '\0' &&
	    (sd->tls_ctx = tls_server_ctx(sd->conf.tls_cert, sd->conf.tls_key,
	    err, sizeof(err))) == NULL)
		fatal("TLS: %s", err);
	smtp_daemon_checks(sd);
}

/* DESIGN.md rules 2 and 3: mail_owner, chrooted to the queue, before any read. */
void
smtp_daemon_drop(const struct smtp_daemon *sd)
{
	struct priv_id id;
	char err[512];

	memset(&id, 0, sizeof(id));
	id.uid = getuid();
	id.gid = getgid();
	if (priv_is_root() &&
	    priv_lookup(sd->conf.mail_owner, &id, err, sizeof(err)) == -1)
		fatal("%s", err);
	if (priv_drop(&id, sd->conf.queue_dir, 1, err, sizeof(err)) == -1)
		fatal("%s", err);
}

void
smtp_daemon_policy(const struct smtp_daemon *sd, struct smtp_policy *p)
{
	p->hostname = sd->hostname;
	p->size_limit = sd->conf.message_size_limit;
	p->rcpt_limit = sd->conf.smtpd_recipient_limit;
	p->error_limit = sd->conf.smtpd_error_limit;
	p->timeout_ms = sd->conf.smtpd_timeout >= INT_MAX / 1000 ? INT_MAX :
	    (int)sd->conf.smtpd_timeout * 1000;
	p->tls_ctx = sd->tls_ctx;
	p->checks = sd->checks;
}

void
smtp_daemon_auth_init(const struct smtp_daemon *sd, struct smtp_auth *a)
{
	a->sockpath = AUTHC_SOCKET;
	a->service = "smtp";
	a->timeout_ms = 30000;
	a->max_failures = sd->conf.submission_auth_failures;
	a->ac.fd = -1;
}

static void
smtp_daemon_relay_reply(enum smtp_daemon_relay relay, struct smtp_session *s,
    const char *canon, struct smtp_reply *r)
{
	if (relay == SMTP_DAEMON_RELAY_ANY || smtp_session_auth_user(s) != NULL)
		smtp_reply_set(r, 250, "2.1.5", "Ok");	/* queued for outbound */
	else	/* never an open relay */
		smtp_reply_set(r, 554, "5.7.1", "<%s>: Relay access denied", canon);
}

void
smtp_daemon_rcpt(const struct smtp_daemon *sd, enum smtp_daemon_relay relay,
    struct smtp_session *s, const char *rcpt, char *canon, size_t canonlen,
    struct smtp_reply *r)
{
	char local[ADDR_BUF], domain[ADDR_BUF], safe[256];

	if (str_ieq(rcpt, "postmaster") &&
	    str_copy(canon, sd->postmaster, canonlen) == -1)
		canon[0] = '\0';
	if (address_split(canon, local, sizeof(local), domain, sizeof(domain)) == -1) {
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", rcpt);
		return;
	}
	if (!conf_is_local_domain(&sd->conf, domain)) {
		smtp_daemon_relay_reply(relay, s, canon, r);
		return;
	}
	switch (lookup_rcpt(LOOKUP_SOCKET, canon, SMTP_DAEMON_LOOKUP_TIMEOUT)) {
	case LOOKUP_OK:
		smtp_reply_set(r, 250, "2.1.5", "Ok");
		break;
	case LOOKUP_NOUSER:
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", canon);
		break;
	case LOOKUP_NOTLOCAL:
		/* lookupd does not count it local: only submitd takes it. */
		if (relay == SMTP_DAEMON_RELAY_ANY)
			smtp_reply_set(r, 250, "2.1.5", "Ok");
		else
			smtp_reply_set(r, 554, "5.7.1", "<%s>: Relay access denied", canon);
		break;
	default:
		log_warn("recipient lookup for <%s> failed (lookupd)",
		    log_sanitize(safe, sizeof(safe), canon, strlen(canon)));
		smtp_reply_set(r, 451, "4.3.0", "<%s>: Temporary lookup failure", canon);
		break;
	}
}

/* A listener's implicit-TLS flag: by its LISTEN_FDNAMES name, else the default. */
static int
smtp_daemon_implicit(const struct smtp_daemon_listen *dl, const char *name)
{
	if (dl->tls_name != NULL && strcmp(name, dl->tls_name) == 0)
		return 1;
	if (dl->name != NULL && strcmp(name, dl->name) == 0)
		return 0;
	/* systemd names sockets after their unit unless FileDescriptorName= is set. */
	return dl->implicit;
}

/*
 * Accept=no: one connection in a worker of the pool, which serves many
 * one after another (max_use). Nothing of a session outlives it: the
 * engine allocates and frees its session state per connection, the AUTH
 * state is reset by smtp_auth_begin/end, and the TLS object (SSL) is per
 * stream; only the SSL_CTX, the policy and the compiled checks are
 * shared. The pool closes conn.
 */
struct smtp_daemon_conn_arg {
	const struct smtp_daemon	*sd;
	const struct smtp_daemon_listen	*dl;
};

static void
smtp_daemon_conn(int conn, const struct listen_fd *l, void *arg)
{
	const struct smtp_daemon_conn_arg *ca = arg;
	const struct smtp_daemon_listen *dl = ca->dl;
	char peer[64];

	/*
	 * No OpenSSL error left over from the last client (SSL_get_error()
	 * reads the queue). Without TLS, OpenSSL is never initialised:
	 * leave it so, or each worker would pay for it in memory.
	 */
	if (ca->sd->tls_ctx != NULL)
		ERR_clear_error();
	listen_pool_peer(peer, sizeof(peer));
	dl->session(conn, conn, peer, smtp_daemon_implicit(dl, l->name), dl->arg);
}

void
smtp_daemon_serve(const struct smtp_daemon *sd, const struct smtp_daemon_listen *dl)
{
	struct listen_fd fds[LISTEN_MAXFDS];
	struct smtp_daemon_conn_arg ca = { sd, dl };
	struct listen_pool pool = { 0 };
	char peer[64];
	int nfds;

	nfds = listen_inherited(fds, NELEM(fds));
	if (nfds == 1 && listen_fd_is_connection(fds[0].fd)) {
		/* systemd Accept=yes: one connection on fd 3. */
		listen_peer_addr(fds[0].fd, peer, sizeof(peer));
		dl->session(fds[0].fd, fds[0].fd, peer, dl->implicit, dl->arg);
		return;
	}
	if (nfds > 0) {
		/* Every passed socket is one of ours, whatever its name. */
		log_info("ready on %d socket(s)", nfds);
		/* Before the workers fork: they share incoming/'s fsyncs. */
		if (gcommit_init() == -1)
			log_warn("group commit unavailable: %s", strerror(errno));
		pool.max_children = sd->conf.smtpd_process_limit > UINT_MAX ?
		    UINT_MAX : (unsigned)sd->conf.smtpd_process_limit;
		pool.max_use = sd->conf.max_use;
		pool.max_idle = (unsigned long long)sd->conf.max_idle;
		pool.serve = smtp_daemon_conn;
		pool.arg = &ca;
		pool.nonblock = 1;	/* the session's stream wants it so */
		if (listen_pool_serve(fds, (size_t)nfds, &pool) == -1)
			fatal("listen: cannot serve");
		return;
	}
	if (!listen_stdin_is_connection())
		fatal("no listening sockets (run under postern, inetd or systemd)");
	/* One session on fd 0/1 (inetd, tcpserver). */
	listen_peer_addr(STDIN_FILENO, peer, sizeof(peer));
	dl->session(STDIN_FILENO, STDOUT_FILENO, peer, dl->implicit, dl->arg);
}
