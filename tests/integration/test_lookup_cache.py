#!/usr/bin/env python3
"""
test_lookup_cache: the recipient answer cache of smtpd and qmgr (issue
12; common/lookup.c, queue/lookupd.c), through the real master.

lookupd keeps private/lookup.gen (a generation and a heartbeat, mode
0644; as root owned by auth_user). Within one SMTP session (one smtpd
worker): an address asked once is answered again with lookupd stopped
(SIGSTOP), from the cache; once the heartbeat is more than 3 s old the
cache is not used any more (the stopped lookupd is asked: 451 4.3.0
after the 10 s limit). A user removed with `postern user del` is refused
(550) within 3 s in the same session, added back accepted again; an
alias added to the alias file is accepted within 3 s where it was
refused before.
"""

import os
import pwd
import signal
import smtplib
import stat
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

ALICE = "alice@example.test"
DAVE = "dave@example.test"
# every refused RCPT counts as an error: room for the polling below
S = pt.start_suite_or_bail(extra_conf={"smtpd_error_limit": "200"})
GEN = os.path.join(S.queue_dir, "private", "lookup.gen")


def lookupd():
    ps = [p[0] for p in pt.descendants(S.proc.pid) if "lookupd" in (p[3], p[4])]
    return ps[0] if len(ps) == 1 else None


def rcpt(s, addr):
    """RCPT in a fresh transaction of session s: (code, seconds)."""
    s.rset()
    s.mail("sender@remote.test")
    t0 = time.monotonic()
    code, _ = s.rcpt(addr)
    return code, time.monotonic() - t0


def read_gen():
    with open(GEN, "rb") as f:
        return struct.unpack("=Qq", f.read(16))


def until(s, addr, want, timeout=3.0):
    """Ask for addr until the answer is want; (code, seconds taken)."""
    t0 = time.monotonic()
    code = None
    while time.monotonic() - t0 < timeout:
        code, _ = rcpt(s, addr)
        if code == want:
            break
        time.sleep(0.1)
    return code, time.monotonic() - t0


def t_gen_file():
    tap.ok(pt.poll(lambda: os.path.exists(GEN), 5), "lookupd made private/lookup.gen")
    st = os.stat(GEN)
    tap.eq(stat.S_IMODE(st.st_mode), 0o644, "its mode is 0644 (two counters, "
           "nothing secret)")
    tap.eq(st.st_size, 16, "16 bytes: a generation and a heartbeat")
    if pt.IS_ROOT:
        tap.eq(st.st_uid, pwd.getpwnam("postern-auth").pw_uid,
               "it belongs to auth_user (postern-auth), lookupd's account")
    else:
        tap.skip("it belongs to auth_user", "not root")
    # lookupd moves the generation on while a file is younger than 2 s
    young = max(os.stat(S.sasl_db).st_mtime, os.stat(S.alias_file).st_mtime)
    time.sleep(max(0.0, young + 3.0 - time.time()))
    g1, b1 = read_gen()
    time.sleep(1.6)
    g2, b2 = read_gen()
    tap.ok(b2 > b1, "the heartbeat moves on (%d ms in 1.6 s)" % (b2 - b1))
    tap.eq(g2, g1, "the generation stays while nothing changes")


def t_stopped_lookupd():
    pid = lookupd()
    tap.ok(pid is not None, "one lookupd")
    if pid is None:
        return
    with smtplib.SMTP("127.0.0.1", S.port, timeout=30) as s:
        s.ehlo("client.test")
        tap.eq(rcpt(s, ALICE)[0], 250, "RCPT %s: 250 (asked, kept)" % ALICE)
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            code, secs = rcpt(s, ALICE)
            tap.ok(code == 250 and secs < 1.0, "with lookupd stopped, the same "
                   "address: 250 from the cache (%.2f s)" % secs, code)
            time.sleep(max(0.0, 3.5 - (time.monotonic() - stopped)))
            code, secs = rcpt(s, ALICE)
            tap.ok(code == 451 and secs > 5, "3.5 s later (heartbeat too old) "
                   "it is asked again: 451 after the limit (%.1f s)" % secs, code)
        finally:
            os.kill(pid, signal.SIGCONT)
        code, _ = until(s, ALICE, 250, timeout=5)
        tap.eq(code, 250, "lookupd running again: 250")


def t_user_changes():
    with smtplib.SMTP("127.0.0.1", S.port, timeout=30) as s:
        s.ehlo("client.test")
        tap.eq(rcpt(s, DAVE)[0], 250, "RCPT %s: 250 (kept)" % DAVE)
        g0 = read_gen()[0]
        r = pt.run_cmd([pt.POSTERN, "user", "del", "-c", S.conf, DAVE])
        tap.eq(r.returncode, 0, "postern user del %s" % DAVE)
        code, secs = until(s, DAVE, 550)
        tap.eq(code, 550, "removed: 550 in the same session within 3 s "
               "(%.1f s)" % secs)
        tap.ok(pt.poll(lambda: read_gen()[0] > g0, 3), "the generation moved on")
        S.add_user(DAVE)
        code, secs = until(s, DAVE, 250)
        tap.eq(code, 250, "added back: 250 within 3 s (%.1f s)" % secs)
        new = "helpdesk@example.test"
        tap.eq(rcpt(s, new)[0], 550, "RCPT %s: 550 (kept)" % new)
        with open(S.alias_file, "a") as f:
            f.write("helpdesk: %s\n" % ALICE)
        code, secs = until(s, new, 250)
        tap.eq(code, 250, "an alias added to the alias file: 250 within 3 s "
               "(%.1f s)" % secs)
        tap.eq(S.send("via-helpdesk", rcpts=(new,))[0], 250, "mail to it accepted")
        tap.ok(S.wait_for_subject(ALICE, "via-helpdesk"), "and delivered to alice")


for fn in (t_gen_file, t_stopped_lookupd, t_user_changes):
    tap.run(fn, timeout=60)
tap.done()
