/*
 * postmaster: the reserved mailbox of RFC 5321 4.5.1 ("postmaster",
 * case-insensitive, in every local domain), which a server MUST accept.
 * lookupd accepts it at RCPT time whether or not anything is configured;
 * qmgr routes it here before alias expansion; `postern check` warns when
 * it reaches no mailbox.
 *
 * Where postmaster@DOMAIN goes, first rule that applies:
 *  1. an aliases(5) entry for postmaster@DOMAIN or postmaster (the alias
 *     is expanded as usual);
 *  2. a user postmaster@DOMAIN in the user database (delivered there);
 *  3. postmaster_address, when set (itself alias-expanded);
 *  4. root of the host, when an aliases(5) entry for root@DOMAIN or root
 *     says where its mail goes (root itself is never a mailbox);
 *  5. the first user of the user database (sorted, as `postern user list`
 *     shows them).
 * Otherwise it reaches no mailbox (qmgr defers it).
 */
#ifndef POSTERN_POSTMASTER_H
#define POSTERN_POSTMASTER_H

#include <stddef.h>

struct aliases;
struct conf;

/* Is address postmaster@ a local domain (any case)? 1 or 0. */
int postmaster_is(const struct conf *, const char *address);
/*
 * Where does address go? 0 when it is not the postmaster of a local
 * domain or rules 1-2 apply (deliver it as it is); 1 with out set to the
 * address to use instead (rules 3-5); -1 when it reaches no mailbox.
 */
int postmaster_target(const struct conf *, const struct aliases *,
    const char *address, char *out, size_t outlen);
/*
 * The user database's part of rules 2 and 4, read from the sasldb
 * itself: 1 when a user address exists, else 0 with the first user in
 * first ("" when there is none); -1 when it cannot be read. lookupd
 * answers it for postmaster_target in processes that may not read the
 * sasldb (qmgr as mail_owner; the sasldb is auth_user's, issue 13).
 */
int postmaster_users(const struct conf *, const char *address, char *first,
    size_t firstlen);

#endif
