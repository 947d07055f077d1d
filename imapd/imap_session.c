/*
 * imapd after authentication: the Authenticated and Selected states of
 * RFC 3501 / RFC 9051. The command loop, the dispatch table (one row per
 * verb with the states it is valid in), tagged and untagged replies, and
 * the small commands (CAPABILITY, NOOP, LOGOUT, ENABLE, ID, COMPRESS).
 * Mailbox commands are in imap_cmd_mbox.c and imap_cmd_sel.c, message
 * commands in imap_fetch.c and imap_cmd_msg.c, IDLE and the untagged
 * updates in imap_idle.c.
 *
 * Runs in the session process as the mail owner (vmail_user when started
 * as root; DESIGN.md rule 4) with the user's Maildir as cwd. The client
 * is reached through the login process, which relays (and does TLS), or
 * directly after a login without TLS.
 */
#include "config.h"

#include <sys/mman.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "imap_utf7.h"
#include "log.h"
#include "util.h"

#define IMAP_V_UID	0x01	/* may follow "UID" */
#define IMAP_V_NOEXP	0x02	/* no EXPUNGE while it runs, unless UID (RFC 3501 7.4.1) */
#define IMAP_UNTAGGED_MAX	(16 * 1024 * 1024)
#define IMAP_CMD_KEEP		(256 * 1024)	/* command buffer kept between commands */
#define IMAP_IDLE_TRIM_MS	100		/* quiet this long: give memory back */

static imap_handler imap_cmd_capability, imap_cmd_noop, imap_cmd_logout,
    imap_cmd_enable, imap_cmd_id, imap_cmd_compress, imap_cmd_again;

static const struct imap_verb {
	const char	*name;
	imap_handler	*fn;
	unsigned	 states;	/* IMAP_ST_* it is valid in */
	unsigned	 flags;		/* IMAP_V_* */
} imap_verbs[] = {
#define ANY	(IMAP_ST_AUTH | IMAP_ST_SELECTED)
#define SEL	IMAP_ST_SELECTED
	{ "CAPABILITY", imap_cmd_capability, ANY, 0 },
	{ "NOOP", imap_cmd_noop, ANY, 0 },
	{ "LOGOUT", imap_cmd_logout, ANY, 0 },
	{ "ENABLE", imap_cmd_enable, IMAP_ST_AUTH, 0 },	/* RFC 5161 3.1 */
	{ "ID", imap_cmd_id, ANY, 0 },
	{ "IDLE", imap_cmd_idle, ANY, 0 },
	{ "COMPRESS", imap_cmd_compress, ANY, 0 },
	{ "LOGIN", imap_cmd_again, ANY, 0 },
	{ "AUTHENTICATE", imap_cmd_again, ANY, 0 },
	{ "STARTTLS", imap_cmd_again, ANY, 0 },
	{ "NAMESPACE", imap_cmd_namespace, ANY, 0 },
	{ "LIST", imap_cmd_list, ANY, 0 },
	{ "LSUB", imap_cmd_lsub, ANY, 0 },
	{ "CREATE", imap_cmd_create, ANY, 0 },
	{ "DELETE", imap_cmd_delete, ANY, 0 },
	{ "RENAME", imap_cmd_rename, ANY, 0 },
	{ "SUBSCRIBE", imap_cmd_subscribe, ANY, 0 },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, ANY, 0 },
	{ "STATUS", imap_cmd_status, ANY, 0 },
	{ "GETQUOTA", imap_cmd_getquota, ANY, 0 },
	{ "GETQUOTAROOT", imap_cmd_getquotaroot, ANY, 0 },
	{ "SETQUOTA", imap_cmd_setquota, ANY, 0 },
	{ "SELECT", imap_cmd_select, ANY, 0 },
	{ "EXAMINE", imap_cmd_examine, ANY, 0 },
	{ "APPEND", imap_cmd_append, ANY, 0 },
	{ "CLOSE", imap_cmd_close, SEL, 0 },
	{ "UNSELECT", imap_cmd_unselect, SEL, 0 },
	{ "CHECK", imap_cmd_check, SEL, 0 },
	{ "EXPUNGE", imap_cmd_expunge, SEL, IMAP_V_UID },
	{ "FETCH", imap_cmd_fetch, SEL, IMAP_V_UID | IMAP_V_NOEXP },
	{ "STORE", imap_cmd_store, SEL, IMAP_V_UID | IMAP_V_NOEXP },
	{ "SEARCH", imap_cmd_search, SEL, IMAP_V_UID | IMAP_V_NOEXP },
	{ "SORT", imap_cmd_sort, SEL, IMAP_V_UID | IMAP_V_NOEXP },
	{ "THREAD", imap_cmd_thread, SEL, IMAP_V_UID | IMAP_V_NOEXP },
	{ "COPY", imap_cmd_copy, SEL, IMAP_V_UID },
	{ "MOVE", imap_cmd_move, SEL, IMAP_V_UID },
#undef ANY
#undef SEL
};

static const char *
imap_tag(const struct imap_cmd *cmd)
{
	return cmd != NULL && cmd->tag[0] != '\0' ? cmd->tag : "*";
}

void
imap_reply(struct imap_session *sess, const struct imap_cmd *cmd, const char *status,
    const char *code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	/* RFC 3501 7: the updates go before the command completes. */
	if (sess->state == IMAP_ST_SELECTED && strcmp(status, "BAD") != 0)
		imap_session_sync(sess, sess->allow_expunge);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	stream_printf(sess->s, "%s %s %s%s%s%s\r\n", imap_tag(cmd), status,
	    code != NULL ? "[" : "", code != NULL ? code : "", code != NULL ? "] " : "", text);
	if (strcmp(status, "BAD") == 0)
		sess->bad_in_row++;
	else
		sess->bad_in_row = 0;
}

void
imap_untagged(struct imap_session *sess, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, IMAP_UNTAGGED_MAX);
	va_start(ap, fmt);
	if (strbuf_puts(&sb, "* ") == 0 && strbuf_vprintf(&sb, fmt, ap) == 0 &&
	    strbuf_puts(&sb, "\r\n") == 0)
		stream_write(sess->s, sb.data, sb.len);
	va_end(ap);
	strbuf_free(&sb);
}

int
imap_session_modseq(const struct imap_session *sess)
{
	return (sess->enabled & IMAP_EN_CONDSTORE) != 0 || sess->condstore_seen;
}

/* RFC 3501 6.1.1 */
static int
imap_cmd_capability(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	imap_untagged(sess, "CAPABILITY %s", imap_capabilities(sess->conf, 1, 1));
	imap_reply(sess, cmd, "OK", NULL, "Capability completed");
	return 0;
}

/* RFC 3501 6.1.2 (and CHECK, 6.4.1: nothing to write out, every change is on disk) */
static int
imap_cmd_noop(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "%s completed", cmd->name);
	return 0;
}

/* RFC 3501 6.1.3 */
static int
imap_cmd_logout(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	sess->state = IMAP_ST_LOGOUT;
	imap_untagged(sess, "BYE Logging out");
	imap_reply(sess, cmd, "OK", NULL, "Logout completed");
	return -1;
}

/* LOGIN, AUTHENTICATE, STARTTLS once authenticated: RFC 3501 6.2 */
static int
imap_cmd_again(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	imap_reply(sess, cmd, "BAD", NULL, "Already authenticated");
	return 0;
}

/* RFC 5161 3.1 (QRESYNC implies CONDSTORE, RFC 7162 3.2.3) */
static int
imap_cmd_enable(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	static const struct { const char *name; unsigned bits; } ext[] = {
		{ "CONDSTORE", IMAP_EN_CONDSTORE },
		{ "QRESYNC", IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE },
		{ "UTF8=ACCEPT", IMAP_EN_UTF8 },
		{ "IMAP4REV2", IMAP_EN_REV2 },
	};
	char line[256];
	size_t i, j, off;

	(void)uid;
	if (cmd->nargs == 0) {
		imap_reply(sess, cmd, "BAD", NULL, "ENABLE needs arguments");
		return 0;
	}
	off = (size_t)snprintf(line, sizeof(line), "ENABLED");
	for (i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			imap_reply(sess, cmd, "BAD", NULL, "Invalid ENABLE arguments");
			return 0;
		}
		for (j = 0; j < NELEM(ext); j++) {
			if (!str_ieq(cmd->args[i].str, ext[j].name) ||
			    (sess->enabled & ext[j].bits) == ext[j].bits)
				continue;
			sess->enabled |= ext[j].bits;
			/* only what this command enabled is listed */
			if (off + strlen(ext[j].name) + 2 < sizeof(line))
				off += (size_t)snprintf(line + off, sizeof(line) - off, " %s",
				    ext[j].name);
		}
	}
	imap_untagged(sess, "%s", line);
	imap_reply(sess, cmd, "OK", NULL, "Enabled");
	return 0;
}

/* RFC 2971 */
static int
imap_cmd_id(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (!imap_id_args_ok(cmd)) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid ID arguments");
		return 0;
	}
	imap_untagged(sess, "ID (\"name\" \"postern\")");
	imap_reply(sess, cmd, "OK", NULL, "ID completed");
	return 0;
}

/* RFC 4978 3 */
static int
imap_cmd_compress(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 1 || !imap_arg_atom_is(&cmd->args[0], "DEFLATE")) {
		imap_reply(sess, cmd, "BAD", NULL, "Unknown compression mechanism");
		return 0;
	}
	if (!IMAP_HAVE_COMPRESS) {
		imap_reply(sess, cmd, "NO", "CANNOT", "Compression is not available");
		return 0;
	}
	if (sess->compressed) {
		imap_reply(sess, cmd, "NO", "COMPRESSIONACTIVE", "DEFLATE is already active");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "DEFLATE active");
	if (stream_flush(sess->s) == -1)
		return -1;
#if IMAP_HAVE_COMPRESS
	if (imap_compress_start(sess->s) == -1)
		return -1;
#endif
	sess->compressed = 1;
	return 0;
}

/* The row of a verb, or NULL. */
static const struct imap_verb *
imap_verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(imap_verbs); i++)
		if (str_ieq(name, imap_verbs[i].name))
			return &imap_verbs[i];
	return NULL;
}

/* Check a command against its row, then run it. 0 or -1 (end the session). */
static int
imap_session_dispatch(struct imap_session *sess, struct imap_cmd *cmd)
{
	const struct imap_verb *v;
	struct imap_arg *args = cmd->args;
	size_t nargs = cmd->nargs;
	int uid = 0, r;

	sess->allow_expunge = 1;
	if (strcmp(cmd->name, "UID") == 0) {
		if (cmd->nargs == 0 || cmd->args[0].type != IMAP_ARG_ATOM ||
		    (v = imap_verb_find(cmd->args[0].str)) == NULL || !(v->flags & IMAP_V_UID)) {
			imap_reply(sess, cmd, "BAD", NULL, "Unknown UID command");
			return 0;
		}
		uid = 1;
	} else if ((v = imap_verb_find(cmd->name)) == NULL) {
		imap_reply(sess, cmd, "BAD", NULL, "Unknown command");
		return 0;
	}
	if (!(v->states & sess->state)) {
		imap_reply(sess, cmd, "BAD", NULL, sess->state == IMAP_ST_SELECTED ?
		    "Not valid in the selected state" : "No mailbox selected");
		return 0;
	}
	if (v->fn == NULL) {
		imap_reply(sess, cmd, "NO", "CANNOT", "%s is not implemented", v->name);
		return 0;
	}
	sess->allow_expunge = uid || !(v->flags & IMAP_V_NOEXP);
	if (uid) {
		cmd->args++;	/* the handler sees the arguments after the verb */
		cmd->nargs--;
	}
	r = v->fn(sess, cmd, uid);
	cmd->args = args;
	cmd->nargs = nargs;
	sess->allow_expunge = 1;
	return r;
}

/* The tag the login process passed on (see imap_login.c). 0 or -1. */
static int
imap_session_tag(struct stream *s, char *tag, size_t taglen)
{
	ssize_t n = stream_getline(s, tag, taglen - 1);
	size_t i;

	if (n < 3 || tag[n - 1] != '\n' || tag[n - 2] != '\r')
		return -1;
	tag[n - 2] = '\0';
	for (i = 0; tag[i] != '\0'; i++)	/* RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+"> */
		if (tag[i] <= ' ' || tag[i] >= 0x7f || strchr("+(){%*\"\\", tag[i]) != NULL)
			return -1;
	return 0;
}

/* A command imap_cmd_read refused: answer it. */
static void
imap_session_refused(struct imap_session *sess, struct imap_cmd *cmd, int rr,
    const char *err)
{
	sess->allow_expunge = 0;
	if (rr == IMAP_READ_TOOBIG)
		imap_reply(sess, cmd, "BAD", "TOOBIG", "%s", err[0] ? err : "Command too long");
	else
		imap_reply(sess, cmd, "BAD", NULL, "%s", err[0] ? err : "Invalid command");
}

/*
 * The stack pages below this frame: deeper calls (the login handover,
 * SELECT, APPEND's copy buffers) left them dirty, and an idle session
 * needs none of them (they read as zeros when next used). The bounds
 * come from the [stack] line of /proc/self/maps; the page below the one
 * this frame starts in stays, for this frame and the calls made from here.
 */
static void __attribute__((noinline))
imap_session_trim_stack(void)
{
	uintptr_t top = ((uintptr_t)__builtin_frame_address(0) & ~(uintptr_t)4095) -
	    4096, lo = 0, hi;
	char line[256], *end;
	FILE *f;

	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (lo == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "[stack]") == NULL)
			continue;
		lo = (uintptr_t)strtoull(line, &end, 16);
		hi = *end == '-' ? (uintptr_t)strtoull(end + 1, NULL, 16) : 0;
		if (top <= lo || top >= hi)
			lo = 1;	/* not on the main stack: leave it */
	}
	fclose(f);
	if (lo > 1)
		(void)madvise((void *)lo, top - lo, MADV_DONTNEED);
}

/*
 * Between commands: when the client says nothing for a moment, the
 * session is probably idle for long (IDLE, a phone in a pocket), so the
 * output buffer and malloc's free pages go back to the kernel. Most of a
 * session's memory is pages it shares with the listener it was forked
 * from; what it wrote since is what this returns.
 */
static void
imap_session_quiet(struct imap_session *sess)
{
	struct stream *s = sess->s;
	struct pollfd pfd = { s->rfd, POLLIN, 0 };

	if (s->filter != NULL || s->ssl != NULL || stream_pending(s) > 0 ||
	    stream_flush(s) == -1 || poll(&pfd, 1, IMAP_IDLE_TRIM_MS) != 0)
		return;
	if (s->wlen == 0 && s->wbuf != NULL) {
		free(s->wbuf);	/* mail already sent: nothing secret to wipe */
		s->wbuf = NULL;
		s->wcap = 0;
	}
	strbuf_free(&sess->out);
	strbuf_init(&sess->out, IMAP_UNTAGGED_MAX);
	imap_session_trim_stack();
	malloc_trim(0);
}

static void
imap_session_loop(struct imap_session *sess)
{
	struct imap_cmd cmd;
	char err[256];
	int rr;

	imap_cmd_init(&cmd);
	for (;;) {
		if (sess->bad_in_row >= IMAP_ERROR_LIMIT) {
			imap_untagged(sess, "BYE Too many invalid commands");
			break;
		}
		imap_session_quiet(sess);
		err[0] = '\0';
		errno = 0;
		rr = imap_cmd_read(sess->s, &cmd, &sess->limits, err, sizeof(err));
		if (rr == IMAP_READ_EOF) {
			if (errno == ETIMEDOUT)	/* RFC 3501 5.4 */
				imap_untagged(sess, "BYE Autologout: idle for too long");
			break;
		}
		if (rr != IMAP_READ_OK)
			imap_session_refused(sess, &cmd, rr, err);
		else if (imap_session_dispatch(sess, &cmd) == -1)
			break;
		imap_session_msg_drop(sess);	/* an idle session holds no message */
		if (cmd.bufcap > IMAP_CMD_KEEP) {	/* nor the buffer of a big APPEND */
			imap_cmd_free(&cmd);
			imap_cmd_init(&cmd);
		}
		if (sess->s->failed)
			break;
	}
	imap_cmd_free(&cmd);
}

void
imap_session(struct stream *s, const struct conf *c, const char *address, const char *peer)
{
	struct imap_session sess;
	char tag[IMAP_TAG_MAX + 3], err[512];

	if (imap_session_tag(s, tag, sizeof(tag)) == -1) {
		log_warn("%s: imap session without a valid tag", peer);
		return;
	}
	memset(&sess, 0, sizeof(sess));
	sess.s = s;
	sess.conf = c;
	sess.user = address;
	sess.peer = peer;
	sess.state = IMAP_ST_AUTH;
	sess.limits.line_max = IMAP_LINE_MAX;
	sess.limits.literal_max = imap_appendlimit(c);
	sess.limits.total_max = imap_appendlimit(c) + IMAP_LINE_MAX;
	sess.limits.literal_plus = 1;
	strbuf_init(&sess.out, IMAP_UNTAGGED_MAX);
	imap_seqset_init(&sess.searchres);
	s->timeout_ms = IMAP_AUTOLOGOUT_SECS * 1000;
	if (imap_store_first_login(err, sizeof(err)) == -1)
		log_warn("%s: user=%s: %s", peer, address, err);
	stream_printf(s, "%s OK [CAPABILITY %s] Logged in\r\n", tag,
	    imap_capabilities(c, 1, 1));
	imap_session_loop(&sess);
	/* LOGOUT leaves the state, not the folder: close it (the index is written then) */
	if (sess.sel.priv != NULL)
		imap_folder_close(&sess.sel);
	imap_session_msg_drop(&sess);
	imap_seqset_free(&sess.searchres);
	strbuf_free(&sess.out);
	log_info("%s: imap logout user=%s", peer, address);
}

void
imap_session_msg_drop(struct imap_session *sess)
{
	free(sess->cache_buf);
	sess->cache_buf = NULL;
	sess->cache_len = 0;
	sess->cache_uid = 0;
}

int
imap_session_msg(struct imap_session *sess, size_t i, const char **buf, size_t *len)
{
	char err[256], *b;
	size_t l;

	if (sess->state != IMAP_ST_SELECTED || i >= sess->sel.n)
		return -1;
	if (sess->cache_buf == NULL || sess->cache_uid != sess->sel.msgs[i].uid) {
		imap_session_msg_drop(sess);
		if (imap_msg_read(&sess->sel, i, &b, &l, err, sizeof(err)) == -1) {
			if (errno != ENOENT)
				log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
			return -1;
		}
		sess->cache_buf = b;
		sess->cache_len = l;
		sess->cache_uid = sess->sel.msgs[i].uid;
	}
	*buf = sess->cache_buf;
	*len = sess->cache_len;
	return 0;
}

/* "inbox", "Inbox.x": INBOX is case-insensitive (RFC 3501 5.1). */
static void
imap_inbox_fold(char *name)
{
	if (str_iprefix(name, "INBOX") && (name[5] == '\0' || name[5] == IMAP_DELIM))
		memcpy(name, "INBOX", 5);
}

int
imap_arg_mailbox(const struct imap_session *sess, const struct imap_arg *a,
    char *out, size_t outlen)
{
	struct strbuf sb;
	int r = -1;

	if (!imap_arg_is_astring(a) || strlen(a->str) != a->len || a->len > IMAP_NAME_MAX)
		return -1;
	if (!(sess->enabled & IMAP_EN_UTF8)) {
		if (!imap_utf7_valid(a->str, a->len) || str_copy(out, a->str, outlen) == -1)
			return -1;
		imap_inbox_fold(out);
		return 0;
	}
	/* RFC 6855 3: UTF-8 names, stored as modified UTF-7 (RFC 3501 5.1.3). */
	strbuf_init(&sb, IMAP_NAME_MAX);
	if (imap_utf8_to_utf7(a->str, a->len, &sb) == 0 && sb.data != NULL &&
	    str_copy(out, sb.data, outlen) == 0) {
		imap_inbox_fold(out);
		r = 0;
	}
	strbuf_free(&sb);
	return r;
}

/* A quoted string of UTF-8 (RFC 6855 3), or a literal when it cannot be quoted. */
static int
imap_put_utf8(struct strbuf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return imap_put_string(out, s, len);
	if (strbuf_putc(out, '"') == -1)
		return -1;
	for (i = 0; i < len; i++)
		if (((s[i] == '"' || s[i] == '\\') && strbuf_putc(out, '\\') == -1) ||
		    strbuf_putc(out, s[i]) == -1)
			return -1;
	return strbuf_putc(out, '"');
}

int
imap_put_mailbox(const struct imap_session *sess, struct strbuf *out, const char *name)
{
	struct strbuf sb;
	int r;

	if (!(sess->enabled & IMAP_EN_UTF8))
		return imap_put_string(out, name, strlen(name));
	strbuf_init(&sb, IMAP_NAME_MAX * 4);
	if (imap_utf7_to_utf8(name, strlen(name), &sb) == 0 && sb.data != NULL)
		r = imap_put_utf8(out, sb.data, sb.len);
	else
		r = imap_put_string(out, name, strlen(name));
	strbuf_free(&sb);
	return r;
}
