/*
 * pop3d's internal interface: the pre-auth dialogue (pop3_login.c, run by
 * the login process as login_user) and the transaction/update states
 * (pop3_session.c, run by the session process as the mail owner).
 */
#ifndef POSTERN_POP3_H
#define POSTERN_POP3_H

#include "login.h"

/* RFC 2449 4: a command line is at most 255 octets with its CRLF. */
#define POP3_LINE_MAX		255
#define POP3_ERROR_LIMIT	10	/* bad commands before we hang up */
#define POP3_PREAUTH_CMDS	50	/* commands before authentication */

int pop3_preauth(struct login_conn *);
void pop3_session_failed(struct login_conn *);
void pop3_session(struct stream *, const struct conf *, const char *address,
    const char *peer);

/*
 * Read one command line into buf (POP3_LINE_MAX + 1 bytes), CRLF or LF
 * stripped. 1 for a line, 0 for a line that was refused (an -ERR has been
 * queued), -1 when the connection is gone.
 */
int pop3_getline(struct stream *, char *buf, size_t max);
/* Split "VERB args" in place: returns args ("" when none). */
char *pop3_split(char *line);

#endif
