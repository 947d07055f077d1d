/*
 * cmdline: the one command-line grammar of postern's user commands
 * (postern and its verbs, postern-sendmail, mailq, newaliases).
 * getopt(3)-style short options -- clustered (-tv), the argument attached
 * (-cFILE) or in the next word (-c FILE) -- anywhere before, between or
 * after the operands, as admins type them; "--" ends the options; "--help"
 * is an option of every command. POSIXLY_CORRECT changes nothing.
 */
#ifndef POSTERN_CMDLINE_H
#define POSTERN_CMDLINE_H

#include <stddef.h>

#define CMDLINE_HELP	0x100	/* the option --help (and -h where optstring has h) */
#define CMDLINE_ERRMAX	256

struct cmdline {
	char	**operands;		/* in order, NULL-terminated (allocated) */
	int	  noperands;
	char	  err[CMDLINE_ERRMAX];	/* one line, no newline, after -1 */
};

/*
 * Called for each option in order: opt is the letter (or CMDLINE_HELP),
 * arg its argument or NULL. Returns 0, or -1 after cmdline_error().
 */
typedef int (*cmdline_fn)(struct cmdline *, int opt, const char *arg, void *ctx);

/*
 * Parse argv[1..argc-1]. optstring as getopt's: "c:nf"; a letter followed
 * by "::" takes an optional argument, only attached (-q30m). 0, or -1
 * with c->err set (unknown option, missing argument, fn's refusal).
 * c->operands is allocated either way: cmdline_free() it.
 */
int cmdline_parse(struct cmdline *c, int argc, char **argv, const char *optstring,
    cmdline_fn fn, void *ctx);
/* Set c->err (printf format; truncated to one line). Returns -1. */
int cmdline_error(struct cmdline *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cmdline_free(struct cmdline *c);

#endif
