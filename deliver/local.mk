## deliver(8): local delivery into Maildir.
include deliver/rules.mk
pkglibexec_PROGRAMS += deliver/deliver
deliver_deliver_SOURCES = deliver/deliver.c deliver/deliver.h \
	deliver/deliver_rules.c deliver/deliver_user.c $(DELIVER_RULES)
deliver_deliver_LDADD = $(POSTERN_LIBS)
