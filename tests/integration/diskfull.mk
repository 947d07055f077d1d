## Integration test of a full disk (issue 13): the queue and the Maildirs
## on small file systems the test mounts as root (tmpfs, else a loop ext4).
TESTS += tests/integration/test_diskfull.py
EXTRA_DIST += tests/integration/test_diskfull.py
