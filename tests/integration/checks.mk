## Integration test of the content checks at SMTP time (issue 10).
TESTS += tests/integration/test_checks.py
EXTRA_DIST += tests/integration/test_checks.py
