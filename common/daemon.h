/*
 * daemon: the start of every internal daemon (deliver, smtp, lookupd,
 * qmgr): the one option -c, logging, the configuration, and the
 * listening sockets the master passed by name.
 */
#ifndef POSTERN_DAEMON_H
#define POSTERN_DAEMON_H

#include <stddef.h>

#include "listen.h"

struct conf;

/*
 * Parse "NAME [-c conffile]" (a wrong argument prints the usage and exits
 * 2), log as postern/NAME, and load the configuration (fatal on error).
 */
void daemon_start(int argc, char **argv, const char *name, struct conf *);
/*
 * Keep the inherited sockets named fdname (at most max), close the others;
 * fatal when there is none, since such a daemon only runs under the master.
 * Returns the count.
 */
size_t daemon_sockets(const char *fdname, struct listen_fd *out, size_t max);

#endif
