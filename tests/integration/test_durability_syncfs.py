#!/usr/bin/env python3
"""
test_durability (SIGKILL of the whole suite under load, a restart, every
250 counted in the Maildirs) with sync_method = syncfs: the queue file,
incoming/, the Maildir file and new/ reach stable storage through shared
syncfs(2) calls instead of fsync(2) (postern.conf(5)).
"""
import os
import sys

os.environ["POSTERN_TEST_SYNC_METHOD"] = "syncfs"
here = os.path.dirname(os.path.abspath(__file__))
os.execv(sys.executable, [sys.executable, os.path.join(here, "test_durability.py")])
