/*
 * submit_policy: the MSA's policy hooks for the SMTP engine (RFC 6409):
 * AUTH through authd, the sender must belong to the authenticated user
 * (sender_login_map), any recipient once authenticated (local ones are
 * checked with lookupd), and the Message-ID and Date fix-ups (RFC 6409
 * 8.3, 8.4). Runs in submitd's session workers as mail_owner,
 * chrooted to the queue directory when started as root.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "msgfix.h"
#include "strbuf.h"
#include "submitd.h"
#include "util.h"

static int
submit_auth(struct smtp_session *s, const char *mech, const char *initial,
    char *user, size_t userlen, struct smtp_reply *r, void *arg)
{
	struct submitd *d = arg;

	return smtp_auth_run(&d->auth, s, mech, initial, user, userlen, r);
}

/* RFC 6409 6.1: the sender must be the user's (or allowed by the map). */
static int
submit_mail_from(struct smtp_session *s, const char *sender,
    struct smtp_reply *r, void *arg)
{
	struct submitd *d = arg;
	const char *user = smtp_session_auth_user(s);
	char safe[ADDR_BUF];

	if (user == NULL) {	/* auth_required makes this unreachable */
		smtp_reply_set(r, 530, "5.7.0", "Authentication required");
		return -1;
	}
	/* The null sender (vacation, MDN responders) names nobody. */
	if (*sender == '\0' || sender_map_allows(&d->map, sender, user))
		return 0;
	log_sanitize(safe, sizeof(safe), sender, strlen(sender));
	log_info("reject: MAIL from [%s]: 553 5.7.1 sender <%s> not owned by "
	    "user %s", smtp_session_client_addr(s), safe, user);
	smtp_reply_set(r, 553, "5.7.1", "<%s>: Sender address rejected: not "
	    "owned by user %s", safe, user);
	return -1;
}

/* Authenticated: any domain; local recipients must exist (lookupd). */
static void
submit_rcpt(struct smtp_session *s, const char *rcpt, char *canon,
    size_t canonlen, struct smtp_reply *r, void *arg)
{
	struct submitd *d = arg;

	smtp_daemon_rcpt(&d->sd, SMTP_DAEMON_RELAY_ANY, s, rcpt, canon,
	    canonlen, r);
}

/* RFC 6409 8.3, 8.4: Message-ID and Date, added in front when missing. */
static int
submit_header_fixup(struct smtp_session *s, struct strbuf *hdr,
    struct smtp_reply *r, void *arg)
{
	struct submitd *d = arg;
	unsigned present = msgfix_present(hdr->data ? hdr->data : "", hdr->len);
	struct strbuf n;

	(void)s;
	if ((present & (MSGFIX_DATE | MSGFIX_MSGID)) == (MSGFIX_DATE | MSGFIX_MSGID))
		return 0;
	strbuf_init(&n, hdr->max);
	if (msgfix_add(&n, present, d->sd.hostname) == -1 ||
	    (hdr->len > 0 && strbuf_append(&n, hdr->data, hdr->len) == -1)) {
		strbuf_free(&n);
		smtp_reply_set(r, 552, "5.3.4", "Error: message header too large");
		return -1;
	}
	strbuf_free(hdr);
	*hdr = n;
	return 0;
}

void
submit_policy_init(struct submitd *d)
{
	struct smtp_policy *p = &d->pol;

	smtp_daemon_policy(&d->sd, p);
	p->tls_required = 1;
	p->auth_required = 1;
	p->auth_mechs = d->auth.mechs;
	p->auth = submit_auth;
	p->mail_from = submit_mail_from;
	p->rcpt_to = submit_rcpt;
	p->header_fixup = submit_header_fixup;
	p->arg = d;
	smtp_daemon_auth_init(&d->sd, &d->auth);
	str_copy(d->auth.mechs, SMTP_AUTH_FALLBACK_MECHS, sizeof(d->auth.mechs));
}
