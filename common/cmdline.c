/*
 * cmdline: the option grammar shared by postern, postern-sendmail, mailq
 * and newaliases (see cmdline.h). Runs in the command's own process with
 * the invoking user's rights; it only reads argv.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "util.h"

int
cmdline_error(struct cmdline *c, const char *fmt, ...)
{
	va_list ap;
	char *nl;

	va_start(ap, fmt);
	if (vsnprintf(c->err, sizeof(c->err), fmt, ap) < 0)
		c->err[0] = '\0';
	va_end(ap);
	while ((nl = strpbrk(c->err, "\r\n")) != NULL)
		*nl = ' ';	/* one line, whatever the user typed */
	return -1;
}

/* How option letter ch is declared: -1 unknown, 0 flag, 1 argument, 2 optional. */
static int
cmdline_kind(const char *optstring, int ch)
{
	const char *p;

	if (ch == ':' || (p = strchr(optstring, ch)) == NULL)
		return -1;
	if (p[1] != ':')
		return 0;
	return p[2] == ':' ? 2 : 1;
}

/* One word of options ("-tv", "-cFILE", "-c" FILE). 0 or -1. */
static int
cmdline_cluster(struct cmdline *c, int argc, char **argv, int *i,
    const char *optstring, cmdline_fn fn, void *ctx)
{
	const char *w = argv[*i], *arg;
	int k, kind;

	for (k = 1; w[k] != '\0'; k++) {
		if ((kind = cmdline_kind(optstring, (unsigned char)w[k])) == -1)
			return w[k] == 'h' ? fn(c, CMDLINE_HELP, NULL, ctx) :
			    cmdline_error(c, "unknown option -%c", w[k]);
		if (kind == 0) {
			if (fn(c, (unsigned char)w[k], NULL, ctx) == -1)
				return -1;
			continue;
		}
		arg = w[k + 1] != '\0' ? w + k + 1 : NULL;
		if (arg == NULL && kind == 1) {
			if (*i + 1 >= argc)
				return cmdline_error(c, "option -%c needs an argument", w[k]);
			arg = argv[++*i];
		}
		return fn(c, (unsigned char)w[k], arg, ctx);
	}
	return 0;
}

int
cmdline_parse(struct cmdline *c, int argc, char **argv, const char *optstring,
    cmdline_fn fn, void *ctx)
{
	int i, only_operands = 0;

	c->err[0] = '\0';
	c->noperands = 0;
	c->operands = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof(*c->operands));
	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (only_operands || w[0] != '-' || w[1] == '\0') {
			c->operands[c->noperands++] = argv[i];	/* "-" is an operand */
			continue;
		}
		if (strcmp(w, "--") == 0) {
			only_operands = 1;
			continue;
		}
		if (w[1] == '-') {
			if (strcmp(w, "--help") != 0)
				return cmdline_error(c, "unknown option %s", w);
			if (fn(c, CMDLINE_HELP, NULL, ctx) == -1)
				return -1;
			continue;
		}
		if (cmdline_cluster(c, argc, argv, &i, optstring, fn, ctx) == -1)
			return -1;
	}
	c->operands[c->noperands] = NULL;
	return 0;
}

void
cmdline_free(struct cmdline *c)
{
	free(c->operands);
	c->operands = NULL;
	c->noperands = 0;
}
