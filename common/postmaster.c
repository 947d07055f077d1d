/*
 * postmaster: where the reserved postmaster mailbox goes (RFC 5321
 * 4.5.1); see postmaster.h for the rules. A library module: lookupd and
 * qmgr (as mail_owner, unchrooted: they read the sasldb and the alias
 * file) and `postern check` (as the admin) call it.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "conf.h"
#include "postmaster.h"
#include "userdb.h"
#include "util.h"

#define PM_LOCAL	"postmaster"

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
postmaster_target(const struct conf *c, const struct aliases *al,
    const char *address, char *out, size_t outlen)
{
	struct pm_scan s;

	if (!postmaster_is(c, address))
		return 0;
	if (al != NULL && aliases_exists(al, address))
		return 0;	/* rule 1 */
	memset(&s, 0, sizeof(s));
	s.self = address;
	if (userdb_list(c->sasl_db, pm_scan_user, &s) == -1)
		s.first[0] = '\0';	/* unreadable: as if empty */
	if (s.self_exists)
		return 0;	/* rule 2 */
	if (*c->postmaster_address != '\0')	/* rule 3 */
		return str_copy(out, c->postmaster_address, outlen) == -1 ? -1 : 1;
	if (s.first[0] != '\0')	/* rule 4 */
		return str_copy(out, s.first, outlen) == -1 ? -1 : 1;
	return -1;
}
