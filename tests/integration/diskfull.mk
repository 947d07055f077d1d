## Integration test of a full disk (issue 13): the queue and the Maildirs
## on small file systems the test mounts as root (tmpfs, else a loop ext4).
TESTS += tests/integration/test_diskfull.py
EXTRA_DIST += tests/integration/test_diskfull.py tests/integration/smallfs.py

## (issue 12) kept queue files given back when the queue's file system has
## less than 256 MiB free (common/qfile_free.c): a 320 MiB file system.
TESTS += tests/integration/test_qfile_lowspace.py
EXTRA_DIST += tests/integration/test_qfile_lowspace.py
