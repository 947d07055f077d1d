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
include tests/integration/qmgrkeep.mk
include tests/integration/durability.mk
include tests/unit/authprefix.mk
include tests/integration/authuser.mk
include tests/integration/sysuser.mk

## Fuzz targets (libFuzzer), the campaign that builds and runs them, their
## seeds and committed corpora (tests/fuzz/README.md; CI runs every target
## over its corpus). The imapd targets and fuzz_dsn are in their fragments.
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/campaign tests/fuzz/seeds tests/fuzz/.gitignore \
	tests/fuzz/standalone_main.c tests/fuzz/corpus tests/fuzz/regress \
	tests/fuzz/fuzz_address.c tests/fuzz/fuzz_addrlist.c tests/fuzz/fuzz_agent.c \
	tests/fuzz/fuzz_aliases.c tests/fuzz/fuzz_auth_cmd.c tests/fuzz/fuzz_authclient.c \
	tests/fuzz/fuzz_checks.c tests/fuzz/fuzz_maildrop.c tests/fuzz/fuzz_msgfix.c \
	tests/fuzz/fuzz_pop3.c tests/fuzz/fuzz_qfile.c tests/fuzz/fuzz_rules.c \
	tests/fuzz/fuzz_sender_map.c tests/fuzz/fuzz_smtp.c tests/fuzz/fuzz_smtp_maps.c \
	tests/fuzz/fuzz_smtp_reply.c
