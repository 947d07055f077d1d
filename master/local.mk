## postern(8): the master, and the admin commands (check, config, user, demo).
sbin_PROGRAMS += postern
postern_SOURCES = master/main.c master/master.h master/master.c \
	master/setup.c master/setup.h master/control.c master/check.c \
	master/user.c master/demo.c master/notify.c master/notify.h \
	queue/admin.c queue/admin.h
postern_LDADD = $(POSTERN_LIBS) $(DB_LIBS)
