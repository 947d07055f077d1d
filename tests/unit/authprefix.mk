## authd's failure block per client network (issue 13): the prefix
## arithmetic of auth_net_key() and the block of an IPv6 /64, with
## auth/auth_cmd.c compiled in.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_auth_prefix
TESTS += tests/unit/test_auth_prefix
tests_unit_test_auth_prefix_SOURCES = tests/unit/test_auth_prefix.c auth/auth_cmd.c auth/auth_sys.c
tests_unit_test_auth_prefix_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/auth
tests_unit_test_auth_prefix_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_auth_prefix_LDADD = $(POSTERN_LIBS) $(CRYPT_LIBS) $(CMOCKA_LIBS)
endif
