/*
 * master: the supervisor behind `postern run`, `postern start` and
 * `postern demo`. It runs as the invoking user (root on a real system):
 * it makes the state tree, binds every listening socket (DESIGN.md rule
 * 2), and spawns each daemon with its sockets on fds 3.. the way systemd
 * passes them. It restarts a daemon that dies (with back-off), restarts
 * them all on SIGHUP with the re-read configuration, and on SIGTERM or
 * SIGINT stops them. It never reads a byte from the network itself.
 *
 * Signals stay blocked; the loop takes them with sigtimedwait(), so there
 * are no handlers and no races between a signal and a wait.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "setup.h"
#include "util.h"

#define MASTER_BACKOFF_MAX	60	/* seconds between restarts, at most */
#define MASTER_STABLE_MS	60000	/* a daemon that ran this long resets it */
#define MASTER_STOP_MS		10000	/* SIGTERM, then SIGKILL after this */

/* What the master knows about each program it may run. */
struct master_svc_def {
	const char	*name, *folder;
	const char	*keys[2];	/* TCP listener lists (conf keys) */
	const char	*fdnames[2];	/* LISTEN_FDNAMES for each */
	const char	*unixname;	/* private/<unixname>, fd named the same */
	int		 future;	/* not built yet: skip with a warning */
};

/* Spawn order: the helpers first, the network-facing daemons last. */
static const struct master_svc_def master_defs[] = {
	{ "lookupd", "queue", { NULL, NULL }, { NULL, NULL }, "lookup", 0 },
	{ "deliver", "deliver", { NULL, NULL }, { NULL, NULL }, "deliver", 0 },
	/* the same program for Unix accounts: deliver/deliver_user.c */
	{ "deliver", "deliver", { NULL, NULL }, { NULL, NULL }, "deliver-user", 0 },
	{ "smtp", "queue", { NULL, NULL }, { NULL, NULL }, "smtp", 0 },
	{ "authd", "auth", { NULL, NULL }, { NULL, NULL }, "auth", 0 },
	{ "qmgr", "queue", { NULL, NULL }, { NULL, NULL }, NULL, 0 },
	{ "pickup", "queue", { NULL, NULL }, { NULL, NULL }, NULL, 0 },
	{ "smtpd", "smtpd", { "smtp_listen", NULL }, { "smtp", NULL }, NULL, 0 },
	{ "submitd", "submitd", { "submission_listen", "submissions_listen" },
	    { "submission", "submissions" }, NULL, 0 },
	{ "pop3d", "pop3d", { "pop3_listen", "pop3s_listen" }, { "pop3", "pop3s" },
	    NULL, 0 },
	{ "imapd", "imapd", { "imap_listen", "imaps_listen" }, { "imap", "imaps" },
	    NULL, 0 },
};
#define MASTER_NSVC NELEM(master_defs)

struct master_svc {
	const struct master_svc_def *def;
	int		 enabled;
	char		 path[PATH_MAX];
	struct listen_fd fds[LISTEN_MAXFDS];
	size_t		 nfds;
	pid_t		 pid;
	int64_t		 started, restart_at;
	int		 backoff;	/* seconds */
};

static struct master_svc master_svcs[MASTER_NSVC];
static struct conf master_conf;
static struct setup_ids master_ids;
static char master_confabs[PATH_MAX];	/* "" when there is no file */
static enum master_mode master_mode;
static int master_devnull = -1;
static int master_pidfd = -1;
static char master_pidpath[PATH_MAX];
static pid_t master_pid;

/* The string field of a conf key (via the one parameter table). */
static const char *
master_conf_str(const struct conf *c, const char *key)
{
	size_t i;

	for (i = 0; i < conf_nparams; i++)
		if (strcmp(conf_params[i].name, key) == 0)
			return *(char *const *)((const char *)c + conf_params[i].off);
	fatal("internal: no conf key %s", key);
}

static int
master_svc_wanted(const struct master_svc_def *d, const struct conf *c)
{
	/* deliver-user (Unix accounts, a root process) only when needed */
	if (d->unixname != NULL && strcmp(d->unixname, "deliver-user") == 0)
		return *c->system_domains != '\0';
	if (d->keys[0] == NULL)
		return 1;
	return *master_conf_str(c, d->keys[0]) != '\0' ||
	    (d->keys[1] != NULL && *master_conf_str(c, d->keys[1]) != '\0');
}

static void
master_svc_close(struct master_svc *s)
{
	while (s->nfds > 0)
		close(s->fds[--s->nfds].fd);
}

/* Bind the sockets of one service. 0 or -1 (logged). */
static int
master_svc_bind(struct master_svc *s)
{
	const struct master_svc_def *d = s->def;
	int backlog = master_conf.listen_backlog > 65535 ? 65535 :
	    (int)master_conf.listen_backlog;
	char err[512];
	size_t i;
	int fd;

	for (i = 0; i < 2 && d->keys[i] != NULL; i++) {
		if (listen_tcp(master_conf_str(&master_conf, d->keys[i]), backlog,
		    d->fdnames[i], s->fds, LISTEN_MAXFDS, &s->nfds, err,
		    sizeof(err)) == -1) {
			log_err("%s: %s", d->keys[i], err);
			master_svc_close(s);
			return -1;
		}
	}
	if (d->unixname != NULL) {
		if ((fd = setup_unix(&master_conf, &master_ids, d->unixname)) == -1)
			return -1;
		s->fds[s->nfds].fd = fd;
		str_copy(s->fds[s->nfds].name, d->unixname, sizeof(s->fds[0].name));
		s->nfds++;
	}
	return 0;
}

/* Decide, find and bind every service. -1 when a needed one fails. */
static int
master_prepare(void)
{
	struct master_svc *s;
	size_t i;
	int r = 0;

	for (i = 0; i < MASTER_NSVC; i++) {
		s = &master_svcs[i];
		s->def = &master_defs[i];
		s->enabled = 0;
		s->backoff = 1;
		s->restart_at = 0;
		if (!master_svc_wanted(s->def, &master_conf))
			continue;
		if (master_daemon_path(&master_conf, s->def->folder, s->def->name,
		    s->path, sizeof(s->path)) == -1 || access(s->path, X_OK) == -1) {
			if (s->def->future) {
				log_warn("%s is not available (%s): its listeners are not served",
				    s->def->name, s->path);
				continue;
			}
			log_err("%s: %s", s->path, strerror(errno));
			r = -1;
			continue;
		}
		if (master_svc_bind(s) == -1) {
			r = -1;
			continue;
		}
		s->enabled = 1;
	}
	return r;
}

/* In the child: sockets to 3.., LISTEN_* variables, exec. Never returns. */
static void
master_child(struct master_svc *s)
{
	char num[32], names[LISTEN_MAXFDS * 33] = "";
	int tmp[LISTEN_MAXFDS];
	size_t i;
	char *argv[4];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master_pid)
		_exit(1);	/* the master died before prctl */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);	/* SIG_IGN would survive execv */
	if (master_mode == MASTER_DAEMON && master_devnull != -1)
		dup2(master_devnull, STDERR_FILENO);
	setenv("POSTERN_LOG", master_mode == MASTER_DAEMON ? "syslog" : "stderr", 1);
	/* Move out of the way first, so that dup2 never hits a source fd. */
	for (i = 0; i < s->nfds; i++)
		if ((tmp[i] = fcntl(s->fds[i].fd, F_DUPFD_CLOEXEC,
		    3 + (int)s->nfds)) == -1)
			_exit(127);
	for (i = 0; i < s->nfds; i++) {
		if (dup2(tmp[i], 3 + (int)i) == -1)
			_exit(127);
		if (i > 0)
			strncat(names, ":", sizeof(names) - strlen(names) - 1);
		strncat(names, s->fds[i].name, sizeof(names) - strlen(names) - 1);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (s->nfds > 0) {
		str_fmt(num, sizeof(num), "%zu", s->nfds);
		setenv("LISTEN_FDS", num, 1);
		str_fmt(num, sizeof(num), "%ld", (long)getpid());
		setenv("LISTEN_PID", num, 1);
		setenv("LISTEN_FDNAMES", names, 1);
	}
	argv[0] = s->path;
	argv[1] = *master_confabs ? "-c" : NULL;
	argv[2] = *master_confabs ? master_confabs : NULL;
	argv[3] = NULL;
	execv(s->path, argv);
	log_err("exec %s: %s", s->path, strerror(errno));
	_exit(127);
}

static void
master_spawn(struct master_svc *s)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		log_err("fork for %s: %s", s->def->name, strerror(errno));
		s->restart_at = now_ms() + 1000;
		return;
	}
	if (pid == 0)
		master_child(s);
	s->pid = pid;
	s->started = now_ms();
	s->restart_at = 0;
	log_debug("started %s (pid %ld)", s->def->name, (long)pid);
}

static struct master_svc *
master_svc_by_pid(pid_t pid)
{
	size_t i;

	for (i = 0; i < MASTER_NSVC; i++)
		if (master_svcs[i].pid == pid && pid > 0)
			return &master_svcs[i];
	return NULL;
}

static void
master_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		str_fmt(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		str_fmt(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		str_fmt(buf, len, "stopped (status %d)", status);
}

/* Collect dead children; schedule restarts when restart is set. */
static void
master_reap(int restart)
{
	struct master_svc *s;
	char how[64];
	int64_t now = now_ms();
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((s = master_svc_by_pid(pid)) == NULL)
			continue;
		s->pid = 0;
		master_describe(status, how, sizeof(how));
		if (!restart) {
			log_debug("%s (pid %ld) %s", s->def->name, (long)pid, how);
			continue;
		}
		if (now - s->started > MASTER_STABLE_MS)
			s->backoff = 1;
		log_warn("%s (pid %ld) %s; restarting in %d s", s->def->name,
		    (long)pid, how, s->backoff);
		s->restart_at = now + (int64_t)s->backoff * 1000;
		s->backoff = s->backoff * 2 > MASTER_BACKOFF_MAX ?
		    MASTER_BACKOFF_MAX : s->backoff * 2;
	}
}

static size_t
master_alive(void)
{
	size_t i, n = 0;

	for (i = 0; i < MASTER_NSVC; i++)
		if (master_svcs[i].pid > 0)
			n++;
	return n;
}

static void
master_signal_all(int sig)
{
	size_t i;

	for (i = 0; i < MASTER_NSVC; i++)
		if (master_svcs[i].pid > 0)
			kill(master_svcs[i].pid, sig);
}

/* SIGTERM to every daemon; SIGKILL what is left after MASTER_STOP_MS. */
static void
master_stop_all(void)
{
	int64_t deadline = now_ms() + MASTER_STOP_MS, left;
	struct timespec ts;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	master_signal_all(SIGTERM);
	while (master_reap(0), master_alive() > 0 && (left = deadline - now_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		sigtimedwait(&chld, NULL, &ts);
	}
	if (master_alive() > 0) {
		log_warn("daemons still running after %d s: killing them",
		    MASTER_STOP_MS / 1000);
		master_signal_all(SIGKILL);
		while (master_alive() > 0) {
			pid_t pid = waitpid(-1, NULL, 0);
			struct master_svc *s;
			if (pid == -1 && errno != EINTR)
				break;
			if (pid > 0 && (s = master_svc_by_pid(pid)) != NULL)
				s->pid = 0;
		}
	}
}

/* Start what is due; returns ms until the next pending restart (-1: none). */
static int64_t
master_start_due(void)
{
	int64_t now = now_ms(), next = -1, wait;
	struct master_svc *s;
	size_t i;

	for (i = 0; i < MASTER_NSVC; i++) {
		s = &master_svcs[i];
		if (!s->enabled || s->pid > 0)
			continue;
		if (s->restart_at <= now) {
			master_spawn(s);
			if (s->pid > 0)
				continue;
		}
		wait = s->restart_at - now;
		if (wait < 0)
			wait = 0;
		if (next == -1 || wait < next)
			next = wait;
	}
	return next;
}

/* state_dir/master.pid, flock'd for the master's lifetime. 0 or -1. */
static int
master_pidfile_lock(void)
{
	char buf[32];
	int fd, n;

	if (str_fmt(master_pidpath, sizeof(master_pidpath), "%s/master.pid",
	    master_conf.state_dir) == -1) {
		log_err("%s: path too long", master_conf.state_dir);
		return -1;
	}
	fd = open(master_pidpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		log_err("%s: %s", master_pidpath, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		log_err("postern is already running (pid %s) with state_dir %s",
		    *str_trim(buf) ? str_trim(buf) : "?", master_conf.state_dir);
		close(fd);
		return -1;
	}
	n = str_fmt(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write_all(fd, buf, (size_t)n) == -1) {
		log_err("%s: %s", master_pidpath, strerror(errno));
		close(fd);
		return -1;
	}
	master_pidfd = fd;
	return 0;
}

static void
master_pidfile_remove(void)
{
	if (master_pidfd == -1)
		return;
	unlink(master_pidpath);
	close(master_pidfd);
	master_pidfd = -1;
}

static void
master_close_all(void)
{
	size_t i;

	for (i = 0; i < MASTER_NSVC; i++)
		master_svc_close(&master_svcs[i]);
}

/* SIGHUP: a valid new configuration replaces the old; the daemons restart. */
static void
master_reload(const char *path)
{
	struct conf nc;
	char err[16384];

	if (conf_load(&nc, path, err, sizeof(err)) == -1) {
		log_err("reload: the configuration has errors; keeping the old one:");
		log_err("%s", str_trim(err));
		return;
	}
	log_info("reloading: restarting the daemons");
	master_stop_all();
	master_close_all();
	master_conf = nc;	/* the old strings are small; not worth tracking */
	if (setup_ids(&master_conf, &master_ids) == -1 ||
	    setup_state(&master_conf, &master_ids) == -1 || master_prepare() == -1)
		log_err("reload: some daemons could not be set up (see above); "
		    "fix the configuration and send SIGHUP again");
}

/* Once everything is spawned: the readiness line, then (start) syslog. */
static void
master_ready(void)
{
	log_info("ready");
	notify_send("READY=1");	/* systemd Type=notify (master/notify.c) */
	if (master_mode != MASTER_DAEMON)
		return;
	/* The `postern start` parent sees EOF on our stderr and returns. */
	if (master_devnull != -1)
		dup2(master_devnull, STDERR_FILENO);
	setenv("POSTERN_LOG", "syslog", 1);
	log_init("postern", LOG_DEST_SYSLOG);
}

static void
master_loop(const char *path)
{
	struct timespec ts, *tsp;
	sigset_t set;
	int64_t next;
	int sig, ready = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		next = master_start_due();
		if (!ready) {
			master_ready();
			ready = 1;
		}
		tsp = NULL;
		if (next >= 0) {
			ts.tv_sec = next / 1000;
			ts.tv_nsec = (next % 1000) * 1000000L;
			tsp = &ts;
		}
		if ((sig = sigtimedwait(&set, NULL, tsp)) == -1)
			continue;	/* a restart is due, or EINTR */
		if (sig == SIGCHLD) {
			master_reap(1);
		} else if (sig == SIGHUP) {
			master_reload(path);
		} else {
			log_info("stopping (signal %d)", sig);
			master_stop_all();
			return;
		}
	}
}

/* Environment, signals and logging of the master process. */
static void
master_init_process(enum master_mode mode)
{
	sigset_t set;

	master_pid = getpid();
	master_mode = mode;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	setenv("POSTERN_LOG", "stderr", 1);
	log_init("postern", LOG_DEST_STDERR);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* A `postern start` parent that went away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	master_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* The absolute config path for the daemons' -c ("" when there is no file). */
static void
master_set_confabs(void)
{
	if (realpath(conf_path(), master_confabs) == NULL) {
		master_confabs[0] = '\0';
		unsetenv("POSTERN_CONF");
	}
}

int
master_run(const char *confpath, enum master_mode mode)
{
	master_init_process(mode);
	if (master_load_conf(confpath, &master_conf) == -1)
		return 1;
	master_set_confabs();
	if (setup_ids(&master_conf, &master_ids) == -1 ||
	    setup_state(&master_conf, &master_ids) == -1 ||
	    master_pidfile_lock() == -1)
		return 1;
	setup_clean_tmp(&master_conf);
	if (master_prepare() == -1) {
		log_err("not starting: fix the problems above");
		master_close_all();
		master_pidfile_remove();
		return 1;
	}
	master_loop(*master_confabs ? master_confabs : confpath);
	master_close_all();
	master_pidfile_remove();
	log_info("stopped");
	return 0;
}

int
master_check_daemons(const struct conf *c, int fd)
{
	char path[PATH_MAX], line[PATH_MAX + 128];
	size_t i;
	int n = 0;

	for (i = 0; i < MASTER_NSVC; i++) {
		const struct master_svc_def *d = &master_defs[i];
		if (d->future || !master_svc_wanted(d, c))
			continue;
		if (master_daemon_path(c, d->folder, d->name, path, sizeof(path)) == -1 ||
		    access(path, X_OK) == -1) {
			str_fmt(line, sizeof(line), "%s: daemon %s: %s\n", d->name, path,
			    strerror(errno));
			write_all(fd, line, strlen(line));
			n++;
		}
	}
	return n;
}
