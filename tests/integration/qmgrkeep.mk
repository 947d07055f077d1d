## (fragment, issue 12) qmgr's kept connections to deliver and the queue
## ids on its FIFO (queue/qmgr_agent.c, queue/qmgr.c).
TESTS += tests/integration/test_qmgr_keep.py

EXTRA_DIST += tests/integration/test_qmgr_keep.py
