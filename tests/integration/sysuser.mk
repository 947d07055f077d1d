## (fragment, issue 10) delivery to the Unix accounts of system_domains,
## as those accounts, with ~/.postern.rules. The integration test needs
## root (useradd, userdel); the unit test covers the header qmgr sends
## deliver (common/agent.c), the account lookup (common/sysuser.c) and
## system_domains as local domains.
TESTS += tests/integration/test_sysuser.py
EXTRA_DIST += tests/integration/test_sysuser.py
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sysuser
TESTS += tests/unit/test_sysuser
tests_unit_test_sysuser_SOURCES = tests/unit/test_sysuser.c
tests_unit_test_sysuser_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sysuser_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
