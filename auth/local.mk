## authd(8): SASL authentication for the login processes of pop3d and
## imapd (common/login.c is its client).
pkglibexec_PROGRAMS += auth/authd
auth_authd_SOURCES = auth/authd.c auth/auth.h auth/auth_cmd.c auth/auth_sys.c
auth_authd_LDADD = $(POSTERN_LIBS) $(CRYPT_LIBS)
