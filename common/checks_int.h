/*
 * checks_int: the rule tables shared by the checks parser (checks.c) and
 * the streaming matcher (checks_scan.c). Not a public interface.
 */
#ifndef POSTERN_CHECKS_INT_H
#define POSTERN_CHECKS_INT_H

#include <stddef.h>

#include "checks.h"

struct regex;

struct checks_rule {
	struct regex		*re;
	int			 negate;	/* !/regex/: act when it does not match */
	enum checks_action	 action;
	char			*text;		/* "" when none; may hold $1..$9 */
	int			 subst;		/* text holds a $n reference */
	const char		*file;		/* the table's name, for logs */
	unsigned		 line;
};

struct checks_table {
	struct checks_rule	*rule;
	size_t			 n, cap;
	char			*name;		/* file name for logs */
};

struct checks {
	struct checks_table	 t[CHECKS_NKINDS];
	size_t			 body_limit;
};

#endif
