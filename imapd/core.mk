## imapd fragment: core (sources as IMAPD_CORE += ..., its unit tests and fuzz targets)
## The command reader and parser, sequence sets, modified UTF-7 and
## COMPRESS=DEFLATE (the stream filter of common/stream.h).
IMAPD_CORE += imapd/imap_parse.c imapd/imap_parse_read.c imapd/imap_parse_int.h \
	imapd/imap_seqset.c imapd/imap_utf7.c imapd/imap_compress.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_parse tests/unit/test_imap_parse_read \
	tests/unit/test_imap_seqset tests/unit/test_imap_utf7 tests/unit/test_imap_compress
TESTS += tests/unit/test_imap_parse tests/unit/test_imap_parse_read \
	tests/unit/test_imap_seqset tests/unit/test_imap_utf7 tests/unit/test_imap_compress
tests_unit_test_imap_parse_SOURCES = tests/unit/test_imap_parse.c
tests_unit_test_imap_parse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_parse_LDADD = $(IMAP_TEST_LIBS)
tests_unit_test_imap_parse_read_SOURCES = tests/unit/test_imap_parse_read.c
tests_unit_test_imap_parse_read_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_parse_read_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_imap_parse_read_LDADD = $(IMAP_TEST_LIBS) -lpthread
tests_unit_test_imap_seqset_SOURCES = tests/unit/test_imap_seqset.c
tests_unit_test_imap_seqset_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_seqset_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_seqset_LDADD = $(IMAP_TEST_LIBS)
tests_unit_test_imap_utf7_SOURCES = tests/unit/test_imap_utf7.c
tests_unit_test_imap_utf7_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_utf7_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_utf7_LDADD = $(IMAP_TEST_LIBS)
tests_unit_test_imap_compress_SOURCES = tests/unit/test_imap_compress.c
tests_unit_test_imap_compress_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_compress_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(ZLIB_CFLAGS) -pthread
tests_unit_test_imap_compress_LDADD = $(IMAP_TEST_LIBS) -lpthread
endif

## Fuzz targets, built by hand from the configured build tree (see
## tests/fuzz/README.md for the flags; $B and $L as there):
##   $CC -Iimapd tests/fuzz/fuzz_imap_parse.c imapd/imap_parse.c \
##     imapd/imap_parse_read.c imapd/imap_seqset.c common/stream.c $B $L -o /tmp/fuzz_imap_parse
##   $CC -Iimapd tests/fuzz/fuzz_imap_utf7.c imapd/imap_utf7.c $B -o /tmp/fuzz_imap_utf7
EXTRA_DIST += tests/fuzz/fuzz_imap_parse.c tests/fuzz/fuzz_imap_utf7.c
