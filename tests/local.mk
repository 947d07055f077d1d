## Unit tests (cmocka, TAP) and integration tests (Python, TAP).
## Each fragment belongs to the part of the tree it tests.
include tests/unit/base.mk
include tests/unit/net.mk
include tests/unit/smtp.mk
include tests/unit/queue.mk
include tests/unit/pop3.mk
include tests/integration/local.mk
include tests/integration/pop3.mk
include tests/integration/submit.mk
