/*
 * setup: the state tree (state_dir, the queue directories, the qmgr FIFO,
 * the private unix sockets, mail_root) with the owners the daemons need.
 */
#ifndef POSTERN_MASTER_SETUP_H
#define POSTERN_MASTER_SETUP_H

#include <sys/types.h>

struct conf;

struct setup_ids {
	int	root;			/* the master runs as root */
	uid_t	owner_uid, vmail_uid;	/* mail_owner, vmail_user (or the invoker) */
	gid_t	owner_gid, vmail_gid;
	gid_t	maildrop_gid;		/* maildrop_group (issue 3), or the invoker's */
	uid_t	auth_uid;		/* auth_user (issue 13), or the invoker */
	gid_t	auth_gid;
};

/* Look up mail_owner, vmail_user, auth_user when root (logs a clear error). 0 or -1. */
int setup_ids(const struct conf *, struct setup_ids *);
/* Create and fix state_dir, queue_dir and its subdirs, private/qmgr, mail_root. 0 or -1. */
int setup_state(const struct conf *, const struct setup_ids *);
/* Empty queue_dir/tmp before the daemons start. Files removed, or -1. */
int setup_clean_tmp(const struct conf *);
/* sasl_db: auth_user's and 0600 when root, else 0600 (if it exists). */
void setup_sasldb_perms(const struct conf *, const struct setup_ids *);
/* Bind queue_dir/private/<name> (0600, mail_owner). fd or -1 (logged). */
int setup_unix(const struct conf *, const struct setup_ids *, const char *name);

#endif
