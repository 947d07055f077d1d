## (fragment, issue 10) delivery rules and plus-addressing end to end:
## smtplib -> smtpd -> deliver -> Maildir++ folders -> imapd (imaplib).
TESTS += tests/integration/test_rules.py
EXTRA_DIST += tests/integration/test_rules.py
