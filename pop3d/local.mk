## pop3d(8): POP3 on 110 (STLS) and 995 (implicit TLS). The privilege
## split and the Maildir code live in common/ (login.c, mailbox.c).
pkglibexec_PROGRAMS += pop3d/pop3d
pop3d_pop3d_SOURCES = pop3d/pop3d.c pop3d/pop3.h pop3d/pop3_login.c \
	pop3d/pop3_session.c
pop3d_pop3d_LDADD = $(POSTERN_LIBS)
