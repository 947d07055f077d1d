/*
 * smtp_auth: RFC 4954 AUTH for the SMTP engine, with the SASL exchange
 * run by authd. Runs in the session process of submitd (or smtpd),
 * unprivileged and chrooted to the queue directory; it talks to
 * authd on private/auth. The client's base64 lines go to authd only
 * after they were checked (authclient_b64_ok), and every buffer that
 * held one is wiped. RFC 4954 4: "*" aborts (501 5.0.0).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp_auth.h"
#include "util.h"

#define SMTP_AUTH_ROUNDS	16		/* challenges in one exchange, at most */
#define SMTP_AUTH_RESP		12288		/* the engine's AUTH line limit */

static int
smtp_auth_connect(struct smtp_auth *a)
{
	if (a->ac.fd != -1)
		return 0;
	return authclient_open(&a->ac, a->sockpath, a->service, a->ip, a->timeout_ms);
}

void
smtp_auth_begin(struct smtp_auth *a, const char *client_ip)
{
	a->ac.fd = -1;
	a->failures = 0;
	if (str_copy(a->ip, *client_ip ? client_ip : "unknown", sizeof(a->ip)) == -1)
		str_copy(a->ip, "unknown", sizeof(a->ip));
	a->ip[strcspn(a->ip, " \t\r\n")] = '\0';
	if (smtp_auth_connect(a) == -1 ||
	    authclient_mechs(&a->ac, a->mechs, sizeof(a->mechs)) == -1) {
		authclient_close(&a->ac);
		str_copy(a->mechs, SMTP_AUTH_FALLBACK_MECHS, sizeof(a->mechs));
		return;
	}
	if (a->mechs[0] == '\0')
		str_copy(a->mechs, SMTP_AUTH_FALLBACK_MECHS, sizeof(a->mechs));
}

void
smtp_auth_end(struct smtp_auth *a)
{
	authclient_close(&a->ac);
}

/* authd said "fail REASON": the reply, and the per-session cap. */
static void
smtp_auth_failed(struct smtp_auth *a, const char *reason, const char *mech,
    struct smtp_reply *r)
{
	if (strcmp(reason, "auth") == 0) {
		a->failures++;
		log_info("authentication failed: mechanism %s from [%s] (%llu in "
		    "this session)", mech, a->ip, a->failures);
		if (a->max_failures != 0 && a->failures >= a->max_failures)
			smtp_reply_set(r, 421, "4.7.0", "Error: too many failed "
			    "authentication attempts");
		else
			smtp_reply_set(r, 535, "5.7.8", "Error: authentication "
			    "credentials invalid");
	} else if (strcmp(reason, "limit") == 0) {
		log_info("authentication refused: too many failures from [%s]", a->ip);
		smtp_reply_set(r, 421, "4.7.0", "Error: too many failed logins "
		    "from your address; try again later");
	} else if (strcmp(reason, "mech") == 0) {
		smtp_reply_set(r, 504, "5.5.4", "Unrecognized authentication type");
	} else if (strcmp(reason, "proto") == 0) {
		smtp_reply_set(r, 501, "5.5.2", "Invalid authentication data");
	} else {
		smtp_reply_set(r, 454, "4.7.0", "Temporary authentication failure");
	}
}

/* The challenge loop. AUTHC_OK (token in out), -2 (reply set), -1 (I/O). */
static int
smtp_auth_exchange(struct smtp_auth *a, struct smtp_session *s, int res,
    char *out, size_t outlen, struct smtp_reply *r)
{
	char *resp = xmalloc(SMTP_AUTH_RESP + 1);
	int round;

	for (round = 0; res == AUTHC_CONT && round < SMTP_AUTH_ROUNDS; round++) {
		if (smtp_session_auth_challenge(s, out, resp, SMTP_AUTH_RESP + 1) == -1) {
			smtp_reply_set(r, 500, "5.5.6", "Authentication exchange line "
			    "is too long");
			res = -2;
			break;
		}
		if (strcmp(resp, "*") == 0) {
			smtp_reply_set(r, 501, "5.0.0", "Authentication aborted");
			res = -2;
			break;
		}
		if (*resp != '\0' && !authclient_b64_ok(resp)) {
			smtp_reply_set(r, 501, "5.5.2", "Invalid base64 data");
			res = -2;
			break;
		}
		res = authclient_step(&a->ac, resp, out, outlen);
		secure_zero(resp, SMTP_AUTH_RESP + 1);
	}
	if (res == AUTHC_CONT) {
		smtp_reply_set(r, 535, "5.7.8", "Error: authentication exchange too long");
		res = -2;
	}
	secure_zero(resp, SMTP_AUTH_RESP + 1);
	free(resp);
	return res;
}

/* Check the AUTH arguments. 0, or -1 with the reply. */
static int
smtp_auth_args(const char *mech, const char *initial, char *umech, size_t ulen,
    struct smtp_reply *r)
{
	size_t i;

	if (str_copy(umech, mech, ulen) == -1 || strlen(mech) > AUTHC_MECH_MAX) {
		smtp_reply_set(r, 504, "5.5.4", "Unrecognized authentication type");
		return -1;
	}
	for (i = 0; umech[i]; i++)
		umech[i] = (char)toupper((unsigned char)umech[i]);
	if (!authclient_mech_ok(umech)) {
		smtp_reply_set(r, 504, "5.5.4", "Unrecognized authentication type");
		return -1;
	}
	if (initial != NULL && strcmp(initial, "=") != 0 && !authclient_b64_ok(initial)) {
		smtp_reply_set(r, 501, "5.5.2", "Invalid base64 data");
		return -1;
	}
	return 0;
}

int
smtp_auth_run(struct smtp_auth *a, struct smtp_session *s, const char *mech,
    const char *initial, char *user, size_t userlen, struct smtp_reply *r)
{
	char umech[AUTHC_MECH_MAX + 1], *out;
	int res;

	if (smtp_auth_args(mech, initial, umech, sizeof(umech), r) == -1)
		return -1;
	if (smtp_auth_connect(a) == -1) {
		smtp_reply_set(r, 454, "4.7.0", "Temporary authentication failure");
		return -1;
	}
	out = xmalloc(AUTHC_LINE + 1);
	/* RFC 4954 4: "=" is an empty initial response. */
	res = authclient_start(&a->ac, umech, initial == NULL ? NULL :
	    strcmp(initial, "=") == 0 ? "" : initial, out, AUTHC_LINE + 1);
	res = smtp_auth_exchange(a, s, res, out, AUTHC_LINE + 1, r);
	if (res == AUTHC_OK && authclient_redeem(a->sockpath, out, user, userlen,
	    a->timeout_ms) == -1) {
		log_err("authd: cannot redeem the login token");
		res = -1;
	}
	if (res == AUTHC_FAIL)
		smtp_auth_failed(a, out, umech, r);
	secure_zero(out, AUTHC_LINE + 1);
	free(out);
	if (res == -1) {
		authclient_close(&a->ac);	/* reconnect on the next AUTH */
		smtp_reply_set(r, 454, "4.7.0", "Temporary authentication failure");
	}
	if (res != AUTHC_OK)
		return -1;
	log_info("[%s]: authenticated user=%s mechanism=%s", a->ip, user, umech);
	return 0;
}
