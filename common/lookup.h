/*
 * lookup: recipient checks at RCPT time. smtpd runs chrooted as `postern`
 * and cannot read the sasldb or the alias file, so it asks lookupd over
 * the unix socket private/lookup (relative to the queue directory).
 * Protocol, one request per line: "rcpt ADDRESS\n" -> "ok\n" | "nouser\n"
 * | "notlocal\n" | "temp\n".
 */
#ifndef POSTERN_LOOKUP_H
#define POSTERN_LOOKUP_H

#define LOOKUP_SOCKET	"private/lookup"

enum lookup_result {
	LOOKUP_TEMPFAIL = -1,	/* lookupd unreachable or failing: 451 4.3.0 */
	LOOKUP_OK = 0,		/* a local user or an alias */
	LOOKUP_NOUSER = 1,	/* local domain, no such user: 550 5.1.1 */
	LOOKUP_NOTLOCAL = 2	/* not one of local_domains */
};

/* Ask lookupd about one address (already parsed, without <>). */
enum lookup_result lookup_rcpt(const char *sockpath, const char *address, int timeout_ms);

/* Close the connection lookup_rcpt keeps open (before fork or exit). */
void lookup_close(void);

/*
 * The user facts of postmaster's rules 2 and 4 (common/postmaster.h), for
 * qmgr, which runs as mail_owner and may not read the sasldb (issue 13):
 * "postmaster ADDRESS\n" -> "self\n" (a user ADDRESS exists) | "first
 * USER\n" (the first user) | "none\n" (no user) | "temp\n". On its own
 * short connection. 1 (self), 0 with first set ("" for none), or -1.
 */
int lookup_postmaster(const char *sockpath, const char *address, char *first,
    size_t firstlen, int timeout_ms);

#endif
