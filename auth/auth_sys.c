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
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/*
 * The checks run in worker threads: crypt(3) of a yescrypt hash takes
 * tens of milliseconds (about 60 ms here), and authd's one poll loop
 * serves every login of every user. The threads only call getspnam_r,
 * getpwnam_r and crypt_r (all reentrant) and the logger; the loop
 * learns of a finished check through a pipe and answers it (as
 * Dovecot's auth-worker processes do for blocking password databases).
 */
#define AUTH_SYS_WORKERS	4
#define AUTH_SYS_QUEUE		256	/* checks waiting or done; more: inline */

struct auth_sys_job {
	uint64_t	 conn_id;
	struct sysuser	 u;
	char		 pass[1024];
	char		 addr[256];
	int		 result;
};

static pthread_mutex_t	 auth_sys_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 auth_sys_cv = PTHREAD_COND_INITIALIZER;
static struct auth_sys_job *auth_sys_todo[AUTH_SYS_QUEUE];
static struct auth_sys_job *auth_sys_done[AUTH_SYS_QUEUE];
static size_t		 auth_sys_ntodo, auth_sys_ndone, auth_sys_inflight;
static int		 auth_sys_pipe[2] = { -1, -1 };

static void *
auth_sys_worker(void *arg)
{
	struct auth_sys_job *j;
	char one = 1;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&auth_sys_mu);
		while (auth_sys_ntodo == 0)
			pthread_cond_wait(&auth_sys_cv, &auth_sys_mu);
		j = auth_sys_todo[0];
		memmove(auth_sys_todo, auth_sys_todo + 1,
		    --auth_sys_ntodo * sizeof(auth_sys_todo[0]));
		pthread_mutex_unlock(&auth_sys_mu);
		j->result = auth_sys_checkpass(&j->u, j->pass);
		secure_zero(j->pass, sizeof(j->pass));
		pthread_mutex_lock(&auth_sys_mu);
		auth_sys_done[auth_sys_ndone++] = j;
		pthread_mutex_unlock(&auth_sys_mu);
		(void)write(auth_sys_pipe[1], &one, 1);	/* non-blocking: a full pipe already wakes */
	}
	return NULL;
}

int
auth_sys_start(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int i, started = 0;

	if (pipe2(auth_sys_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	if (pthread_attr_init(&attr) != 0)
		return -1;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, 256 * 1024);
	/* the workers take no signal: the loop's handlers stay the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < AUTH_SYS_WORKERS; i++)
		if (pthread_create(&t, &attr, auth_sys_worker, NULL) == 0)
			started++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (started == 0) {
		close(auth_sys_pipe[0]);
		close(auth_sys_pipe[1]);
		auth_sys_pipe[0] = auth_sys_pipe[1] = -1;
		return -1;
	}
	return auth_sys_pipe[0];
}

int
auth_sys_submit(uint64_t conn_id, const struct sysuser *u, const char *pass,
    const char *addr)
{
	struct auth_sys_job *j;

	if (auth_sys_pipe[0] == -1 || auth_sys_inflight == AUTH_SYS_QUEUE ||
	    strlen(pass) >= sizeof(j->pass))
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->conn_id = conn_id;
	j->u = *u;
	str_copy(j->pass, pass, sizeof(j->pass));
	str_copy(j->addr, addr, sizeof(j->addr));
	auth_sys_inflight++;
	pthread_mutex_lock(&auth_sys_mu);
	auth_sys_todo[auth_sys_ntodo++] = j;
	pthread_cond_signal(&auth_sys_cv);
	pthread_mutex_unlock(&auth_sys_mu);
	return 0;
}

void
auth_sys_collect(void (*done)(uint64_t conn_id, int result, const char *addr))
{
	struct auth_sys_job *jobs[AUTH_SYS_QUEUE];
	char buf[64];
	size_t i, n;

	while (read(auth_sys_pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&auth_sys_mu);
	n = auth_sys_ndone;
	memcpy(jobs, auth_sys_done, n * sizeof(jobs[0]));
	auth_sys_ndone = 0;
	pthread_mutex_unlock(&auth_sys_mu);
	for (i = 0; i < n; i++) {
		done(jobs[i]->conn_id, jobs[i]->result, jobs[i]->addr);
		free(jobs[i]);
		auth_sys_inflight--;
	}
}
