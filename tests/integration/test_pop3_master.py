#!/usr/bin/env python3
"""
pop3d and authd under the master (issue 5: "it works under the master").

test_pop3.py drives pop3d with sockets passed the systemd way
(pop3_launch.py); here `postern run` itself binds pop3_listen and
pop3s_listen and spawns authd and pop3d. A message goes in through smtpd
and comes out over POP3 with STLS and over POP3S. Started as root, the
processes must hold the privileges of DESIGN.md rule 4: the pop3d listener
root (it only accepts and forks), authd as postern-auth, and per connection a
session as vmail and a login process as postern-login chrooted to
$state_dir/empty.
"""

import os
import poplib
import pwd
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

P3, P3S = pt.free_port(), pt.free_port()
S = pt.Suite(name="pop3-master", extra_conf={
    "pop3_listen": "127.0.0.1:%d" % P3, "pop3s_listen": "127.0.0.1:%d" % P3S})
SUBJ = "pop3-master-%d" % os.getpid()
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def master_child(name):
    """The master's direct child running the program name (basename)."""
    for pid, ppid, _pgid, exe, _a0 in pt.descendants(S.proc.pid):
        if ppid == S.proc.pid and exe == name:
            return pid
    return None


def t_start():
    S.start()
    tap.ok(pt.poll(lambda: "pop3d ready" in S.log_text(), 15),
           "the master starts pop3d on its listeners")
    tap.ok(pt.poll(lambda: "authd ready" in S.log_text(), 15),
           "the master starts authd")
    code, _ = S.send(SUBJ)
    tap.eq(code, 250, "a message for alice is accepted on port 25")
    tap.eq(len(S.wait_for_subject("alice@example.test", SUBJ)), 1,
           "and delivered to her Maildir")


def t_stls():
    p = poplib.POP3("127.0.0.1", P3, timeout=15)
    p.stls(CTX)
    p.user("alice@example.test")
    p.pass_(pt.PASSWORD)
    count, _size = p.stat()
    tap.eq(count, 1, "STLS + USER/PASS under the master: STAT shows the message")
    _resp, lines, _octets = p.retr(1)
    tap.ok(any(SUBJ.encode() in ln for ln in lines),
           "RETR returns the message sent through smtpd")
    p.quit()


def t_pop3s():
    p = poplib.POP3_SSL("127.0.0.1", P3S, timeout=15, context=CTX)
    p.user("alice@example.test")
    p.pass_(pt.PASSWORD)
    count, _size = p.stat()
    tap.eq(count, 1, "POP3S under the master: the message is still there (not deleted)")
    uidl1 = p.uidl()[1]
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", P3S, timeout=15, context=CTX)
    p.user("alice@example.test")
    p.pass_(pt.PASSWORD)
    tap.eq(p.uidl()[1], uidl1, "the UIDL is the same in the next session")
    p.quit()


def t_root():
    if not pt.IS_ROOT:
        for d in ("pop3d listener", "authd", "session", "login", "chroot"):
            tap.skip("root: %s privileges" % d, "not root")
        return
    uid = lambda name: pwd.getpwnam(name).pw_uid  # noqa: E731
    lpid, apid = master_child("pop3d"), master_child("authd")
    tap.ok(lpid is not None and pt.proc_ids(lpid)["Uid"] == [0] * 4,
           "the pop3d listener, spawned by the master, stays root (accepts and forks only)")
    tap.ok(apid is not None and pt.proc_ids(apid)["Uid"] == [uid("postern-auth")] * 4,
           "authd, spawned by the master, runs as postern-auth (auth_user)")
    p = poplib.POP3("127.0.0.1", P3, timeout=15)
    p.stls(CTX)
    p.user("alice@example.test")
    p.pass_(pt.PASSWORD)
    p.noop()
    tree = pt.descendants(lpid) if lpid else []
    conn = [pid for pid, ppid, *_ in tree if ppid == lpid]
    login = [pid for pid, ppid, *_ in tree if ppid in conn]
    tap.ok(len(conn) == 1 and pt.proc_ids(conn[0])["Uid"] == [uid("vmail")] * 4,
           "the session process runs as vmail", tree)
    tap.ok(len(login) == 1 and
           pt.proc_ids(login[0])["Uid"] == [uid("postern-login")] * 4,
           "the login process runs as postern-login", tree)
    root = os.readlink("/proc/%d/root" % login[0]) if login else None
    tap.eq(root, os.path.join(S.state_dir, "empty"),
           "the login process is chrooted to $state_dir/empty")
    p.quit()


def t_stop():
    tap.eq(S.stop(), 0, "the master stops cleanly with pop3d and authd")
    refused = False
    try:
        poplib.POP3("127.0.0.1", P3, timeout=3)
    except OSError:
        refused = True
    tap.ok(refused, "nothing answers on the POP3 port after the stop")


for fn in (t_start, t_stls, t_pop3s, t_root, t_stop):
    tap.run(fn, timeout=90)
tap.done()
