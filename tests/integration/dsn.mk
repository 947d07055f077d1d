## (fragment, issue 13) delivery status notifications (RFC 3461-3464):
## success, delay and failure notices written by qmgr, NOTIFY/ORCPT/RET/
## ENVID passed on by the smtp client. The unit test of the formatting
## and the queue file's "delayed" record lives here too (one fragment
## for the feature), and so does its fuzz target (built by hand).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_dsn
TESTS += tests/unit/test_dsn
tests_unit_test_dsn_SOURCES = tests/unit/test_dsn.c queue/qmgr_dsn_fmt.c
tests_unit_test_dsn_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/queue
tests_unit_test_dsn_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_dsn_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
TESTS += tests/integration/test_dsn.py
EXTRA_DIST += tests/integration/test_dsn.py tests/fuzz/fuzz_dsn.c
