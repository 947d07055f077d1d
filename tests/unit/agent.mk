## Unit tests of the qmgr -> agent delivery request (common/agent.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_agent
TESTS += tests/unit/test_agent
tests_unit_test_agent_SOURCES = tests/unit/test_agent.c
tests_unit_test_agent_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_agent_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_agent.c
