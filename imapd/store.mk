## imapd fragment: store (sources as IMAPD_STORE += ..., its unit tests and fuzz targets)
## The Maildir++ store: open/sync (imap_store.c, imap_store_sync.c,
## imap_store_scan.c), messages (imap_store_msg.c), names, keywords,
## the durable uidlist and the index cache, folders, STATUS/quota,
## APPEND and COPY.
IMAPD_STORE += imapd/imap_store_int.h imapd/imap_store.c imapd/imap_store_sync.c \
	imapd/imap_store_scan.c imapd/imap_store_name.c imapd/imap_store_msg.c \
	imapd/imap_store_kw.c imapd/imap_store_status.c imapd/imap_uidlist.c \
	imapd/imap_index.c imapd/imap_folders.c imapd/imap_append.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_imap_store
TESTS += tests/unit/test_imap_store
tests_unit_test_imap_store_SOURCES = tests/unit/test_imap_store.c
tests_unit_test_imap_store_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/imapd
tests_unit_test_imap_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_imap_store_LDADD = $(IMAP_TEST_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_imap_index.c
