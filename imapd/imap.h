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
	/* the message most recently read for FETCH/SEARCH (one-entry cache) */
	uint32_t		 cache_uid;
	char			*cache_buf;
	size_t			 cache_len;
};

/* imap_login.c */
int imap_preauth(struct login_conn *);
void imap_session_failed(struct login_conn *);
/* The CAPABILITY list (without "CAPABILITY "): pre-auth depends on TLS state. */
const char *imap_capabilities(const struct conf *, int authenticated, int tls);

/* imap_session.c */
void imap_session(struct stream *, const struct conf *, const char *address,
    const char *peer);
/* Tagged replies: "tag OK/NO/BAD [code] text". code may be NULL. */
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

/* Handlers: one per verb. uid is set for "UID <verb>". 0 to go on, -1 to end the session. */
typedef int imap_handler(struct imap_session *, struct imap_cmd *, int uid);
imap_handler imap_cmd_list, imap_cmd_lsub, imap_cmd_create, imap_cmd_delete,
    imap_cmd_rename, imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_status,
    imap_cmd_namespace, imap_cmd_getquota, imap_cmd_getquotaroot, imap_cmd_setquota;
imap_handler imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect,
    imap_cmd_expunge, imap_cmd_check;
imap_handler imap_cmd_fetch;
imap_handler imap_cmd_store, imap_cmd_copy, imap_cmd_move, imap_cmd_append,
    imap_cmd_search, imap_cmd_sort, imap_cmd_thread;

/* imap_compress.c: switch s to DEFLATE both ways (RFC 4978). 0 or -1. */
int imap_compress_start(struct stream *);

#endif
