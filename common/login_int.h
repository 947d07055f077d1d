/*
 * login's internal interface: login.c (the processes and the pre-auth
 * relay) and login_session.c (token to mail owner and Maildir).
 */
#ifndef POSTERN_LOGIN_INT_H
#define POSTERN_LOGIN_INT_H

#include <stddef.h>

struct conf;
struct priv_id;

#define LOGIN_AUTHD_TIMEOUT	30000	/* ms per authd answer (failures are delayed ~2 s) */

/*
 * Redeem token with authd (on afd) for the user's address (into addr);
 * become its mail owner: vmail (NULL when not root: no change) for a
 * virtual user, the Unix account for an address of system_domains; cd to
 * its Maildir (made if missing). 0, or -1 (logged).
 */
int login_session_setup(const struct conf *, int afd, const char *token,
    char *addr, size_t addrlen, const struct priv_id *vmail);

#endif
