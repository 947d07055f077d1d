"""
smallfs: file systems of a given size that an integration test mounts as
root (test_diskfull.py, test_qfile_lowspace.py): a tmpfs with size=, else
a loop-mounted ext4 image without a journal. Everything mounted is
recorded in `mounts`; umount_all() undoes it, and cleanup_at_exit(suite)
makes that happen (after the suite's processes are killed) at exit and
on SIGTERM, SIGINT and SIGHUP.

POSTERN_TEST_DISKFULL_FS=ext4 skips tmpfs, to test the loop fallback.
"""
import atexit
import os
import shutil
import signal

import postern_test as pt
from postern_test import tap

mounts = []             # mount points, unmounted at exit (also on failure)


def umount_all():
    for m in reversed(mounts):
        r = pt.run_cmd(["umount", m], timeout=20)
        if r.returncode != 0:
            pt.run_cmd(["umount", "-l", m], timeout=20)
    del mounts[:]


def cleanup_at_exit(suite):
    """Kill suite's processes and unmount what was mounted, at exit and on
    SIGTERM, SIGINT and SIGHUP: before the harness removes the tree."""
    def cleanup():
        suite._kill_all()
        umount_all()

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        prev = signal.getsignal(sig)

        def on_sig(signum, frame, prev=prev):
            cleanup()
            if callable(prev):
                prev(signum, frame)
            os._exit(128 + signum)
        signal.signal(sig, on_sig)


def mount_small(path, kb, uid, gid, mode):
    """A kb-sized file system at path (tmpfs, else a loop ext4 image).
    Returns (kind, None) or (None, why)."""
    os.makedirs(path, exist_ok=True)
    if os.environ.get("POSTERN_TEST_DISKFULL_FS") != "ext4":   # to test the fallback
        r = pt.run_cmd(["mount", "-t", "tmpfs", "-o", "size=%dk,mode=%o,uid=%d,gid=%d"
                        % (kb, mode, uid, gid), "tmpfs", path])
        if r.returncode == 0:
            mounts.append(path)
            return "tmpfs", None
        why = "mount -t tmpfs: %s" % (r.stderr or r.stdout).strip()
    else:
        why = "tmpfs not tried (POSTERN_TEST_DISKFULL_FS=ext4)"
    if not shutil.which("mkfs.ext4"):
        return None, why + "; no mkfs.ext4 for a loop image (install e2fsprogs)"
    img = path.rstrip("/") + ".img"
    with open(img, "wb") as f:
        f.truncate(kb * 1024)
    r = pt.run_cmd(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
                    "-T", "small", img], timeout=60)
    if r.returncode != 0:
        return None, why + "; mkfs.ext4: %s" % r.stderr.strip()
    r = pt.run_cmd(["mount", "-o", "loop", img, path], timeout=30)
    if r.returncode != 0:
        return None, why + "; mount -o loop: %s" % (r.stderr or r.stdout).strip()
    mounts.append(path)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return "ext4 loop image", None


def free_bytes(path):
    sv = os.statvfs(path)
    return sv.f_bavail * sv.f_frsize


def mount_and_start(suite, specs):
    """Mount each (path, kb, uid, gid, mode) of specs in turn, then start
    suite, one TAP result for each step. A file system that cannot be
    mounted fails the test (a SKIP with POSTERN_TEST_MISSING=skip), and
    so does a suite that does not start: this returns only when it runs."""
    done = []
    for path, kb, uid, gid, mode in specs:
        kind, why = mount_small(path, kb, uid, gid, mode)
        if not kind:
            if os.environ.get("POSTERN_TEST_MISSING") == "skip":
                tap.skip_all("cannot mount a small file system: %s" % why)
            tap.ok(False, "a small file system can be mounted (needs "
                   "CAP_SYS_ADMIN: tmpfs, or a loop device and e2fsprogs) "
                   "-- %s" % why, why)
            tap.done()
        done.append("%s on a %d KB %s" % (os.path.basename(path), kb, kind))
    tap.ok(True, ", ".join(done))
    try:
        suite.start()
    except Exception as e:
        tap.ok(False, "the suite starts (postern run answers 220)", str(e))
        tap.done()
