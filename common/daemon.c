/*
 * daemon: common start-up of the internal daemons. Runs first in each of
 * them, with the privileges they were started with (root under a root
 * master): it reads only the command line, the environment the master
 * set and the admin's configuration file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

void
daemon_start(int argc, char **argv, const char *name, struct conf *c)
{
	char ident[64], err[4096];
	const char *cf = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			goto usage;
		cf = optarg;
	}
	if (optind != argc)
		goto usage;
	str_fmt(ident, sizeof(ident), "postern/%s", name);
	/* The identity must outlive this frame: openlog keeps the pointer. */
	log_init(xstrdup(ident), LOG_DEST_SYSLOG);
	if (conf_load(c, cf, err, sizeof(err)) == -1)
		fatal("%s", err);
	return;
usage:
	fprintf(stderr, "usage: %s [-c conffile]\n", name);
	exit(2);
}

size_t
daemon_sockets(const char *fdname, struct listen_fd *out, size_t max)
{
	struct listen_fd all[LISTEN_MAXFDS];
	size_t n = 0;
	int i, nall;

	if ((nall = listen_inherited(all, NELEM(all))) == -1)
		fatal("cannot take the listening sockets");
	for (i = 0; i < nall; i++) {
		if (strcmp(all[i].name, fdname) == 0 && n < max)
			out[n++] = all[i];
		else
			close(all[i].fd);
	}
	if (n == 0)
		fatal("no listening socket named \"%s\" (start me from the master)", fdname);
	return n;
}
