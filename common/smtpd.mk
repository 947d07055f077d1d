## (fragment) what smtpd and submitd share around the SMTP engine: set-up,
## privilege drop, connection handling, the local-recipient check.
COMMON_SMTPD = common/smtp_daemon.c common/smtp_daemon.h
