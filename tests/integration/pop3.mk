## (fragment) POP3: pop3d + authd with poplib, curl and fetchmail.
## pop3_launch.py starts them as systemd Accept=no does (LISTEN_FDS);
## test_pop3_master.py runs them under the master.
TESTS += tests/integration/test_pop3.py tests/integration/test_pop3_master.py
EXTRA_DIST += tests/integration/pop3_launch.py

EXTRA_DIST += tests/integration/test_pop3.py tests/integration/test_pop3_master.py
