/*
 * deliver_user: delivery to the Unix accounts of system_domains, into
 * ~/Maildir with the global delivery_rules and then ~/.postern.rules
 * (deliver_rules.c, the same code as for virtual users, given paths).
 *
 * A deliver process of its own, spawned by the master with the one
 * socket private/deliver-user (mode 0600, mail_owner's), forks one child
 * per request (common/listen.c, listen_serve). Privileges (DESIGN.md
 * rules 1 and 5): the accepting parent (root when started as root) never
 * reads a byte. The child, still root, checks with SO_PEERCRED that the
 * peer is mail_owner (qmgr), reads only the fixed 12-byte header of
 * common/agent.h (the recipient's uid and gid, as qmgr resolved them),
 * refuses uid 0 and a gid that is not the account's, and drops for good
 * to that account with its supplementary groups (initgroups). Only then,
 * as the user, does it chdir to the home directory (refusing one the
 * user does not own), read the request (agent_req_read) and deliver.
 * Anything wrong before the drop closes the connection unread: qmgr then
 * defers the recipients (4.3.0) and tries again later. A child lives at
 * most DU_TIME_LIMIT seconds: the user's own files cannot hold a
 * delivery slot for longer.
 *
 * Started as an ordinary user (rule 6) nothing changes uid: the peer
 * must be that same user, and only that user's own account is delivered
 * to; any other account gets 451 4.3.5 (a setup error the admin fixes
 * by starting the suite as root; the mail waits in the queue).
 *
 * Reply: as deliver.c's, one "INDEX CODE X.Y.Z text" line per recipient.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"
#include "daemon.h"
#include "deliver.h"
#include "listen.h"
#include "log.h"
#include "priv.h"
#include "qfile.h"
#include "strbuf.h"
#include "sysuser.h"
#include "util.h"

#define DU_SOCKET	"deliver-user"
/*
 * A child's whole life, at most. The user owns the paths written to
 * (a FIFO or a FUSE mount can make an open wait for ever); this bounds
 * how long one such user holds a delivery slot. SIGALRM kills it: qmgr
 * sees the connection close and defers what was not answered.
 */
#define DU_TIME_LIMIT	120	/* seconds */

/* The account one child delivers for, after du_become(). */
struct du_acct {
	uid_t	uid;
	gid_t	gid;
	char	name[SYSUSER_NAME_MAX];
	char	home[PATH_MAX];
	char	why[300];	/* "" or why every recipient is deferred */
};

static struct conf *du_conf;
static int du_root;
static uid_t du_owner;	/* the only peer: mail_owner (root), or ourselves */

int
deliver_user_wanted(void)
{
	const char *n = getenv("LISTEN_FDNAMES");

	return n != NULL && strcmp(n, DU_SOCKET) == 0;
}

/* SO_PEERCRED: is the peer qmgr's account? */
static int
du_peer_ok(int conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    len != sizeof(cr)) {
		log_warn("SO_PEERCRED: %s", strerror(errno));
		return 0;
	}
	if (cr.uid != du_owner) {
		log_warn("request from uid %lu (pid %ld) refused: only mail_owner "
		    "(uid %lu) may ask", (unsigned long)cr.uid, (long)cr.pid,
		    (unsigned long)du_owner);
		return 0;
	}
	return 1;
}

/* The passwd entry of uid: name and home; its primary gid must be gid. */
static int
du_account(uid_t uid, gid_t gid, struct du_acct *a, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	if (uid == 0) {
		str_copy(err, "uid 0 is never delivered to (use an alias)", errlen);
		return -1;
	}
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		str_fmt(err, errlen, "no account with uid %lu", (unsigned long)uid);
		return -1;
	}
	if (pw.pw_gid != gid) {
		str_fmt(err, errlen, "gid %lu is not the primary group of '%s'",
		    (unsigned long)gid, pw.pw_name);
		return -1;
	}
	a->uid = uid;
	a->gid = gid;
	if (str_copy(a->name, pw.pw_name, sizeof(a->name)) == -1 ||
	    str_copy(a->home, pw.pw_dir, sizeof(a->home)) == -1 ||
	    a->home[0] != '/') {
		str_fmt(err, errlen, "account '%s': unusable name or home", pw.pw_name);
		return -1;
	}
	return 0;
}

/*
 * Become the account (root), then, as it, go home. -1: close unread (we
 * may still be root). 0: read the request; a->why set means defer all.
 */
static int
du_become(uid_t uid, gid_t gid, struct du_acct *a, char *err, size_t errlen)
{
	struct stat st;

	memset(a, 0, sizeof(*a));
	if (du_account(uid, gid, a, err, errlen) == -1)
		return -1;
	if (du_root) {
		/* become a for good, with its groups, and prove it */
		if (priv_become_account(a->uid, a->gid, a->name, err, errlen) == -1)
			return -1;
	} else if (uid != getuid()) {
		str_fmt(a->why, sizeof(a->why), "451 4.3.5 not started as root: "
		    "only the account '%s' itself can be delivered to", a->name);
		return 0;
	}
	/* As the user from here: its own permissions decide. */
	if (stat(a->home, &st) == -1)
		str_fmt(a->why, sizeof(a->why), "451 4.3.0 home directory of "
		    "'%s' unusable: %s", a->name, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		str_fmt(a->why, sizeof(a->why), "451 4.3.0 home directory of "
		    "'%s' is not a directory", a->name);
	else if (st.st_uid != a->uid)
		str_fmt(a->why, sizeof(a->why), "451 4.3.0 home directory of "
		    "'%s' is not owned by it", a->name);
	else if (chdir(a->home) == -1)
		str_fmt(a->why, sizeof(a->why), "451 4.3.0 chdir to the home "
		    "directory of '%s': %s", a->name, strerror(errno));
	return 0;
}

/* One recipient: it must be this account in a system domain. */
static void
du_one(const struct agent_req *r, const struct du_acct *a, const char *rcpt,
    char *rep, size_t replen)
{
	char addr[QFILE_ADDR_MAX + 1], maildir[PATH_MAX], rules[PATH_MAX];
	struct sysuser u;
	const char *at;

	str_copy(addr, rcpt, sizeof(addr));
	str_lower(addr);
	if ((at = strrchr(addr, '@')) == NULL || at == addr ||
	    !conf_is_system_domain(du_conf, at + 1)) {
		str_copy(rep, "550 5.1.2 not a system_domains address", replen);
		return;
	}
	switch (sysuser_find(du_conf, addr, &u)) {
	case SYSUSER_OK:
		break;
	case SYSUSER_TEMP:
		str_copy(rep, "451 4.3.0 passwd lookup failed", replen);
		return;
	default:
		str_copy(rep, "550 5.1.1 no such account", replen);
		return;
	}
	if (u.uid != a->uid) {
		/* passwd changed since qmgr looked: route it again later */
		str_copy(rep, "451 4.3.0 recipient is not the account of this "
		    "request", replen);
		return;
	}
	if (str_fmt(maildir, sizeof(maildir), "%s/Maildir", a->home) == -1 ||
	    str_fmt(rules, sizeof(rules), "%s/.postern.rules", a->home) == -1) {
		str_copy(rep, "550 5.1.3 mailbox path too long", replen);
		return;
	}
	deliver_rcpt_at(du_conf, r, addr, maildir, rules, u.ext, rep, replen);
}

/* As the account: read the request, deliver, answer line by line. */
static void
du_deliver(int conn, const struct du_acct *a)
{
	struct agent_req r;
	struct strbuf out;
	char rep[700];
	size_t i;

	if (agent_req_read(conn, &r, AGENT_TIMEOUT_MS) == -1) {
		log_warn("malformed delivery request refused");
		write_all(conn, "error malformed request\n", 24);
		agent_req_free(&r);
		return;
	}
	if (a->why[0] != '\0')
		log_warn("%s: %s", r.qid, a->why + 10);
	strbuf_init(&out, AGENT_REQ_MAX);
	for (i = 0; i < r.nrcpt; i++) {
		if (a->why[0] != '\0')
			str_copy(rep, a->why, sizeof(rep));
		else
			du_one(&r, a, r.rcpt[i].addr, rep, sizeof(rep));
		if (strbuf_printf(&out, "%llu %s\n", r.rcpt[i].idx, rep) == -1 ||
		    write_all(conn, out.data, out.len) == -1)
			break;	/* each status at once: qmgr records it */
		strbuf_reset(&out);
	}
	strbuf_free(&out);
	agent_req_free(&r);
}

/* One connection, in its own child (root when started as root). */
static void
du_serve(int conn, const struct listen_fd *l, void *arg)
{
	struct du_acct a;
	char err[512];
	uid_t uid;
	gid_t gid;

	(void)l;
	(void)arg;
	signal(SIGALRM, SIG_DFL);
	alarm(DU_TIME_LIMIT);
	fd_set_nonblock(conn, 0);
	if (!du_peer_ok(conn))
		return;
	/* The only bytes read as root: 12, fixed, from mail_owner. */
	if (agent_user_read(conn, &uid, &gid, AGENT_TIMEOUT_MS) == -1) {
		log_warn("malformed system-user header refused");
		return;
	}
	if (du_become(uid, gid, &a, err, sizeof(err)) == -1) {
		log_warn("uid %lu: %s; the request is deferred",
		    (unsigned long)uid, err);
		return;
	}
	log_debug("delivering as '%s' (uid %lu)", a.name, (unsigned long)a.uid);
	du_deliver(conn, &a);
}

int
deliver_user_main(struct conf *c)
{
	struct listen_fd lfd[LISTEN_MAXFDS];
	struct priv_id owner;
	char err[512];
	unsigned max;
	size_t nl;

	du_conf = c;
	du_root = priv_is_root();
	nl = daemon_sockets(DU_SOCKET, lfd, NELEM(lfd));
	du_owner = getuid();
	if (du_root) {
		if (priv_lookup(c->mail_owner, &owner, err, sizeof(err)) == -1)
			fatal("mail_owner: %s", err);
		du_owner = owner.uid;
	}
	if (chdir("/") == -1)
		fatal("chdir /: %s", strerror(errno));
	umask(077);
	log_info("ready (system users: %s)", *c->system_domains != '\0' ?
	    c->system_domains : "none");
	max = c->deliver_concurrency > (UINT_MAX - 2) / 2 ? UINT_MAX :
	    (unsigned)(c->deliver_concurrency * 2 + 2);
	return listen_serve(lfd, nl, max, du_serve, NULL) == -1 ? 1 : 0;
}
