## (fragment, issue 10) unit tests of the delivery rules, postern.rules(5):
## the parser (common/rules_parse.c, in libpostern), the evaluator, the
## message view and the folders (deliver/rules_*.c, compiled in from
## there), and their fuzz target.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_rules
TESTS += tests/unit/test_rules
tests_unit_test_rules_SOURCES = tests/unit/test_rules.c $(DELIVER_RULES)
tests_unit_test_rules_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/deliver
tests_unit_test_rules_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_rules_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_rules.c
