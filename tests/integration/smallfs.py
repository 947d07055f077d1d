"""
smallfs: file systems of a given size that an integration test mounts as
root (test_diskfull.py, test_qfile_lowspace.py): a tmpfs with size=, else
a loop-mounted ext4 image without a journal. Everything mounted is
recorded in `mounts`; umount_all() undoes it (tests call it at exit and
on SIGTERM/SIGINT/SIGHUP).

POSTERN_TEST_DISKFULL_FS=ext4 skips tmpfs, to test the loop fallback.
"""
import os
import shutil

import postern_test as pt

mounts = []             # mount points, unmounted at exit (also on failure)


def umount_all():
    for m in reversed(mounts):
        r = pt.run_cmd(["umount", m], timeout=20)
        if r.returncode != 0:
            pt.run_cmd(["umount", "-l", m], timeout=20)
    del mounts[:]


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
