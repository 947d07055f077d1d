COMMON_DAEMON = common/daemon.c common/daemon.h
