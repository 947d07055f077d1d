/*
 * deliver: the parts of the local delivery agent shared between its
 * files: deliver.c (the daemon: request, privilege drop, replies) and
 * deliver_rules.c (one recipient: plus-addressing, postern.rules(5),
 * Maildir++ folders, redirect through postdrop).
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include <stddef.h>

struct agent_req;
struct conf;

/*
 * Deliver request r to the mailbox lp@dom (checked and lower-cased by
 * deliver.c; lp may carry a recipient_delimiter extension) as the rules
 * decide. The status line (without index) into rep: 250, 4xx or 5xx.
 */
void deliver_rcpt(const struct conf *c, const struct agent_req *r,
    const char *lp, const char *dom, char *rep, size_t replen);

#endif
