/*
 * imapd's untagged updates and IDLE: what other sessions, deliver and
 * pop3d changed in the selected folder becomes EXPUNGE (or VANISHED with
 * QRESYNC, RFC 7162 3.2.10), EXISTS, RECENT and FETCH (FLAGS ...)
 * responses (RFC 3501 7.3, 7.4), sent before a command completes and
 * while the client idles (RFC 2177). Runs in the session process as the
 * mail owner, with the Maildir as cwd.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "log.h"
#include "util.h"

#define IMAP_IDLE_POLL_MS	1000	/* a folder without notifications is looked at this often */
#define IMAP_IDLE_MIN_MS	100	/* no more syncs than this often, whatever wakes us */
#define IMAP_IDLE_SYNC_FAILS	10	/* failed syncs in a row before BYE */

int
imap_put_flags(struct strbuf *out, const struct imap_folder *f, const struct imap_msg *m)
{
	static const struct { unsigned bit; const char *name; } sys[] = {
		{ IMAP_F_SEEN, "\\Seen" }, { IMAP_F_ANSWERED, "\\Answered" },
		{ IMAP_F_FLAGGED, "\\Flagged" }, { IMAP_F_DELETED, "\\Deleted" },
		{ IMAP_F_DRAFT, "\\Draft" }, { IMAP_F_RECENT, "\\Recent" },
	};
	size_t i, n = 0;

	if (strbuf_putc(out, '(') == -1)
		return -1;
	for (i = 0; i < NELEM(sys); i++)
		if ((m->flags & sys[i].bit) && ((n++ > 0 && strbuf_putc(out, ' ') == -1) ||
		    strbuf_puts(out, sys[i].name) == -1))
			return -1;
	for (i = 0; i < IMAP_KEYWORDS_MAX; i++)
		if ((m->keywords & (1U << i)) && f->keywords[i] != NULL &&
		    ((n++ > 0 && strbuf_putc(out, ' ') == -1) ||
		    strbuf_puts(out, f->keywords[i]) == -1))
			return -1;
	return strbuf_putc(out, ')');
}

/* "* n FETCH (FLAGS (...) [UID u] [MODSEQ (m)])" for message i. */
static void
imap_sync_fetch(struct imap_session *sess, size_t i)
{
	const struct imap_msg *m = &sess->sel.msgs[i];
	struct strbuf sb;

	strbuf_init(&sb, 64 + IMAP_KEYWORDS_MAX * (IMAP_KEYWORD_LEN + 1));
	if (strbuf_printf(&sb, "* %zu FETCH (FLAGS ", i + 1) == 0 &&
	    imap_put_flags(&sb, &sess->sel, m) == 0 &&
	    /* RFC 7162 3.2.4: with QRESYNC, UID in every FETCH */
	    (!(sess->enabled & IMAP_EN_QRESYNC) ||
	    strbuf_printf(&sb, " UID %u", m->uid) == 0) &&
	    (!imap_session_modseq(sess) ||
	    strbuf_printf(&sb, " MODSEQ (%llu)", (unsigned long long)m->modseq) == 0) &&
	    strbuf_puts(&sb, ")\r\n") == 0)
		stream_write(sess->s, sb.data, sb.len);
	strbuf_free(&sb);
}

/* Expunges as EXPUNGE (descending, each valid when sent) or one VANISHED. */
static void
imap_sync_expunged(struct imap_session *sess, const struct imap_changes *ch)
{
	struct imap_seqset set;
	struct strbuf sb;
	size_t i;

	if (!(sess->enabled & IMAP_EN_QRESYNC)) {
		for (i = 0; i < ch->nexpunged; i++)
			imap_untagged(sess, "%u EXPUNGE", ch->expunged_seq[i]);
		return;
	}
	imap_seqset_init(&set);
	strbuf_init(&sb, 16 * 1024 * 1024);
	for (i = 0; i < ch->nexpunged; i++)
		if (imap_seqset_add(&set, ch->expunged_uid[i], ch->expunged_uid[i]) == -1)
			break;
	if (i == ch->nexpunged && imap_seqset_print(&set, &sb) == 0)
		imap_untagged(sess, "VANISHED %s", sb.data);	/* RFC 7162 3.2.10 */
	strbuf_free(&sb);
	imap_seqset_free(&set);
}

int
imap_session_sync(struct imap_session *sess, int allow_expunge)
{
	struct imap_changes ch;
	char err[512];
	size_t i, recent = 0;

	/*
	 * The store applies expunges to the snapshot as it reports them, so a
	 * command that may not see EXPUNGE (RFC 3501 7.4.1) defers the whole
	 * sync: new messages and flag changes wait for the next command.
	 */
	if (sess->state != IMAP_ST_SELECTED || !allow_expunge)
		return 0;
	memset(&ch, 0, sizeof(ch));
	if (imap_folder_sync(&sess->sel, &ch, err, sizeof(err)) == -1) {
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		return -1;
	}
	if (ch.nexpunged > 0)
		imap_sync_expunged(sess, &ch);
	if (ch.nnew > 0) {
		imap_untagged(sess, "%zu EXISTS", sess->sel.n);
		for (i = 0; i < sess->sel.n; i++)
			recent += (sess->sel.msgs[i].flags & IMAP_F_RECENT) != 0;
		if (!(sess->enabled & IMAP_EN_REV2))	/* RFC 9051 dropped RECENT */
			imap_untagged(sess, "%zu RECENT", recent);
	}
	for (i = 0; i < ch.nchanged; i++)
		if (ch.changed_seq[i] >= 1 && ch.changed_seq[i] <= sess->sel.n)
			imap_sync_fetch(sess, ch.changed_seq[i] - 1);
	return 0;
}

/* The client's line while idling: DONE ends it. 0 done, -1 hang up. */
static int
imap_idle_line(struct imap_session *sess, struct imap_cmd *cmd)
{
	char line[64];
	ssize_t n = stream_getline(sess->s, line, sizeof(line) - 1);

	if (n == STREAM_TOOLONG) {
		imap_reply(sess, cmd, "BAD", NULL, "Expected DONE");
		return 0;
	}
	if (n <= 0)
		return -1;
	line[strcspn(line, "\r\n")] = '\0';
	if (str_ieq(line, "DONE"))	/* RFC 2177 3 */
		imap_reply(sess, cmd, "OK", NULL, "IDLE terminated");
	else
		imap_reply(sess, cmd, "BAD", NULL, "Expected DONE");
	return 0;
}

/* Wait for input or a change, at most ms. 1 input, 0 otherwise, -1 error. */
static int
imap_idle_wait(struct imap_session *sess, int ms)
{
	struct pollfd pfd[2];

	if (stream_pending(sess->s) > 0)
		return 1;
	pfd[0] = (struct pollfd){ sess->s->rfd, POLLIN, 0 };
	pfd[1] = (struct pollfd){ -1, POLLIN, 0 };
	if (sess->state == IMAP_ST_SELECTED)
		pfd[1].fd = imap_folder_notify_fd(&sess->sel);	/* -1 is ignored by poll */
	if (poll(pfd, 2, ms) == -1)
		return errno == EINTR ? 0 : -1;
	return pfd[0].revents != 0;
}

/* RFC 2177: IDLE, "+ idling", updates as they come, until DONE. */
int
imap_cmd_idle(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	int64_t start = now_ms(), last_sync = 0, last_ping = start, now;
	int r, fails = 0;

	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	stream_puts(sess->s, "+ idling\r\n");
	for (;;) {
		if (stream_flush(sess->s) == -1)
			return -1;
		r = imap_idle_wait(sess, IMAP_IDLE_POLL_MS);
		if (r == -1)
			return -1;
		if (r == 1)
			return imap_idle_line(sess, cmd);
		now = now_ms();
		if (now - start >= (int64_t)IMAP_IDLE_SECS * 1000) {
			imap_untagged(sess, "BYE Idle for too long");
			return -1;
		}
		if (now - last_sync >= IMAP_IDLE_MIN_MS) {
			/* a folder that cannot be read for 10 s is gone (deleted, renamed) */
			fails = imap_session_sync(sess, 1) == -1 ? fails + 1 : 0;
			if (fails >= IMAP_IDLE_SYNC_FAILS) {
				imap_untagged(sess, "BYE Cannot read the selected mailbox");
				return -1;
			}
			last_sync = now;
		} else
			poll(NULL, 0, IMAP_IDLE_MIN_MS);	/* a notify fd that stays readable */
		if (now - last_ping >= (int64_t)IMAP_IDLE_KEEPALIVE_SECS * 1000) {
			imap_untagged(sess, "OK Still here");
			last_ping = now;
		}
	}
}
