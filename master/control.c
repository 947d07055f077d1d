/*
 * control: `postern run`, and the daemon-style commands start, stop,
 * reload and status. They run as the invoking user; start turns the
 * master into a daemon, the others find it through state_dir/master.pid
 * (flock'd while the master lives, so a stale file never counts).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "master.h"
#include "util.h"

#define CONTROL_START_MS	30000	/* start: wait this long for "ready" */
#define CONTROL_STOP_MS		20000	/* stop: wait this long for the exit */

long
master_running_pid(const struct conf *c)
{
	char path[PATH_MAX], buf[32];
	unsigned long long pid;
	ssize_t n;
	int fd;

	if (str_fmt(path, sizeof(path), "%s/master.pid", c->state_dir) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd);	/* nobody holds it: a stale file */
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (parse_ullong(str_trim(buf), 1, INT_MAX, &pid) == -1)
		return 0;
	return (long)pid;
}

int
cmd_run(const struct master_args *a)
{
	return master_run(a->conf, MASTER_FOREGROUND);
}

/* The daemon side of start: session leader's child, stdio detached. */
static void
control_daemon_child(int errfd, const char *conf)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd == -1)
		_exit(1);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	/* Start-up errors still reach the terminal until the master is ready. */
	dup2(errfd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	close(errfd);
	umask(022);
	if (chdir("/") == -1)
		_exit(1);
	_exit(master_run(conf, MASTER_DAEMON));
}

/* Copy what the starting master says until it closes its stderr. */
static void
control_relay(int fd)
{
	int64_t deadline = now_ms() + CONTROL_START_MS;
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[4096];
	ssize_t n;

	while (now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			break;
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		write_all(STDERR_FILENO, buf, (size_t)n);
	}
}

int
cmd_start(const struct master_args *a)
{
	char abs[PATH_MAX];
	const char *conf = a->conf;
	struct conf c;
	int p[2], status;
	long pid;
	pid_t kid;

	if (master_load_conf(conf, &c) == -1)
		return 1;
	if ((pid = master_running_pid(&c)) > 0) {
		fprintf(stderr, "postern is already running (pid %ld)\n", pid);
		return 1;
	}
	if (conf != NULL && realpath(conf, abs) != NULL)
		conf = abs;
	if (pipe2(p, O_CLOEXEC) == -1 || (kid = fork()) == -1) {
		fprintf(stderr, "postern: start: %s\n", strerror(errno));
		return 1;
	}
	if (kid == 0) {
		close(p[0]);
		if (setsid() == -1 || (kid = fork()) == -1)
			_exit(1);
		if (kid == 0)
			control_daemon_child(p[1], conf);
		_exit(0);
	}
	close(p[1]);
	waitpid(kid, &status, 0);
	control_relay(p[0]);
	close(p[0]);
	if (master_running_pid(&c) == 0) {
		fprintf(stderr, "postern: failed to start\n");
		return 1;
	}
	return 0;
}

/* Signal the running master. Its pid, or 0 (message printed). */
static long
control_signal(const struct conf *c, int sig)
{
	long pid = master_running_pid(c);

	if (pid == 0) {
		fprintf(stderr, "postern is not running\n");
		return 0;
	}
	if (kill((pid_t)pid, sig) == -1) {
		fprintf(stderr, "postern: kill %ld: %s\n", pid, strerror(errno));
		return 0;
	}
	return pid;
}

int
cmd_stop(const struct master_args *a)
{
	struct timespec ts = { 0, 50 * 1000000L };
	struct conf c;
	int64_t deadline;
	long pid;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	if ((pid = control_signal(&c, SIGTERM)) == 0)
		return 1;
	deadline = now_ms() + CONTROL_STOP_MS;
	while (master_running_pid(&c) == pid) {
		if (now_ms() >= deadline) {
			fprintf(stderr, "postern (pid %ld) did not stop within %d s\n",
			    pid, CONTROL_STOP_MS / 1000);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

int
cmd_reload(const struct master_args *a)
{
	struct conf c;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	return control_signal(&c, SIGHUP) == 0 ? 1 : 0;
}

int
cmd_status(const struct master_args *a)
{
	struct conf c;
	long pid;

	if (master_load_conf(a->conf, &c) == -1)
		return 1;
	if ((pid = master_running_pid(&c)) == 0) {
		printf("postern is not running\n");
		return 1;
	}
	printf("postern is running (pid %ld)\n", pid);
	return 0;
}
