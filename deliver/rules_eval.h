/*
 * rules_eval: what deliver does with parsed delivery rules (common/rules.h,
 * postern.rules(5)): the message as the rules see it (rules_msg.c), the
 * evaluation against a message's header fields and envelope
 * (rules_eval.c), whose result says where the message goes: INBOX (keep),
 * folders (fileinto), other addresses (redirect), or nowhere (discard);
 * and the Maildir++ folders, created and subscribed (rules_folder.c).
 * Everything here runs in the deliver child, as the mailbox owner (vmail
 * or the invoking user), never as root.
 *
 * Bounded: header bytes and fields examined, a budget of regex failures
 * and a time budget for the regexes of one message.
 */
#ifndef POSTERN_RULES_EVAL_H
#define POSTERN_RULES_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define RULES_HDR_MAX		(64 * 1024)	/* header bytes examined */
#define RULES_FIELDS_MAX	500		/* header fields examined */
#define RULES_ACTIONS_MAX	32		/* fileinto + redirect per message */
#define RULES_REGEX_FAILS_MAX	4		/* limit hits before regexes stop */
#define RULES_TIME_MAX_MS	5000		/* regex time for one message */

/* One header field: name as written, value unfolded and RFC 2047 decoded. */
struct rules_field {
	char	*name;
	char	*value;
	size_t	 vlen;
};

/* The message as the rules see it. */
struct rules_msg {
	struct rules_field *f;
	size_t		 nf;
	const char	*sender;	/* envelope sender, "" for <> */
	const char	*rcpt;		/* envelope recipient as addressed */
	unsigned long long size;	/* message size in bytes */
};

/*
 * Split the header section at the start of hdr (at most RULES_HDR_MAX of
 * len bytes; it ends at the first empty line) into at most
 * RULES_FIELDS_MAX fields, unfolded (RFC 5322 2.2.3) and with encoded
 * words decoded (RFC 2047). sender and rcpt are borrowed.
 */
void rules_msg_init(struct rules_msg *m, const char *hdr, size_t len,
    const char *sender, const char *rcpt, unsigned long long size);
void rules_msg_free(struct rules_msg *m);
/* Has the message a field name (any case) whose value is addr (any case)? */
int rules_msg_has(const struct rules_msg *m, const char *name, const char *addr);

/* What the rules decided, accumulated over the files evaluated. */
struct rules_result {
	int	 keep;		/* an explicit keep */
	int	 cancel;	/* fileinto, redirect or discard: no implicit keep */
	int	 stop;		/* stop: later files are not evaluated */
	char	**folder;	/* fileinto names (UTF-8, as written), no duplicates */
	size_t	 nfolder;
	char	**redirect;	/* redirect addresses, no duplicates */
	size_t	 nredirect;
	unsigned errors;	/* regex limit hits (logged) */
	int64_t	 deadline;	/* now_ms() after which no regex runs */
};

void rules_result_init(struct rules_result *);
void rules_result_free(struct rules_result *);
/*
 * Evaluate r against m, adding to res (stop sets res->stop). Regex
 * failures are logged with FILE:LINE and count as no match; so do the
 * regexes left when RULES_TIME_MAX_MS have passed since
 * rules_result_init().
 */
void rules_eval(const struct rules *r, const struct rules_msg *m,
    struct rules_result *res);
/* Does the message go to the keep folder (explicit or implicit keep)? */
int rules_result_keep(const struct rules_result *);

/*
 * Folders: rules_folder_dir() (common/rules.h) names their directories.
 * Make sure folder dir (from rules_folder_dir, not "") exists under the
 * Maildir at maildir with cur/ new/ tmp/ and maildirfolder, and that its
 * name is in maildir/subscriptions. 0, or -1 with err.
 */
int rules_folder_ensure(const char *maildir, const char *dir, char *err,
    size_t errlen);
/*
 * Plus-addressing: the folder directory under maildir whose name matches
 * ext (ASCII case-insensitively, after modified UTF-7 encoding) into dir.
 * 1 found, 0 not.
 */
int rules_folder_find(const char *maildir, const char *ext, char *dir,
    size_t dirlen);

#endif
