/*
 * aliases: the aliases(5) file. Lines "name: target, target, ...";
 * continuation lines start with white space; '#' starts a comment line.
 * A name is a local part (valid in every local domain) or a full address;
 * a target is an address or a local part (which takes the domain of the
 * address being expanded). postern delivers to Maildirs only, so
 * "|command", "/file" and ":include:" targets are refused. Keys compare
 * case-insensitively. Used by lookupd (does an alias exist?) and qmgr
 * (expansion), and by `postern check`.
 */
#ifndef POSTERN_ALIASES_H
#define POSTERN_ALIASES_H

#include <stddef.h>

#define ALIASES_MAX_DEPTH	20	/* nesting of alias in alias */
#define ALIASES_MAX_RESULTS	1000	/* addresses from one expansion */

struct aliases;

struct alias_list {
	char	**addr;		/* final addresses, lower-case, no duplicates */
	size_t	  n;
};

/* A table for path, not yet loaded (path may be "" or NULL: no aliases). */
struct aliases *aliases_new(const char *path);
void aliases_free(struct aliases *);
/*
 * (Re)load the file when its mtime, size or inode changed since the last
 * load. A missing file means no aliases. Bad lines are logged (log_warn)
 * and skipped. 0, or -1 with err when the file cannot be read (the old
 * table stays in use).
 */
int aliases_refresh(struct aliases *, char *err, size_t errlen);
/* Load from a string (tests, fuzzing); name is used in messages. Bad lines
 * are reported through problem (may be NULL). Returns the number of problems. */
int aliases_load_buffer(struct aliases *, const char *name, const char *text,
    size_t len, void (*problem)(const char *msg, void *arg), void *arg);
/*
 * Check a file for `postern check`: writes "file:line: problem" lines to
 * fd. Returns the number of problems, or -1 if the file cannot be read
 * (also reported). A missing file is not a problem.
 */
int aliases_check(const char *path, int fd);
/* Is there an alias for address (local part or full address key)? 1 or 0. */
int aliases_exists(const struct aliases *, const char *address);
/*
 * Expand address recursively. is_local(domain, arg) says whether a domain
 * is local (only local addresses are looked up). An address without an
 * alias expands to itself. An alias that lists itself (or an address met
 * again on its own expansion path) is delivered to that mailbox. 0, or -1
 * with err when a limit (depth, results) is passed.
 */
int aliases_expand(const struct aliases *, const char *address,
    int (*is_local)(const char *domain, void *arg), void *arg,
    struct alias_list *out, char *err, size_t errlen);
void alias_list_free(struct alias_list *);

#endif
