## (fragment, issue 3) authd's client for SMTP AUTH (submitd, smtpd with
## smtpd_auth_enable), and the RFC 6409 header fix-ups (submitd, pickup).
COMMON_AUTHC = common/authclient.c common/authclient.h \
	common/smtp_auth.c common/smtp_auth.h \
	common/msgfix.c common/msgfix.h
