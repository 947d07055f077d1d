## Unit tests of the content checks (issue 10): common/regex.c (flags,
## groups, the match limits) and common/checks*.c (the rules parser and
## the streaming matcher). The fuzz target is built by hand
## (tests/fuzz/README.md).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_regex tests/unit/test_checks
TESTS += tests/unit/test_regex tests/unit/test_checks
tests_unit_test_regex_SOURCES = tests/unit/test_regex.c
tests_unit_test_regex_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_regex_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_checks_SOURCES = tests/unit/test_checks.c
tests_unit_test_checks_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_checks_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_checks.c
