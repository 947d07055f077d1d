## submitd(8): the MSA on 587 (STARTTLS) and 465 (implicit TLS), with
## AUTH through authd (issue 3).
pkglibexec_PROGRAMS += submitd/submitd
submitd_submitd_SOURCES = submitd/submitd.c submitd/submitd.h \
	submitd/submit_policy.c submitd/sender_map.c
submitd_submitd_LDADD = $(POSTERN_LIBS)
