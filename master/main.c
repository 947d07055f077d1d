/*
 * postern: the entry point of the master and the admin commands. Runs as
 * whoever invokes it (root on a real system, the user for `postern demo`
 * and the tests); each command says what it does with that. The command
 * line is parsed here, once, with the grammar every postern command
 * shares (common/cmdline.h), and checked against the table of commands
 * before a command runs.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "../queue/admin.h"
#include "util.h"

/*
 * Every command, with the options it takes and its operands: the one
 * table that main() parses against, and that `postern help` prints.
 * Options may come anywhere on the line (common/cmdline.h).
 */
static const struct master_verb {
	const char	*verb, *sub;	/* sub: the word after "user", "queue" */
	const char	*opts;		/* the letters of -c -n -f it takes */
	int		 min, max;	/* operands after verb and sub; -1: any */
	const char	*args;		/* for help */
	const char	*what;
	master_cmd	 fn;
} master_verbs[] = {
	{ "run", NULL, "c", 0, 0, "[-c FILE]",
	    "run the master in the foreground", cmd_run },
	{ "start", NULL, "c", 0, 0, "[-c FILE]",
	    "start the master in the background", cmd_start },
	{ "stop", NULL, "c", 0, 0, "[-c FILE]", "stop the running master", cmd_stop },
	{ "reload", NULL, "c", 0, 0, "[-c FILE]",
	    "make the running master read the configuration again", cmd_reload },
	{ "status", NULL, "c", 0, 0, "[-c FILE]",
	    "say whether the master is running", cmd_status },
	{ "check", NULL, "c", 0, 0, "[-c FILE]",
	    "check the configuration and what it points at", cmd_check },
	{ "config", NULL, "cn", 0, -1, "[-n] [-c FILE] [KEY ...]",
	    "print the effective settings (-n: only those set in the file)", cmd_config },
	{ "user", "add", "cf", 1, 1, "[-f] [-c FILE] ADDRESS",
	    "add a user, password on standard input (-f: any domain)", cmd_user },
	{ "user", "passwd", "cf", 1, 1, "[-f] [-c FILE] ADDRESS",
	    "change a user's password", cmd_user },
	{ "user", "del", "c", 1, 1, "[-c FILE] ADDRESS", "delete a user", cmd_user },
	{ "user", "list", "c", 0, 0, "[-c FILE]", "list the users", cmd_user },
	{ "queue", "list", "c", 0, 0, "[-c FILE]", "list the queue (mailq)", cmd_queue },
	{ "queue", "show", "c", 1, 1, "[-c FILE] ID", "print a queued message", cmd_queue },
	{ "queue", "flush", "c", 0, 0, "[-c FILE]",
	    "retry the deferred messages now", cmd_queue },
	{ "queue", "delete", "c", 1, 1, "[-c FILE] ID", "delete a message", cmd_queue },
	{ "queue", "hold", "c", 1, 1, "[-c FILE] ID", "put a message on hold", cmd_queue },
	{ "queue", "release", "c", 1, 1, "[-c FILE] ID", "release a held message",
	    cmd_queue },
	{ "demo", NULL, "", 0, 1, "[DIR]",
	    "run a throw-away demo on loopback ports", cmd_demo },
	{ "help", NULL, "", 0, 1, "[COMMAND]", "list the commands, or one command's",
	    NULL },
};

/* The help lines of verb (every verb when NULL) on fd. */
static void
master_help(int fd, const char *verb)
{
	char line[256];
	size_t i;

	static const char head[] =
	    "usage: postern COMMAND [OPTIONS] [ARGUMENTS]\n"
	    "Options may come before or after the command and its arguments:\n"
	    "  -c FILE     the configuration (else $POSTERN_CONF, else the default)\n"
	    "  -n          config: only the keys set in the file\n"
	    "  -f          user add, passwd: an address outside local_domains\n"
	    "  -h, --help  this list, or one command's (postern COMMAND --help)\n"
	    "Commands:\n";

	if (verb == NULL)
		write_all(fd, head, sizeof(head) - 1);
	for (i = 0; i < NELEM(master_verbs); i++) {
		const struct master_verb *v = &master_verbs[i];
		if (verb != NULL && strcmp(verb, v->verb) != 0)
			continue;
		if (str_fmt(line, sizeof(line), "  postern %s%s%s %s\n      %s\n", v->verb,
		    v->sub ? " " : "", v->sub ? v->sub : "", v->args, v->what) > 0)
			write_all(fd, line, strlen(line));
	}
}

/* A wrong command line: one line on stderr; the exit status. */
static int __attribute__((format(printf, 1, 2)))
master_wrong(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "postern: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (postern help lists the commands)\n");
	return MASTER_EX_USAGE;
}

/* Options as they come; which letters were given goes into ctx's seen. */
struct master_parse {
	struct master_args	*a;
	char			 seen[8];
	int			 help;
};

static int
master_opt(struct cmdline *cl, int opt, const char *arg, void *ctx)
{
	struct master_parse *mp = ctx;
	size_t n = strlen(mp->seen);

	if (opt == CMDLINE_HELP) {
		mp->help = 1;
		return 0;
	}
	if (opt == 'c' && mp->a->conf != NULL && strcmp(mp->a->conf, arg) != 0)
		return cmdline_error(cl, "-c given twice");
	if (opt == 'c')
		mp->a->conf = arg;
	else if (opt == 'n')
		mp->a->only_set = 1;
	else if (opt == 'f')
		mp->a->force = 1;
	if (strchr(mp->seen, opt) == NULL && n + 1 < sizeof(mp->seen))
		mp->seen[n] = (char)opt;
	return 0;
}

/* The table entry for the operands; NULL after a one-line error (*status). */
static const struct master_verb *
master_find(struct master_args *a, struct cmdline *cl, int *status)
{
	const char *verb = cl->operands[0], *sub = cl->noperands > 1 ?
	    cl->operands[1] : "";
	int known = 0;
	size_t i;

	for (i = 0; i < NELEM(master_verbs); i++) {
		const struct master_verb *v = &master_verbs[i];
		if (v->fn == NULL || strcmp(verb, v->verb) != 0)
			continue;	/* help is answered by main() */
		known = 1;
		if (v->sub != NULL && strcmp(sub, v->sub) != 0)
			continue;
		a->verb = v->verb;
		a->sub = v->sub;
		a->rest = cl->operands + 1 + (v->sub != NULL);
		a->nrest = cl->noperands - 1 - (v->sub != NULL);
		return v;
	}
	if (!known)
		*status = master_wrong("unknown command '%s'", verb);
	else if (*sub == '\0')
		*status = master_wrong("%s: which one? (postern %s --help)", verb, verb);
	else
		*status = master_wrong("%s: unknown subcommand '%s'", verb, sub);
	return NULL;
}

/* The options and operand count fit the command? 0, or the exit status. */
static int
master_fits(const struct master_verb *v, const struct master_args *a,
    const char *seen)
{
	char cmd[64];

	str_fmt(cmd, sizeof(cmd), "%s%s%s", v->verb, v->sub ? " " : "",
	    v->sub ? v->sub : "");
	for (; *seen; seen++)
		if (strchr(v->opts, *seen) == NULL) {
			char opt[3] = { '-', *seen, '\0' };
			return master_wrong("%s: option %s is not one of this command's",
			    cmd, opt);
		}
	if (a->nrest < v->min)
		return master_wrong("%s: missing %s", cmd, strrchr(v->args, ' ') ?
		    strrchr(v->args, ' ') + 1 : v->args);
	if (v->max != -1 && a->nrest > v->max)
		return master_wrong("%s: unexpected argument '%s'", cmd, a->rest[v->max]);
	return 0;
}

/* postern help [COMMAND], postern [COMMAND] --help: on stdout, status 0. */
static int
master_help_cmd(const char *verb)
{
	size_t i;

	for (i = 0; verb != NULL && i < NELEM(master_verbs); i++)
		if (strcmp(verb, master_verbs[i].verb) == 0) {
			master_help(STDOUT_FILENO, verb);
			return 0;
		}
	if (verb != NULL)
		return master_wrong("help: unknown command '%s'", verb);
	master_help(STDOUT_FILENO, NULL);
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
	static struct master_args a;
	struct master_parse mp = { &a, "", 0 };
	const struct master_verb *v;
	struct cmdline cl;
	int status = MASTER_EX_USAGE;

	log_init("postern", LOG_DEST_STDERR);
	if (cmdline_parse(&cl, argc, argv, "c:nf", master_opt, &mp) == -1) {
		status = master_wrong("%s", cl.err);
		cmdline_free(&cl);
		return status;
	}
	if (cl.noperands == 0) {
		status = mp.help ? master_help_cmd(NULL) : master_wrong("no command given");
	} else if (strcmp(cl.operands[0], "help") == 0 && !mp.help) {
		status = cl.noperands > 2 ? master_wrong("help: unexpected argument '%s'",
		    cl.operands[2]) : master_help_cmd(cl.operands[1]);
	} else if (mp.help) {
		status = master_help_cmd(cl.operands[0]);
	} else if ((v = master_find(&a, &cl, &status)) != NULL &&
	    (status = master_fits(v, &a, mp.seen)) == 0) {
		status = v->fn(&a);
	}
	cmdline_free(&cl);
	return status;
}
