## (fragment, issue 3) submitd with smtplib, swaks and msmtp; local
## submission through postern-sendmail, postdrop and pickup.
TESTS += tests/integration/test_submission.py tests/integration/test_sendmail.py

EXTRA_DIST += tests/integration/test_sendmail.py tests/integration/test_submission.py
