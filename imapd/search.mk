## imapd fragment: search (sources as IMAPD_SEARCH += ..., its unit tests and fuzz targets)
## SEARCH keys, ESEARCH, SORT and THREAD (RFC 3501 6.4.4, 4731, 5182, 5256, 5957, 7162).
IMAPD_SEARCH += imapd/imap_search_int.h imapd/imap_search.c imapd/imap_search_eval.c \
	imapd/imap_subject.c imapd/imap_sort.c imapd/imap_thread.c
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_search
TESTS += tests/unit/test_imap_search
tests_unit_test_imap_search_SOURCES = tests/unit/test_imap_search.c \
	tests/unit/imap_search_fixture.c tests/unit/imap_search_fixture.h
tests_unit_test_imap_search_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_search_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_search_LDADD = $(IMAP_TEST_LIBS)
check_PROGRAMS += tests/unit/test_imap_sort
TESTS += tests/unit/test_imap_sort
tests_unit_test_imap_sort_SOURCES = tests/unit/test_imap_sort.c \
	tests/unit/imap_search_fixture.c tests/unit/imap_search_fixture.h
tests_unit_test_imap_sort_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_sort_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_sort_LDADD = $(IMAP_TEST_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_imap_search.c
