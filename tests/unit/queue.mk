## Unit tests of the queue file format and the aliases(5) parser.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_qfile tests/unit/test_aliases
TESTS += tests/unit/test_qfile tests/unit/test_aliases
tests_unit_test_qfile_SOURCES = tests/unit/test_qfile.c
tests_unit_test_qfile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_qfile_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_aliases_SOURCES = tests/unit/test_aliases.c
tests_unit_test_aliases_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_aliases_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
