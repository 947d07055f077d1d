/*
 * qmgr_dsn_fmt: the pieces of a delivery status notification (RFC 3461,
 * RFC 3464) that need no queue, no process and no I/O, so that unit
 * tests and a fuzz target can reach them: NOTIFY and RET as policy, the
 * xtext of ENVID and ORCPT turned into display text, the status code of
 * a diagnostic, the per-message and per-recipient fields of the
 * message/delivery-status part, and the checks the smtp client makes
 * before it passes the stored parameters on to a next hop.
 *
 * Linked into qmgr (the notices) and the smtp client (the checks).
 */
#ifndef POSTERN_QMGR_DSN_H
#define POSTERN_QMGR_DSN_H

#include <stddef.h>
#include <time.h>

struct strbuf;

/* NOTIFY keywords (RFC 3461 4.1) as bits. */
#define DSN_NOTIFY_NEVER	0x01
#define DSN_NOTIFY_SUCCESS	0x02
#define DSN_NOTIFY_FAILURE	0x04
#define DSN_NOTIFY_DELAY	0x08
/*
 * No NOTIFY: RFC 3461 4.1 lets the MTA choose FAILURE or FAILURE,DELAY.
 * postern chooses FAILURE,DELAY, as Postfix and sendmail do.
 */
#define DSN_NOTIFY_DEFAULT	(DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)

#define DSN_ENVID_MAX		100	/* RFC 3461 4.4 */
#define DSN_ORCPT_MAX		500	/* RFC 3461 4.2 */

/* What happened to a recipient (RFC 3464 2.3.3 action-value). */
enum dsn_action {
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED
};

/* One recipient's fields (RFC 3464 2.3). */
struct dsn_rcpt {
	const char	*final;		/* Final-Recipient address */
	const char	*orcpt;		/* ORCPT as stored ("rfc822;xtext") or NULL */
	enum dsn_action	 action;
	const char	*diag;		/* "CODE X.Y.Z text" or NULL */
	const char	*rmta;		/* "host" or "host[ip]:port", NULL or "none" */
	time_t		 last_attempt;	/* Last-Attempt-Date, 0: none */
	time_t		 until;		/* Will-Retry-Until (delayed only), 0: none */
};

/*
 * The bits of a stored NOTIFY value ("SUCCESS,FAILURE", "NEVER"); NULL
 * or "" gives DSN_NOTIFY_DEFAULT, and so does a value that is not a
 * valid NOTIFY list (a queue file is not trusted to hold one).
 */
int dsn_notify_bits(const char *notify);
/* Does a recipient with this NOTIFY get a notice for action a? */
int dsn_wants(const char *notify, enum dsn_action a);
/*
 * Is the whole message returned (1) or only its header (0)? RFC 3461
 * 4.3 and 6.2: RET=FULL asks for the message in a failure notice; a
 * notice without a failure (delayed, delivered, relayed) returns only
 * the header. No RET: the header only (our choice under 4.3).
 */
int dsn_ret_full(const char *ret, enum dsn_action a);
/* "failed", "delayed", "delivered", "relayed". */
const char *dsn_action_word(enum dsn_action a);

/*
 * xtext (RFC 3461 4) as display text: decoded when it is valid xtext
 * (RFC 3461 6.3 (a): Original-Envelope-Id is NOT xtext), else the
 * stored text with control characters replaced. Returns 0 when it was
 * decoded, 1 when it was shown as stored.
 */
int dsn_xtext_text(const char *xtext, char *out, size_t outlen);
/*
 * A stored ORCPT "type;xtext" as an Original-Recipient value,
 * "type; decoded" (RFC 3464 2.3.1). -1 when it has no type.
 */
int dsn_orcpt_text(const char *orcpt, char *out, size_t outlen);
/* RFC 5322 date-time of t, local time. */
void dsn_date(time_t t, char *out, size_t outlen);
/* A duration for people: "4 hours", "1 day", "90 seconds". */
void dsn_duration(long long seconds, char *out, size_t outlen);
/*
 * The status code for action a from a diagnostic "CODE X.Y.Z text":
 * its X.Y.Z when the class fits a (5 or 4 for failed, 4 for delayed, 2
 * for delivered and relayed), else 5.0.0, 4.0.0 or 2.0.0 (RFC 3461 6.3
 * (g)). *rest points into diag after the code (or at a default text).
 */
void dsn_status(const char *diag, enum dsn_action a, char *status,
    size_t slen, const char **rest);

/* Per-message fields (RFC 3464 2.2). 0 or -1 (the buffer is full). */
int dsn_fields_message(struct strbuf *, const char *reporting_mta,
    const char *qid, const char *envid, time_t arrival);
/* One recipient's fields, after an empty line (RFC 3464 2.3). 0 or -1. */
int dsn_fields_rcpt(struct strbuf *, const struct dsn_rcpt *);

/*
 * The smtp client's checks before a stored value goes on the wire
 * (RFC 3461 4): each 1 when s may be sent as it is, else 0.
 */
int dsn_xtext_ok(const char *s, size_t max);
int dsn_orcpt_ok(const char *s);
int dsn_notify_ok(const char *s);
int dsn_ret_ok(const char *s);
/* Encode in as xtext (RFC 3461 4). 0, or -1 when it does not fit. */
int dsn_xtext_encode(const char *in, char *out, size_t outlen);

#endif
