## Integration test of the reserved postmaster and abuse mailboxes (issue 13).
TESTS += tests/integration/test_postmaster.py
EXTRA_DIST += tests/integration/test_postmaster.py
