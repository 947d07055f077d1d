## (fragment, issue 12) process reuse: smtpd, submitd and deliver workers
## serve many sessions one after another (common/listen_pool.c).
TESTS += tests/integration/test_reuse.py

EXTRA_DIST += tests/integration/test_reuse.py
