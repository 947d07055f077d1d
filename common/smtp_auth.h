/*
 * smtp_auth: SMTP AUTH (RFC 4954) through authd, for the engine's auth
 * hook (common/smtp_server.h). Shared by submitd and by smtpd when
 * smtpd_auth_enable is set; the SASL mechanisms themselves run in authd
 * (common/authclient.h), never here.
 */
#ifndef POSTERN_SMTP_AUTH_H
#define POSTERN_SMTP_AUTH_H

#include <stddef.h>

#include "authclient.h"
#include "smtp_server.h"

#define SMTP_AUTH_FALLBACK_MECHS	"PLAIN LOGIN"

struct smtp_auth {
	/* settings */
	const char		*sockpath;	/* AUTHC_SOCKET */
	const char		*service;	/* "smtp" */
	int			 timeout_ms;
	unsigned long long	 max_failures;	/* per session; 0 = no cap */
	/* per session */
	struct authclient	 ac;
	char			 ip[64];
	char			 mechs[512];	/* the EHLO AUTH list */
	unsigned long long	 failures;
};

/*
 * Start of a session (in its own process): connect to authd and ask for
 * the mechanisms. When authd cannot be reached mechs is
 * SMTP_AUTH_FALLBACK_MECHS and AUTH answers 454 4.7.0 until it can.
 */
void smtp_auth_begin(struct smtp_auth *, const char *client_ip);
void smtp_auth_end(struct smtp_auth *);
/*
 * The body of a policy's auth hook. Aborted exchanges ("*") get 501
 * 5.0.0, wrong credentials 535 5.7.8, and the max_failures-th failure in
 * a session 421 4.7.0 (the engine then closes the connection).
 */
int smtp_auth_run(struct smtp_auth *, struct smtp_session *, const char *mech,
    const char *initial, char *user, size_t userlen, struct smtp_reply *);

#endif
