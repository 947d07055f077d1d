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

/* Parse "[-c FILE]" style options shared by every command (getopt). */
struct master_args {
	const char	*conf;		/* -c FILE or NULL */
	int		 only_set;	/* -n (config) */
	int		 force;		/* -f (user add) */
	char	       **rest;		/* operands */
	int		 nrest;
};
/* optstring e.g. "c:n". 0, or -1 after printing usage (exit MASTER_EX_USAGE). */
int master_getopt(int argc, char **argv, const char *optstring,
    struct master_args *a);
void master_usage(void);

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

/* sasl_db mode 0600, or root:<mail_owner's group> 0640 as root (user.c). */
void master_user_fix_perms(const struct conf *c);

/* pidfile helpers (control.c): the pid of a running master, or 0. */
long master_running_pid(const struct conf *c);

/* Commands: each returns the process exit status. */
int cmd_run(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
