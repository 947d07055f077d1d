## RFC 5321 address parsing and the SMTP server engine (smtpd, submitd).
COMMON_SMTP = common/address.c common/address.h \
	common/smtp_server.c common/smtp_server.h
