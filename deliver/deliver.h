/*
 * deliver: the parts of the local delivery agent shared between its
 * files: deliver.c (the daemon: request, privilege drop, replies),
 * deliver_user.c (Unix accounts of system_domains: one child per
 * request, as that account) and deliver_rules.c (one recipient:
 * plus-addressing, postern.rules(5), Maildir++ folders, redirect through
 * postdrop).
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

/*
 * The same with the places given: rcpt (lp@dom as addressed, for
 * Delivered-To and the rules), the Maildir, the user's rules file (after
 * delivery_rules; a missing file is no rules) and the address extension
 * ext ("" for none: its folder, when it exists, is the keep folder).
 * deliver_user.c calls it for ~/Maildir and ~/.postern.rules.
 */
void deliver_rcpt_at(const struct conf *c, const struct agent_req *r,
    const char *rcpt, const char *maildir, const char *rules, const char *ext,
    char *rep, size_t replen);

/*
 * deliver_user.c: is this process the system-user listener (its socket
 * from the master is "deliver-user")? 1 or 0. Then deliver_user_main()
 * serves it, fork per request, and returns main's exit status.
 */
int deliver_user_wanted(void);
int deliver_user_main(struct conf *c);

#endif
