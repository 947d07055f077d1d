/*
 * sysuser: local part -> passwd(5) account for system_domains (see
 * sysuser.h). Runs in lookupd (as auth_user), qmgr (as mail_owner) and
 * deliver's system-user child (as root, before its drop: the address it
 * checks comes from qmgr's header, not from the network). It only reads
 * the passwd database through getpwnam_r(3).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>

#include "conf.h"
#include "sysuser.h"
#include "util.h"

/* Characters of an account name we look up (useradd's, and '.'). */
#define SYSUSER_CHARS	"abcdefghijklmnopqrstuvwxyz0123456789._-"

/* One getpwnam_r. */
static enum sysuser_result
sysuser_pw(const char *name, struct sysuser *out)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int e;

	if (*name == '\0' || *name == '-' || *name == '.' ||
	    strlen(name) >= SYSUSER_NAME_MAX ||
	    strspn(name, SYSUSER_CHARS) != strlen(name))
		return SYSUSER_NOUSER;
	e = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (res == NULL)
		return e == 0 || e == ENOENT || e == ESRCH || e == EBADF ||
		    e == EPERM ? SYSUSER_NOUSER : SYSUSER_TEMP;
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	if (str_copy(out->name, pw.pw_name, sizeof(out->name)) == -1 ||
	    str_copy(out->home, pw.pw_dir, sizeof(out->home)) == -1)
		return SYSUSER_NOUSER;
	return pw.pw_uid == 0 ? SYSUSER_ROOT : SYSUSER_OK;
}

enum sysuser_result
sysuser_find(const struct conf *c, const char *addr, struct sysuser *out)
{
	char lp[512];
	const char *at = strrchr(addr, '@');
	enum sysuser_result r;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (at == NULL || at == addr || (size_t)(at - addr) >= sizeof(lp))
		return SYSUSER_NOUSER;
	memcpy(lp, addr, (size_t)(at - addr));
	lp[at - addr] = '\0';
	str_lower(lp);
	if ((r = sysuser_pw(lp, out)) != SYSUSER_NOUSER)
		return r;
	/* plus-addressing: alice+lists is alice, extension "lists" */
	if (*c->recipient_delimiter == '\0')
		return SYSUSER_NOUSER;
	n = strcspn(lp, c->recipient_delimiter);
	if (n == 0 || lp[n] == '\0')
		return SYSUSER_NOUSER;
	if (str_copy(out->ext, lp + n + 1, sizeof(out->ext)) == -1)
		return SYSUSER_NOUSER;
	lp[n] = '\0';
	r = sysuser_pw(lp, out);
	if (r == SYSUSER_NOUSER)
		out->ext[0] = '\0';
	return r;
}

int
sysuser_allowed(const struct sysuser *u, int root, uid_t uid)
{
	if (u->uid == 0)
		return 0;
	return root || u->uid == uid;
}
