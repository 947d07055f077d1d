/*
 * login_session: the step between the login process and the session
 * (common/login.h): redeem the login's token with authd for the user's
 * address, become the mail owner, and cd to the Maildir.
 *
 *   a virtual user (an address of local_domains): vmail_user, and
 *   mail_root/<domain>/<local part>/Maildir;
 *   a Unix account (an address of system_domains, which authd gives out
 *   only after checking the account's password in shadow(5): auth_sys.c):
 *   the account itself with its groups (initgroups), never uid 0, and
 *   ~/Maildir, where deliver puts its mail.
 *
 * Started as root with system_domains set, the connection process stays
 * root until here (it cannot know the account before the token): all it
 * has read by then is the fixed "token <64 hex>\n" of login_read_token()
 * from its own login process and authd's answer, no byte from the
 * network (DESIGN.md rules 1 and 4). Without system_domains it dropped to
 * vmail_user before reading anything, as before. Started as an ordinary
 * user (rule 6) nothing changes uid, and the one Unix account that can
 * log in is that user's own.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "authclient.h"
#include "conf.h"
#include "log.h"
#include "login_int.h"
#include "priv.h"
#include "sysuser.h"
#include "util.h"

/*
 * Is addr a sane local@domain for a path below mail_root? Lower-cases it.
 * authd only hands out what the sasldb knows, but the path is built here.
 */
static int
login_address_ok(char *addr)
{
	char *at = strchr(addr, '@');
	const char *p;

	if (at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    addr[0] == '.' || at[1] == '.' || strlen(addr) > 254)
		return 0;
	for (p = addr; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '/')
			return 0;
	str_lower(addr);
	return 1;
}

/* The Unix account of addr: become it, and its ~/Maildir into path. 0 or -1. */
static int
login_become_account(const struct conf *c, const char *addr, int root,
    char *path, size_t pathlen)
{
	struct sysuser u;
	char err[512];

	if (sysuser_find(c, addr, &u) != SYSUSER_OK || u.ext[0] != '\0' ||
	    !sysuser_allowed(&u, root, getuid()) || u.home[0] != '/') {
		log_warn("%s: no Unix account that may log in", addr);
		return -1;
	}
	if (root && priv_become_account(u.uid, u.gid, u.name, err, sizeof(err)) == -1) {
		log_err("%s: %s", addr, err);
		return -1;
	}
	return str_fmt(path, pathlen, "%s/Maildir", u.home);
}

int
login_session_setup(const struct conf *c, int afd, const char *token,
    char *addr, size_t addrlen, const struct priv_id *vmail)
{
	struct authclient a;
	char path[4096], err[512], *at;
	int ok = -1, root = priv_is_root();

	authclient_attach(&a, afd, LOGIN_AUTHD_TIMEOUT);
	if (authclient_token(&a, token, addr, addrlen) == 0 && login_address_ok(addr))
		ok = 0;
	authclient_close(&a);
	if (ok == -1) {
		log_warn("authd refused a login token");
		return -1;
	}
	at = strchr(addr, '@');
	if (conf_is_system_domain(c, at + 1)) {
		if (login_become_account(c, addr, root, path, sizeof(path)) == -1)
			return -1;
	} else {
		if (root && priv_drop(vmail, "/", 0, err, sizeof(err)) == -1) {
			log_err("%s", err);
			return -1;
		}
		if (str_fmt(path, sizeof(path), "%s/%s/%.*s/Maildir", c->mail_root,
		    at + 1, (int)(at - addr), addr) == -1)
			return -1;
	}
	if (mkdir_p(path, 0700) == -1 || chdir(path) == -1) {
		log_err("%s: mailbox %s: %s", addr, path, strerror(errno));
		return -1;
	}
	return 0;
}
