## Unit tests (cmocka, TAP) and integration tests (Python, TAP).
## Each fragment belongs to the part of the tree it tests.
include tests/unit/base.mk
include tests/unit/net.mk
include tests/unit/smtp.mk
include tests/unit/queue.mk
include tests/unit/gcommit.mk
include tests/unit/agent.mk
include tests/unit/pop3.mk
include tests/integration/local.mk
include tests/integration/pop3.mk
include tests/integration/imap.mk
include tests/integration/submit.mk
include tests/unit/parsers.mk
include tests/unit/outbound.mk
include tests/integration/outbound.mk
include tests/integration/pkg.mk
include tests/unit/rules.mk
include tests/integration/rules.mk
include tests/unit/checks.mk
include tests/integration/checks.mk
include tests/integration/postmaster.mk
include tests/integration/diskfull.mk
include tests/integration/dsn.mk
include tests/unit/pool.mk
include tests/integration/reuse.mk
include tests/integration/durability.mk
include tests/unit/authprefix.mk
include tests/integration/authuser.mk
include tests/integration/sysuser.mk

## Fuzz targets (libFuzzer; built by hand, see tests/fuzz/README.md) and
## the integration tests added by later fragments ship in the tarball too.
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/fuzz_address.c tests/fuzz/fuzz_aliases.c \
	tests/fuzz/fuzz_qfile.c tests/fuzz/fuzz_smtp.c
