## deliver(8): local delivery into Maildir.
pkglibexec_PROGRAMS += deliver/deliver
deliver_deliver_SOURCES = deliver/deliver.c
deliver_deliver_LDADD = $(POSTERN_LIBS)
