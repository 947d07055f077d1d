## (fragment, issue 4) unit tests of the outbound smtp(8) client's
## parsers: replies and EHLO keywords (queue/smtp_reply.c, test_smtp_client),
## the maps, next hops and credentials (queue/smtp_route.c, test_smtp_route).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_smtp_client
TESTS += tests/unit/test_smtp_client
tests_unit_test_smtp_client_SOURCES = tests/unit/test_smtp_client.c \
	queue/smtp_reply.c queue/smtp_route.c
tests_unit_test_smtp_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/queue
tests_unit_test_smtp_client_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_smtp_client_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS) -lresolv
check_PROGRAMS += tests/unit/test_smtp_route
TESTS += tests/unit/test_smtp_route
tests_unit_test_smtp_route_SOURCES = tests/unit/test_smtp_route.c \
	queue/smtp_reply.c queue/smtp_route.c
tests_unit_test_smtp_route_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/queue
tests_unit_test_smtp_route_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_smtp_route_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS) -lresolv
endif

## Their fuzz targets (built by hand: tests/fuzz/README.md) ship too.
EXTRA_DIST += tests/fuzz/fuzz_smtp_reply.c tests/fuzz/fuzz_smtp_maps.c
