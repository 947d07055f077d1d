## Unit test of the pre-forked worker pool (common/listen_pool.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_listen_pool
TESTS += tests/unit/test_listen_pool
tests_unit_test_listen_pool_SOURCES = tests/unit/test_listen_pool.c
tests_unit_test_listen_pool_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_listen_pool_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
