## Unit tests of the parsers of issue 3: sender_login_map (submitd),
## the maildrop envelope (pickup: untrusted), the -t address lists of
## postern-sendmail, the header fix-ups (common/msgfix.c), authd's client
## (common/authclient.c) and its request parser (auth/auth_cmd.c), and
## the POP3 command line reader (pop3d/pop3_login.c). The parsers that
## live in a program's folder are compiled in from there.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sender_map tests/unit/test_maildrop \
	tests/unit/test_addrlist tests/unit/test_msgfix \
	tests/unit/test_authclient tests/unit/test_auth_cmd \
	tests/unit/test_pop3_parse
TESTS += tests/unit/test_sender_map tests/unit/test_maildrop \
	tests/unit/test_addrlist tests/unit/test_msgfix \
	tests/unit/test_authclient tests/unit/test_auth_cmd \
	tests/unit/test_pop3_parse
tests_unit_test_sender_map_SOURCES = tests/unit/test_sender_map.c submitd/sender_map.c
tests_unit_test_sender_map_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/submitd
tests_unit_test_sender_map_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sender_map_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_maildrop_SOURCES = tests/unit/test_maildrop.c queue/maildrop.c
tests_unit_test_maildrop_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/queue
tests_unit_test_maildrop_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_maildrop_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_addrlist_SOURCES = tests/unit/test_addrlist.c queue/addrlist.c
tests_unit_test_addrlist_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/queue
tests_unit_test_addrlist_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_addrlist_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_msgfix_SOURCES = tests/unit/test_msgfix.c
tests_unit_test_msgfix_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_msgfix_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_authclient_SOURCES = tests/unit/test_authclient.c
tests_unit_test_authclient_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_authclient_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
tests_unit_test_auth_cmd_SOURCES = tests/unit/test_auth_cmd.c auth/auth_cmd.c auth/auth_sys.c
tests_unit_test_auth_cmd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/auth
tests_unit_test_auth_cmd_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_auth_cmd_LDADD = $(POSTERN_LIBS) $(CRYPT_LIBS) $(CMOCKA_LIBS)
tests_unit_test_pop3_parse_SOURCES = tests/unit/test_pop3_parse.c pop3d/pop3_login.c
tests_unit_test_pop3_parse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/pop3d
tests_unit_test_pop3_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pop3_parse_LDADD = $(POSTERN_LIBS) $(CMOCKA_LIBS)
endif

## Their fuzz targets (built by hand: tests/fuzz/README.md) ship too.
EXTRA_DIST += tests/fuzz/fuzz_maildrop.c tests/fuzz/fuzz_addrlist.c \
	tests/fuzz/fuzz_sender_map.c tests/fuzz/fuzz_msgfix.c \
	tests/fuzz/fuzz_auth_cmd.c tests/fuzz/fuzz_authclient.c tests/fuzz/fuzz_pop3.c
