/*
 * postern-sendmail's internal interface: the option parsing and postdrop
 * plumbing (sendmail.c) and the -bs mode (sendmail_bs.c).
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

struct sendmail {
	struct conf	 conf;
	const char	*conffile;	/* -C FILE, or NULL ($POSTERN_CONF, default) */
	const char	*sender;	/* -f, or NULL: pickup takes the login name */
	const char	*fullname;	/* -F */
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi */
	int		 verbose;	/* -v */
	char		**rcpt;
	size_t		 nrcpt;
};

/*
 * Start postdrop with this envelope; *wfd is its standard input. The pid,
 * or -1 (message printed).
 */
pid_t sendmail_postdrop_start(const struct sendmail *, const char *sender,
    char *const *rcpt, size_t nrcpt, int *wfd);
/* Wait for postdrop: its exit status (POSTDROP_EX_*), or POSTDROP_EX_WRITE. */
int sendmail_postdrop_wait(pid_t);
/* Human text of a postdrop status. */
const char *sendmail_postdrop_text(int status);
/* SMTP on standard input and output (-bs). The exit status. */
int sendmail_bs(struct sendmail *);

#endif
