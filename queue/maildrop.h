/*
 * maildrop: the drop directory of local submission (issue 3), shared by
 * postern-sendmail (the user's program), postdrop (setgid maildrop_group:
 * writes the file) and pickup (mail_owner: queues it). Postfix's layout,
 * relative to queue_dir (0711):
 *
 *   maildrop/       1730 mail_owner:maildrop_group  files named by an id
 *   public/         0710 mail_owner:maildrop_group
 *   public/pickup   0620 FIFO: one byte wakes pickup
 *
 * File format (postdrop writes it; pickup trusts none of it but the uid,
 * and checks that too against the file's owner):
 *
 *   postern-maildrop 1
 *   uid UID                 getuid() of postdrop: the submitting user
 *   sender ADDRESS          optional (-f); empty value: the null sender
 *   fullname TEXT           optional (-F)
 *   rcpt ADDRESS            one or more
 *   data
 *   <content, LF line ends, at most message_size_limit bytes>
 *
 * postdrop's exit status (the contract with postern-sendmail, in the
 * manner of qmail-queue): 0 queued; 1x permanent (do not retry the same
 * input); 7x temporary (try again later). See postdrop(8).
 */
#ifndef POSTERN_MAILDROP_H
#define POSTERN_MAILDROP_H

#include <stddef.h>
#include <stdio.h>

#include "address.h"

#define MAILDROP_DIR		"maildrop"
#define MAILDROP_FIFO		"public/pickup"
#define MAILDROP_MAGIC		"postern-maildrop 1"
#define MAILDROP_TMP		"t."		/* prefix of files being written */
#define MAILDROP_LINE_MAX	1024		/* one envelope record */
#define MAILDROP_NAME_MAX	200		/* -F full name */
#define MAILDROP_RCPT_MAX	1000		/* recipients per message */

#define POSTDROP_EX_OK		0	/* in maildrop/ (on stable storage) */
#define POSTDROP_EX_USAGE	10	/* bad arguments */
#define POSTDROP_EX_ADDR	11	/* bad address or full name */
#define POSTDROP_EX_TOOBIG	12	/* over message_size_limit */
#define POSTDROP_EX_NRCPT	13	/* no recipient, or too many */
#define POSTDROP_EX_NOPERM	14	/* -c from an ordinary user, and the setgid group could not be dropped for good */
#define POSTDROP_EX_CONFIG	71	/* the configuration cannot be loaded */
#define POSTDROP_EX_WRITE	72	/* cannot write the maildrop (I/O, space, permissions) */
#define POSTDROP_EX_READ	73	/* read error on standard input */

/*
 * Check an envelope address from the user and qualify a bare local part
 * with "@" domain (out has ADDR_BUF bytes; "" for the null sender when
 * null_ok and v is "" or "<>"). 0, or -1 with *why.
 */
int maildrop_addr(const char *v, int null_ok, const char *domain, char *out,
    size_t outlen, const char **why);
/* Is v printable text without control characters, at most max bytes? */
int maildrop_text_ok(const char *v, size_t max);

/* The envelope of a maildrop file, as pickup reads it. */
struct maildrop_env {
	unsigned long	 uid;
	char		 sender[ADDR_BUF];
	int		 sender_given;	/* -f */
	char		 fullname[MAILDROP_NAME_MAX + 1];
	char		 (*rcpt)[ADDR_BUF];
	size_t		 nrcpt;
};

/*
 * Read the envelope records of a maildrop file (untrusted: written by any
 * user through postdrop) from fp, strictly in order, up to and including
 * the "data" line; fp is left at the content. Unqualified addresses get
 * "@" domain. m must be zeroed first; the caller frees m->rcpt, also
 * after a failure. 0, or -1 with *why.
 */
int maildrop_read_envelope(FILE *fp, const char *domain, struct maildrop_env *m,
    const char **why);

#endif
