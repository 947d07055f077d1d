/*
 * imapd's mailbox commands: LIST (RFC 3501 6.3.8 with LIST-EXTENDED,
 * RFC 5258, LIST-STATUS, RFC 5819, SPECIAL-USE, RFC 6154), LSUB, CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS (with CONDSTORE's
 * HIGHESTMODSEQ and STATUS=SIZE), NAMESPACE (RFC 2342) and QUOTA
 * (RFC 9208). Runs in the session process as the mail owner, with the
 * Maildir as cwd; the folders themselves are imap_store's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "imap.h"
#include "imap_mbox.h"
#include "log.h"
#include "util.h"

/* STATUS items (RFC 3501 6.3.10, RFC 7162 3.1.7, RFC 8438, RFC 9051 6.3.11) */
static const struct {
	const char	*name;
	unsigned	 bit;
} imap_status_items[] = {
	{ "MESSAGES", 0x01 }, { "RECENT", 0x02 }, { "UIDNEXT", 0x04 },
	{ "UIDVALIDITY", 0x08 }, { "UNSEEN", 0x10 }, { "HIGHESTMODSEQ", 0x20 },
	{ "SIZE", 0x40 }, { "DELETED", 0x80 },
};

/* The items of a STATUS list as bits (and their order). 0 or -1. */
int
imap_status_parse(const struct imap_arg *l, unsigned char *order, size_t *norder)
{
	size_t i, j;

	*norder = 0;
	if (l->type != IMAP_ARG_LIST || l->n == 0 || l->n > IMAP_STATUS_ITEMS_MAX)
		return -1;
	for (i = 0; i < l->n; i++) {
		for (j = 0; j < NELEM(imap_status_items); j++)
			if (imap_arg_atom_is(&l->list[i], imap_status_items[j].name))
				break;
		if (j == NELEM(imap_status_items))
			return -1;
		order[(*norder)++] = (unsigned char)j;
	}
	return 0;
}

/* "* STATUS name (ITEM n ...)". 0, or -1 with errno (ENOENT: no such folder). */
int
imap_status_send(struct imap_session *sess, const char *name, const unsigned char *order,
    size_t norder)
{
	struct imap_status st;
	struct strbuf sb;
	char err[512];
	unsigned long long v[NELEM(imap_status_items)];
	size_t i;

	if (imap_folder_status(name, &st, err, sizeof(err)) == -1) {
		if (errno != ENOENT)
			log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		return -1;
	}
	v[0] = st.messages;
	v[1] = st.recent;
	v[2] = st.uidnext;
	v[3] = st.uidvalidity;
	v[4] = st.unseen;
	v[5] = st.highestmodseq;
	v[6] = st.size;
	v[7] = st.deleted;
	strbuf_init(&sb, 4 * IMAP_NAME_MAX + 512);
	strbuf_puts(&sb, "* STATUS ");
	imap_put_mailbox(sess, &sb, name);
	strbuf_puts(&sb, " (");
	for (i = 0; i < norder; i++) {
		strbuf_printf(&sb, "%s%s %llu", i ? " " : "", imap_status_items[order[i]].name,
		    v[order[i]]);
		if (imap_status_items[order[i]].bit == 0x20)
			sess->condstore_seen = 1;	/* RFC 7162 3.1: enabling */
	}
	if (strbuf_puts(&sb, ")\r\n") == 0)
		stream_write(sess->s, sb.data, sb.len);
	strbuf_free(&sb);
	return 0;
}

/* Answer a failed store call from its errno. */
static void
imap_mbox_failed(struct imap_session *sess, struct imap_cmd *cmd, const char *err)
{
	switch (errno) {
	case EEXIST:
		imap_reply(sess, cmd, "NO", "ALREADYEXISTS", "Mailbox already exists");
		break;
	case ENOENT:
		imap_reply(sess, cmd, "NO", "NONEXISTENT", "No such mailbox");
		break;
	case ENOTEMPTY:
		imap_reply(sess, cmd, "NO", "INUSE", "Mailbox has children");
		break;
	case EINVAL:
		imap_reply(sess, cmd, "NO", "CANNOT", "Invalid mailbox name");
		break;
	case EDQUOT:
	case ENOSPC:
		imap_reply(sess, cmd, "NO", "OVERQUOTA", "Out of space");
		break;
	default:
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		imap_reply(sess, cmd, "NO", "UNAVAILABLE", "%s failed", cmd->name);
	}
}

/* One mailbox argument into name; BAD answered when it is not one. 0 or -1. */
static int
imap_mbox_arg(struct imap_session *sess, struct imap_cmd *cmd, size_t nargs, char *name,
    size_t namelen)
{
	if (cmd->nargs != nargs || imap_arg_mailbox(sess, &cmd->args[0], name, namelen) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid %s arguments", cmd->name);
		return -1;
	}
	return 0;
}

/* Is the selected folder name or one below it? */
static int
imap_mbox_in_use(const struct imap_session *sess, const char *name)
{
	size_t n = strlen(name);

	return sess->state == IMAP_ST_SELECTED && strncmp(sess->sel.name, name, n) == 0 &&
	    (sess->sel.name[n] == '\0' || sess->sel.name[n] == IMAP_DELIM);
}

/* RFC 3501 6.3.3 */
int
imap_cmd_create(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char name[IMAP_NAME_MAX + 1], err[512];
	size_t n;

	(void)uid;
	/* RFC 6154 5.2 CREATE ... (USE (...)) is not offered: one argument */
	if (imap_mbox_arg(sess, cmd, 1, name, sizeof(name)) == -1)
		return 0;
	n = strlen(name);
	if (n > 0 && name[n - 1] == IMAP_DELIM)	/* "a name ... to be created under" */
		name[--n] = '\0';
	if (strcmp(name, "INBOX") == 0) {
		imap_reply(sess, cmd, "NO", "ALREADYEXISTS", "INBOX always exists");
		return 0;
	}
	if (!imap_folder_name_ok(name)) {
		imap_reply(sess, cmd, "NO", "CANNOT", "Invalid mailbox name");
		return 0;
	}
	if (imap_folder_create(name, err, sizeof(err)) == -1) {
		imap_mbox_failed(sess, cmd, err);
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Create completed");
	return 0;
}

/* RFC 3501 6.3.4 */
int
imap_cmd_delete(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char name[IMAP_NAME_MAX + 1], err[512];

	(void)uid;
	if (imap_mbox_arg(sess, cmd, 1, name, sizeof(name)) == -1)
		return 0;
	if (strcmp(name, "INBOX") == 0) {
		imap_reply(sess, cmd, "NO", "CANNOT", "INBOX cannot be deleted");
		return 0;
	}
	if (sess->state == IMAP_ST_SELECTED && strcmp(sess->sel.name, name) == 0) {
		imap_reply(sess, cmd, "NO", "INUSE", "The mailbox is selected");
		return 0;
	}
	if (imap_folder_delete(name, err, sizeof(err)) == -1) {
		imap_mbox_failed(sess, cmd, err);
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Delete completed");
	return 0;
}

/* RFC 3501 6.3.5 */
int
imap_cmd_rename(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char from[IMAP_NAME_MAX + 1], to[IMAP_NAME_MAX + 1], err[512];

	(void)uid;
	if (cmd->nargs != 2 || imap_arg_mailbox(sess, &cmd->args[0], from, sizeof(from)) == -1 ||
	    imap_arg_mailbox(sess, &cmd->args[1], to, sizeof(to)) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid RENAME arguments");
		return 0;
	}
	if (strcmp(to, "INBOX") == 0) {
		imap_reply(sess, cmd, "NO", "ALREADYEXISTS", "INBOX always exists");
		return 0;
	}
	if (!imap_folder_name_ok(to)) {
		imap_reply(sess, cmd, "NO", "CANNOT", "Invalid mailbox name");
		return 0;
	}
	if (imap_mbox_in_use(sess, from)) {
		imap_reply(sess, cmd, "NO", "INUSE", "The mailbox is selected");
		return 0;
	}
	if (imap_folder_rename(from, to, err, sizeof(err)) == -1) {
		imap_mbox_failed(sess, cmd, err);
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Rename completed");
	return 0;
}

static int
imap_subscribe_cmd(struct imap_session *sess, struct imap_cmd *cmd, int on)
{
	char name[IMAP_NAME_MAX + 1], err[512];

	if (imap_mbox_arg(sess, cmd, 1, name, sizeof(name)) == -1)
		return 0;
	if (imap_subscribe(name, on, err, sizeof(err)) == -1) {
		imap_mbox_failed(sess, cmd, err);
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "%s completed", cmd->name);
	return 0;
}

/* RFC 3501 6.3.6 */
int
imap_cmd_subscribe(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	return imap_subscribe_cmd(sess, cmd, 1);
}

/* RFC 3501 6.3.7 */
int
imap_cmd_unsubscribe(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	return imap_subscribe_cmd(sess, cmd, 0);
}

/* RFC 3501 6.3.10 */
int
imap_cmd_status(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char name[IMAP_NAME_MAX + 1];
	unsigned char order[IMAP_STATUS_ITEMS_MAX];
	size_t norder;

	(void)uid;
	if (cmd->nargs != 2 || imap_arg_mailbox(sess, &cmd->args[0], name, sizeof(name)) == -1 ||
	    imap_status_parse(&cmd->args[1], order, &norder) == -1) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid STATUS arguments");
		return 0;
	}
	if (imap_status_send(sess, name, order, norder) == -1) {
		if (errno == ENOENT)
			imap_reply(sess, cmd, "NO", "NONEXISTENT", "No such mailbox");
		else
			imap_reply(sess, cmd, "NO", "UNAVAILABLE", "STATUS failed");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Status completed");
	return 0;
}

/* RFC 2342 5: one personal namespace, no prefix, '.' as delimiter. */
int
imap_cmd_namespace(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 0) {
		imap_reply(sess, cmd, "BAD", NULL, "Unexpected arguments");
		return 0;
	}
	imap_untagged(sess, "NAMESPACE ((\"\" \"%c\")) NIL NIL", IMAP_DELIM);
	imap_reply(sess, cmd, "OK", NULL, "Namespace completed");
	return 0;
}

/* Is a quota configured? The one quota root is "" (RFC 9208 3). */
static int
imap_quota_on(const struct imap_session *sess)
{
	return sess->conf->mailbox_quota != 0 || sess->conf->mailbox_quota_messages != 0;
}

/* "* QUOTA "" (STORAGE used limit MESSAGE used limit)": RFC 9208 5.1, KiB for STORAGE. */
static int
imap_quota_send(struct imap_session *sess)
{
	unsigned long long q = sess->conf->mailbox_quota, qm = sess->conf->mailbox_quota_messages;
	uint64_t octets, messages;
	char err[512], storage[96] = "", msgs[96] = "";

	if (imap_quota_usage(&octets, &messages, err, sizeof(err)) == -1) {
		log_warn("%s: user=%s: %s", sess->peer, sess->user, err);
		return -1;
	}
	if (q != 0)
		str_fmt(storage, sizeof(storage), "STORAGE %llu %llu",
		    (unsigned long long)((octets + 1023) / 1024), q / 1024);
	if (qm != 0)
		str_fmt(msgs, sizeof(msgs), "%sMESSAGE %llu %llu", q != 0 ? " " : "",
		    (unsigned long long)messages, qm);
	imap_untagged(sess, "QUOTA \"\" (%s%s)", storage, msgs);
	return 0;
}

/* RFC 9208 4.2.1 */
int
imap_cmd_getquota(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	if (cmd->nargs != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		imap_reply(sess, cmd, "BAD", NULL, "Invalid GETQUOTA arguments");
		return 0;
	}
	if (cmd->args[0].len != 0 || !imap_quota_on(sess)) {
		imap_reply(sess, cmd, "NO", "NONEXISTENT", "No such quota root");
		return 0;
	}
	if (imap_quota_send(sess) == -1) {
		imap_reply(sess, cmd, "NO", "UNAVAILABLE", "Cannot compute the usage");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Getquota completed");
	return 0;
}

/* RFC 9208 4.2.2 */
int
imap_cmd_getquotaroot(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	char name[IMAP_NAME_MAX + 1];
	struct strbuf sb;

	(void)uid;
	if (imap_mbox_arg(sess, cmd, 1, name, sizeof(name)) == -1)
		return 0;
	strbuf_init(&sb, 4 * IMAP_NAME_MAX + 64);
	strbuf_puts(&sb, "* QUOTAROOT ");
	imap_put_mailbox(sess, &sb, name);
	if (imap_quota_on(sess))
		strbuf_puts(&sb, " \"\"");
	if (strbuf_puts(&sb, "\r\n") == 0)
		stream_write(sess->s, sb.data, sb.len);
	strbuf_free(&sb);
	if (imap_quota_on(sess) && imap_quota_send(sess) == -1) {
		imap_reply(sess, cmd, "NO", "UNAVAILABLE", "Cannot compute the usage");
		return 0;
	}
	imap_reply(sess, cmd, "OK", NULL, "Getquotaroot completed");
	return 0;
}

/* RFC 9208 4.2.3: limits come from postern.conf, not from clients. */
int
imap_cmd_setquota(struct imap_session *sess, struct imap_cmd *cmd, int uid)
{
	(void)uid;
	imap_reply(sess, cmd, "NO", "NOPERM", "Quotas are set by the administrator");
	return 0;
}
