## (fragment, issue 4) outbound delivery: the smtp client, qmgr's
## scheduling and bounces, and `postern queue`. fake_smtp.py holds the
## scripted SMTP servers these tests talk to.
TESTS += \
	tests/integration/test_outbound.py \
	tests/integration/test_outbound_fallback.py \
	tests/integration/test_queue_tools.py
EXTRA_DIST += \
	tests/integration/fake_smtp.py \
	tests/integration/test_outbound.py \
	tests/integration/test_outbound_fallback.py \
	tests/integration/test_queue_tools.py
