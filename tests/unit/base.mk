## Unit tests of the foundation: the configuration parser.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
tests_unit_test_conf_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_conf_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
## The command-line grammar of postern, postern-sendmail, mailq, newaliases.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_cmdline
TESTS += tests/unit/test_cmdline
tests_unit_test_cmdline_SOURCES = tests/unit/test_cmdline.c
tests_unit_test_cmdline_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_cmdline_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
