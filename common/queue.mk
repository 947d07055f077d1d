## queue file format, Maildir writer, lookup client, aliases and routing.
COMMON_QUEUE = common/qfile.c common/qfile.h common/qfile_write.c common/qfile_free.c common/qfile_int.h common/maildir.c common/maildir.h \
	common/lookup.c common/lookup.h common/aliases.c common/aliases.h \
	common/postmaster.c common/postmaster.h \
	common/gcommit.c common/gcommit.h
