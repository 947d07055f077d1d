## Unit tests of the group commit of directory fsyncs (common/gcommit.c)
## and of common/maildir.c: the readers' tmp/ cleanup and maildir_deliver().
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_gcommit
TESTS += tests/unit/test_gcommit
tests_unit_test_gcommit_SOURCES = tests/unit/test_gcommit.c
tests_unit_test_gcommit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_gcommit_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_maildir_tmp
TESTS += tests/unit/test_maildir_tmp
tests_unit_test_maildir_tmp_SOURCES = tests/unit/test_maildir_tmp.c
tests_unit_test_maildir_tmp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_maildir_tmp_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_maildir_deliver
TESTS += tests/unit/test_maildir_deliver
tests_unit_test_maildir_deliver_SOURCES = tests/unit/test_maildir_deliver.c
tests_unit_test_maildir_deliver_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_maildir_deliver_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
