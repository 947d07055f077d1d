## RFC 5321 address parsing and the SMTP server engine (smtpd, submitd).
COMMON_SMTP = common/address.c common/address.h \
	common/smtp_parse.c common/smtp_parse.h \
	common/smtp_server.c common/smtp_server.h \
	common/smtp_msg.c common/smtp_int.h
