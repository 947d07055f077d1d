## (fragment) POP3: pop3d + authd with poplib, curl and fetchmail.
## pop3_launch.py starts them as the master will (LISTEN_FDS).
TESTS += tests/integration/test_pop3.py
EXTRA_DIST += tests/integration/pop3_launch.py

EXTRA_DIST += tests/integration/test_pop3.py
