/*
 * user: `postern user add|passwd|del|list`, the virtual users in the
 * sasldb (common/userdb). Run by the admin (root, or the demo/test user).
 * Passwords come from standard input and are wiped after use; they are
 * never logged. The sasldb ends up 0600: the invoking user's (DESIGN.md
 * rule 6), or auth_user's when run as root, since authd and lookupd read
 * it as auth_user and no other account (mail_owner least of all) may.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "master.h"
#include "priv.h"
#include "userdb.h"
#include "util.h"

#define USER_PASSMAX	1024

/* Read one line from fd 0 into buf without echo handling. Length or -1. */
static ssize_t
user_read_line(char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	char ch;

	for (;;) {
		r = read(STDIN_FILENO, &ch, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (n + 1 >= len) {
			secure_zero(buf, len);
			return -1;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return r == -1 ? -1 : (ssize_t)n;
}

/* A line from the terminal with echo off, after prompt. Length or -1. */
static ssize_t
user_prompt(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	ssize_t n;

	write_all(STDERR_FILENO, prompt, strlen(prompt));
	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	n = user_read_line(buf, len);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	write_all(STDERR_FILENO, "\n", 1);
	return n;
}

/* The new password: one line of stdin, or asked twice on a terminal. 0 or -1. */
static int
user_get_password(char *buf, size_t len)
{
	char again[USER_PASSMAX + 2];
	ssize_t n;
	int same;

	if (!isatty(STDIN_FILENO))
		n = user_read_line(buf, len);
	else if ((n = user_prompt("Password: ", buf, len)) > 0) {
		if (user_prompt("Again: ", again, sizeof(again)) < 0)
			n = -1;
		same = strcmp(buf, again) == 0;
		secure_zero(again, sizeof(again));
		if (n > 0 && !same) {
			fprintf(stderr, "postern: the passwords differ\n");
			secure_zero(buf, len);
			return -1;
		}
	}
	if (n <= 0) {
		fprintf(stderr, "postern: %s\n", n == 0 ? "empty password" :
		    "could not read the password (at most 1024 bytes, one line)");
		secure_zero(buf, len);
		return -1;
	}
	return 0;
}

/* local@domain, no spaces or controls; lower-cased in place. 0 or -1. */
static int
user_check_address(char *addr, const struct conf *c, int force)
{
	char *at = strrchr(addr, '@'), *p;

	for (p = addr; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\') {
			fprintf(stderr, "postern: '%s': bad character in address\n", addr);
			return -1;
		}
	}
	if (at == NULL || at == addr || at[1] == '\0' || strchr(addr, '@') != at ||
	    strlen(addr) > 254) {
		fprintf(stderr, "postern: '%s' is not local@domain\n", addr);
		return -1;
	}
	str_lower(addr);
	if (!force && !conf_is_local_domain(c, at + 1)) {
		fprintf(stderr, "postern: %s is not in local_domains (%s); "
		    "use -f to add the user anyway\n", at + 1, c->local_domains);
		return -1;
	}
	return 0;
}

/* The sasldb's owner and mode (see the top of the file). */
void
master_user_fix_perms(const struct conf *c)
{
	struct priv_id auth;
	char err[256] = "";

	if (access(c->sasl_db, F_OK) == -1)
		return;
	/* Mode first: never a moment readable by another group. */
	if (chmod(c->sasl_db, 0600) == -1) {
		fprintf(stderr, "postern: chmod %s: %s\n", c->sasl_db, strerror(errno));
		return;
	}
	if (!priv_is_root())
		return;
	if (priv_lookup(c->auth_user, &auth, err, sizeof(err)) == 0) {
		if (chown(c->sasl_db, auth.uid, auth.gid) == 0)
			return;
		str_fmt(err, sizeof(err), "%s", strerror(errno));
	}
	fprintf(stderr, "postern: warning: %s: cannot give it to auth_user (%s); "
	    "authd and lookupd will not read it\n", c->sasl_db, err);
}

/* Make the directory of sasl_db if needed. 0 or -1. */
static int
user_make_dir(const struct conf *c)
{
	char dir[PATH_MAX], *slash;

	if (str_copy(dir, c->sasl_db, sizeof(dir)) == -1 ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir_p(dir, 0755) == -1) {
		fprintf(stderr, "postern: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* add (create=1) or passwd (create=0). */
static int
user_set(const struct conf *c, const char *addr, int create)
{
	char pass[USER_PASSMAX + 2], err[512];
	int e = userdb_exists(addr), r;

	if (e == -1 && access(c->sasl_db, F_OK) == 0) {
		fprintf(stderr, "postern: cannot read %s\n", c->sasl_db);
		return 1;
	}
	if (create && e == 1) {
		fprintf(stderr, "postern: user %s already exists\n", addr);
		return 1;
	}
	if (!create && e != 1) {
		fprintf(stderr, "postern: no such user %s\n", addr);
		return 1;
	}
	if (user_make_dir(c) == -1 || user_get_password(pass, sizeof(pass)) == -1)
		return 1;
	r = userdb_set(addr, pass, create, err, sizeof(err));
	secure_zero(pass, sizeof(pass));
	master_user_fix_perms(c);
	if (r == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	return 0;
}

static int
user_del(const struct conf *c, const char *addr)
{
	char err[512];

	if (userdb_exists(addr) != 1) {
		fprintf(stderr, "postern: no such user %s\n", addr);
		return 1;
	}
	if (userdb_delete(addr, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	master_user_fix_perms(c);
	return 0;
}

static void
user_print(const char *addr, void *arg)
{
	(void)arg;
	printf("%s\n", addr);
}

/* add, passwd, del, list (operands checked by main.c). */
int
cmd_user(const struct master_args *a)
{
	const char *sub = a->sub;
	struct conf c;
	char *addr;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	umask(077);
	if (strcmp(sub, "list") == 0)
		return userdb_list(c.sasl_db, user_print, NULL) == 0 ? 0 : 1;
	addr = a->rest[0];
	if (user_check_address(addr, &c, a->force || strcmp(sub, "del") == 0) == -1)
		return 1;
	/* Their users are the Unix accounts: authd never asks the sasldb. */
	if (strcmp(sub, "del") != 0 && conf_is_system_domain(&c, strrchr(addr, '@') + 1)) {
		fprintf(stderr, "postern: %s is in system_domains: its users are "
		    "Unix accounts (passwd(1) sets their passwords)\n",
		    strrchr(addr, '@') + 1);
		return 1;
	}
	if (userdb_init(&c) == -1)
		return 1;
	if (strcmp(sub, "del") == 0)
		return user_del(&c, addr);
	return user_set(&c, addr, strcmp(sub, "add") == 0);
}
