/*
 * imapd's mailbox commands, between imap_cmd_mbox.c (STATUS and the rest)
 * and imap_cmd_list.c (LIST, LSUB, whose LIST-STATUS return option sends
 * STATUS responses). Session process, as the mail owner.
 */
#ifndef POSTERN_IMAP_MBOX_H
#define POSTERN_IMAP_MBOX_H

#include <stddef.h>

struct imap_arg;
struct imap_session;

#define IMAP_STATUS_ITEMS_MAX	16	/* items in one STATUS list */

/* A STATUS item list ("(MESSAGES UNSEEN)") as indexes, in order. 0 or -1. */
int imap_status_parse(const struct imap_arg *, unsigned char *order, size_t *norder);
/* Send "* STATUS name (...)". 0, or -1 with errno (ENOENT: no such folder). */
int imap_status_send(struct imap_session *, const char *name, const unsigned char *order,
    size_t norder);

#endif
