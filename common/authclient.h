/*
 * authclient: a small client of authd, the SASL service on the unix
 * socket $queue_dir/private/auth (auth/auth_cmd.c defines the line
 * protocol). For daemons that run SASL exchanges inside their own
 * protocol (submitd; smtpd when smtpd_auth_enable is set): they never
 * link a SASL mechanism themselves. Every call is bounded in size and
 * time; nothing is logged that could hold a secret.
 *
 * One exchange: authclient_open (sends "client SERVICE IP", so authd's
 * per-address delay and cap apply), authclient_start, authclient_step
 * while AUTHC_CONT, then on AUTHC_OK authclient_redeem the one-use token
 * on a fresh connection (authd answers tokens only there) for the
 * authenticated address.
 */
#ifndef POSTERN_AUTHCLIENT_H
#define POSTERN_AUTHCLIENT_H

#include <stddef.h>

#include "stream.h"

#define AUTHC_SOCKET	"private/auth"	/* relative to queue_dir */
#define AUTHC_LINE	16384		/* authd's AUTHD_LINE */
#define AUTHC_MECH_MAX	20		/* RFC 4422 3.1: SASL mechanism names */

/* Results of authclient_start/authclient_step (-1: I/O or protocol error). */
#define AUTHC_OK	0	/* out holds the one-use token */
#define AUTHC_CONT	1	/* out holds the next challenge (base64; "" for empty) */
#define AUTHC_FAIL	2	/* out holds the reason: auth, limit, mech, proto, temp */

struct authclient {
	int		 fd;		/* -1 when closed */
	struct stream	 st;
};

/*
 * Connect to authd at sockpath and introduce the client: service is a
 * lower-case word ("smtp"), ip the client's address. 0 or -1 (logged).
 */
int authclient_open(struct authclient *, const char *sockpath,
    const char *service, const char *ip, int timeout_ms);
void authclient_close(struct authclient *);
/* Connect to authd's socket (no "client" line). fd or -1 (logged). */
int authclient_connect(const char *sockpath);
/* Use an already connected fd (opened before a privilege drop). */
void authclient_attach(struct authclient *, int fd, int timeout_ms);
/* The mechanisms authd offers, space-separated ("" if none). 0 or -1. */
int authclient_mechs(struct authclient *, char *out, size_t outlen);
/*
 * "start MECH [INITIAL]": initial is NULL (no initial response), "" (an
 * empty one) or base64. AUTHC_* or -1.
 */
int authclient_start(struct authclient *, const char *mech, const char *initial,
    char *out, size_t outlen);
/* "step DATA": data is base64 or "" (empty). AUTHC_* or -1. */
int authclient_step(struct authclient *, const char *data, char *out, size_t outlen);
/* "plain USER PASS" (POP3 USER/PASS, IMAP LOGIN). AUTHC_* or -1. */
int authclient_plain(struct authclient *, const char *user, const char *pass,
    char *out, size_t outlen);
/* Redeem a token on an attached connection that sent no "client" line. 0 or -1. */
int authclient_token(struct authclient *, const char *token, char *user,
    size_t userlen);
/* Redeem a token for the authenticated address (own connection). 0 or -1. */
int authclient_redeem(const char *sockpath, const char *token, char *user,
    size_t userlen, int timeout_ms);

/* Is s a SASL mechanism name (RFC 4422 3.1: [A-Z0-9-_], 1..20)? */
int authclient_mech_ok(const char *s);
/* Is s non-empty base64 (RFC 4648 4 alphabet, length a multiple of 4)? */
int authclient_b64_ok(const char *s);

#endif
