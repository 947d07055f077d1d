/*
 * postern: the entry point of the master and the admin commands. Runs as
 * whoever invokes it (root on a real system, the user for `postern demo`
 * and the tests); each command says what it does with that.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "master.h"
#include "../queue/admin.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
} master_cmds[] = {
	{ "run", cmd_run },
	{ "start", cmd_start },
	{ "stop", cmd_stop },
	{ "reload", cmd_reload },
	{ "status", cmd_status },
	{ "check", cmd_check },
	{ "config", cmd_config },
	{ "user", cmd_user },
	{ "demo", cmd_demo },
	{ "queue", cmd_queue },
};

void
master_usage(void)
{
	static const char text[] =
	    "usage: postern run|start|stop|reload|status|check [-c FILE]\n"
	    "       postern config [-n] [-c FILE] [KEY ...]\n"
	    "       postern user add [-f] [-c FILE] ADDRESS\n"
	    "       postern user passwd [-f] [-c FILE] ADDRESS\n"
	    "       postern user del [-c FILE] ADDRESS\n"
	    "       postern user list [-c FILE]\n"
	    "       postern demo [DIR]\n"
	    "       postern queue [-c FILE] list|flush\n"
	    "       postern queue [-c FILE] show|delete|hold|release ID\n";

	write_all(STDERR_FILENO, text, sizeof(text) - 1);
}

int
master_getopt(int argc, char **argv, const char *optstring,
    struct master_args *a)
{
	char opts[32];
	int ch;

	memset(a, 0, sizeof(*a));
	/* '+': stop at the first operand; ':': we print the usage ourselves. */
	if (str_fmt(opts, sizeof(opts), "+:%s", optstring) == -1)
		return -1;
	optind = 1;
	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'c':
			a->conf = optarg;
			break;
		case 'n':
			a->only_set = 1;
			break;
		case 'f':
			a->force = 1;
			break;
		default:
			master_usage();
			return -1;
		}
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
	return 0;
}

int
master_load_conf(const char *path, struct conf *c)
{
	char err[16384];

	if (conf_load(c, path, err, sizeof(err)) == -1) {
		write_all(STDERR_FILENO, err, strlen(err));
		if (*err == '\0' || err[strlen(err) - 1] != '\n')
			write_all(STDERR_FILENO, "\n", 1);
		return -1;
	}
	return 0;
}

/* Directory of the running postern binary. 0 or -1. */
static int
master_self_dir(char *out, size_t outlen)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	return str_copy(out, exe, outlen);
}

int
master_daemon_path(const struct conf *c, const char *folder,
    const char *name, char *out, size_t outlen)
{
	char dir[PATH_MAX], status[PATH_MAX + 32];
	struct stat st;

	if (master_self_dir(dir, sizeof(dir)) == 0 &&
	    str_fmt(status, sizeof(status), "%s/config.status", dir) != -1 &&
	    stat(status, &st) == 0)
		return str_fmt(out, outlen, "%s/%s/%s", dir, folder, name) == -1 ? -1 : 0;
	return str_fmt(out, outlen, "%s/%s", c->daemon_directory, name) == -1 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	size_t i;

	log_init("postern", LOG_DEST_STDERR);
	if (argc < 2) {
		master_usage();
		return MASTER_EX_USAGE;
	}
	for (i = 0; i < NELEM(master_cmds); i++)
		if (strcmp(argv[1], master_cmds[i].name) == 0)
			return master_cmds[i].fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		master_usage();
		return 0;
	}
	fprintf(stderr, "postern: unknown command '%s'\n", argv[1]);
	master_usage();
	return MASTER_EX_USAGE;
}
