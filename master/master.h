/*
 * master: the postern program. The supervisor (`postern run`, `start`)
 * and the admin commands (check, config, user, demo) share these helpers.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stddef.h>

struct conf;

/* Exit status for wrong arguments, for every command. */
#define MASTER_EX_USAGE	2

/* Modes of master_run. */
enum master_mode {
	MASTER_FOREGROUND,	/* postern run, postern demo: log to stderr */
	MASTER_DAEMON		/* postern start: syslog once ready */
};

/*
 * A command line, parsed by main.c against its table of commands (one
 * grammar: common/cmdline.h). Each command gets it checked: only options
 * it takes, and the number of operands it wants.
 */
struct master_args {
	const char	*verb;		/* "run", "user", "queue", ... */
	const char	*sub;		/* "add", "list", ... or NULL */
	const char	*conf;		/* -c FILE or NULL */
	int		 only_set;	/* -n (config) */
	int		 force;		/* -f (user add, passwd) */
	char	       **rest;		/* operands after the verb (and sub) */
	int		 nrest;
};
typedef int (*master_cmd)(const struct master_args *);

/* Load the configuration, printing every problem to stderr. 0 or -1. */
int master_load_conf(const char *path, struct conf *c);

/*
 * The daemon binary for name in folder: <dir of postern>/<folder>/<name>
 * in the build tree (config.status next to the postern binary), else
 * daemon_directory/name. 0, or -1 when the path does not fit.
 */
int master_daemon_path(const struct conf *c, const char *folder,
    const char *name, char *out, size_t outlen);

/* The supervisor. Returns the process exit status. */
int master_run(const char *confpath, enum master_mode mode);

/* Write one line per daemon binary that is needed but missing; the count. */
int master_check_daemons(const struct conf *c, int fd);

/* sasl_db mode 0600, and auth_user's when root (user.c). */
void master_user_fix_perms(const struct conf *c);

/* pidfile helpers (control.c): the pid of a running master, or 0. */
long master_running_pid(const struct conf *c);

/* Commands: each returns the process exit status. */
int cmd_run(const struct master_args *);
int cmd_start(const struct master_args *);
int cmd_stop(const struct master_args *);
int cmd_reload(const struct master_args *);
int cmd_status(const struct master_args *);
int cmd_check(const struct master_args *);
int cmd_config(const struct master_args *);
int cmd_user(const struct master_args *);
int cmd_demo(const struct master_args *);

#endif
