/*
 * lookupd: answers "is this a deliverable local recipient?" for smtpd
 * (which runs chrooted and cannot read the sasldb or the alias file).
 * Started as root it sets up the SASL library first, then drops to
 * auth_user (no chroot: it reads sasl_db and alias_file) before it reads
 * any request; auth_user (postern-auth) is, with authd, the only reader
 * of sasl_db, which mail_owner's processes cannot open. One poll loop
 * serves many small connections.
 *
 * postmaster@ every local domain is always "ok" (RFC 5321 4.5.1; where it
 * goes is decided by qmgr, common/postmaster.h); abuse (RFC 2142) is
 * only "ok" when an alias or a user exists, like any other name.
 * "postmaster ADDRESS" gives qmgr, which cannot read the sasldb, the user
 * facts of postmaster's routing (common/postmaster.h, common/lookup.h).
 * In system_domains the users are Unix accounts (getpwnam, lk_system).
 *
 * Protocol (common/lookup.h): "rcpt ADDRESS\n" -> "ok\n" | "nouser\n" |
 * "notlocal\n" | "temp\n" (" volatile" before the newline for Unix
 * accounts: not to be cached). Anything else gets "temp\n" and the
 * connection is closed. The generation file of the clients' answer
 * cache (private/lookup.gen, common/lookup.h) moves on when the sasldb
 * or the alias file changes.
 */
#include "config.h"

#include <sys/mman.h>
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
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "lookup.h"
#include "postmaster.h"
#include "priv.h"
#include "sysuser.h"
#include "userdb.h"
#include "util.h"

#define LK_MAX_CLIENTS	256
#define LK_LINE_MAX	1024		/* "rcpt " + a 512-octet address, with room */
#define LK_IDLE_MS	30000		/* a client idle this long is dropped */
#define LK_MAX_LISTEN	8
#define LK_RACY_MS	2000		/* a file this young may change unseen */

struct lk_client {
	int	 fd;
	char	 buf[LK_LINE_MAX];
	size_t	 len;
	int64_t	 deadline;
};

static volatile sig_atomic_t lk_stop;
static struct conf lk_conf;
static struct aliases *lk_aliases;
static int lk_root;	/* the suite was started as root (before our drop) */
static int64_t lk_alias_checked;
static struct lookup_gen *lk_gen;	/* LOOKUP_GEN_FILE, mapped; NULL: none */
static struct {
	struct stat db, al;		/* the sasldb and alias file, as last seen */
	int64_t	 checked;
} lk_watch;

static void
lk_on_term(int sig)
{
	(void)sig;
	lk_stop = 1;
}

static int
lk_is_local(const char *domain, void *arg)
{
	(void)arg;
	return conf_is_local_domain(&lk_conf, domain);
}

/* Re-read the alias file when it changed (checked at most once a second). */
static int
lk_aliases_fresh(void)
{
	char err[512];

	if (now_ms() - lk_alias_checked < 1000)
		return 0;
	lk_alias_checked = now_ms();
	if (aliases_refresh(lk_aliases, err, sizeof(err)) == -1) {
		log_warn("alias file: %s", err);
		return -1;
	}
	return 0;
}

/*
 * Plus-addressing (recipient_delimiter): cut "+ext" from the local part of
 * addr in place. 1 when there was one to cut. deliver(8) strips it too.
 */
static int
lk_strip_extension(char *addr)
{
	char *at = strrchr(addr, '@');
	size_t n;

	if (at == NULL || *lk_conf.recipient_delimiter == '\0')
		return 0;
	n = strcspn(addr, lk_conf.recipient_delimiter);
	if (n == 0 || addr + n >= at)
		return 0;
	memmove(addr + n, at, strlen(at) + 1);
	return 1;
}

/*
 * system_domains: a Unix account (common/sysuser.h), never uid 0 (no
 * alias for root: nouser). Not started as root, only the invoking
 * user's own account is ok; another one is temp (451: a setup problem
 * that `postern check` reports, not a reason to refuse mail for good).
 */
static const char *
lk_system(const char *addr, int pm)
{
	struct sysuser u;

	switch (sysuser_find(&lk_conf, addr, &u)) {
	case SYSUSER_OK:
		return sysuser_allowed(&u, lk_root, getuid()) ? "ok\n" : "temp\n";
	case SYSUSER_TEMP:
		return "temp\n";
	default:
		return pm ? "ok\n" : "nouser\n";	/* RFC 5321 4.5.1 */
	}
}

/* The answer for one address; *vol set when it must not be cached. */
static const char *
lk_answer(const char *raw, int *vol)
{
	char addr[LK_LINE_MAX], safe[128];
	const char *at;
	int r, pm;

	if (str_copy(addr, raw, sizeof(addr)) == -1)
		return "nouser\n";
	str_lower(addr);
	at = strrchr(addr, '@');

	if (at == NULL || at == addr || at[1] == '\0')
		return "nouser\n";
	if (!lk_is_local(at + 1, NULL))
		return "notlocal\n";
	if (lk_aliases_fresh() == -1)
		return "temp\n";
	if (aliases_exists(lk_aliases, addr))
		return "ok\n";
	pm = postmaster_is(&lk_conf, addr);	/* before +ext is cut */
	if (conf_is_system_domain(&lk_conf, at + 1)) {
		*vol = 1;	/* Unix accounts: changes we do not watch */
		return lk_system(addr, pm);
	}
	r = userdb_exists_cached(lk_conf.sasl_db, addr);
	if (r == 0 && lk_strip_extension(addr))
		r = userdb_exists_cached(lk_conf.sasl_db, addr);	/* alice+lists */
	if (r == 1)
		return "ok\n";
	if (r == 0 && pm)
		return "ok\n";	/* RFC 5321 4.5.1: MUST accept; qmgr routes it */
	if (r == 0)
		return "nouser\n";
	log_warn("user database lookup failed for <%s>",
	    log_sanitize(safe, sizeof(safe), addr, strlen(addr)));
	return "temp\n";
}

/* "postmaster ADDRESS": postmaster_users() for qmgr (common/lookup.h). */
static const char *
lk_postmaster(const char *addr, char *rep, size_t replen)
{
	char first[LK_LINE_MAX];

	switch (postmaster_users(&lk_conf, addr, first, sizeof(first))) {
	case 1:
		return "self\n";
	case 0:
		if (first[0] == '\0')
			return "none\n";
		if (str_fmt(rep, replen, "first %s\n", first) != -1)
			return rep;
		/* FALLTHROUGH */
	default:
		return "temp\n";
	}
}

/* Handle the complete lines in c->buf. -1 closes the connection. */
static int
lk_handle(struct lk_client *c)
{
	char *nl, *line, pmrep[LK_LINE_MAX + 16];
	const char *rep;
	size_t used;

	while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
		*nl = '\0';
		line = c->buf;
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (strncmp(line, "rcpt ", 5) == 0 && line[5] != '\0' &&
		    memchr(line, '\0', (size_t)(nl - line)) == NULL) {
			int vol = 0;

			rep = lk_answer(line + 5, &vol);
			if (vol && strcmp(rep, "temp\n") != 0 &&
			    str_fmt(pmrep, sizeof(pmrep), "%.*s volatile\n",
			    (int)strcspn(rep, "\n"), rep) != -1)
				rep = pmrep;
		}
		else if (strncmp(line, "postmaster ", 11) == 0 && line[11] != '\0' &&
		    memchr(line, '\0', (size_t)(nl - line)) == NULL)
			rep = lk_postmaster(line + 11, pmrep, sizeof(pmrep));
		else
			rep = NULL;
		if (write_all(c->fd, rep != NULL ? rep : "temp\n",
		    strlen(rep != NULL ? rep : "temp\n")) == -1 || rep == NULL)
			return -1;
		used = (size_t)(nl - c->buf) + 1;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (c->len >= sizeof(c->buf))
		return -1;	/* a line longer than any request */
	return 0;
}

/* Read what the client sent. -1 closes it. */
static int
lk_read(struct lk_client *c)
{
	ssize_t n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	c->deadline = now_ms() + LK_IDLE_MS;
	return lk_handle(c);
}

static void
lk_accept(int lfd, struct lk_client *cl, size_t *ncl)
{
	int fd;

	while (*ncl < LK_MAX_CLIENTS) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		cl[*ncl].fd = fd;
		cl[*ncl].len = 0;
		cl[*ncl].deadline = now_ms() + LK_IDLE_MS;
		(*ncl)++;
	}
}

/*
 * The answer cache's generation file (common/lookup.h), made or reused
 * before the drop and given to the account we drop to; mode 0644: it
 * holds two counters. A new lookupd starts a new generation.
 */
static void
lk_gen_open(const struct priv_id *id)
{
	char path[PATH_MAX];
	void *m = MAP_FAILED;
	int fd;

	if (str_fmt(path, sizeof(path), "%s/%s", lk_conf.queue_dir,
	    LOOKUP_GEN_FILE) == -1)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd != -1 && (id == NULL || fchown(fd, id->uid, id->gid) == 0) &&
	    fchmod(fd, 0644) == 0 && ftruncate(fd, sizeof(*lk_gen)) == 0)
		m = mmap(NULL, sizeof(*lk_gen), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		log_warn("%s: %s (recipient answers are not cached)", path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
	if (m == MAP_FAILED)
		return;
	lk_gen = m;
	__atomic_add_fetch(&lk_gen->gen, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lk_gen->beat, now_ms(), __ATOMIC_RELEASE);
}

/* Did path change since *seen (or is it young enough to change unseen)? */
static int
lk_file_changed(const char *path, struct stat *seen)
{
	struct stat st;
	struct timespec now;

	if (stat(path, &st) == -1)
		memset(&st, 0, sizeof(st));
	clock_gettime(CLOCK_REALTIME, &now);
	if (st.st_dev == seen->st_dev && st.st_ino == seen->st_ino &&
	    st.st_size == seen->st_size &&
	    st.st_mtim.tv_sec == seen->st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == seen->st_mtim.tv_nsec &&
	    (st.st_ino == 0 ||
	    (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
	    (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000 >= LK_RACY_MS))
		return 0;
	*seen = st;
	return 1;
}

/*
 * Twice a second at most (and at least once a second: poll's timeout):
 * a changed sasldb or alias file moves the generation on (the alias
 * table is read again first, so that no answer of the new generation
 * comes from the old one); then the heartbeat.
 */
static void
lk_gen_tick(int64_t now)
{
	int db, al;

	if (lk_gen == NULL || now - lk_watch.checked < LOOKUP_CHECK_MS)
		return;
	lk_watch.checked = now;
	db = lk_file_changed(lk_conf.sasl_db, &lk_watch.db);
	al = lk_file_changed(lk_conf.alias_file, &lk_watch.al);
	if (al) {
		lk_alias_checked = 0;
		lk_aliases_fresh();
	}
	if (db || al)
		__atomic_add_fetch(&lk_gen->gen, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lk_gen->beat, now, __ATOMIC_RELEASE);
}

/* The poll loop over the listeners and the clients. */
static void
lk_serve(const struct listen_fd *lfd, size_t nl)
{
	static struct lk_client cl[LK_MAX_CLIENTS];
	struct pollfd pfd[LK_MAX_LISTEN + LK_MAX_CLIENTS];
	size_t ncl = 0, i, n;
	int64_t now;

	while (!lk_stop) {
		for (n = 0; n < nl; n++) {
			pfd[n].fd = ncl < LK_MAX_CLIENTS ? lfd[n].fd : -1;
			pfd[n].events = POLLIN;
		}
		for (i = 0; i < ncl; i++) {
			pfd[n + i].fd = cl[i].fd;
			pfd[n + i].events = POLLIN;
		}
		if (poll(pfd, n + ncl, 1000) == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		now = now_ms();
		lk_gen_tick(now);
		for (i = ncl; i-- > 0;) {
			int drop = cl[i].deadline < now;
			if (!drop && (pfd[n + i].revents & (POLLIN | POLLHUP | POLLERR)))
				drop = lk_read(&cl[i]) == -1;
			if (drop) {
				close(cl[i].fd);
				cl[i] = cl[--ncl];
			}
		}
		for (i = 0; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				lk_accept(lfd[i].fd, cl, &ncl);
	}
	for (i = 0; i < ncl; i++)
		close(cl[i].fd);
}

int
main(int argc, char **argv)
{
	struct listen_fd lfd[LK_MAX_LISTEN];
	struct priv_id id;
	char err[4096];
	size_t nl;
	int i;

	daemon_start(argc, argv, "lookupd", &lk_conf);
	lk_root = priv_is_root();	/* system_domains: whose accounts */
	nl = daemon_sockets("lookup", lfd, NELEM(lfd));
	for (i = 0; i < (int)nl; i++)
		fd_set_nonblock(lfd[i].fd, 1);
	if (userdb_init(&lk_conf) == -1)
		fatal("cannot open the user database %s", lk_conf.sasl_db);
	if (priv_is_root() &&
	    priv_lookup(lk_conf.auth_user, &id, err, sizeof(err)) == -1)
		fatal("auth_user: %s", err);
	lk_gen_open(priv_is_root() ? &id : NULL);
	/* Rule 2: no request is read before this. */
	if (priv_drop(priv_is_root() ? &id : NULL, lk_conf.queue_dir, 0, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	signal_set(SIGTERM, lk_on_term);
	signal_set(SIGINT, lk_on_term);
	signal(SIGPIPE, SIG_IGN);
	lk_aliases = aliases_new(lk_conf.alias_file);
	lk_aliases_fresh();
	log_info("ready");
	lk_serve(lfd, nl);
	aliases_free(lk_aliases);
	return 0;
}
