## The access servers' shared parts (pop3d now, imapd later): the
## pre-auth/post-auth split (login) and the Maildir snapshot (mailbox).
COMMON_POP3 = common/login.c common/login.h common/mailbox.c common/mailbox.h
