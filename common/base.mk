COMMON_BASE = common/util.c common/util.h common/log.c common/log.h \
	common/strbuf.c common/strbuf.h common/conf.c common/conf.h \
	common/cmdline.c common/cmdline.h
