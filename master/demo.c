/*
 * demo: `postern demo [DIR]` builds a throw-away installation (config,
 * self-signed certificate, aliases, user alice@example.test with a random
 * password) and runs the master in the foreground on loopback ports.
 * Runs as the invoking user; as root it uses the system accounts.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "master.h"
#include "priv.h"
#include "strbuf.h"
#include "tls.h"
#include "userdb.h"
#include "util.h"

#define DEMO_USER	"alice@example.test"

static const struct {
	const char *key, *value;
} demo_listen[] = {
	{ "smtp_listen", "127.0.0.1:2525" },
	{ "submission_listen", "127.0.0.1:5870" },
	{ "submissions_listen", "127.0.0.1:4650" },
	{ "pop3_listen", "127.0.0.1:1100" },
	{ "pop3s_listen", "127.0.0.1:9950" },
	{ "imap_listen", "127.0.0.1:1430" },
	{ "imaps_listen", "127.0.0.1:9930" },
};

/* Write a new file (it must not exist). 0 or -1. */
static int
demo_write(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd == -1 || write_all(fd, text, strlen(text)) == -1 || fsync(fd) == -1) {
		fprintf(stderr, "postern: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int
demo_write_conf(const char *dir, const char *path)
{
	struct strbuf b;
	size_t i;
	int r;

	strbuf_init(&b, 65536);
	strbuf_printf(&b, "# postern demo: a throw-away setup (postern demo %s)\n"
	    "hostname = localhost\nlocal_domains = example.test\n"
	    "state_dir = %s/state\nmail_root = %s/mail\nsasl_db = %s/sasldb2\n"
	    "alias_file = %s/aliases\ntls_cert = %s/tls/cert.pem\n"
	    "tls_key = %s/tls/key.pem\n", dir, dir, dir, dir, dir, dir, dir);
	for (i = 0; i < NELEM(demo_listen); i++)
		strbuf_printf(&b, "%s = %s\n", demo_listen[i].key, demo_listen[i].value);
	r = strbuf_puts(&b, "queue_retry_min = 10s\nqueue_retry_max = 300s\n"
	    "queue_lifetime = 1d\nsmtpd_process_limit = 20\n");
	if (r == 0)
		r = demo_write(path, b.data, 0644);
	strbuf_free(&b);
	return r;
}

/* Everything but the user: config, aliases, certificate. 0 or -1. */
static int
demo_build(const char *dir, const char *confpath)
{
	char path[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], err[512];

	if (demo_write_conf(dir, confpath) == -1)
		return -1;
	str_fmt(path, sizeof(path), "%s/aliases", dir);
	if (demo_write(path, "# aliases(5) for the demo\npostmaster: " DEMO_USER "\n",
	    0644) == -1)
		return -1;
	str_fmt(path, sizeof(path), "%s/tls", dir);
	str_fmt(cert, sizeof(cert), "%s/tls/cert.pem", dir);
	str_fmt(key, sizeof(key), "%s/tls/key.pem", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "postern: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (tls_make_selfsigned("localhost", cert, key, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	return 0;
}

/* 16 random letters and digits. */
static void
demo_password(char *out, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char byte;
	size_t n = 0;

	while (n + 1 < len && n < 16) {
		random_bytes(&byte, 1);
		if (byte >= 248)	/* 248 = 4 * 62: keep it uniform */
			continue;
		out[n++] = abc[byte % 62];
	}
	out[n] = '\0';
}

/* The demo directory, absolute, made if needed. 0 or -1. */
static int
demo_dir(const char *arg, char *out, size_t outlen)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	if (arg != NULL) {
		if (mkdir_p(arg, 0700) == -1 || realpath(arg, out) == NULL) {
			fprintf(stderr, "postern: %s: %s\n", arg, strerror(errno));
			return -1;
		}
	} else {
		if (tmp == NULL || *tmp != '/')
			tmp = "/tmp";
		if (str_fmt(tmpl, sizeof(tmpl), "%s/postern-demo.XXXXXX", tmp) == -1 ||
		    mkdtemp(tmpl) == NULL || realpath(tmpl, out) == NULL) {
			fprintf(stderr, "postern: %s: %s\n", tmpl, strerror(errno));
			return -1;
		}
	}
	(void)outlen;
	/* As root the system accounts must traverse it. */
	if (priv_is_root() && chmod(out, 0755) == -1) {
		fprintf(stderr, "postern: chmod %s: %s\n", out, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create alice with a fresh password (into pass), unless she exists. */
static int
demo_user(const struct conf *c, char *pass, size_t passlen)
{
	char err[512];

	*pass = '\0';
	if (userdb_init(c) == -1)
		return -1;
	if (userdb_exists(DEMO_USER) == 1)
		return 0;
	demo_password(pass, passlen);
	if (userdb_set(DEMO_USER, pass, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	master_user_fix_perms(c);
	return 0;
}

static void
demo_banner(const char *dir, const char *confpath, const char *pass)
{
	printf("postern demo in %s\n"
	    "  user:      %s\n"
	    "  password:  %s\n"
	    "  ports:     smtp 2525, submission 5870, submissions 4650, pop3 1100,\n"
	    "             pop3s 9950, imap 1430, imaps 9930 (on 127.0.0.1)\n"
	    "  try:       swaks --server 127.0.0.1:2525 --from bob@example.org "
	    "--to %s\n"
	    "  imap:      curl -k --ssl-reqd -u %s 'imap://127.0.0.1:1430/INBOX?ALL'\n"
	    "  mail:      %s/mail/example.test/alice/Maildir\n"
	    "  config:    %s\n"
	    "Press Ctrl-C to stop.\n",
	    dir, DEMO_USER, *pass ? pass :
	    "(unchanged; set one with postern user passwd -c CONF " DEMO_USER ")",
	    DEMO_USER, DEMO_USER, dir, confpath);
	fflush(stdout);
}

int
cmd_demo(const struct master_args *a)
{
	char dir[PATH_MAX], confpath[PATH_MAX + 16], pass[32];
	struct conf c;
	int r;

	if (demo_dir(a->nrest ? a->rest[0] : NULL, dir, sizeof(dir)) == -1)
		return 1;
	str_fmt(confpath, sizeof(confpath), "%s/postern.conf", dir);
	if (access(confpath, F_OK) == -1 && demo_build(dir, confpath) == -1)
		return 1;
	if (master_load_conf(confpath, &c) == -1)
		return 1;
	umask(077);
	r = demo_user(&c, pass, sizeof(pass));
	umask(022);
	if (r == -1)
		return 1;
	demo_banner(dir, confpath, pass);
	secure_zero(pass, sizeof(pass));
	return master_run(confpath, MASTER_FOREGROUND);
}
