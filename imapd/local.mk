## imapd(8): IMAP on 143 (STARTTLS) and 993 (implicit TLS). The privilege
## split is common/login.c (shared with pop3d); everything else of IMAP
## lives here. Each part has its own fragment (sources, unit tests, fuzz
## targets) so that parallel work on them does not collide; libimap.a
## holds every module but main so that unit tests can link what they test.
IMAPD_CORE =
IMAPD_CMDS =
IMAPD_STORE =
IMAPD_MIME =
IMAPD_SEARCH =
IMAPD_SERVER =
include imapd/core.mk
include imapd/cmds.mk
include imapd/store.mk
include imapd/mime.mk
include imapd/search.mk
include imapd/server.mk
noinst_LIBRARIES += imapd/libimap.a
imapd_libimap_a_SOURCES = imapd/imap.h imapd/imap_parse.h imapd/imap_seqset.h \
	imapd/imap_store.h imapd/imap_mime.h imapd/imap_search.h imapd/imap_utf7.h \
	$(IMAPD_CORE) $(IMAPD_CMDS) $(IMAPD_STORE) $(IMAPD_MIME) $(IMAPD_SEARCH) $(IMAPD_SERVER)
pkglibexec_PROGRAMS += imapd/imapd
imapd_imapd_SOURCES = imapd/imapd.c
imapd_imapd_LDADD = imapd/libimap.a $(POSTERN_LIBS) $(ZLIB_LIBS)
# Libraries a unit test of an imapd module links with.
IMAP_TEST_LIBS = imapd/libimap.a $(POSTERN_LIBS) $(ZLIB_LIBS) $(CMOCKA_LIBS)
