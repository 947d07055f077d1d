## qmgr(8) and lookupd(8).
pkglibexec_PROGRAMS += queue/qmgr queue/lookupd
queue_qmgr_SOURCES = queue/qmgr.c queue/qmgr_job.c queue/qmgr_route.c queue/qmgr.h \
	queue/qmgr_bounce.c queue/qmgr_control.c queue/qmgr_dsn.c \
	queue/qmgr_dsn_fmt.c queue/qmgr_dsn.h queue/qmgr_local.c queue/qmgr_agent.c
queue_qmgr_LDADD = $(POSTERN_LIBS)
queue_lookupd_SOURCES = queue/lookupd.c
queue_lookupd_LDADD = $(POSTERN_LIBS)
