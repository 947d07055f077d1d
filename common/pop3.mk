## The access servers' shared parts (pop3d and imapd): the
## pre-auth/post-auth split (login) and the Maildir snapshot (mailbox).
COMMON_POP3 = common/login.c common/login.h common/login_int.h common/login_session.c common/login_main.c common/mailbox.c common/mailbox.h
