## Unit tests of the access servers' Maildir snapshot (common/mailbox.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mailbox
TESTS += tests/unit/test_mailbox
tests_unit_test_mailbox_SOURCES = tests/unit/test_mailbox.c
tests_unit_test_mailbox_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mailbox_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
