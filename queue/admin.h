/*
 * admin: `postern queue list|show ID|flush|delete ID|hold ID|release ID`
 * (and mailq, which runs `postern queue list`).
 */
#ifndef POSTERN_QUEUE_ADMIN_H
#define POSTERN_QUEUE_ADMIN_H

/* The command (operands checked by master/main.c); returns the process
 * exit status (0, or 1 on error). */
struct master_args;
int cmd_queue(const struct master_args *);

#endif
