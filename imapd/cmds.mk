## imapd fragment: cmds (sources as IMAPD_CMDS += ..., its unit tests and fuzz targets)
IMAPD_CMDS += imapd/imap_fetch.h imapd/imap_fetch_parse.c imapd/imap_fetch.c \
	imapd/imap_cmd_msg.c imapd/imap_cmd_search.c
## The FETCH item parser (imap_fetch_parse.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_fetch
TESTS += tests/unit/test_imap_fetch
tests_unit_test_imap_fetch_SOURCES = tests/unit/test_imap_fetch.c
tests_unit_test_imap_fetch_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_fetch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_fetch_LDADD = $(IMAP_TEST_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_imap_fetch.c
