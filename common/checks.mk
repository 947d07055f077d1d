## Content checks at SMTP time (issue 10): header_checks, mime_header_checks,
## body_checks. The tables and the streaming matcher; smtpd and submitd use
## them through the SMTP engine (common/smtp_msg.c), `postern check` too.
common_libpostern_a_SOURCES += common/checks.c common/checks.h \
	common/checks_int.h common/checks_scan.c
