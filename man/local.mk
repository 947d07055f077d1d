## mdoc(7) pages. tests/integration/test_manpages.sh lints every page with
## mandoc (when it is installed) and checks postern.conf(5) against the
## parameter table of common/conf.c.
dist_man_MANS += man/postern.7 man/postern.8 man/postern.conf.5 \
	man/aliases.5 man/smtpd.8 man/qmgr.8 man/deliver.8 man/lookupd.8 man/pop3d.8 \
	man/imapd.8

## (issue 3) submission and local submission.
dist_man_MANS += man/submitd.8 man/postern-sendmail.1 man/mailq.1 \
	man/newaliases.1 man/pickup.8 man/postdrop.8

## The authentication service of pop3d, submitd and smtpd.
dist_man_MANS += man/authd.8

## A shell script printing TAP: no extension of TEST_EXTENSIONS, so the
## harness runs it directly with LOG_DRIVER (the TAP driver).
TESTS += tests/integration/test_manpages.sh
EXTRA_DIST += tests/integration/test_manpages.sh

## (issue 4) the outbound smtp client and the queue admin command.
dist_man_MANS += man/smtp.8 man/postern-queue.1

## (issue 10) content checks at SMTP time.
dist_man_MANS += man/header_checks.5

## (issue 10) the delivery rules language of deliver(8).
dist_man_MANS += man/postern.rules.5
