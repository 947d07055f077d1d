## (fragment, issue 12) qmgr's kept connections to deliver and the queue
## ids on its FIFO (queue/qmgr_agent.c, queue/qmgr.c).
TESTS += tests/integration/test_qmgr_keep.py

EXTRA_DIST += tests/integration/test_qmgr_keep.py

## (issue 12) qmgr gathers new mail for queue_collect_delay (queue/qmgr.c).
TESTS += tests/integration/test_qmgr_collect.py
EXTRA_DIST += tests/integration/test_qmgr_collect.py

## (issue 12) the recipient answer cache of smtpd and qmgr (common/lookup.c).
TESTS += tests/integration/test_lookup_cache.py
EXTRA_DIST += tests/integration/test_lookup_cache.py

## (issue 12) spent queue files kept and written over (common/qfile_free.c).
TESTS += tests/integration/test_qfile_reuse.py
EXTRA_DIST += tests/integration/test_qfile_reuse.py
