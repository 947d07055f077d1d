/*
 * pop3d: the POP3 server (RFC 1939, 2449, 2595, 5034) on 110 (STLS) and
 * 995 (implicit TLS). The listening process keeps the privileges it was
 * started with (root under the master) but never reads from the network:
 * it only accepts and forks. Each connection is split by common/login.c
 * into a login process (login_user, chrooted to an empty directory, runs
 * pop3_login.c) and a session process (vmail_user, runs pop3_session.c).
 *
 * Sockets: from the master or systemd (LISTEN_FDS; names "pop3" and
 * "pop3s"; a passed socket that is already connected, as with systemd
 * Accept=yes, is served as one session), else one connection on fds 0/1
 * (inetd, tcpserver). -s: implicit TLS for fd 0 and unnamed sockets.
 */
#include "config.h"

#include "login.h"
#include "pop3.h"

#define POP3D_PROCESS_LIMIT	500	/* concurrent connections (2 processes each) */

static const struct login_proto pop3_proto = {
	.name = "pop3",
	/* RFC 2449 8.1.2: the problem is on our side and should pass. */
	.unavailable = "-ERR [SYS/TEMP] Service unavailable\r\n",
	.preauth = pop3_preauth,
	.session_failed = pop3_session_failed,
	.session = pop3_session,
};

static const struct login_daemon pop3d_daemon = {
	.prog = "pop3d",
	.plain_name = "pop3",
	.tls_name = "pop3s",
	.process_limit = POP3D_PROCESS_LIMIT,
	.proto = &pop3_proto,
};

int
main(int argc, char **argv)
{
	return login_daemon_main(argc, argv, &pop3d_daemon);
}
