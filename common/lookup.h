/*
 * lookup: recipient checks at RCPT time. smtpd runs chrooted as `postern`
 * and cannot read the sasldb or the alias file, so it asks lookupd over
 * the unix socket private/lookup (relative to the queue directory).
 * Protocol, one request per line: "rcpt ADDRESS\n" -> "ok\n" | "nouser\n"
 * | "notlocal\n" | "temp\n"; the first three may carry " volatile" before
 * the newline (not to be cached: below).
 */
#ifndef POSTERN_LOOKUP_H
#define POSTERN_LOOKUP_H

#include <stdint.h>

#define LOOKUP_SOCKET	"private/lookup"

/*
 * The answer cache (issue 12). lookupd keeps private/lookup.gen, two
 * 64-bit numbers readable by smtpd in its chroot (nothing secret): a
 * generation it moves on whenever the sasldb or the alias file changes
 * (checked twice a second), and a heartbeat (CLOCK_MONOTONIC, ms) it
 * stores at least once a second. lookup_rcpt() keeps the answers of this
 * generation; they are used only while the heartbeat is at most
 * LOOKUP_BEAT_MS old (a stopped or dead lookupd invalidates them). An
 * answer lookupd marks "volatile" (system_domains: Unix accounts, whose
 * changes it does not watch) is never kept. So a new or removed user or
 * alias reaches every process within about a second and a half.
 */
#define LOOKUP_GEN_FILE	"private/lookup.gen"
#define LOOKUP_BEAT_MS	3000
#define LOOKUP_CHECK_MS	500	/* lookupd's look at the files */
struct lookup_gen {
	uint64_t gen;
	int64_t	 beat;
};

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
