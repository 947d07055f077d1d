/*
 * imapd's selection commands: SELECT and EXAMINE (RFC 3501 6.3.1-2,
 * RFC 9051 6.3.2-3) with the CONDSTORE and QRESYNC parameters (RFC 7162
 * 3.1.8, 3.2.5), CLOSE, UNSELECT (RFC 3691), EXPUNGE, UID EXPUNGE
 * (RFC 4315 2.1) and CHECK. Runs in the session process as the mail
 * owner, with the Maildir as cwd.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "log.h"
#include "util.h"

/* The parameters of SELECT/EXAMINE (RFC 4466 2.1 syntax). */
struct imap_selopt {
	int			 condstore;
	int			 qresync;
	uint32_t		 uidvalidity;
	uint64_t		 modseq;
	const struct imap_arg	*known;		/* known-uids, or NULL */
};

/* (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])): RFC 7162 3.2.5 */
static int
imap_qresync_parse(const struct imap_arg *l, struct imap_selopt *o)
{
	uint64_t v;

	if (l->type != IMAP_ARG_LIST || l->n < 2 || l->n > 4 ||
	    imap_arg_number(&l->list[0], UINT32_MAX, &v) == -1 || v == 0 ||
	    imap_arg_number(&l->list[1], INT64_MAX, &o->modseq) == -1 || o->modseq == 0)
		return -1;
	o->uidvalidity = (uint32_t)v;
	if (l->n >= 3) {
		if (l->list[2].type != IMAP_ARG_ATOM)
			return -1;
		o->known = &l->list[2];
	}
	/* seq-match-data is a hint for servers that forget expunged UIDs: not needed */
	if (l->n == 4 && (l->list[3].type != IMAP_ARG_LIST || l->list[3].n != 2 ||
	    l->list[3].list[0].type != IMAP_ARG_ATOM || l->list[3].list[1].type != IMAP_ARG_ATOM))
		return -1;
	o->qresync = 1;
	return 0;
}

/* The parameter list. 0, or -1 with a reason. */
static int
imap_selopt_parse(const struct imap_session *sess, const struct imap_arg *a,
    struct imap_selopt *o, const char **why)
{
	size_t i;

	*why = "Invalid SELECT parameters";
	if (a->type != IMAP_ARG_LIST)
		return -1;
	for (i = 0; i < a->n; i++) {
		if (imap_arg_atom_is(&a->list[i], "CONDSTORE")) {
			o->condstore = 1;
		} else if (imap_arg_atom_is(&a->list[i], "QRESYNC") && i + 1 < a->n) {
			/* RFC 7162 3.2.5: only once QRESYNC is enabled */
			if (!(sess->enabled & IMAP_EN_QRESYNC)) {
				*why = "QRESYNC is not enabled";
				return -1;
			}
			if (imap_qresync_parse(&a->list[++i], o) == -1)
				return -1;
		} else
			return -1;
	}
	return 0;
}

/* "(\Seen ... kw)" of the flags and keywords the folder knows. */
static void
imap_select_flags(struct imap_session *sess, struct strbuf *sb, int permanent)
{
	size_t i;
	int full = 1;

	strbuf_puts(sb, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (i = 0; i < IMAP_KEYWORDS_MAX; i++) {
		if (sess->sel.keywords[i] == NULL)
			full = 0;
		else
			strbuf_printf(sb, " %s", sess->sel.keywords[i]);
	}
	if (permanent && !full)
		strbuf_puts(sb, " \\*");	/* new keywords can be made */
	strbuf_putc(sb, ')');
}

/* RFC 3501 6.3.1 / RFC 9051 6.3.2: the untagged responses of SELECT. */
static void
imap_select_untagged(struct imap_session *sess)
{
	struct imap_folder *f = &sess->sel;
	struct strbuf sb;
	size_t i, recent = 0, unseen = 0;

	strbuf_init(&sb, 8192);
	imap_select_flags(sess, &sb, 0);
	imap_untagged(sess, "FLAGS %s", sb.data);
	strbuf_reset(&sb);
	if (f->readonly)
		strbuf_puts(&sb, "()");
	else
		imap_select_flags(sess, &sb, 1);
	imap_untagged(sess, "OK [PERMANENTFLAGS %s] Flags permitted", sb.data);
	strbuf_free(&sb);
	imap_untagged(sess, "%zu EXISTS", f->n);
	for (i = 0; i < f->n; i++) {
		recent += (f->msgs[i].flags & IMAP_F_RECENT) != 0;
		if (unseen == 0 && !(f->msgs[i].flags & IMAP_F_SEEN))
			unseen = i + 1;
	}
	if (!(sess->enabled & IMAP_EN_REV2)) {
		imap_untagged(sess, "%zu RECENT", recent);
		if (unseen > 0)
			imap_untagged(sess, "OK [UNSEEN %zu] First unseen", unseen);
	}
	imap_untagged(sess, "OK [UIDVALIDITY %u] UIDs valid", f->uidvalidity);
	imap_untagged(sess, "OK [UIDNEXT %u] Predicted next UID", f->uidnext);
	/* RFC 7162 3.1.2.1: sent always (persistent mod-sequences) */
	imap_untagged(sess, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)f->highestmodseq);
}

/* VANISHED (EARLIER): the known UIDs that are gone (RFC 7162 3.2.5.1). */
static void
imap_qresync_vanished(struct imap_session *sess, const struct imap_seqset *known)
{
	const struct imap_folder *f = &sess->sel;
	struct imap_seqset gone;
	struct strbuf sb;
	size_t r, m = 0;
	uint64_t u;

	imap_seqset_init(&gone);
	for (r = 0; r < known->n; r++) {
		for (u = known->r[r].lo; u <= known->r[r].hi && u < f->uidnext; u++) {
			while (m < f->n && f->msgs[m].uid < u)
				m++;
			if (m < f->n && f->msgs[m].uid == u)
				continue;
			/* a gap: up to the next present UID at once */
			uint64_t hi = m < f->n ? f->msgs[m].uid - 1ULL : (uint64_t)f->uidnext - 1;
			if (hi > known->r[r].hi)
				hi = known->r[r].hi;
			if (imap_seqset_add(&gone, (uint32_t)u, (uint32_t)hi) == -1)
				break;
			u = hi;
		}
	}
	strbuf_init(&sb, 16 * 1024 * 1024);
	if (gone.n > 0 && imap_seqset_print(&gone, &sb) == 0)
		imap_untagged(sess, "VANISHED (EARLIER) %s", sb.data);
	strbuf_free(&sb);
	imap_seqset_free(&gone);
}

/* RFC 7162 3.2.5: what changed since the client's modseq. */
static void
imap_qresync(struct imap_session *sess, const struct imap_selopt *o)
{
	const struct imap_folder *f = &sess->sel;
	struct imap_seqset known;
	uint32_t top = f->uidnext > 1 ? f->uidnext - 1 : 1;
	struct strbuf sb;
	size_t i;

	if (o->uidvalidity != f->uidvalidity)
		return;		/* the client's cache is void: a plain SELECT */
	imap_seqset_init(&known);
	if (o->known == NULL)
		imap_seqset_add(&known, 1, top);
	else if (imap_seqset_parse(&known, o->known->str, o->known->len, top) == -1)
		imap_seqset_add(&known, 1, top);
	imap_qresync_vanished(sess, &known);
	strbuf_init(&sb, 64 + IMAP_KEYWORDS_MAX * (IMAP_KEYWORD_LEN + 1));
	for (i = 0; i < f->n; i++) {
		if (f->msgs[i].modseq <= o->modseq || !imap_seqset_contains(&known, f->msgs[i].uid))
			continue;
		strbuf_reset(&sb);
		if (imap_put_flags(&sb, f, &f->msgs[i]) == 0)
			imap_untagged(sess, "%zu FETCH (UID %u FLAGS %s MODSEQ (%llu))", i + 1,
			    f->msgs[i].uid, sb.data, (unsigned long long)f->msgs[i].modseq);
	}
	strbuf_free(&sb);
	imap_seqset_free(&known);
}

/* Leave the selected state (CLOSE, UNSELECT, another SELECT). */
static void
imap_unselect(struct imap_session *sess)
{
	if (sess->state != IMAP_ST_SELECTED)
		return;
	imap_folder_close(&sess->sel);
	memset(&sess->sel, 0, sizeof(sess->sel));
	imap_seqset_clear(&sess->searchres);
	imap_session_msg_drop(sess);
	sess->state = IMAP_ST_AUTH;
}

static int
imap_select(struct imap_session *sess, struct imap_cmd *cmd, int readonly)
{
	struct imap_selopt o;
	char name[IMAP_NAME_MAX + 1], err[512];
	const char *why;

	memset(&o, 0, sizeof(o));
	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    imap_arg_mailbox(sess, &cmd->args[0], name, sizeof(name)) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid %s arguments", cmd->name);
		return 0;
	}
	if (cmd->nargs == 2 && imap_selopt_parse(sess, &cmd->args[1], &o, &why) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "%s", why);
		return 0;
	}
	if (sess->state == IMAP_ST_SELECTED) {
		imap_unselect(sess);
		/* RFC 7162 3.2.11, RFC 9051 7.1: the old mailbox's last word */
		imap_untagged(sess, "OK [CLOSED] Previous mailbox closed");
	}
	memset(&sess->sel, 0, sizeof(sess->sel));
	if (imap_folder_open(&sess->sel, name, readonly, err, sizeof(err)) == -1) {
		if (errno == ENOENT) {
			imap_reply(sess, cmd, "NO", "NONEXISTENT", "No such mailbox");
		} else {
			log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
			imap_reply(sess, cmd, "NO", "UNAVAILABLE", "Cannot open the mailbox");
		}
		return 0;
	}
	sess->state = IMAP_ST_SELECTED;
	if (o.condstore || o.qresync)
		sess->condstore_seen = 1;	/* RFC 7162 3.1: a CONDSTORE enabling command */
	imap_select_untagged(sess);
	if (o.qresync)
		imap_qresync(sess, &o);
	imap_reply(sess, cmd, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
	    readonly ? "EXAMINE" : "SELECT");
	return 0;
}

int
imap_cmd_select(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	return imap_select(sess, cmd, 0);
}

int
imap_cmd_examine(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	return imap_select(sess, cmd, 1);
}

/* RFC 3501 6.4.2: expunge silently (unless read-only), then unselect. */
int
imap_cmd_close(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char err[512];

	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	if (!sess->sel.readonly &&
	    imap_folder_expunge(&sess->sel, NULL, 0, err, sizeof(err)) == -1)
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
	imap_unselect(sess);
	imap_reply(sess, cmd, "OK", NULL, "Close completed");
	return 0;
}

/* RFC 3691 */
int
imap_cmd_unselect(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	imap_unselect(sess);
	imap_reply(sess, cmd, "OK", NULL, "Unselect completed");
	return 0;
}

/* RFC 3501 6.4.1: every change is on disk already; CHECK is a NOOP. */
int
imap_cmd_check(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Check completed");
	return 0;
}

/* The UIDs of the selected messages in a UID set (UID EXPUNGE). */
static uint32_t *
imap_uids_in(struct imap_session *sess, const struct imap_arg *a, size_t *n)
{
	const struct imap_folder *f = &sess->sel;
	struct imap_seqset set;
	uint32_t *uids;
	size_t i;

	*n = 0;
	imap_seqset_init(&set);
	if (a->type != IMAP_ARG_ATOM || imap_seqset_parse(&set, a->str, a->len,
	    f->n > 0 ? f->msgs[f->n - 1].uid : 0) == -1) {
		imap_seqset_free(&set);
		return NULL;
	}
	if (set.dollar && imap_seqset_copy(&set, &sess->searchres) == -1) {
		imap_seqset_free(&set);
		return NULL;
	}
	uids = xreallocarray(NULL, f->n + 1, sizeof(*uids));
	for (i = 0; i < f->n; i++)
		if (imap_seqset_contains(&set, f->msgs[i].uid))
			uids[(*n)++] = f->msgs[i].uid;
	imap_seqset_free(&set);
	return uids;
}

/* RFC 3501 6.4.3 EXPUNGE; RFC 4315 2.1 UID EXPUNGE sequence-set */
int
imap_cmd_expunge(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	uint32_t *uids = NULL;
	char err[512], code[64];
	size_t n = 0;

	if (cmd->nargs != (uid ? 1u : 0u) ||
	    (uid && (uids = imap_uids_in(sess, &cmd->args[0], &n)) == NULL)) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid %sEXPUNGE arguments", uid ? "UID " : "");
		return 0;
	}
	if (sess->sel.readonly) {
		free(uids);
		imap_reply(sess, cmd, "NO", "READ-ONLY", "The mailbox is read-only");
		return 0;
	}
	if ((!uid || n > 0) && imap_folder_expunge(&sess->sel, uids, n, err, sizeof(err)) == -1) {
		free(uids);
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		imap_reply(sess, cmd, "NO", "UNAVAILABLE", "Expunge failed");
		return 0;
	}
	free(uids);
	imap_session_sync(sess, 1);	/* the EXPUNGEs, then the modseq they made */
	code[0] = '\0';
	if (imap_session_modseq(sess))	/* RFC 7162 3.2.7 */
		str_fmt(code, sizeof(code), "HIGHESTMODSEQ %llu",
		    (unsigned long long)sess->sel.highestmodseq);
	imap_reply(sess, cmd, "OK", code[0] ? code : NULL, "Expunge completed");
	return 0;
}
