/*
 * auth_sys: logins of the Unix accounts behind system_domains
 * (postern.conf(5)), for POP3, IMAP and SMTP AUTH. A login is a system
 * login when system_domains is set and it is a bare account name
 * ("alice") or an address in one of system_domains ("alice@sys.test");
 * every other login is a virtual user's address, checked in the sasldb.
 * The password is checked against shadow(5) with crypt(3) (libcrypt: the
 * hashes passwd(1) writes, yescrypt and SHA-512 on Debian), never against
 * a SASL secret, so only mechanisms that carry the password (PLAIN,
 * LOGIN, and the plain USER/PASS and IMAP LOGIN) work for these logins.
 *
 * authd runs as auth_user; when system_domains is set and it is started
 * as root it keeps the group that owns /etc/shadow (shadow on Debian) as
 * its one supplementary group, as unix_chkpwd(8) does, and nothing more.
 * uid 0 never logs in, nor does a locked ("!", "*"), empty or expired
 * password. Started as an ordinary user (DESIGN.md rule 6), only that
 * user's own account is a system login.
 */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "conf.h"
#include "log.h"
#include "sysuser.h"
#include "util.h"

static int	auth_sys_root = 1;	/* the suite was started as root */
static uid_t	auth_sys_uid;		/* else: this user only */
static char	auth_sys_dom[256];	/* the first of system_domains, or "" */

/* The first of system_domains into out. 0, or -1 when there is none. */
static int
auth_sys_first_domain(const struct conf *c, char *out, size_t outlen)
{
	const char *p = c->system_domains;
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return -1;
	p += strspn(p, ", \t");
	n = strcspn(p, ", \t");
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	str_lower(out);
	return 0;
}

void
auth_sys_init(const struct conf *c, int started_as_root, uid_t uid)
{
	auth_sys_root = started_as_root;
	auth_sys_uid = uid;
	auth_sys_first_domain(c, auth_sys_dom, sizeof(auth_sys_dom));
}

const char *
auth_sys_realm(void)
{
	return auth_sys_dom[0] != '\0' ? auth_sys_dom : NULL;
}

int
auth_sys_login(const struct conf *c, const char *login, char *addr,
    size_t addrlen, struct sysuser *u)
{
	char a[320];
	const char *at = strchr(login, '@');

	if (auth_sys_dom[0] == '\0')
		return 0;
	if (at == NULL) {
		if (str_fmt(a, sizeof(a), "%s@%s", login, auth_sys_dom) == -1)
			return 0;
	} else if (!conf_is_system_domain(c, at + 1) ||
	    str_copy(a, login, sizeof(a)) == -1) {
		return 0;
	}
	str_lower(a);
	switch (sysuser_find(c, a, u)) {
	case SYSUSER_OK:
		break;
	case SYSUSER_TEMP:
		return -1;
	default:
		/* No account (or root): a system login all the same, one that fails. */
		u->name[0] = '\0';
		return str_copy(addr, a, addrlen) == -1 ? 0 : 1;
	}
	/* A login names the account itself, not an extension (alice+x). */
	if (u->ext[0] != '\0' || !sysuser_allowed(u, auth_sys_root, auth_sys_uid))
		u->name[0] = '\0';
	return str_copy(addr, a, addrlen) == -1 ? 0 : 1;
}

/* The account's password hash (shadow, else passwd) into out. 0 or -1 (temp). */
static int
auth_sys_hash(const char *name, char *out, size_t outlen)
{
	struct spwd sp, *spr = NULL;
	struct passwd pw, *pwr = NULL;
	char buf[16384];
	long today;
	int e;

	out[0] = '\0';
	e = getspnam_r(name, &sp, buf, sizeof(buf), &spr);
	if (spr != NULL) {
		today = (long)(time(NULL) / 86400);
		/* shadow(5): the account expires on day sp_expire (since 1970) */
		if (sp.sp_expire > 0 && today >= sp.sp_expire) {
			log_info("system login %s: the account has expired", name);
			return 0;
		}
		if (str_copy(out, sp.sp_pwdp, outlen) == -1)
			out[0] = '\0';
		secure_zero(buf, sizeof(buf));
		return 0;
	}
	if (e != 0 && e != ENOENT) {
		/* EACCES: not in the shadow group (authd started as a user?) */
		log_warn("system login %s: cannot read shadow: %s", name, strerror(e));
		return -1;
	}
	/* No shadow entry: the hash may be in passwd itself ("x" means shadow). */
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &pwr) != 0 || pwr == NULL)
		return -1;
	if (str_copy(out, pw.pw_passwd, outlen) == -1 || strcmp(out, "x") == 0)
		out[0] = '\0';
	secure_zero(buf, sizeof(buf));
	return 0;
}

int
auth_sys_checkpass(const struct sysuser *u, const char *pass)
{
	struct crypt_data *cd;
	char hash[512];
	const char *h;
	int ok = 0;

	if (u->name[0] == '\0' || *pass == '\0')
		return 0;
	if (auth_sys_hash(u->name, hash, sizeof(hash)) == -1)
		return -1;
	/* Locked ("!", "*") and empty passwords never match. */
	if (hash[0] == '\0' || hash[0] == '!' || hash[0] == '*') {
		secure_zero(hash, sizeof(hash));
		return 0;
	}
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(pass, hash, cd);
	/* crypt(3): a failure is NULL or a string starting with '*' */
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash) &&
	    CRYPTO_memcmp(h, hash, strlen(hash)) == 0)
		ok = 1;
	secure_zero(cd, sizeof(*cd));
	free(cd);
	secure_zero(hash, sizeof(hash));
	return ok;
}
