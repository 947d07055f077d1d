/*
 * postdrop: the setgid (maildrop_group) helper of postern-sendmail. It
 * puts one message from standard input into maildrop/ with the envelope
 * from its arguments and the caller's real uid, and wakes pickup. Runs as
 * the invoking user with the extra group: it trusts nothing the user
 * controls -- the environment is cleared, the umask is fixed, the working
 * directory and any file name from the user are ignored (the only path
 * comes from the system configuration), and every argument is checked
 * (maildrop.c) and bounded. -c FILE from an ordinary user (an alternate
 * configuration, a per-user tree) is honoured only after postdrop has
 * given up its setgid group for good: it then writes with the user's own
 * rights, so it can do nothing the user could not do without it.
 * Exit status: maildrop.h, postdrop(8).
 *
 *   postdrop [-c config] [-f sender] [-F fullname] [--] recipient...
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "log.h"
#include "maildrop.h"
#include "qfile.h"
#include "strbuf.h"
#include "util.h"

#ifdef __SANITIZE_ADDRESS__
/*
 * In a setgid process the sanitizers ignore ASAN_OPTIONS, and
 * LeakSanitizer cannot work there: it fails at exit and turns every exit
 * status into 1, which breaks the exit-code contract under --enable-asan.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

struct postdrop {
	struct conf	 conf;
	const char	*sender;	/* NULL: pickup uses the uid's name */
	const char	*fullname;
	char	       **rcpt;
	int		 nrcpt;
	char		 tmp[64], final[64];
	int		 fd;
};

static void
postdrop_exit(struct postdrop *p, int code, const char *fmt, const char *arg)
{
	if (p->fd != -1) {
		close(p->fd);
		unlink(p->tmp);
	}
	if (fmt != NULL) {
		fprintf(stderr, "postdrop: ");
		fprintf(stderr, fmt, arg != NULL ? arg : "");
		fprintf(stderr, "\n");
	}
	exit(code);
}

/* A hostile caller: fds 0-2 open, nothing inherited we did not choose. */
static void
postdrop_sanitize(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (clearenv() != 0)
		_exit(POSTDROP_EX_CONFIG);
	setenv("PATH", "/usr/bin:/bin", 1);
	umask(077);
}

/* Is the process privileged (setgid/setuid) so that -c needs a drop first? */
static int
postdrop_privileged(void)
{
	gid_t rg, eg, sg;
	uid_t ru, eu, su;

	if (getresgid(&rg, &eg, &sg) == -1 || getresuid(&ru, &eu, &su) == -1)
		return 1;
	return ru != 0 && (eg != rg || sg != rg || eu != ru || su != ru);
}

/*
 * An ordinary user names another configuration: become just that user
 * (real, effective and saved ids all the real ones, so the group cannot
 * be taken back), and check that it stuck. Any failure: refuse (14).
 */
static void
postdrop_drop_privileges(struct postdrop *p)
{
	gid_t gid = getgid(), egid = getegid();
	uid_t uid = getuid(), euid = geteuid();

	if (setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1)
		postdrop_exit(p, POSTDROP_EX_NOPERM, "cannot give up the group of "
		    "postdrop: %s", strerror(errno));
	if (postdrop_privileged() || (egid != gid && setegid(egid) != -1) ||
	    (euid != uid && seteuid(euid) != -1))
		postdrop_exit(p, POSTDROP_EX_NOPERM, "the group of postdrop could be "
		    "regained; refusing -c%s", NULL);
}

/* Does path name the system configuration (POSTERN_CONF set to it)? */
static int
postdrop_is_system_conf(const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat(SYSCONFDIR "/postern/postern.conf", &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void
postdrop_args(struct postdrop *p, int argc, char **argv)
{
	const char *conffile = NULL;
	char err[4096];
	int ch;

	while ((ch = getopt(argc, argv, "+c:f:F:")) != -1) {
		if (ch == 'c')
			conffile = optarg;
		else if (ch == 'f')
			p->sender = optarg;
		else if (ch == 'F')
			p->fullname = optarg;
		else
			postdrop_exit(p, POSTDROP_EX_USAGE, "usage: postdrop [-c config] "
			    "[-f sender] [-F fullname] [--] recipient...%s", NULL);
	}
	p->rcpt = argv + optind;
	p->nrcpt = argc - optind;
	if (conffile != NULL && postdrop_privileged()) {
		if (postdrop_is_system_conf(conffile))
			conffile = NULL;	/* the system's own: read by its name */
		else
			postdrop_drop_privileges(p);
	}
	if (conf_load(&p->conf, conffile, err, sizeof(err)) == -1)
		postdrop_exit(p, POSTDROP_EX_CONFIG, "%s", str_trim(err));
}

/* The envelope: the same checks pickup makes, so errors reach the user. */
static void
postdrop_check(struct postdrop *p)
{
	char out[ADDR_BUF];
	const char *why;
	int i;

	if (p->sender != NULL && maildrop_addr(p->sender, 1, p->conf.hostname, out,
	    sizeof(out), &why) == -1)
		postdrop_exit(p, POSTDROP_EX_ADDR, "bad sender address: %s", why);
	if (p->fullname != NULL && !maildrop_text_ok(p->fullname, MAILDROP_NAME_MAX))
		postdrop_exit(p, POSTDROP_EX_ADDR, "bad full name%s", NULL);
	if (p->nrcpt == 0)
		postdrop_exit(p, POSTDROP_EX_NRCPT, "no recipients%s", NULL);
	if (p->nrcpt > MAILDROP_RCPT_MAX)
		postdrop_exit(p, POSTDROP_EX_NRCPT, "too many recipients%s", NULL);
	for (i = 0; i < p->nrcpt; i++)
		if (maildrop_addr(p->rcpt[i], 0, p->conf.hostname, out, sizeof(out),
		    &why) == -1)
			postdrop_exit(p, POSTDROP_EX_ADDR, "bad recipient address: %s", why);
}

static void
postdrop_envelope(struct postdrop *p)
{
	struct strbuf b;
	int i, r;

	strbuf_init(&b, (size_t)(MAILDROP_RCPT_MAX + 8) * (MAILDROP_LINE_MAX + 8));
	r = strbuf_printf(&b, "%s\nuid %lu\n", MAILDROP_MAGIC, (unsigned long)getuid());
	if (r == 0 && p->sender != NULL)
		r = strbuf_printf(&b, "sender %s\n", strcmp(p->sender, "<>") == 0 ?
		    "" : p->sender);
	if (r == 0 && p->fullname != NULL)
		r = strbuf_printf(&b, "fullname %s\n", p->fullname);
	for (i = 0; r == 0 && i < p->nrcpt; i++)
		r = strbuf_printf(&b, "rcpt %s\n", p->rcpt[i]);
	if (r == 0)
		r = strbuf_puts(&b, "data\n");
	if (r == -1 || write_all(p->fd, b.data, b.len) == -1)
		postdrop_exit(p, POSTDROP_EX_WRITE, "cannot write the maildrop file%s", NULL);
	strbuf_free(&b);
}

/* Copy standard input, bounded by message_size_limit. */
static void
postdrop_content(struct postdrop *p)
{
	unsigned long long total = 0, limit = p->conf.message_size_limit;
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			postdrop_exit(p, POSTDROP_EX_READ, "read error on standard input%s", NULL);
		if (n == 0)
			break;
		total += (unsigned long long)n;
		if (limit != 0 && total > limit)
			postdrop_exit(p, POSTDROP_EX_TOOBIG, "message exceeds "
			    "message_size_limit%s", NULL);
		if (write_all(p->fd, buf, (size_t)n) == -1)
			postdrop_exit(p, POSTDROP_EX_WRITE, "cannot write the maildrop "
			    "file: %s", strerror(errno));
	}
}

/*
 * The commit: fsync, rename, then the directory. maildrop/ (1730) is not
 * readable by the group, so an ordinary user cannot open it to fsync it;
 * syncfs() on the file's filesystem makes the rename durable instead.
 */
static void
postdrop_commit(struct postdrop *p)
{
	int wake;

	if (fchmod(p->fd, 0444) == -1 || fsync(p->fd) == -1 ||
	    rename(p->tmp, p->final) == -1)
		postdrop_exit(p, POSTDROP_EX_WRITE, "cannot commit the maildrop file: %s",
		    strerror(errno));
	if (fsync_dir(MAILDROP_DIR) == -1 && syncfs(p->fd) == -1) {
		int e = errno;
		unlink(p->final);
		errno = e;
		postdrop_exit(p, POSTDROP_EX_WRITE, "cannot sync the maildrop: %s",
		    strerror(errno));
	}
	close(p->fd);
	p->fd = -1;
	/* Best effort: without a reader (master down) pickup scans at start. */
	if ((wake = open(MAILDROP_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		if (write(wake, "w", 1) == -1) {
			/* full FIFO: pickup is awake anyway */
		}
		close(wake);
	}
}

int
main(int argc, char **argv)
{
	static struct postdrop p;
	char id[QID_LEN + 1];

	p.fd = -1;
	postdrop_sanitize();
	log_init("postern/postdrop", LOG_DEST_STDERR);
	postdrop_args(&p, argc, argv);
	postdrop_check(&p);
	if (chdir(p.conf.queue_dir) == -1)
		postdrop_exit(&p, POSTDROP_EX_WRITE, "cannot reach the queue: %s",
		    strerror(errno));
	qfile_new_id(id);
	if (str_fmt(p.tmp, sizeof(p.tmp), "%s/%s%s", MAILDROP_DIR, MAILDROP_TMP, id) == -1 ||
	    str_fmt(p.final, sizeof(p.final), "%s/%s", MAILDROP_DIR, id) == -1)
		postdrop_exit(&p, POSTDROP_EX_WRITE, "internal: name too long%s", NULL);
	p.fd = open(p.tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (p.fd == -1)
		postdrop_exit(&p, POSTDROP_EX_WRITE, "cannot create a maildrop file: %s",
		    strerror(errno));
	postdrop_envelope(&p);
	postdrop_content(&p);
	postdrop_commit(&p);
	return POSTDROP_EX_OK;
}
