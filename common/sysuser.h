/*
 * sysuser: the Unix accounts behind system_domains (postern.conf(5)).
 * A recipient local@D, D one of system_domains, is the passwd(5) account
 * named by its lower-cased local part, or by the part before the first
 * recipient_delimiter character (alice+lists -> alice, extension
 * "lists") when the whole local part is no account. uid 0 is never a
 * mailbox: root's mail goes through an alias (as Postfix local(8)).
 * Used by lookupd (RCPT time), qmgr (routing: the uid and gid it sends
 * deliver), deliver's system-user child (common/agent.h header), authd
 * (system logins) and the pop3d/imapd session (the account to become).
 */
#ifndef POSTERN_SYSUSER_H
#define POSTERN_SYSUSER_H

#include <stddef.h>
#include <sys/types.h>

struct conf;

#define SYSUSER_NAME_MAX	64	/* account names, with the NUL */

enum sysuser_result {
	SYSUSER_TEMP = -1,	/* the passwd lookup failed: try later */
	SYSUSER_OK = 0,
	SYSUSER_NOUSER = 1,	/* no such account (or not a usable name) */
	SYSUSER_ROOT = 2	/* uid 0: never delivered to */
};

struct sysuser {
	uid_t	uid;
	gid_t	gid;
	char	name[SYSUSER_NAME_MAX];	/* the account */
	char	home[1024];		/* its home directory (pw_dir) */
	char	ext[256];		/* the address extension, "" for none */
};

/*
 * The account of addr (local@domain; the domain is not looked at).
 * out is filled for SYSUSER_OK and SYSUSER_ROOT.
 */
enum sysuser_result sysuser_find(const struct conf *, const char *addr,
    struct sysuser *out);

/*
 * May this process's suite deliver to u? root: every account but uid 0;
 * started as an ordinary user (DESIGN.md rule 6): only that user's own
 * account (u->uid == uid). 1 or 0.
 */
int sysuser_allowed(const struct sysuser *u, int root, uid_t uid);

#endif
