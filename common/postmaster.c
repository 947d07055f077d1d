/*
 * postmaster: where the reserved postmaster mailbox goes (RFC 5321
 * 4.5.1); see postmaster.h for the rules. A library module: lookupd (as
 * auth_user, the one account that reads the sasldb), qmgr (as mail_owner,
 * unchrooted: it reads the alias file and asks lookupd about the users)
 * and `postern check` (as the admin) call it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "conf.h"
#include "lookup.h"
#include "postmaster.h"
#include "userdb.h"
#include "util.h"

#define PM_LOCAL	"postmaster"
#define PM_LOOKUP_MS	10000	/* lookupd's answer (qmgr) */

struct pm_scan {
	const char	*self;		/* postmaster@domain, lower-case */
	char		 first[512];	/* the first user, "" if none */
	int		 self_exists;
};

int
postmaster_is(const struct conf *c, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || (size_t)(at - address) != sizeof(PM_LOCAL) - 1 ||
	    strncasecmp(address, PM_LOCAL, sizeof(PM_LOCAL) - 1) != 0)
		return 0;
	return at[1] != '\0' && conf_is_local_domain(c, at + 1);
}

static void
pm_scan_user(const char *address, void *arg)
{
	struct pm_scan *s = arg;

	if (s->first[0] == '\0' && str_copy(s->first, address, sizeof(s->first)) == -1)
		s->first[0] = '\0';
	if (str_ieq(address, s->self))
		s->self_exists = 1;
}

int
postmaster_users(const struct conf *c, const char *address, char *first,
    size_t firstlen)
{
	struct pm_scan s;

	memset(&s, 0, sizeof(s));
	s.self = address;
	if (userdb_list(c->sasl_db, pm_scan_user, &s) == -1)
		return -1;
	if (str_copy(first, s.first, firstlen) == -1)
		first[0] = '\0';
	return s.self_exists;
}

/* The users' facts: from the sasldb, or from lookupd when it is not ours. */
static int
pm_users(const struct conf *c, const char *address, char *first, size_t firstlen)
{
	char sock[4096];

	if (access(c->sasl_db, R_OK) == 0 || errno != EACCES)
		return postmaster_users(c, address, first, firstlen);
	if (str_fmt(sock, sizeof(sock), "%s/%s", c->queue_dir, LOOKUP_SOCKET) == -1)
		return -1;
	return lookup_postmaster(sock, address, first, firstlen, PM_LOOKUP_MS);
}

int
postmaster_target(const struct conf *c, const struct aliases *al,
    const char *address, char *out, size_t outlen)
{
	char first[512], root[512];
	const char *at;
	int r;

	if (!postmaster_is(c, address))
		return 0;
	if (al != NULL && aliases_exists(al, address))
		return 0;	/* rule 1 */
	if ((r = pm_users(c, address, first, sizeof(first))) == -1)
		first[0] = '\0';	/* unreadable: as if empty */
	if (r == 1)
		return 0;	/* rule 2 */
	if (*c->postmaster_address != '\0')	/* rule 3 */
		return str_copy(out, c->postmaster_address, outlen) == -1 ? -1 : 1;
	/* rule 4: root of the host, which is only ever reached by its alias */
	at = strrchr(address, '@');
	if (al != NULL && str_fmt(root, sizeof(root), "root%s", at) != -1 &&
	    aliases_exists(al, root))
		return str_copy(out, root, outlen) == -1 ? -1 : 1;
	if (first[0] != '\0')	/* rule 5 */
		return str_copy(out, first, outlen) == -1 ? -1 : 1;
	return -1;
}
