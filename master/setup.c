/*
 * setup: the state tree the daemons expect, made by the master before it
 * spawns them (brief: "The master (postern run) as root creates ...").
 * Runs in the master, as root when started as root: then the tree is
 * owned by mail_owner (queue) and vmail_user (mail_root); otherwise
 * everything belongs to the invoking user (DESIGN.md rule 6).
 */
#include "config.h"

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
	"tmp", "incoming", "active", "deferred", "hold", "defer", "maildrop",
	"private",
};

int
setup_ids(const struct conf *c, struct setup_ids *ids)
{
	struct priv_id owner, vmail;
	char err[256];

	memset(ids, 0, sizeof(*ids));
	ids->root = priv_is_root();
	if (!ids->root) {
		ids->owner_uid = ids->vmail_uid = geteuid();
		ids->owner_gid = ids->vmail_gid = getegid();
		return 0;
	}
	if (priv_lookup(c->mail_owner, &owner, err, sizeof(err)) == -1 ||
	    priv_lookup(c->vmail_user, &vmail, err, sizeof(err)) == -1) {
		log_err("%s (mail_owner and vmail_user must exist when postern "
		    "runs as root; tools/deps.sh creates them)", err);
		return -1;
	}
	ids->owner_uid = owner.uid;
	ids->owner_gid = owner.gid;
	ids->vmail_uid = vmail.uid;
	ids->vmail_gid = vmail.gid;
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

/* The qmgr wake-up FIFO, private/qmgr. 0 or -1. */
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

int
setup_state(const struct conf *c, const struct setup_ids *ids)
{
	char path[4096];
	size_t i;

	if (setup_dir(c->state_dir, 0755, 0, 0, ids->root) == -1 ||
	    setup_dir(c->queue_dir, 0700, ids->owner_uid, ids->owner_gid,
		ids->root) == -1)
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

	/* lookupd reads it as mail_owner: root:<mail_owner's group> 0640. */
	if (lstat(c->sasl_db, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if (ids->root) {
		if (lchown(c->sasl_db, 0, ids->owner_gid) == -1 ||
		    chmod(c->sasl_db, 0640) == -1)
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
