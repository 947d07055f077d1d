#!/usr/bin/env python3
"""
test_qfile_lowspace: kept queue files give their space back (issue 12;
common/qfile_free.c, qmgr(8) "Spent queue files"), as root: the queue
(state_dir) on a 320 MiB file system the test mounts (smallfs: a tmpfs,
else a loop-mounted ext4 image).

- With more than 256 MiB free, spent queue files are kept (tmp/f.*).
- A filler leaves less than 256 MiB free: qmgr unlinks every kept file
  within a few seconds (statvfs(2) once a second; its loop wakes at least
  once a second), with no mail moving; the file system has their space
  back.
- While space is short, mail is accepted and delivered as before and no
  spent file is kept.
- The filler removed, spent files are kept again.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
from smallfs import cleanup_at_exit, free_bytes, mount_and_start, umount_all  # noqa: E402

if not pt.IS_ROOT:
    tap.skip_all("not running as root (mounting the file system needs root)")

MIB = 1024 * 1024
QUEUE_FS_KB = 320 * 1024
THRESHOLD = 256 * MIB           # QFREE_MIN_FREE in common/qfile_free.c
ALICE = "alice@example.test"

try:
    S = pt.Suite(name="lowspace")
except Exception as e:
    tap.ok(False, "the suite is set up", str(e))
    tap.done()


cleanup_at_exit(S)     # before the harness removes the tree

mount_and_start(S, [(S.state_dir, QUEUE_FS_KB, 0, 0, 0o755)])

TMP = os.path.join(S.queue_dir, "tmp")
FILLER = os.path.join(S.state_dir, "filler")


def kept():
    return sorted(n for n in os.listdir(TMP) if n.startswith("f."))


def deliver(prefix, n):
    codes = [S.send("%s-%d" % (prefix, i))[0] for i in range(n)]
    tap.eq(codes, [250] * n, "%d messages %s-* accepted" % (n, prefix))
    for i in range(n):
        got = S.wait_for_subject(ALICE, "%s-%d" % (prefix, i))
        if len(got) != 1:
            tap.eq(len(got), 1, "%s-%d delivered once" % (prefix, i))
            return
    tap.ok(True, "%s-0..%d delivered once each" % (prefix, n - 1))
    tap.ok(S.wait_queue_empty(10), "the queue is empty after %s-*" % prefix)


def fill_to(free_left):
    """Grow the filler until about free_left bytes are free (bounded)."""
    block = b"\0" * MIB
    with open(FILLER, "ab") as f:
        for _ in range(QUEUE_FS_KB // 1024):
            if free_bytes(S.state_dir) - len(block) < free_left:
                break
            f.write(block)
            f.flush()
    return free_bytes(S.state_dir)


def main():
    free0 = free_bytes(S.state_dir)
    tap.ok(free0 > THRESHOLD, "%d MiB free to start with: over 256 MiB"
           % (free0 // MIB))

    deliver("roomy", 4)
    tap.ok(pt.poll(lambda: len(kept()) >= 1, 5),
           "with room, spent queue files are kept", kept())

    left = fill_to(THRESHOLD - 16 * MIB)
    tap.ok(left < THRESHOLD, "the filler leaves %d MiB free: under 256 MiB"
           % (left // MIB))
    tap.ok(pt.poll(lambda: kept() == [], 5),
           "qmgr gave every kept file back within 5 s, with no mail moving",
           kept())

    deliver("short", 3)
    tap.eq(kept(), [], "while space is short no spent file is kept")

    os.unlink(FILLER)
    tap.ok(free_bytes(S.state_dir) > THRESHOLD, "the filler removed: over "
           "256 MiB free again")
    # qmgr reads statvfs once a second: a message a little after that keeps.
    ok = False
    for i in range(10):
        deliver("again%d" % i, 1)
        if pt.poll(lambda: len(kept()) >= 1, 1.5):
            ok = True
            break
    tap.ok(ok, "with room again, spent queue files are kept again", kept())


try:
    main()
finally:
    S.stop()
    umount_all()
tap.done()
