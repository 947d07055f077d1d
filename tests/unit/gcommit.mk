## Unit tests of the group commit of directory fsyncs (common/gcommit.c)
## and of common/maildir.c: the readers' tmp/ cleanup and maildir_deliver().
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_gcommit
TESTS += tests/unit/test_gcommit
tests_unit_test_gcommit_SOURCES = tests/unit/test_gcommit.c
tests_unit_test_gcommit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_gcommit_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
# fsync is wrapped to check which directory each real fsync covered.
tests_unit_test_gcommit_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=fsync
check_PROGRAMS += tests/unit/test_maildir
TESTS += tests/unit/test_maildir
tests_unit_test_maildir_SOURCES = tests/unit/test_maildir.c
tests_unit_test_maildir_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_maildir_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
