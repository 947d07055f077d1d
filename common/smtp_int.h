/*
 * smtp_int: the SMTP server engine's session structure, shared only by
 * the engine's own files (smtp_server.c: session and verbs; smtp_msg.c:
 * message content and the queue file). Not a public interface.
 */
#ifndef POSTERN_SMTP_INT_H
#define POSTERN_SMTP_INT_H

#include <stdarg.h>
#include <stddef.h>

#include "address.h"
#include "checks.h"
#include "qfile.h"
#include "smtp_parse.h"
#include "smtp_server.h"
#include "stream.h"
#include "strbuf.h"

#define SMTP_DATA_BUF	8192		/* DATA line buffer: 8x the text line limit */
#define SMTP_AUTH_LINE	12288		/* RFC 4954 4: AUTH command line limit */
#define SMTP_HDR_MAX	(64 * 1024)	/* header section kept for header_fixup */

/* Explicit session states; a verb lists the states it is allowed in. */
enum smtp_state {
	SMTP_S_INIT = 0x01,	/* before HELO/EHLO (and again after STARTTLS) */
	SMTP_S_HELO = 0x02,	/* greeted; no transaction */
	SMTP_S_MAIL = 0x04,	/* MAIL accepted; no recipient yet */
	SMTP_S_RCPT = 0x08,	/* at least one recipient accepted */
	SMTP_S_BDAT = 0x10	/* BDAT chunks received, no LAST yet */
};

/* Why the message being received will be refused (first reason wins). */
enum smtp_msg_err {
	SMTP_MSG_OK = 0,
	SMTP_MSG_TOOBIG,	/* 552 5.3.4 */
	SMTP_MSG_TOOLONG,	/* 500 5.5.2 */
	SMTP_MSG_LOOP,		/* 554 5.4.6 */
	SMTP_MSG_HDRBIG,	/* 552 5.3.4: header over SMTP_HDR_MAX with a fix-up hook */
	SMTP_MSG_IOERR,		/* 451 4.3.0 */
	SMTP_MSG_HOOK,		/* the header_fixup hook's reply */
	SMTP_MSG_NOQUEUE	/* no queue file after 354: 451 4.3.0 / 452 4.3.1 */
};

struct smtp_rcpt {
	char	*addr;
	char	*orcpt;		/* NULL if none */
	int	 notify;	/* ADDR_NOTIFY_* */
};

struct smtp_session {
	const struct smtp_policy *pol;
	struct stream	 st;
	enum smtp_state	 state;
	int		 done;		/* close after the pending replies */
	int		 esmtp;		/* EHLO (not HELO) */
	int		 tls;
	char		 tls_info[128];
	char		 client_addr[64];
	char		 helo[256];	/* sanitised */
	char		*auth_user;
	unsigned long long errors;

	/* the transaction */
	char		 sender[ADDR_BUF];
	int		 has_sender;
	struct address_mail_params mp;
	struct smtp_rcpt *rcpt;
	size_t		 nrcpt, rcap;

	/* the message being received */
	struct qfile_writer qf;
	int		 qf_open;
	enum smtp_msg_err msg_err;
	int		 noqueue_errno;	/* SMTP_MSG_NOQUEUE: why */
	struct smtp_reply hook_reply;
	unsigned long long msg_size;
	struct smtp_hdrscan hs;
	struct strbuf	 hdr;		/* header section, only with header_fixup */
	int		 hdr_flushed;
	struct smtp_crlf crlf;		/* BDAT line ends */
	int		 bdat_failed;	/* a chunk was refused; discard until LAST/RSET */
	struct checks_scan *cs;		/* content checks of this message; NULL: none */

	/* Buffers last: smtp_server_run() zeroes only what comes before them. */
	char		 line[SMTP_AUTH_LINE + 1];
	char		 out[SMTP_DATA_BUF + 1];
};

/* smtp_server.c */
void smtp_send(struct smtp_session *, int code, const char *ecode,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtp_send_nocount(struct smtp_session *, int code, const char *ecode,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtp_send_reply(struct smtp_session *, const struct smtp_reply *);
void smtp_txn_reset(struct smtp_session *);
/* A read failed (EOF, error, timeout): say so when it is a timeout; end. */
void smtp_read_failed(struct smtp_session *, ssize_t r, const char *where);
const char *smtp_proto_word(const struct smtp_session *);

/* smtp_msg.c */
void smtp_cmd_data(struct smtp_session *, char *arg);
void smtp_cmd_bdat(struct smtp_session *, char *arg);
void smtp_msg_abort(struct smtp_session *);

#endif
