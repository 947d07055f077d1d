/*
 * setup: the state tree the daemons expect, made by the master before it
 * spawns them (brief: "The master (postern run) as root creates ...").
 * Runs in the master, as root when started as root: then the tree is
 * owned by mail_owner (queue) and vmail_user (mail_root), and sasl_db by
 * auth_user (authd and lookupd alone read it); otherwise
 * everything belongs to the invoking user (DESIGN.md rule 6).
 */
#include "config.h"

#include <dirent.h>

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "priv.h"
#include "setup.h"
#include "util.h"

static const char *const setup_queue_subdirs[] = {
	"tmp", "incoming", "active", "deferred", "hold", "defer", "private",
};

int
setup_ids(const struct conf *c, struct setup_ids *ids)
{
	struct priv_id owner, vmail, auth;
	char err[256];

	memset(ids, 0, sizeof(*ids));
	ids->root = priv_is_root();
	if (!ids->root) {
		ids->owner_uid = ids->vmail_uid = geteuid();
		ids->owner_gid = ids->vmail_gid = ids->maildrop_gid = getegid();
		ids->auth_uid = geteuid();
		ids->auth_gid = getegid();
		return 0;
	}
	if (priv_lookup(c->mail_owner, &owner, err, sizeof(err)) == -1 ||
	    priv_lookup(c->vmail_user, &vmail, err, sizeof(err)) == -1 ||
	    priv_lookup(c->auth_user, &auth, err, sizeof(err)) == -1) {
		log_err("%s (mail_owner, vmail_user and auth_user must exist when "
		    "postern runs as root; tools/deps.sh creates them)", err);
		return -1;
	}
	ids->auth_uid = auth.uid;
	ids->auth_gid = auth.gid;
	ids->owner_uid = owner.uid;
	ids->owner_gid = owner.gid;
	ids->vmail_uid = vmail.uid;
	ids->vmail_gid = vmail.gid;
	if (priv_lookup_group(c->maildrop_group, &ids->maildrop_gid, err,
	    sizeof(err)) == -1) {
		log_warn("%s: postern-sendmail works for root only until "
		    "maildrop_group exists (tools/deps.sh creates it)", err);
		ids->maildrop_gid = owner.gid;
	}
	return 0;
}

/* mkdir -p path; then make its mode and owner exactly these. 0 or -1. */
static int
setup_dir(const char *path, mode_t mode, uid_t uid, gid_t gid, int root)
{
	struct stat st;

	if (mkdir_p(path, mode) == -1) {
		log_err("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_err("%s: not a directory", path);
		return -1;
	}
	if (root && (st.st_uid != uid || st.st_gid != gid) &&
	    lchown(path, uid, gid) == -1) {
		log_err("chown %s: %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != mode && chmod(path, mode) == -1) {
		log_err("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A FIFO of the queue: private/qmgr (qmgr's wake-up) or private/free
 * (spent queue files to reuse, qfile_free.c). 0 or -1. */
static int
setup_fifo(const char *path, const struct setup_ids *ids)
{
	struct stat st;

	if (mkfifo(path, 0600) == -1 && errno != EEXIST) {
		log_err("mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		log_err("%s: exists and is not a FIFO", path);
		return -1;
	}
	if (ids->root && lchown(path, ids->owner_uid, ids->owner_gid) == -1) {
		log_err("chown %s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, 0600) == -1) {
		log_err("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The maildrop (issue 3, Postfix's layout): postdrop runs setgid
 * maildrop_group and may only create files in maildrop/ (1730: no
 * listing, no removing others' files) and write to the FIFO
 * public/pickup (0620) in public/ (0710). queue_dir is 0711 so that it
 * can reach them. 0 or -1.
 */
static int
setup_maildrop(const struct conf *c, const struct setup_ids *ids)
{
	char path[4096];
	struct stat st;

	if (str_fmt(path, sizeof(path), "%s/maildrop", c->queue_dir) == -1 ||
	    setup_dir(path, 01730, ids->owner_uid, ids->maildrop_gid, ids->root) == -1 ||
	    str_fmt(path, sizeof(path), "%s/public", c->queue_dir) == -1 ||
	    setup_dir(path, 0710, ids->owner_uid, ids->maildrop_gid, ids->root) == -1 ||
	    str_fmt(path, sizeof(path), "%s/public/pickup", c->queue_dir) == -1)
		return -1;
	if (mkfifo(path, 0620) == -1 && errno != EEXIST) {
		log_err("mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		log_err("%s: exists and is not a FIFO", path);
		return -1;
	}
	if ((ids->root && lchown(path, ids->owner_uid, ids->maildrop_gid) == -1) ||
	    chmod(path, 0620) == -1) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
setup_state(const struct conf *c, const struct setup_ids *ids)
{
	char path[4096];
	size_t i;

	if (setup_dir(c->state_dir, 0755, 0, 0, ids->root) == -1 ||
	    setup_dir(c->queue_dir, 0711, ids->owner_uid, ids->owner_gid,
		ids->root) == -1 || setup_maildrop(c, ids) == -1)
		return -1;
	for (i = 0; i < NELEM(setup_queue_subdirs); i++) {
		if (str_fmt(path, sizeof(path), "%s/%s", c->queue_dir,
		    setup_queue_subdirs[i]) == -1) {
			log_err("%s: path too long", c->queue_dir);
			return -1;
		}
		if (setup_dir(path, 0700, ids->owner_uid, ids->owner_gid,
		    ids->root) == -1)
			return -1;
	}
	if (str_fmt(path, sizeof(path), "%s/private/qmgr", c->queue_dir) == -1 ||
	    setup_fifo(path, ids) == -1 ||
	    str_fmt(path, sizeof(path), "%s/private/free", c->queue_dir) == -1 ||
	    setup_fifo(path, ids) == -1)
		return -1;
	if (setup_dir(c->mail_root, 0700, ids->vmail_uid, ids->vmail_gid,
	    ids->root) == -1)
		return -1;
	setup_sasldb_perms(c, ids);
	return 0;
}

void
setup_sasldb_perms(const struct conf *c, const struct setup_ids *ids)
{
	struct stat st;

	/* authd and lookupd read it as auth_user: auth_user's, 0600. */
	if (lstat(c->sasl_db, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if (ids->root) {
		if (lchown(c->sasl_db, ids->auth_uid, ids->auth_gid) == -1 ||
		    chmod(c->sasl_db, 0600) == -1)
			log_warn("%s: %s", c->sasl_db, strerror(errno));
	} else if ((st.st_mode & 0777) != 0600 && chmod(c->sasl_db, 0600) == -1) {
		log_warn("chmod %s: %s", c->sasl_db, strerror(errno));
	}
}

int
setup_unix(const struct conf *c, const struct setup_ids *ids, const char *name)
{
	char path[4096], err[512];
	int fd;

	if (str_fmt(path, sizeof(path), "%s/private/%s", c->queue_dir, name) == -1) {
		log_err("%s: path too long", c->queue_dir);
		return -1;
	}
	fd = listen_unix(path, (int)c->listen_backlog, 0600, err, sizeof(err));
	if (fd == -1) {
		log_err("%s", err);
		return -1;
	}
	if (ids->root && lchown(path, ids->owner_uid, ids->owner_gid) == -1) {
		log_err("chown %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Remove what a killed smtpd left in tmp/: called with the pidfile lock
 * held and before any daemon is spawned, so no writer is alive. A session
 * of an old suite that is somehow still finishing loses its file at
 * rename, answers 451 and the client retries: nothing accepted is lost.
 */
int
setup_clean_tmp(const struct conf *c)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int dfd, n = 0;

	if (str_fmt(path, sizeof(path), "%s/tmp", c->queue_dir) == -1 ||
	    (d = opendir(path)) == NULL)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("removed %d unfinished file(s) from %s", n, path);
	return n;
}
