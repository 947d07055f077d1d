/*
 * imapd's internal interface: the pre-auth dialogue (imap_login.c, run by
 * the login process as login_user, chrooted) and the authenticated and
 * selected states (imap_session.c and the imap_cmd_*.c handlers, run by
 * the session process as the mail owner, cwd = the user's Maildir).
 *
 * Module map (each file one job):
 *   imapd.c          main: sockets, TLS context, login_proto (like pop3d.c)
 *   imap_login.c     greeting, CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE, ID
 *   imap_parse.c     command reader/tokeniser (imap_parse.h)
 *   imap_session.c   the command loop, dispatch table, untagged updates, IDLE
 *   imap_cmd_mbox.c  LIST/LSUB/CREATE/DELETE/RENAME/(UN)SUBSCRIBE/STATUS/NAMESPACE/QUOTA
 *   imap_cmd_sel.c   SELECT/EXAMINE (CONDSTORE/QRESYNC), CLOSE, UNSELECT, EXPUNGE, CHECK
 *   imap_fetch.c     FETCH and its data items
 *   imap_cmd_msg.c   STORE, COPY, MOVE, APPEND, SEARCH/SORT/THREAD wiring
 *   imap_compress.c  COMPRESS=DEFLATE (zlib) stream layer
 *   imap_store.c     Maildir++ storage (imap_store.h)
 *   imap_mime.c      MIME parser, BODYSTRUCTURE, ENVELOPE (imap_mime.h)
 *   imap_search.c    SEARCH/SORT/THREAD (imap_search.h), imap_seqset.c, imap_utf7.c
 */
#ifndef POSTERN_IMAP_H
#define POSTERN_IMAP_H

#include <stdint.h>

#include "login.h"
#include "strbuf.h"
#include "imap_parse.h"
#include "imap_seqset.h"
#include "imap_store.h"

#define IMAP_PREAUTH_CMDS	50	/* commands before authentication */
#define IMAP_ERROR_LIMIT	20	/* BAD commands in a row before BYE */
#define IMAP_IDLE_SECS		1800	/* RFC 9051 5.4: at least 30 minutes */
#define IMAP_AUTOLOGOUT_SECS	1800	/* RFC 3501 5.4 */

/* ENABLEd extensions (RFC 5161) */
#define IMAP_EN_CONDSTORE	0x01
#define IMAP_EN_QRESYNC		0x02
#define IMAP_EN_UTF8		0x04	/* UTF8=ACCEPT */
#define IMAP_EN_REV2		0x08	/* IMAP4rev2 */

enum imap_state {
	IMAP_ST_AUTH = 1,
	IMAP_ST_SELECTED = 2,
	IMAP_ST_LOGOUT = 4
};

struct imap_session {
	struct stream		*s;
	const struct conf	*conf;
	const char		*user;		/* the authenticated address */
	const char		*peer;
	enum imap_state		 state;
	unsigned		 enabled;	/* IMAP_EN_* */
	struct imap_limits	 limits;
	struct strbuf		 out;		/* a response being built */
	struct imap_folder	 sel;		/* valid in IMAP_ST_SELECTED */
	struct imap_seqset	 searchres;	/* SEARCH RETURN (SAVE), RFC 5182 */
	int			 condstore_seen;	/* a CONDSTORE-using command ran: report MODSEQ */
	int			 bad_in_row;
	int			 compressed;	/* COMPRESS DEFLATE is active */
	/* set by the dispatcher for the command running: may expunges be sent? */
	int			 allow_expunge;
	/* the message most recently read for FETCH/SEARCH (one-entry cache) */
	uint32_t		 cache_uid;
	char			*cache_buf;
	size_t			 cache_len;
};

#define IMAP_IDLE_KEEPALIVE_SECS 120	/* "* OK Still here" while idling (NATs, the relay) */
#define IMAP_PREAUTH_LINE_MAX	8192	/* a command line before login */

/* imap_login.c */
int imap_preauth(struct login_conn *);
void imap_session_failed(struct login_conn *);
/* The CAPABILITY list (without "CAPABILITY "): pre-auth depends on TLS state. */
const char *imap_capabilities(const struct conf *, int authenticated, int tls);
/* The largest message APPEND takes (APPENDLIMIT, RFC 7889): message_size_limit. */
unsigned long long imap_appendlimit(const struct conf *);
/* Are the arguments of ID those of RFC 2971 3.1 (NIL or field/value pairs)? */
int imap_id_args_ok(const struct imap_cmd *);

/* imap_session.c */
void imap_session(struct stream *, const struct conf *, const char *address,
    const char *peer);
/*
 * Tagged replies: "tag OK/NO/BAD [code] text". code may be NULL. In the
 * selected state an OK or NO is preceded by imap_session_sync(s,
 * s->allow_expunge): the untagged updates of RFC 3501 7 / 9051 7.
 */
void imap_reply(struct imap_session *, const struct imap_cmd *, const char *status,
    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Untagged: "* " + the line, CRLF added. */
void imap_untagged(struct imap_session *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Sync the selected folder and send EXISTS/EXPUNGE (or VANISHED with
 * QRESYNC)/FETCH FLAGS for what others changed. allow_expunge is 0
 * during FETCH, STORE and SEARCH (RFC 3501 7.4.1). 0 or -1.
 */
int imap_session_sync(struct imap_session *, int allow_expunge);
/* The selected folder's message i (0-based) as content (CRLF), through the cache. */
int imap_session_msg(struct imap_session *, size_t i, const char **buf, size_t *len);
/* Forget the cached message (after the folder changed under it). */
void imap_session_msg_drop(struct imap_session *);
/* Is MODSEQ to be reported in FETCH responses (CONDSTORE enabled or used)? */
int imap_session_modseq(const struct imap_session *);
/*
 * A mailbox name argument as the store's name (modified UTF-7; UTF-8
 * converted when UTF8=ACCEPT is enabled; "INBOX" in any case, and its
 * children, as "INBOX"). 0, or -1 (the name is not valid).
 */
int imap_arg_mailbox(const struct imap_session *, const struct imap_arg *,
    char *out, size_t outlen);
/* Append a store name as the client sees it (UTF-8 when enabled), as an astring. */
int imap_put_mailbox(const struct imap_session *, struct strbuf *, const char *name);
/* Append "(\Seen kw ...)" for message m of folder f (\Recent included). */
int imap_put_flags(struct strbuf *, const struct imap_folder *, const struct imap_msg *);

/* Handlers: one per verb. uid is set for "UID <verb>". 0 to go on, -1 to end the session. */
typedef int imap_handler(struct imap_session *, struct imap_cmd *, int uid);
imap_handler imap_cmd_list, imap_cmd_lsub, imap_cmd_create, imap_cmd_delete,
    imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_status,
    imap_cmd_namespace, imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;
imap_handler imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect,
    imap_cmd_expunge, imap_cmd_check;
/* imap_idle.c */
imap_handler imap_cmd_idle;
imap_handler imap_cmd_fetch;
imap_handler imap_cmd_store, imap_cmd_copy, imap_cmd_move, imap_cmd_append,
    imap_cmd_search, imap_cmd_sort, imap_cmd_thread;

/* COMPRESS=DEFLATE is offered (imap_compress.c is built; 0 to leave it out). */
#ifndef IMAP_HAVE_COMPRESS
#define IMAP_HAVE_COMPRESS	1
#endif
/* imap_compress.c: switch s to DEFLATE both ways (RFC 4978). 0 or -1. */
int imap_compress_start(struct stream *);

#endif
