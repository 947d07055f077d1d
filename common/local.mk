## libpostern: everything the daemons share. Each group of sources is kept in
## its own fragment so that parallel work on them does not collide.
noinst_LIBRARIES += common/libpostern.a
include common/base.mk
include common/daemon.mk
include common/net.mk
include common/smtp.mk
include common/queue.mk
include common/pop3.mk
include common/auth.mk
include common/smtpd.mk
include common/agent.mk
include common/content.mk
common_libpostern_a_SOURCES = $(COMMON_BASE) $(COMMON_DAEMON) $(COMMON_NET) $(COMMON_SMTP) $(COMMON_QUEUE) $(COMMON_POP3) \
	$(COMMON_AUTHC) $(COMMON_AGENT) $(COMMON_SMTPD) $(COMMON_CONTENT)
include common/checks.mk
include common/rules.mk
