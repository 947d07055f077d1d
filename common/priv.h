/*
 * priv: accounts and privilege drop. Every daemon started as root calls
 * priv_drop() before it reads a byte from the network (DESIGN.md rule 2).
 */
#ifndef POSTERN_PRIV_H
#define POSTERN_PRIV_H

#include <stddef.h>
#include <sys/types.h>

struct priv_id {
	uid_t	uid;
	gid_t	gid;
	gid_t	extra_gid;	/* a supplementary group, when has_extra */
	int	has_extra;	/* (authd: shadow, for system_domains logins) */
	char	name[64];
};

int priv_is_root(void);
/* Look up a user (its primary group). 0 or -1 with err. */
int priv_lookup(const char *user, struct priv_id *out, char *err, size_t errlen);
int priv_lookup_group(const char *group, gid_t *out, char *err, size_t errlen);
/*
 * Always chdir(dir) first when dir is not NULL. Then, when root: chroot(dir)
 * if do_chroot, setgroups({gid} or {gid, extra_gid}), setresgid, setresuid, and check that
 * root cannot be regained. When not root: nothing more (rule 6).
 * 0 or -1 with err.
 */
int priv_drop(const struct priv_id *id, const char *dir, int do_chroot,
    char *err, size_t errlen);
/*
 * As root: become id for good (uid 0 refused), with only its own group or,
 * all_groups, with every group /etc/group gives it (initgroups), and check
 * that root cannot be regained. 0 or -1 with err.
 */
int priv_become(const struct priv_id *id, int all_groups, char *err,
    size_t errlen);
/*
 * priv_become of a Unix account given by uid, gid and name, with all its
 * groups: deliver's system-user child and the pop3d/imapd session of a
 * system_domains login. 0 or -1 with err.
 */
int priv_become_account(uid_t uid, gid_t gid, const char *name, char *err,
    size_t errlen);

#endif
