#!/usr/bin/env python3
"""
test_imap_limits: imapd's limits under the master: a literal over
APPENDLIMIT gets a tagged NO [TOOBIG] and no continuation (and the
session goes on), quota from mailbox_quota and mailbox_quota_messages
(GETQUOTAROOT, APPEND over it: NO [OVERQUOTA], nothing written), and as
root a full disk (a small tmpfs under the user's Maildir: APPEND gets a
clean NO, no file is left in tmp/, every message, UID and flag that was
there is still there, and APPEND works again once there is room).
Split out of test_imap.py.
"""

import os
import pwd
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import test_imap_util as u  # noqa: E402

S = u.imap_suite("imap-limits")
QUOTA_USER = u.CAROL


def t_start():
    try:
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master starts imapd", e)
        tap.done()
    tap.ok(True, "the master starts imapd")


def _appendlimit(caps):
    for x in caps:
        if x.upper().startswith("APPENDLIMIT="):
            return int(x.split("=", 1)[1])
    return None


def t_toobig():
    c = u.session(S.imap_port)
    caps = c.capabilities()
    limit = _appendlimit(caps) or 200 * 1024 * 1024
    c.send(b"%s APPEND INBOX {%d}\r\n" % (c.next_tag().encode(), limit + 1))
    tag = "a%03d" % c.n
    r = c.response(15)
    tap.ok(r is not None and r.startswith(tag.encode() + b" ") and b"[TOOBIG]" in r
           and re.match(rb"\S+ (NO|BAD) ", r),
           "APPEND of %d octets (over APPENDLIMIT): tagged NO [TOOBIG], no continuation"
           % (limit + 1), r)
    r = c.cmd("NOOP")
    tap.ok(r.ok, "the connection stays usable", r)
    c.send(b"%s SEARCH TEXT {%d}\r\n" % (c.next_tag().encode(), 64 * 1024 * 1024))
    r = c.response(15)
    tap.ok(r is not None and b"[TOOBIG]" in r and not r.startswith(b"+"),
           "a 64 MB literal in SEARCH is refused with [TOOBIG]", r)
    c.close()
    c = u.session(S.imap_port)
    # RFC 7888 4: the server may answer before or after reading the whole
    # literal, or say BYE; so the whole literal is sent.
    c.send(b"%s APPEND INBOX {%d+}\r\n" % (c.next_tag().encode(), limit + 1))
    try:
        chunk = b"x" * 65536
        left = limit + 1
        while left > 0:
            c.send(chunk[:left])
            left -= len(chunk)
        c.send(b"\r\n")
    except (ConnectionResetError, BrokenPipeError):
        pass
    try:
        got, seen = c.wait_untagged(lambda x: b"TOOBIG" in x, 15)
    except (ConnectionResetError, BrokenPipeError) as e:
        got, seen = None, [str(e)]
    tap.ok(got is not None,
           "a non-synchronizing literal over the limit gets [TOOBIG] (BAD or BYE)", seen)
    c.close()
    c = u.session(S.imap_port)
    try:
        c.send(b"a1 NOOP " + b"x" * (1024 * 1024) + b"\r\n")
        r = c.response(15)
    except (ConnectionResetError, BrokenPipeError):
        r = b"(reset)"
    tap.ok(r is not None and (r.startswith(b"a1 BAD") or r.startswith(b"* BYE")
                              or r == b"(reset)"),
           "a 1 MB command line is refused (BAD or BYE), the daemon does not hang", r)
    c.close()


def t_quota():
    q = u.imap_suite("imap-quota", {"mailbox_quota": "20k",
                                     "mailbox_quota_messages": "4"}, users=(QUOTA_USER,))
    try:
        u.start_imap_suite(q)
    except Exception as e:
        tap.ok(False, "a second suite with mailbox_quota starts", e)
        return
    try:
        c = u.session(q.imap_port, QUOTA_USER)
        r = c.cmd("GETQUOTAROOT INBOX")
        qline = [x for x in r.untagged if x.upper().startswith(b"* QUOTA ")]
        tap.ok(r.ok and any(re.match(rb'(?i)\* QUOTAROOT "?INBOX"? ', x) for x in r.untagged)
               and qline and re.search(rb"STORAGE \d+ 20\b", qline[0])
               and re.search(rb"MESSAGE \d+ 4\b", qline[0]),
               "GETQUOTAROOT INBOX: STORAGE limit 20 (KiB), MESSAGE limit 4", r)
        big = u.sized_message("big", 8000)
        oks = [c.append("INBOX", big).ok for _ in range(2)]
        tap.ok(all(oks), "two 8000-octet APPENDs fit in 20k", oks)
        before = sorted(q.maildir_messages(QUOTA_USER))
        r = c.append("INBOX", big)
        tap.ok(r.status == "NO" and r.code() == "OVERQUOTA",
               "a third one is over the storage quota: NO [OVERQUOTA]", r)
        tap.eq(sorted(q.maildir_messages(QUOTA_USER)), before,
               "the refused APPEND left nothing behind and removed nothing")
        c.cmd("SELECT INBOX")
        r = c.cmd("COPY 1 Archive")
        tap.ok(r.status == "NO" and r.code() == "OVERQUOTA", "COPY over quota: NO [OVERQUOTA]", r)
        small = u.crlf(u.plain_message("small"))
        oks = [c.append("INBOX", small).ok for _ in range(2)]
        tap.ok(all(oks), "two small APPENDs reach 4 messages", oks)
        r = c.append("INBOX", small)
        tap.ok(r.status == "NO" and r.code() == "OVERQUOTA",
               "a fifth message is over mailbox_quota_messages: NO [OVERQUOTA]", r)
        r = c.cmd("STATUS INBOX (MESSAGES)")
        tap.eq(u.status_of(r.untagged).get("MESSAGES"), 4, "INBOX has the 4 messages")
        c.cmd("LOGOUT")
        c.close()
    finally:
        q.stop()


def t_disk_full():
    """dave's mail directory is a 600 KB tmpfs: APPEND, CREATE and STORE on a
    full disk get clean errors, and nothing that was there is lost."""
    if not pt.IS_ROOT:
        tap.skip("disk full", "needs root (mount -t tmpfs)")
        return
    user = u.DAVE
    home = os.path.dirname(S.maildir(user))
    os.makedirs(home, exist_ok=True)
    vm = pwd.getpwnam("vmail")
    r = pt.run_cmd(["mount", "-t", "tmpfs", "-o", "size=600k,mode=0700,uid=%d,gid=%d"
                    % (vm.pw_uid, vm.pw_gid), "tmpfs", home])
    if r.returncode != 0:
        tap.skip("disk full", "cannot mount a tmpfs: %s" % r.stderr.strip())
        return
    c = None
    try:
        for i in range(3):
            u.deliver(S, user, u.plain_message("full %d" % i, msgid="<full-%d@t>" % i,
                                               to=user))
        c = u.session(S.imap_port, user, select="INBOX")
        c.cmd("STORE 1 +FLAGS (\\Flagged)")
        before = {k: v for k, v in u.uid_map(c).items()}
        files = {p: pt.read_file(p) for p in S.maildir_messages(user)}
        r = c.append("INBOX", u.sized_message("too big for the disk", 900 * 1024))
        tap.ok(r.status == "NO" and r.code() != "SERVERBUG",
               "APPEND on a full disk: a clean NO (not [SERVERBUG])", r)
        tmp = os.listdir(os.path.join(S.maildir(user), "tmp"))
        tap.eq(tmp, [], "the failed APPEND left nothing in tmp/")
        filler = os.path.join(home, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        r = c.cmd("CREATE Overflow.deep.folder")
        tap.ok(r.status in ("OK", "NO") and r.code() != "SERVERBUG",
               "CREATE on a full disk: OK or a clean NO", r)
        r = c.cmd("STORE 2 +FLAGS ($NewKeyword \\Seen)")
        tap.ok(r.status in ("OK", "NO") and r.code() != "SERVERBUG",
               "STORE with a new keyword on a full disk: OK or a clean NO", r)
        r = c.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[])")
        tap.ok(r.ok and len(u.fetches(r.untagged)) == 3, "FETCH still works", r)
        os.unlink(filler)
        tap.ok(all(pt.read_file(p) == d for p, d in files.items()
                   if os.path.exists(p)),
               "the messages' contents are untouched")
        c.cmd("LOGOUT")
        c.close()
        c = u.session(S.imap_port, user, select="INBOX")
        tap.eq(u.uid_map(c), before, "after the disk filled up: the same messages and UIDs")
        r = c.cmd("UID FETCH 1:* (FLAGS)")
        fl = [set(u.flags_of(d.get("FLAGS"))) for d in u.fetches(r.untagged).values()]
        tap.ok(any("\\Flagged" in f for f in fl), "and the flag set before is still there",
               r)
        r = c.append("INBOX", u.crlf(u.plain_message("after", msgid="<after-full@t>")))
        tap.ok(r.ok, "with space again APPEND works", r)
        c.cmd("LOGOUT")
    finally:
        if c is not None:
            c.close()
        time.sleep(0.3)
        pt.run_cmd(["umount", "-l", home])


def t_stop():
    tap.eq(S.stop(), 0, "the master stops cleanly with imapd")


def main():
    for fn in (t_start, t_toobig, t_quota, t_disk_full, t_stop):
        tap.run(fn, timeout=120)
    tap.done()


if __name__ == "__main__":
    main()
