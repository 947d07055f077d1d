/*
 * rules_int: the parsed form of a rule file, shared by
 * common/rules_parse.c (which builds it) and deliver/rules_eval.c (which
 * walks it). Not public: `postern check` and the rest use rules.h.
 */
#ifndef POSTERN_RULES_INT_H
#define POSTERN_RULES_INT_H

#include "regex.h"
#include "rules.h"

enum rules_ctype {
	RC_TRUE, RC_FALSE, RC_NOT, RC_AND, RC_OR,
	RC_HEADER,	/* header "Name" op arg */
	RC_EXISTS,	/* exists "Name" */
	RC_FROM,	/* envelope sender op arg */
	RC_TO,		/* envelope recipient op arg */
	RC_OVER,	/* size over N */
	RC_UNDER	/* size under N */
};

enum rules_op { RO_CONTAINS, RO_IS, RO_MATCHES };

struct rules_cond {
	enum rules_ctype type;
	enum rules_op	 op;
	unsigned	 line;
	char		*name;		/* RC_HEADER, RC_EXISTS */
	char		*arg;		/* contains/is operand */
	size_t		 arglen;
	struct regex	*re;		/* matches */
	unsigned long long size;	/* RC_OVER, RC_UNDER */
	struct rules_cond *l, *r;	/* RC_NOT: l; RC_AND, RC_OR: l, r */
};

enum rules_stype {
	RS_IF, RS_FILEINTO, RS_DISCARD, RS_REDIRECT, RS_KEEP, RS_STOP
};

struct rules_stmt {
	enum rules_stype type;
	unsigned	 line;
	char		*arg;		/* fileinto folder, redirect address */
	struct rules_cond *cond;	/* RS_IF */
	struct rules_stmt *then, *els;	/* RS_IF: the blocks (els may be NULL) */
	struct rules_stmt *next;
};

/* Every node is also in an array, so freeing needs no recursion. */
struct rules {
	char		*file;
	struct rules_stmt *top;
	struct rules_cond **conds;
	size_t		 nconds;
	struct rules_stmt **stmts;
	size_t		 nstmts;
};

#endif
