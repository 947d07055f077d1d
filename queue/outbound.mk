## (fragment, issue 4) the outbound smtp(8) client. qmgr and the queue
## admin command (`postern queue`, master/local.mk) are built elsewhere.
pkglibexec_PROGRAMS += queue/smtp
queue_smtp_SOURCES = queue/smtp.c queue/smtp_route.c queue/smtp_proto.c \
	queue/smtp_reply.c queue/smtp.h queue/qmgr_dsn_fmt.c queue/qmgr_dsn.h
queue_smtp_LDADD = $(POSTERN_LIBS) -lresolv
