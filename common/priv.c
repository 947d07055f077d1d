/*
 * priv: account lookups and the privilege drop. Called by every daemon at
 * start-up, as root when started as root, before its first network read
 * (DESIGN.md rules 1, 2, 5). Started as an ordinary user it only chdirs
 * (rule 6).
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"
#include "util.h"

int
priv_is_root(void)
{
	return geteuid() == 0;
}

int
priv_lookup(const char *user, struct priv_id *out, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int e;

	e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (res == NULL) {
		if (e == 0 || e == ENOENT || e == ESRCH)
			str_fmt(err, errlen, "no such user '%s'", user);
		else
			str_fmt(err, errlen, "user '%s': %s", user, strerror(e));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	if (str_copy(out->name, pw.pw_name, sizeof(out->name)) == -1) {
		str_fmt(err, errlen, "user name '%s' too long", user);
		return -1;
	}
	return 0;
}

int
priv_lookup_group(const char *group, gid_t *out, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[65536];
	int e;

	e = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
	if (res == NULL) {
		if (e == 0 || e == ENOENT || e == ESRCH)
			str_fmt(err, errlen, "no such group '%s'", group);
		else
			str_fmt(err, errlen, "group '%s': %s", group, strerror(e));
		return -1;
	}
	*out = gr.gr_gid;
	return 0;
}

/* As root: become id for good, and prove it. 0 or -1. */
int
priv_become(const struct priv_id *id, int all_groups, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t groups[2] = { id->gid, id->extra_gid };

	if (id->uid == 0) {
		str_fmt(err, errlen, "refusing to run as root (user '%s' has uid 0)",
		    id->name);
		return -1;
	}
	if ((all_groups ? initgroups(id->name, id->gid) :
	    setgroups(id->has_extra ? 2 : 1, groups)) == -1 ||
	    setresgid(id->gid, id->gid, id->gid) == -1 ||
	    setresuid(id->uid, id->uid, id->uid) == -1) {
		str_fmt(err, errlen, "cannot become '%s': %s", id->name, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != id->uid || eu != id->uid || su != id->uid ||
	    rg != id->gid || eg != id->gid || sg != id->gid) {
		str_fmt(err, errlen, "privilege drop to '%s' did not take", id->name);
		return -1;
	}
	if (setuid(0) != -1 || setegid(0) != -1) {
		str_fmt(err, errlen, "root could be regained after dropping to '%s'",
		    id->name);
		return -1;
	}
	return 0;
}

int
priv_become_account(uid_t uid, gid_t gid, const char *name, char *err,
    size_t errlen)
{
	struct priv_id id;

	memset(&id, 0, sizeof(id));
	id.uid = uid;
	id.gid = gid;
	if (str_copy(id.name, name, sizeof(id.name)) == -1) {
		str_fmt(err, errlen, "account name too long");
		return -1;
	}
	return priv_become(&id, 1, err, errlen);
}

int
priv_drop(const struct priv_id *id, const char *dir, int do_chroot,
    char *err, size_t errlen)
{
	if (dir != NULL && chdir(dir) == -1) {
		str_fmt(err, errlen, "chdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!priv_is_root())
		return 0;
	if (dir != NULL && do_chroot) {
		if (chroot(dir) == -1 || chdir("/") == -1) {
			str_fmt(err, errlen, "chroot %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	return priv_become(id, 0, err, errlen);
}
