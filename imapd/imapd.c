/*
 * imapd: the IMAP server (RFC 3501, RFC 9051 and the extensions listed
 * in imapd(8)) on 143 (STARTTLS) and 993 (implicit TLS). The listening
 * process keeps the privileges it was started with (root under the
 * master) but never reads from the network: it only accepts and forks.
 * Each connection is split by common/login.c into a login process
 * (login_user, chrooted to an empty directory, runs imap_login.c) and a
 * session process (vmail_user, runs imap_session.c over the Maildir).
 *
 * Sockets: from the master or systemd (LISTEN_FDS; names "imap" and
 * "imaps"; a passed socket that is already connected, as with systemd
 * Accept=yes, is served as one session), else one connection on fds 0/1
 * (inetd, tcpserver). -s: implicit TLS for fd 0 and unnamed sockets.
 */
#include "config.h"

#include "login.h"
#include "imap.h"

#define IMAPD_PROCESS_LIMIT	1000	/* concurrent connections (2 processes each) */

static const struct login_proto imap_proto = {
	.name = "imap",
	/* RFC 3501 7.1.5: BYE instead of the greeting. */
	.unavailable = "* BYE [UNAVAILABLE] Service unavailable\r\n",
	.preauth = imap_preauth,
	.session_failed = imap_session_failed,
	.session = imap_session,
	.idle_secs = IMAP_AUTOLOGOUT_SECS,	/* RFC 3501 5.4: 30 minutes */
};

static const struct login_daemon imapd_daemon = {
	.prog = "imapd",
	.plain_name = "imap",
	.tls_name = "imaps",
	.process_limit = IMAPD_PROCESS_LIMIT,
	.proto = &imap_proto,
};

int
main(int argc, char **argv)
{
	return login_daemon_main(argc, argv, &imapd_daemon);
}
