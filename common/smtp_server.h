/*
 * smtp_server: the SMTP server engine shared by smtpd (port 25) and
 * submitd (587/465). It speaks the protocol (RFC 5321 with PIPELINING,
 * SIZE, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS, SMTPUTF8, CHUNKING, DSN)
 * and writes the queue file; the daemon supplies the policy as a struct
 * of settings and hooks. The daemon must have dropped privileges and
 * chdir()ed to the queue directory before it calls smtp_server_run().
 */
#ifndef POSTERN_SMTP_SERVER_H
#define POSTERN_SMTP_SERVER_H

#include <stddef.h>
#include <openssl/ssl.h>

struct smtp_session;	/* opaque; hooks use the accessors below */
struct strbuf;
struct checks;

/* A reply chosen by a hook: code 250, ecode "2.1.5", text "Ok". */
struct smtp_reply {
	int	 code;
	char	 ecode[16];
	char	 text[256];
};

/* Fill a reply (text is truncated to fit). Returns r. */
struct smtp_reply *smtp_reply_set(struct smtp_reply *r, int code,
    const char *ecode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct smtp_policy {
	const char	*hostname;	/* greeting, EHLO reply, Received */
	const char	*greeting;	/* text after "220 hostname "; NULL: "ESMTP postern" */
	unsigned long long size_limit;	/* message_size_limit; 0 = none */
	unsigned long long rcpt_limit;	/* smtpd_recipient_limit; 0 = none */
	unsigned long long error_limit;	/* smtpd_error_limit; 0 = none */
	int		 timeout_ms;	/* smtpd_timeout, per read/write */

	SSL_CTX		*tls_ctx;	/* NULL: no STARTTLS */
	int		 tls_implicit;	/* handshake before the greeting (465) */
	int		 tls_required;	/* MAIL and AUTH refused before TLS (530 5.7.0) */

	/*
	 * AUTH (issue 3, submitd). auth_mechs is the EHLO "AUTH" list
	 * ("PLAIN LOGIN"), NULL = AUTH not offered. The engine parses
	 * "AUTH mech [initial-response]" and calls auth(); the hook runs the
	 * SASL exchange using smtp_session_auth_challenge() and returns 0
	 * with the user name in user (then 235 2.7.0), or -1 with a reply
	 * (535 5.7.8, 454 4.7.0 ...). auth_required: MAIL before a successful
	 * AUTH gets 530 5.7.0 (RFC 4954 6). With tls_ctx set, AUTH is offered
	 * and accepted only after STARTTLS (530 5.7.0 before). A 421 reply
	 * from any hook closes the session after it is sent.
	 */
	const char	*auth_mechs;
	int		 auth_required;
	int		(*auth)(struct smtp_session *, const char *mech,
			    const char *initial, char *user, size_t userlen,
			    struct smtp_reply *, void *arg);

	/*
	 * MAIL FROM accepted by syntax: may refuse it. sender is "" for the
	 * null path. Return 0 to accept (the engine answers 250 2.1.0), or
	 * -1 with the reply filled (e.g. 553 5.7.1 sender not owned by the
	 * authenticated user). NULL: every sender is accepted.
	 */
	int		(*mail_from)(struct smtp_session *, const char *sender,
			    struct smtp_reply *, void *arg);
	/*
	 * RCPT TO: decide on a recipient. rcpt is the parsed address (or the
	 * bare "postmaster"); the hook may rewrite it into canon (size
	 * canonlen, preset to rcpt) -- what is queued. It fills the reply;
	 * a 2xx code accepts the recipient. Required.
	 */
	void		(*rcpt_to)(struct smtp_session *, const char *rcpt,
			    char *canon, size_t canonlen, struct smtp_reply *,
			    void *arg);
	/*
	 * Header fix-up (submitd: Message-ID, Date, Sender checks). Called
	 * once per message with the whole header section (LF line ends, up
	 * to the empty line, capped at 64 KiB); the hook may edit the buffer
	 * (append fields). Return 0, or -1 with a reply to refuse the
	 * message. NULL: headers go to the queue untouched (smtpd).
	 */
	int		(*header_fixup)(struct smtp_session *, struct strbuf *hdr,
			    struct smtp_reply *, void *arg);
	void		*arg;		/* passed to every hook */
	/*
	 * After qfile_commit() succeeded, before the 250 reply: the message
	 * is incoming/QID (relative to cwd). postern-sendmail -bs runs the
	 * engine in a private directory and hands each message on to
	 * postdrop here. Return 0 (250), or -1 with the reply filled
	 * (the hook disposes of the file). NULL: 250 at once.
	 */
	int		(*committed)(struct smtp_session *, const char *qid,
			    struct smtp_reply *, void *arg);
	/*
	 * Content checks (common/checks.h: header_checks, mime_header_checks,
	 * body_checks), matched as the content arrives; NULL or empty: none.
	 * Before the final reply: REJECT answers 550 5.7.1 and queues
	 * nothing, DISCARD answers 250 and drops the message, HOLD commits it
	 * into hold/ (committed() is not called for it).
	 */
	const struct checks *checks;
};

/*
 * Run one session on the connection rfd/wfd (the same fd for a socket;
 * 0/1 under inetd) from client_addr (text, e.g. "192.0.2.1"). Returns
 * when the client quits or the session ends (timeout, error limit, I/O
 * error). Never exits the process. The caller closes the fds after it; a
 * socket may be left blocking (stream_init_sock).
 */
void smtp_server_run(const struct smtp_policy *, int rfd, int wfd,
    const char *client_addr);

/* Accessors for hooks. */
const char *smtp_session_client_addr(const struct smtp_session *);
const char *smtp_session_helo(const struct smtp_session *);	/* "" before HELO/EHLO */
const char *smtp_session_auth_user(const struct smtp_session *);	/* NULL if none */
const char *smtp_session_sender(const struct smtp_session *);	/* NULL before MAIL */
int smtp_session_tls(const struct smtp_session *);
size_t smtp_session_nrcpt(const struct smtp_session *);
/*
 * For the AUTH hook: send "334 challenge" (base64 text, may be "") and
 * read the client's answer line into resp (CRLF removed). 0, or -1 on
 * I/O error, timeout, or an overlong answer; a "*" answer is returned
 * as is (the hook then replies 501 5.0.0 per RFC 4954 4).
 */
int smtp_session_auth_challenge(struct smtp_session *, const char *challenge,
    char *resp, size_t resplen);

/* RFC 5322 3.3 date-time in UTC ("Sat, 22 Nov 2025 02:40:00 +0000"). */
const char *smtp_date(char *buf, size_t len, long long when);

#endif
