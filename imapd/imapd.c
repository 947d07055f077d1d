/*
 * imapd: placeholder main while the IMAP server is being assembled
 * (issue 9); replaced by the real one (sockets, TLS, login_proto).
 */
#include "config.h"

#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "imapd: not built yet\n");
	return 1;
}
