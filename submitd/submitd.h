/*
 * submitd's internal interface: the daemon (submitd.c: set-up, privilege
 * drop, listeners, through common/smtp_daemon.h), its policy hooks for the SMTP engine (submit_policy.c)
 * and sender_login_map (sender_map.c).
 */
#ifndef POSTERN_SUBMITD_H
#define POSTERN_SUBMITD_H

#include <stddef.h>

#include "smtp_auth.h"
#include "smtp_daemon.h"
#include "smtp_server.h"

struct sender_map_entry {
	char	 *key;		/* "alice@example.test" or "@example.test" (lower case) */
	char	**users;	/* lower case */
	size_t	  nusers;
};

struct sender_map {
	struct sender_map_entry	*e;
	size_t			 n;
};

struct submitd {
	struct smtp_daemon	 sd;		/* conf, hostname, postmaster, TLS */
	struct smtp_policy	 pol;		/* 587: plaintext, then STARTTLS */
	struct smtp_policy	 pol_tls;	/* 465: TLS from the first byte */
	struct smtp_auth	 auth;
	struct sender_map	 map;
};

/* sender_map.c */
/* Load path ("" or NULL: an empty map). 0, or -1 with err (file:line: why). */
int sender_map_load(struct sender_map *, const char *path, char *err, size_t errlen);
/* May user (an authenticated address) use sender? Own address, or the map. */
int sender_map_allows(const struct sender_map *, const char *sender, const char *user);

/* submit_policy.c */
void submit_policy_init(struct submitd *);

#endif
