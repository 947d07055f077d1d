## Unit tests of the SMTP side: address and parameter parsing, the command
## splitter and the DATA/BDAT machines (common/address.c, common/smtp_parse.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_address tests/unit/test_smtp_parse
TESTS += tests/unit/test_address tests/unit/test_smtp_parse
tests_unit_test_address_SOURCES = tests/unit/test_address.c
tests_unit_test_address_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_address_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_smtp_parse_SOURCES = tests/unit/test_smtp_parse.c
tests_unit_test_smtp_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_smtp_parse_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif
