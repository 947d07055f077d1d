/*
 * imap_cmd_msg: the commands that change messages: STORE (RFC 3501
 * 6.4.6, RFC 9051 6.4.6, UNCHANGEDSINCE RFC 7162 3.1.3), COPY with
 * COPYUID (RFC 3501 6.4.7, RFC 4315), MOVE (RFC 6851) and APPEND
 * (RFC 3501 6.3.11, APPENDUID RFC 4315, literal8 RFC 3516, quota RFC
 * 9208). Runs in imapd's session process as the mail owner, cwd = the
 * user's Maildir; the storage itself is imap_store.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "imap.h"
#include "imap_fetch.h"
#include "log.h"
#include "stream.h"
#include "util.h"

#define MODSEQ_MAX	UINT64_C(0x7fffffffffffffff)
#define APPEND_KW_MAX	IMAP_KEYWORDS_MAX

/*
 * Parse a flag list (a LIST, or the atoms from a to the end) into system
 * flags and keyword names. "\Recent" is refused when strict (STORE),
 * ignored otherwise (APPEND). 0 or -1 with err.
 */
static int
parse_flags(const struct imap_arg *a, size_t n, int strict, unsigned *flags,
    const char **kw, size_t *nkw, char *err, size_t errlen)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} sys[] = {
		{ "\\SEEN", IMAP_F_SEEN }, { "\\ANSWERED", IMAP_F_ANSWERED },
		{ "\\FLAGGED", IMAP_F_FLAGGED }, { "\\DELETED", IMAP_F_DELETED },
		{ "\\DRAFT", IMAP_F_DRAFT }, { "\\RECENT", IMAP_F_RECENT },
	};
	size_t i, k;

	*flags = 0;
	*nkw = 0;
	for (i = 0; i < n; i++) {
		if (a[i].type != IMAP_ARG_ATOM || a[i].len == 0)
			goto bad;
		if (a[i].str[0] != '\\') {
			if (*nkw < APPEND_KW_MAX)
				kw[(*nkw)++] = a[i].str;
			else {
				snprintf(err, errlen, "Too many keywords");
				return -1;
			}
			continue;
		}
		for (k = 0; k < NELEM(sys) && !imap_arg_atom_is(&a[i], sys[k].name); k++)
			;
		if (k == NELEM(sys) || (strict && sys[k].bit == IMAP_F_RECENT))
			goto bad;
		*flags |= sys[k].bit & ~IMAP_F_RECENT;
	}
	return 0;
bad:
	snprintf(err, errlen, "Invalid flag %.*s", (int)(a[i].len > 40 ? 40 : a[i].len),
	    a[i].str);
	return -1;
}

/* The untagged FETCH that follows a STORE (RFC 3501 6.4.6, RFC 7162 3.1.3). */
static int
store_untagged(struct imap_session *s, size_t i, int uid, int silent)
{
	struct strbuf out;
	const struct imap_msg *m = &s->sel.msgs[i];
	int rc = -1, modseq = imap_session_modseq(s);

	if (silent && !modseq)
		return 0;
	strbuf_init(&out, 65536);
	if (strbuf_printf(&out, "* %zu FETCH (", i + 1) == -1)
		goto out;
	if (!silent && (strbuf_puts(&out, "FLAGS ") == -1 ||
	    imap_put_flags(&out, &s->sel, m) == -1 || strbuf_putc(&out, ' ') == -1))
		goto out;
	if (uid && strbuf_printf(&out, "UID %u ", m->uid) == -1)
		goto out;
	if (modseq && strbuf_printf(&out, "MODSEQ (%llu) ",
	    (unsigned long long)m->modseq) == -1)
		goto out;
	out.data[out.len - 1] = ')';
	if (strbuf_puts(&out, "\r\n") == 0 && stream_write(s->s, out.data, out.len) == 0)
		rc = 0;
out:
	strbuf_free(&out);
	return rc;
}

struct store_req {
	int		 mode;		/* '=', '+', '-' */
	int		 silent;
	int		 unchanged_set;
	uint64_t	 unchangedsince;
	unsigned	 flags;
	uint32_t	 keywords;
};

/* "[(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags". Returns the flag arguments or NULL. */
static const struct imap_arg *
store_parse_item(const struct imap_arg *a, struct store_req *r)
{
	const char *p;
	size_t len;

	if (a->type == IMAP_ARG_LIST) {
		/* RFC 7162 3.1.3 store-modifier */
		if (a->n != 2 || !imap_arg_atom_is(&a->list[0], "UNCHANGEDSINCE") ||
		    imap_arg_number(&a->list[1], MODSEQ_MAX, &r->unchangedsince) == -1)
			return NULL;
		r->unchanged_set = 1;
		a++;
	}
	if (a->type != IMAP_ARG_ATOM)
		return NULL;
	p = a->str;
	len = a->len;
	r->mode = '=';
	if (len > 0 && (*p == '+' || *p == '-')) {
		r->mode = *p++;
		len--;
	}
	if (len == 12 && str_ieq(p, "FLAGS.SILENT"))
		r->silent = 1;
	else if (len != 5 || !str_ieq(p, "FLAGS"))
		return NULL;
	return a + 1;
}

/* The flags of a STORE into r: keywords are created for '+' and '='. 0 or -1 with err. */
static int
store_parse_flags(struct imap_session *s, const struct imap_arg *a, struct store_req *r,
    char *err, size_t errlen)
{
	const char *kw[APPEND_KW_MAX];
	size_t nkw, n, k;
	int bit;

	if (a->type == IMAP_ARG_LIST) {
		if (a[1].type != IMAP_ARG_EOL)
			goto bad;
		n = a->n;
		a = a->list;
	} else
		for (n = 0; a[n].type != IMAP_ARG_EOL; n++)
			;
	if (parse_flags(a, n, 1, &r->flags, kw, &nkw, err, errlen) == -1)
		return -1;
	for (k = 0; k < nkw; k++) {
		if ((bit = imap_keyword_index(&s->sel, kw[k], r->mode != '-')) >= 0)
			r->keywords |= UINT32_C(1) << bit;
		else if (r->mode != '-') {
			/* The table is full or cannot be saved: the server's
			 * refusal, not a syntax error (NO, RFC 5530 LIMIT). */
			snprintf(err, errlen, "Cannot add keyword %.40s", kw[k]);
			return -2;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "Invalid flag list");
	return -1;
}

/* Apply r to the messages idx; failed UNCHANGEDSINCE tests go to modified. */
static int
store_apply(struct imap_session *s, const struct store_req *r, const size_t *idx,
    size_t n, int uid, struct imap_seqset *modified)
{
	char err[256];
	size_t k;
	int failed = 0;

	for (k = 0; k < n; k++) {
		size_t i = idx[k];
		const struct imap_msg *m = &s->sel.msgs[i];
		if (r->unchanged_set && m->modseq > r->unchangedsince) {
			uint32_t v = uid ? m->uid : (uint32_t)(i + 1);
			if (imap_seqset_add(modified, v, v) == -1)
				return -1;
			continue;
		}
		if (imap_msg_set_flags(&s->sel, i, r->mode, r->flags, r->keywords, err,
		    sizeof(err)) == -1) {
			log_warn("%s: STORE on uid %u: %s", s->user, m->uid, err);
			failed = 1;
		}
		if (store_untagged(s, i, uid, r->silent) == -1)
			return -1;
	}
	return failed;
}

static void
store_reply(struct imap_session *s, struct imap_cmd *cmd, const struct imap_seqset *mod)
{
	struct strbuf code;

	if (mod->n == 0) {
		imap_reply(s, cmd, "OK", NULL, "STORE completed");
		return;
	}
	strbuf_init(&code, 1 << 20);
	if (strbuf_puts(&code, "MODIFIED ") == 0 && imap_seqset_print(mod, &code) == 0)
		imap_reply(s, cmd, "OK", code.data, "Conditional STORE failed");
	else
		imap_reply(s, cmd, "OK", NULL, "Conditional STORE failed");
	strbuf_free(&code);
}

/* STORE / UID STORE: RFC 3501 6.4.6, RFC 9051 6.4.6, RFC 7162 3.1.3. */
int
imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	const struct imap_arg *a = cmd->args, *fl;
	struct store_req r;
	struct imap_seqset modified;
	char err[256];
	size_t *idx = NULL, n = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	if (s->state != IMAP_ST_SELECTED) {
		imap_reply(s, cmd, "BAD", NULL, "No mailbox selected");
		return 0;
	}
	if (a[0].type == IMAP_ARG_EOL || (fl = store_parse_item(&a[1], &r)) == NULL ||
	    fl->type == IMAP_ARG_EOL) {
		imap_reply(s, cmd, "BAD", NULL, "Usage: STORE set [(UNCHANGEDSINCE n)] "
		    "[+-]FLAGS[.SILENT] (flags)");
		return 0;
	}
	if (s->sel.readonly) {
		imap_reply(s, cmd, "NO", "READ-ONLY", "Mailbox is read-only");
		return 0;
	}
	if (imap_fetch_resolve(s, &a[0], uid, &idx, &n, err, sizeof(err)) == -1 ||
	    (rc = store_parse_flags(s, fl, &r, err, sizeof(err))) == -1) {
		free(idx);
		imap_reply(s, cmd, "BAD", NULL, "%s", err);
		return 0;
	}
	if (rc == -2) {
		free(idx);
		imap_reply(s, cmd, "NO", "LIMIT", "%s", err);
		return 0;
	}
	if (r.unchanged_set)
		s->condstore_seen = 1;	/* RFC 7162 3.1 */
	imap_seqset_init(&modified);
	rc = store_apply(s, &r, idx, n, uid, &modified);
	free(idx);
	if (rc == 1) {
		/* Some messages could not be changed (the file system refused
		 * the rename): say so; what did change was reported above. */
		imap_reply(s, cmd, "NO", NULL, "Some flags could not be stored");
		rc = 0;
	} else if (rc == 0)
		store_reply(s, cmd, &modified);
	imap_seqset_free(&modified);
	return rc;
}

/* Quota (RFC 9208): would adding octets in msgs messages go over? 1, 0. */
static int
over_quota(struct imap_session *s, uint64_t octets, uint64_t msgs)
{
	uint64_t used = 0, count = 0;
	char err[256];

	if (s->conf->mailbox_quota == 0 && s->conf->mailbox_quota_messages == 0)
		return 0;
	if (imap_quota_usage(&used, &count, err, sizeof(err)) == -1) {
		log_warn("%s: quota usage: %s", s->user, err);
		return 0;
	}
	if (s->conf->mailbox_quota != 0 && used + octets > s->conf->mailbox_quota)
		return 1;
	return s->conf->mailbox_quota_messages != 0 &&
	    count + msgs > s->conf->mailbox_quota_messages;
}

/* The tagged NO for a failed COPY/MOVE/APPEND into dst, from errno. */
static void
store_failed(struct imap_session *s, struct imap_cmd *cmd, int err_no, const char *err)
{
	if (err_no == ENOENT)
		imap_reply(s, cmd, "NO", "TRYCREATE", "Mailbox does not exist");
	else if (err_no == ENOSPC || err_no == EDQUOT)
		imap_reply(s, cmd, "NO", "OVERQUOTA", "Not enough disk space");
	else if (err_no == EINVAL || err_no == ENAMETOOLONG)
		imap_reply(s, cmd, "NO", "CANNOT", "Invalid mailbox name");
	else {
		log_warn("%s: %s: %s", s->user, cmd->name, err);
		imap_reply(s, cmd, "NO", "UNAVAILABLE", "Cannot store the message now");
	}
}

/* "COPYUID v src dst" (RFC 4315 3) into code. 0 or -1. */
static int
copyuid_code(struct imap_session *s, const size_t *idx, const uint32_t *dst, size_t n,
    uint32_t uidvalidity, struct strbuf *code)
{
	struct imap_seqset a, b;
	size_t k;
	int rc = -1;

	imap_seqset_init(&a);
	imap_seqset_init(&b);
	for (k = 0; k < n; k++)
		if (imap_seqset_add(&a, s->sel.msgs[idx[k]].uid, s->sel.msgs[idx[k]].uid) == -1 ||
		    imap_seqset_add(&b, dst[k], dst[k]) == -1)
			goto out;
	if (strbuf_printf(code, "COPYUID %u ", uidvalidity) == 0 &&
	    imap_seqset_print(&a, code) == 0 && strbuf_putc(code, ' ') == 0 &&
	    imap_seqset_print(&b, code) == 0)
		rc = 0;
out:
	imap_seqset_free(&a);
	imap_seqset_free(&b);
	return rc;
}

/* RFC 6851 3.3: the moved messages leave the source: \Deleted, then expunged by UID. */
static int
move_expunge(struct imap_session *s, const size_t *idx, size_t n)
{
	uint32_t *uids = xreallocarray(NULL, n, sizeof(*uids));
	char err[256];
	size_t k;
	int rc = 0;

	for (k = 0; k < n; k++) {
		uids[k] = s->sel.msgs[idx[k]].uid;
		if (imap_msg_set_flags(&s->sel, idx[k], '+', IMAP_F_DELETED, 0, err,
		    sizeof(err)) == -1)
			log_warn("%s: MOVE: uid %u: %s", s->user, uids[k], err);
	}
	if (imap_folder_expunge(&s->sel, uids, n, err, sizeof(err)) == -1) {
		log_warn("%s: MOVE: expunge: %s", s->user, err);
		rc = -1;
	}
	free(uids);
	return rc;
}

/* COPY and MOVE on the resolved messages idx into dst. 0, -1 to end the session. */
static int
copy_run(struct imap_session *s, struct imap_cmd *cmd, const size_t *idx, size_t n,
    const char *dst, int move)
{
	struct strbuf code;
	uint32_t uidvalidity = 0, *dst_uids;
	uint64_t octets = 0;
	char err[256];
	size_t k;

	for (k = 0; k < n; k++)
		octets += s->sel.msgs[idx[k]].size;
	if (over_quota(s, octets, n)) {
		imap_reply(s, cmd, "NO", "OVERQUOTA", "Quota exceeded");
		return 0;
	}
	dst_uids = xreallocarray(NULL, n, sizeof(*dst_uids));
	errno = 0;
	if (imap_copy(&s->sel, idx, n, dst, &uidvalidity, dst_uids, err, sizeof(err)) == -1) {
		store_failed(s, cmd, errno, err);
		free(dst_uids);
		return 0;
	}
	strbuf_init(&code, 1 << 20);
	if (copyuid_code(s, idx, dst_uids, n, uidvalidity, &code) == -1)
		strbuf_reset(&code);
	free(dst_uids);
	if (move) {
		/* RFC 6851 4.3: COPYUID in an untagged OK before the expunges */
		if (code.len > 0)
			imap_untagged(s, "OK [%s] Moved", code.data);
		if (move_expunge(s, idx, n) == -1)
			imap_reply(s, cmd, "NO", NULL,
			    "Copied, but the messages could not be removed from the source");
		else
			imap_reply(s, cmd, "OK", NULL, "MOVE completed");
	} else
		imap_reply(s, cmd, "OK", code.len ? code.data : NULL, "COPY completed");
	strbuf_free(&code);
	return 0;
}

static int
copy_move(struct imap_session *s, struct imap_cmd *cmd, int uid, int move)
{
	const struct imap_arg *a = cmd->args;
	char dst[IMAP_NAME_MAX + 1], err[256];
	size_t *idx = NULL, n = 0;
	int rc;

	if (s->state != IMAP_ST_SELECTED) {
		imap_reply(s, cmd, "BAD", NULL, "No mailbox selected");
		return 0;
	}
	if (a[0].type == IMAP_ARG_EOL || a[1].type == IMAP_ARG_EOL ||
	    a[2].type != IMAP_ARG_EOL) {
		imap_reply(s, cmd, "BAD", NULL, "Usage: %s sequence-set mailbox",
		    move ? "MOVE" : "COPY");
		return 0;
	}
	if (imap_arg_mailbox(s, &a[1], dst, sizeof(dst)) == -1) {
		imap_reply(s, cmd, "NO", "CANNOT", "Invalid mailbox name");
		return 0;
	}
	if (move && s->sel.readonly) {
		imap_reply(s, cmd, "NO", "READ-ONLY", "Mailbox is read-only");
		return 0;
	}
	if (imap_fetch_resolve(s, &a[0], uid, &idx, &n, err, sizeof(err)) == -1) {
		imap_reply(s, cmd, "BAD", NULL, "%s", err);
		return 0;
	}
	if (n == 0) {
		/* RFC 4315: nothing copied, no COPYUID (UID sets that matched nothing) */
		imap_reply(s, cmd, "OK", NULL, "%s completed, no messages", move ? "MOVE" : "COPY");
		return 0;
	}
	rc = copy_run(s, cmd, idx, n, dst, move);
	free(idx);
	return rc;
}

/* COPY / UID COPY: RFC 3501 6.4.7, RFC 4315 3 (COPYUID). */
int
imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	return copy_move(s, cmd, uid, 0);
}

/* MOVE / UID MOVE: RFC 6851. */
int
imap_cmd_move(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	return copy_move(s, cmd, uid, 1);
}

/* date-time (RFC 3501 9): "dd-Mon-yyyy hh:mm:ss +zzzz", day may be " d". 0 or -1. */
static int
parse_date_time(const char *p, size_t len, time_t *out)
{
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char b[32];
	struct tm tm;
	int d, y, h, mi, sec, z, n = 0;
	const char *m;
	char mon[4], sign;

	if (len >= sizeof(b))
		return -1;
	memcpy(b, p, len);
	b[len] = '\0';
	if (sscanf(b, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &h, &mi, &sec, &sign,
	    &z, &n) != 8 || (size_t)n != len || (sign != '+' && sign != '-'))
		return -1;
	mon[0] = (char)(mon[0] & ~0x20);
	mon[1] = (char)(mon[1] | 0x20);
	mon[2] = (char)(mon[2] | 0x20);
	mon[3] = '\0';
	if ((m = strstr(mons, mon)) == NULL || (m - mons) % 3 != 0 || d < 1 || d > 31 ||
	    y < 1970 || h > 23 || mi > 59 || sec > 60 || z % 100 > 59 || h < 0 || mi < 0 ||
	    sec < 0 || z < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = d;
	tm.tm_mon = (int)((m - mons) / 3);
	tm.tm_year = y - 1900;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm) - (sign == '-' ? -1 : 1) * ((z / 100) * 3600 + (z % 100) * 60);
	return 0;
}

struct append_req {
	char		 name[IMAP_NAME_MAX + 1];
	unsigned	 flags;
	const char	*kw[APPEND_KW_MAX];
	size_t		 nkw;
	time_t		 date;
	const char	*data;
	size_t		 len;
};

/* mailbox [(flags)] [date-time] message: RFC 3501 6.3.11, RFC 3516 4.4. 0, -1 BAD, -2 name. */
static int
append_parse(struct imap_session *s, const struct imap_arg *a, struct append_req *r,
    char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (a->type == IMAP_ARG_EOL)
		goto usage;
	if (imap_arg_mailbox(s, a++, r->name, sizeof(r->name)) == -1)
		return -2;
	if (a->type == IMAP_ARG_LIST) {
		if (parse_flags(a->list, a->n, 0, &r->flags, r->kw, &r->nkw, err, errlen) == -1)
			return -1;
		a++;
	}
	if (a->type == IMAP_ARG_QUOTED) {
		if (parse_date_time(a->str, a->len, &r->date) == -1) {
			snprintf(err, errlen, "Invalid date-time");
			return -1;
		}
		a++;
	}
	if (a->type != IMAP_ARG_LITERAL || a[1].type != IMAP_ARG_EOL) {
		/* one message: MULTIAPPEND (RFC 3502) and CATENATE are not offered */
		goto usage;
	}
	r->data = a->str;
	r->len = a->len;
	return 0;
usage:
	snprintf(err, errlen, "Usage: APPEND mailbox [(flags)] [date-time] literal");
	return -1;
}

/* APPEND: RFC 3501 6.3.11, RFC 9051 6.3.12, APPENDUID RFC 4315 3. */
int
imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd, int uid)
{
	struct append_req r;
	char err[256], code[64];
	uint32_t uidvalidity = 0, newuid = 0;
	int rc;

	if ((rc = append_parse(s, cmd->args, &r, err, sizeof(err))) != 0) {
		if (rc == -2)
			imap_reply(s, cmd, "NO", "CANNOT", "Invalid mailbox name");
		else
			imap_reply(s, cmd, "BAD", NULL, "%s", err);
		return 0;
	}
	if (r.len == 0) {
		imap_reply(s, cmd, "NO", NULL, "Cannot append an empty message");
		return 0;
	}
	if (over_quota(s, r.len, 1)) {
		imap_reply(s, cmd, "NO", "OVERQUOTA", "Quota exceeded");
		return 0;
	}
	errno = 0;
	if (imap_append(r.name, r.data, r.len, r.flags, r.kw, r.nkw, r.date, &uidvalidity,
	    &newuid, err, sizeof(err)) == -1) {
		store_failed(s, cmd, errno, err);
		return 0;
	}
	/* the reply syncs first: into the selected folder, EXISTS comes before it */
	if (str_fmt(code, sizeof(code), "APPENDUID %u %u", uidvalidity, newuid) == -1)
		code[0] = '\0';
	imap_reply(s, cmd, "OK", code[0] ? code : NULL, "APPEND completed");
	return 0;
}
