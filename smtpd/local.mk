## smtpd(8): the MTA's policy around the shared SMTP server engine.
pkglibexec_PROGRAMS += smtpd/smtpd
smtpd_smtpd_SOURCES = smtpd/smtpd.c
smtpd_smtpd_LDADD = $(POSTERN_LIBS)
