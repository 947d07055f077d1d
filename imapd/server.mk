## imapd fragment: server (imapd.c main, imap_login.c, imap_session.c, imap_cmd_mbox.c, imap_cmd_sel.c, imap_compress.c as IMAPD_SERVER += ...)
