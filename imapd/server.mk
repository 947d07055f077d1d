## imapd fragment: server (imapd.c main, imap_login.c, imap_session.c, imap_cmd_mbox.c, imap_cmd_sel.c, imap_compress.c as IMAPD_SERVER += ...)
IMAPD_SERVER += imapd/imap_login.c imapd/imap_session.c imapd/imap_idle.c \
	imapd/imap_mbox.h imapd/imap_cmd_mbox.c imapd/imap_cmd_list.c imapd/imap_cmd_sel.c
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_session
TESTS += tests/unit/test_imap_session
tests_unit_test_imap_session_SOURCES = tests/unit/test_imap_session.c
tests_unit_test_imap_session_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_session_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_session_LDADD = $(IMAP_TEST_LIBS)
endif
