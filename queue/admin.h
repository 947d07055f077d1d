/*
 * admin: `postern queue list|show ID|flush|delete ID|hold ID|release ID`
 * (and mailq, which runs `postern queue list`).
 */
#ifndef POSTERN_QUEUE_ADMIN_H
#define POSTERN_QUEUE_ADMIN_H

/* The command; returns the process exit status (0, 1 error, 2 usage). */
int cmd_queue(int argc, char **argv);

#endif
