/*
 * check, config: `postern check` validates the configuration and what it
 * points at; `postern config` prints effective settings from the one
 * parameter table (common/conf.c). Run by the admin, as whoever calls
 * them; they change nothing.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "aliases.h"
#include "checks.h"
#include "conf.h"
#include "master.h"
#include "postmaster.h"
#include "priv.h"
#include "rules.h"
#include "tls.h"
#include "util.h"

static int check_problems;

static void __attribute__((format(printf, 1, 2)))
check_problem(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	check_problems++;
}

static void
check_tls(const struct conf *c)
{
	char err[1024];
	SSL_CTX *ctx;

	if (*c->tls_cert == '\0')
		return;
	if ((ctx = tls_server_ctx(c->tls_cert, c->tls_key, err, sizeof(err))) == NULL)
		check_problem("tls_cert/tls_key: %s", err);
	else
		SSL_CTX_free(ctx);
}

static void
check_accounts(const struct conf *c)
{
	const char *users[] = { c->mail_owner, c->login_user, c->vmail_user,
	    c->auth_user };
	struct priv_id id;
	char err[256];
	gid_t gid;
	size_t i;

	if (!priv_is_root())
		return;	/* rule 6: everything runs as the invoking user */
	for (i = 0; i < NELEM(users); i++) {
		if (priv_lookup(users[i], &id, err, sizeof(err)) == -1)
			check_problem("%s", err);
		else if (id.uid == 0)
			check_problem("user '%s' is root; postern needs an unprivileged account",
			    users[i]);
	}
	if (priv_lookup_group(c->maildrop_group, &gid, err, sizeof(err)) == -1)
		check_problem("%s", err);
}

static void
check_sasldb_dir(const struct conf *c)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (str_copy(dir, c->sasl_db, sizeof(dir)) == -1 ||
	    (slash = strrchr(dir, '/')) == NULL) {
		check_problem("sasl_db: %s: bad path", c->sasl_db);
		return;
	}
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		check_problem("sasl_db: directory %s: %s", dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		check_problem("sasl_db: %s is not a directory", dir);
}

/*
 * Who may read the sasldb (issue 13): auth_user alone when root (authd
 * and lookupd run as it), never mail_owner (qmgr, pickup, smtpd) nor
 * anyone else; the invoking user alone otherwise (rule 6). Warnings:
 * `postern user add|passwd|del` and the master's start fix the modes.
 */
static void
check_sasldb_perms(const struct conf *c)
{
	struct priv_id auth, owner;
	char err[256];
	struct stat st;
	uid_t want = geteuid();
	gid_t wantg = getegid();

	if (stat(c->sasl_db, &st) == -1)
		return;	/* no users yet */
	if (priv_is_root()) {
		if (priv_lookup(c->auth_user, &auth, err, sizeof(err)) == -1)
			return;	/* check_accounts said so */
		want = auth.uid;
		wantg = auth.gid;
		if (priv_lookup(c->mail_owner, &owner, err, sizeof(err)) == 0 &&
		    ((st.st_uid == owner.uid && (st.st_mode & 0400)) ||
		    (st.st_gid == owner.gid && (st.st_mode & 0040))))
			fprintf(stderr, "warning: sasl_db %s is readable by mail_owner "
			    "'%s': it must be auth_user's alone (postern user passwd "
			    "or a restart fixes it)\n", c->sasl_db, c->mail_owner);
	}
	if (st.st_uid != want || !(st.st_mode & 0400))
		fprintf(stderr, "warning: sasl_db %s (uid %ld, mode %04o) is not "
		    "readable by its owner %s: logins and RCPT checks fail\n",
		    c->sasl_db, (long)st.st_uid, (unsigned)(st.st_mode & 07777),
		    priv_is_root() ? c->auth_user : "(the invoking user)");
	if ((st.st_mode & 0004) || ((st.st_mode & 0040) && st.st_gid != wantg))
		fprintf(stderr, "warning: sasl_db %s (mode %04o, gid %ld) is readable "
		    "by other accounts: it should be mode 0600\n", c->sasl_db,
		    (unsigned)(st.st_mode & 07777), (long)st.st_gid);
}

/*
 * RFC 5321 4.5.1: postmaster@ the first local domain must reach a mailbox
 * (common/postmaster.h). A warning on stderr, not a problem: a fresh
 * setup has no user yet, and smtpd accepts postmaster anyway (qmgr defers).
 */
static void
check_postmaster(const struct conf *c)
{
	struct aliases *al;
	char addr[512], to[512], err[512];
	size_t n = strcspn(c->local_domains, " ,\t");

	if (n == 0 || str_fmt(addr, sizeof(addr), "postmaster@%.*s", (int)n,
	    c->local_domains) == -1)
		return;
	al = aliases_new(c->alias_file);
	if (aliases_refresh(al, err, sizeof(err)) == -1)
		err[0] = '\0';	/* aliases_check reported it */
	if (postmaster_target(c, al, addr, to, sizeof(to)) == -1)
		fprintf(stderr, "warning: %s reaches no mailbox: add a postmaster "
		    "alias, a user, or set postmaster_address (RFC 5321 4.5.1)\n",
		    addr);
	aliases_free(al);
}

/*
 * system_domains: Unix accounts are delivered to as themselves, which
 * needs the suite to start as root. Checked as someone else, a warning:
 * started so, only the invoking user's own account gets mail (others
 * are deferred with 4.3.5), and root's mail needs an alias.
 */
static void
check_system_domains(const struct conf *c)
{
	if (*c->system_domains == '\0' || priv_is_root())
		return;
	fprintf(stderr, "warning: system_domains is set but this check does not "
	    "run as root: started so, postern cannot switch to other accounts "
	    "and delivers only to uid %lu's own account\n",
	    (unsigned long)getuid());
}

/* header_checks, mime_header_checks, body_checks: every pattern compiles. */
static void
check_content(const struct conf *c)
{
	const char *files[CHECKS_NKINDS];
	struct checks *ck;
	char err[8192], *line, *next;
	int k;

	files[CHECKS_HEADER] = c->header_checks;
	files[CHECKS_MIME] = c->mime_header_checks;
	files[CHECKS_BODY] = c->body_checks;
	if ((ck = checks_new()) == NULL) {
		check_problem("out of memory");
		return;
	}
	for (k = 0; k < CHECKS_NKINDS; k++) {
		if (files[k] == NULL || *files[k] == '\0' ||
		    checks_load(ck, (enum checks_kind)k, files[k], err, sizeof(err)) == 0)
			continue;
		for (line = err; line != NULL && *line != '\0'; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			check_problem("%s", line);	/* FILE:LINE: error */
		}
	}
	checks_free(ck);
}

/*
 * One postern.rules(5) file parses: its first error as FILE:LINE: what.
 * A missing file is a problem only when named by the configuration.
 */
static void
check_rules_file(const char *path, int must_exist)
{
	struct rules *r;
	char err[1024];

	switch (rules_load(path, &r, err, sizeof(err))) {
	case -1:
		check_problem("%s", err);
		break;
	case 0:
		if (must_exist)
			check_problem("%s:0: %s", path, strerror(ENOENT));
		break;
	default:
		rules_free(r);
	}
}

#define CHECK_RULES_DIRS_MAX	100000	/* user directories looked at */

/* mail_root/<domain>/<user>/rules, two levels down, bounded. */
static void
check_rules_users(const char *root)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d, *u;
	DIR *rd, *dd;
	size_t n = 0;

	if ((rd = opendir(root)) == NULL) {
		if (errno != ENOENT && (errno != EACCES || priv_is_root()))
			check_problem("mail_root: %s: %s", root,
			    strerror(errno));
		return;
	}
	while (n < CHECK_RULES_DIRS_MAX && (d = readdir(rd)) != NULL) {
		if (d->d_name[0] == '.' ||
		    str_fmt(dir, sizeof(dir), "%s/%s", root, d->d_name) == -1 ||
		    (dd = opendir(dir)) == NULL)
			continue;
		while (n < CHECK_RULES_DIRS_MAX && (u = readdir(dd)) != NULL) {
			if (u->d_name[0] == '.')
				continue;
			n++;
			if (str_fmt(path, sizeof(path), "%s/%s/rules", dir,
			    u->d_name) != -1)
				check_rules_file(path, 0);
		}
		closedir(dd);
	}
	closedir(rd);
}

/*
 * system_domains: every account's ~/.postern.rules that we can read
 * (uid 0 gets no mail), bounded like the virtual users' files.
 */
static void
check_rules_system(const struct conf *c)
{
	char path[PATH_MAX];
	struct passwd *pw;
	size_t n = 0;

	if (*c->system_domains == '\0')
		return;
	setpwent();
	while (n++ < CHECK_RULES_DIRS_MAX && (pw = getpwent()) != NULL) {
		if (pw->pw_uid == 0 || pw->pw_dir == NULL || pw->pw_dir[0] != '/' ||
		    str_fmt(path, sizeof(path), "%s/.postern.rules",
		    pw->pw_dir) == -1 || access(path, R_OK) == -1)
			continue;
		check_rules_file(path, 0);
	}
	endpwent();
}

int
cmd_check(const struct master_args *a)
{
	struct conf c;
	int n;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	check_problems = 0;
	check_tls(&c);
	fflush(stderr);
	if (*c.alias_file != '\0' && (n = aliases_check(c.alias_file, STDERR_FILENO)) != 0)
		check_problems += n > 0 ? n : 1;
	check_accounts(&c);
	check_problems += master_check_daemons(&c, STDERR_FILENO);
	check_sasldb_dir(&c);
	check_sasldb_perms(&c);
	check_content(&c);
	check_postmaster(&c);
	check_system_domains(&c);
	if (*c.delivery_rules != '\0')
		check_rules_file(c.delivery_rules, 1);
	check_rules_users(c.mail_root);
	check_rules_system(&c);
	return check_problems ? 1 : 0;
}

int
cmd_config(const struct master_args *a)
{
	struct conf c;
	const char *v;
	int i, bad = 0;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	if (a->nrest == 0) {
		conf_print(&c, a->only_set, STDOUT_FILENO);
		return 0;
	}
	for (i = 0; i < a->nrest; i++) {
		if ((v = conf_value(a->rest[i])) == NULL) {
			fprintf(stderr, "postern: unknown key '%s'\n", a->rest[i]);
			bad = 1;
		} else if (!a->only_set || conf_is_set(a->rest[i])) {
			printf("%s = %s\n", a->rest[i],
			    a->only_set ? conf_value_raw(a->rest[i]) : v);
		}
	}
	return bad;
}
