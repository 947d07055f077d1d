/*
 * sender_map: sender_login_map, which authenticated users may use which
 * envelope senders (like Postfix's smtpd_sender_login_maps). Lines:
 *
 *   address    user[, user...]
 *   @domain    user[, user...]      any address in domain
 *
 * '#' starts a comment line. An exact address entry wins over the
 * @domain entry. Loaded by submitd at start-up (as root when started as
 * root, before the drop and the chroot: the file is the admin's).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submitd.h"
#include "util.h"

#define SENDER_MAP_LINE		4096
#define SENDER_MAP_MAX		100000	/* entries */

static void
sender_map_add_user(struct sender_map_entry *e, const char *u, size_t n)
{
	e->users = xreallocarray(e->users, e->nusers + 1, sizeof(*e->users));
	e->users[e->nusers] = xstrndup(u, n);
	str_lower(e->users[e->nusers]);
	e->nusers++;
}

/* One non-comment line. 0 or -1 with why. */
static int
sender_map_line(struct sender_map *m, char *line, const char **why)
{
	struct sender_map_entry e;
	const char *bad = NULL;
	char *p = line, *key;
	size_t n;

	key = p;
	p += strcspn(p, " \t");
	if (*p == '\0') {
		*why = "expected 'address user[, user...]'";
		return -1;
	}
	*p++ = '\0';
	if (strlen(key) >= ADDR_BUF || strchr(key, '@') == NULL) {
		*why = "the key must be an address or @domain";
		return -1;
	}
	memset(&e, 0, sizeof(e));
	while (*p) {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n >= ADDR_BUF) {
			bad = "user name too long";
			break;
		}
		sender_map_add_user(&e, p, n);
		p += n;
	}
	if (bad == NULL && e.nusers == 0)
		bad = "no user after the address";
	else if (bad == NULL && m->n >= SENDER_MAP_MAX)
		bad = "too many entries";
	if (bad != NULL) {
		*why = bad;
		while (e.nusers > 0)
			free(e.users[--e.nusers]);
		free(e.users);
		return -1;
	}
	e.key = xstrdup(key);
	str_lower(e.key);
	/*
	 * The array grows in powers of two (it is full when n is 0 or a power
	 * of two): one realloc per entry made loading 100000 entries
	 * quadratic, minutes under AddressSanitizer.
	 */
	if ((m->n & (m->n - 1)) == 0)
		m->e = xreallocarray(m->e, m->n ? m->n * 2 : 1, sizeof(*m->e));
	m->e[m->n++] = e;
	return 0;
}

int
sender_map_load(struct sender_map *m, const char *path, char *err, size_t errlen)
{
	char line[SENDER_MAP_LINE];
	const char *why = NULL;
	FILE *fp;
	int lineno = 0;

	memset(m, 0, sizeof(*m));
	if (path == NULL || *path == '\0')
		return 0;
	if ((fp = fopen(path, "re")) == NULL) {
		str_fmt(err, errlen, "sender_login_map %s: %s", path, strerror(errno));
		return -1;
	}
	while (why == NULL && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			why = "line too long";
			break;
		}
		char *s = str_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		sender_map_line(m, s, &why);
	}
	fclose(fp);
	if (why != NULL) {
		str_fmt(err, errlen, "%s:%d: %s", path, lineno, why);
		return -1;
	}
	return 0;
}

static const struct sender_map_entry *
sender_map_find(const struct sender_map *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->e[i].key, key) == 0)
			return &m->e[i];
	return NULL;
}

int
sender_map_allows(const struct sender_map *m, const char *sender, const char *user)
{
	const struct sender_map_entry *e;
	char s[ADDR_BUF], u[ADDR_BUF];
	const char *at;
	size_t i;

	if (str_copy(s, sender, sizeof(s)) == -1 || str_copy(u, user, sizeof(u)) == -1)
		return 0;
	str_lower(s);
	str_lower(u);
	if (strcmp(s, u) == 0)
		return 1;
	if ((e = sender_map_find(m, s)) == NULL && (at = strrchr(s, '@')) != NULL)
		e = sender_map_find(m, at);
	if (e == NULL)
		return 0;
	for (i = 0; i < e->nusers; i++)
		if (strcmp(e->users[i], u) == 0)
			return 1;
	return 0;
}
