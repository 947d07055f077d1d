## stream I/O, TLS, listeners, privileges, the user database (sasldb).
COMMON_NET = common/stream.c common/stream.h common/tls.c common/tls.h \
	common/listen.c common/listen.h common/priv.c common/priv.h \
	common/userdb.c common/userdb.h
