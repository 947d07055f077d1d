## postern(8): the master, and the admin commands (check, config, user, demo).
sbin_PROGRAMS += postern
postern_SOURCES = master/main.c
postern_LDADD = $(POSTERN_LIBS) $(DB_LIBS)
