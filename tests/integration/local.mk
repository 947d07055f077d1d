## Integration tests: Python 3 TAP programs that start the real daemons in a
## temporary tree on loopback high ports (postern_test.py is the harness).
## Each runs on its own (unique temp dir and ports), so `make -j check` works.
TESTS += \
	tests/integration/test_delivery.py \
	tests/integration/test_refusals.py \
	tests/integration/test_smuggling.py \
	tests/integration/test_durability.py \
	tests/integration/test_root.py \
	tests/integration/test_inetd.py \
	tests/integration/test_cli.py
EXTRA_DIST += \
	tests/integration/postern_test.py \
	tests/integration/pt_raw.py \
	tests/integration/pt_clients.py \
	tests/integration/test_delivery.py \
	tests/integration/test_refusals.py \
	tests/integration/test_smuggling.py \
	tests/integration/test_durability.py \
	tests/integration/test_root.py \
	tests/integration/test_inetd.py \
	tests/integration/test_cli.py
