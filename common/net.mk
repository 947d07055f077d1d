## stream I/O, TLS, listeners, privileges, the user database (sasldb).
COMMON_NET = common/stream.c common/stream.h common/tls.c common/tls.h \
	common/listen.c common/listen.h common/listen_pool.c common/priv.c common/priv.h \
	common/userdb.c common/userdb.h
# userdb.c lists the sasldb with Berkeley DB, so every program that links
# the userdb object (lookupd, postern, later submitd) needs -ldb.
POSTERN_LIBS += $(DB_LIBS)
