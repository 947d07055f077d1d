## Unit tests of the I/O foundation: streams and listeners.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_stream
TESTS += tests/unit/test_stream
tests_unit_test_stream_SOURCES = tests/unit/test_stream.c
tests_unit_test_stream_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_stream_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
