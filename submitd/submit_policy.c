/*
 * submit_policy: the MSA's policy hooks for the SMTP engine (RFC 6409):
 * AUTH through authd, the sender must belong to the authenticated user
 * (sender_login_map), any recipient once authenticated (local ones are
 * checked with lookupd), and the Message-ID and Date fix-ups (RFC 6409
 * 8.3, 8.4). Runs in submitd's per-connection process as mail_owner,
 * chrooted to the queue directory when started as root.
 */
#include "config.h"

#include <string.h>

#include "log.h"
#include "lookup.h"
#include "msgfix.h"
#include "strbuf.h"
#include "submitd.h"
#include "util.h"

#define SUBMIT_LOOKUP_TIMEOUT	10000	/* ms for one lookupd answer */

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

/* Authenticated: any domain; local recipients must exist. */
static void
submit_rcpt(struct smtp_session *s, const char *rcpt, char *canon,
    size_t canonlen, struct smtp_reply *r, void *arg)
{
	struct submitd *d = arg;
	char local[ADDR_BUF], domain[ADDR_BUF], safe[256];

	if (str_ieq(rcpt, "postmaster") &&
	    str_copy(canon, d->postmaster, canonlen) == -1)
		canon[0] = '\0';
	if (address_split(canon, local, sizeof(local), domain, sizeof(domain)) == -1) {
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", rcpt);
		return;
	}
	if (!conf_is_local_domain(&d->conf, domain)) {
		smtp_reply_set(r, 250, "2.1.5", "Ok");	/* queued for outbound */
		return;
	}
	switch (lookup_rcpt(LOOKUP_SOCKET, canon, SUBMIT_LOOKUP_TIMEOUT)) {
	case LOOKUP_OK:
	case LOOKUP_NOTLOCAL:
		smtp_reply_set(r, 250, "2.1.5", "Ok");
		break;
	case LOOKUP_NOUSER:
		smtp_reply_set(r, 550, "5.1.1", "<%s>: Recipient address rejected: "
		    "User unknown", canon);
		break;
	default:
		log_warn("recipient lookup for <%s> failed (lookupd)",
		    log_sanitize(safe, sizeof(safe), canon, strlen(canon)));
		smtp_reply_set(r, 451, "4.3.0", "<%s>: Temporary lookup failure", canon);
		break;
	}
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
	if (msgfix_add(&n, present, d->hostname) == -1 ||
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

	p->hostname = d->hostname;
	p->size_limit = d->conf.message_size_limit;
	p->rcpt_limit = d->conf.smtpd_recipient_limit;
	p->error_limit = d->conf.smtpd_error_limit;
	p->timeout_ms = d->conf.smtpd_timeout >= 2000000 ? 2000000000 :
	    (int)d->conf.smtpd_timeout * 1000;
	p->tls_required = 1;
	p->auth_required = 1;
	p->auth_mechs = d->auth.mechs;
	p->auth = submit_auth;
	p->mail_from = submit_mail_from;
	p->rcpt_to = submit_rcpt;
	p->header_fixup = submit_header_fixup;
	p->arg = d;
	d->auth.sockpath = AUTHC_SOCKET;
	d->auth.service = "smtp";
	d->auth.timeout_ms = 30000;
	d->auth.max_failures = d->conf.submission_auth_failures;
	d->auth.ac.fd = -1;
	str_copy(d->auth.mechs, SMTP_AUTH_FALLBACK_MECHS, sizeof(d->auth.mechs));
}
