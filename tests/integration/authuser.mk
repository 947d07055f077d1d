## Integration test of the credentials' own account (issue 13): authd and
## lookupd as auth_user, the sasldb readable by it alone, logins and RCPT
## checks end to end, and authd's failure block per network.
TESTS += tests/integration/test_auth_user.py
EXTRA_DIST += tests/integration/test_auth_user.py
