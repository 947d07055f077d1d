## (fragment) IMAP: imapd with imaplib, a byte-exact client, curl, fetchmail
## and mbsync. test_imap*.py run imapd under the master, except
## test_imap_modes.py (systemd Accept=no/yes, inetd, tcpserver);
## test_imap_util.py is their shared helper module (not a test).
TESTS += \
	tests/integration/test_imap.py \
	tests/integration/test_imap_limits.py \
	tests/integration/test_imap_fetch.py \
	tests/integration/test_imap_concurrency.py \
	tests/integration/test_imap_clients.py \
	tests/integration/test_imap_modes.py
EXTRA_DIST += \
	tests/integration/test_imap_util.py \
	tests/integration/test_imap.py \
	tests/integration/test_imap_limits.py \
	tests/integration/test_imap_fetch.py \
	tests/integration/test_imap_concurrency.py \
	tests/integration/test_imap_clients.py \
	tests/integration/test_imap_modes.py
