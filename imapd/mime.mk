## imapd fragment: mime (sources as IMAPD_MIME += ..., its unit tests and fuzz targets)
IMAPD_MIME += imapd/imap_mime_int.h imapd/imap_mime.c imapd/imap_mime_hdr.c \
	imapd/imap_bodystruct.c imapd/imap_envelope.c imapd/imap_section.c \
	imapd/imap_decode.c imapd/imap_date.c

## Unit tests (cmocka, TAP) and the fuzz target (built by hand: tests/fuzz/README.md).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_mime
TESTS += tests/unit/test_imap_mime
tests_unit_test_imap_mime_SOURCES = tests/unit/test_imap_mime.c
tests_unit_test_imap_mime_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_mime_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_mime_LDADD = $(IMAP_TEST_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_imap_mime.c
