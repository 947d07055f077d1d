#!/usr/bin/env python3
"""
smtpd as a program of its own (DESIGN.md interface contract): under inetd
(a connected socket on fds 0/1), under tcpserver (pipes + TCPREMOTEIP),
and under systemd socket activation with Accept=no (LISTEN_FDS). A master
with the same config runs alongside, so lookupd, qmgr and deliver exist.
"""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    SMTPD, Raw, tap, start_suite_or_bail, clean_env, register_proc, header_values,
    read_file, poll)

S = start_suite_or_bail()
PID = os.getpid()

# Sets the sd_listen_fds(3) variables with its own pid, moves the socket to
# fd 3, then execs the daemon (the pid stays the same across exec).
LAUNCHER = r"""
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = sys.argv[2] if sys.argv[2] != "self" else str(os.getpid())
os.environ["LISTEN_FDNAMES"] = os.environ.pop("TEST_FDNAME", "smtp")
os.execv(sys.argv[3], sys.argv[3:])
"""


def logfile(name):
    return open(os.path.join(S.tree, name), "ab")


def dump(name):
    try:
        with open(os.path.join(S.tree, name), "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return
    for ln in text.splitlines()[-20:]:
        tap.diag("  %s: %s" % (name, ln))


def dialogue(r, rcpt, subj, what):
    code, lines = r.greeting()
    tap.eq(code, 220, "%s: 220 greeting" % what)
    code, _ = r.ehlo()
    tap.eq(code, 250, "%s: EHLO 250" % what)
    code, _ = r.cmd("MAIL FROM:<sender@remote.test>")
    tap.eq(code, 250, "%s: MAIL 250" % what)
    code, _ = r.cmd("RCPT TO:<%s>" % rcpt)
    tap.eq(code, 250, "%s: RCPT 250" % what)
    code, _ = r.cmd("DATA")
    tap.eq(code, 354, "%s: DATA 354" % what)
    r.send(b"Subject: " + subj.encode() + b"\r\n\r\nvia " + what.encode() + b"\r\n.\r\n")
    code, lines = r.reply()
    tap.eq(code, 250, "%s: message accepted" % what)
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "%s: QUIT 221" % what)


def one_session(p, sock, what, logname):
    """One SMTP session over sock with the smtpd process p that serves just
    that connection: dialogue, close after QUIT, exit 0, delivered."""
    r = Raw(sock=sock)
    subj = "%s-%d" % (logname.split(".")[0], PID)
    dialogue(r, "alice@example.test", subj, what)
    tap.ok(r.wait_closed(10), "%s: smtpd closes the connection after QUIT" % what)
    r.close()
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.eq(rc, 0, "%s: smtpd exits 0 after the session" % what)
    if rc != 0:
        dump(logname)
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1,
           "%s: the message is delivered" % what)


def t_inetd_socketpair():
    a, b = socket.socketpair()
    with logfile("inetd.log") as lf:
        p = register_proc(subprocess.Popen(
            [SMTPD, "-c", S.conf], stdin=b.fileno(), stdout=b.fileno(), stderr=lf,
            env=clean_env(), start_new_session=True))
    b.close()
    one_session(p, a, "inetd", "inetd.log")


def t_tcpserver_pipes():
    env = clean_env()
    env["TCPREMOTEIP"] = "192.0.2.7"
    with logfile("tcpserver.log") as lf:
        p = register_proc(subprocess.Popen(
            [SMTPD, "-c", S.conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=lf, env=env, start_new_session=True))
    subj = "tcpserver-%d" % PID
    msg = ("EHLO pipe.test\r\nMAIL FROM:<sender@remote.test>\r\n"
           "RCPT TO:<bob@example.test>\r\nDATA\r\n").encode()
    # pipes: write the commands one by one, reading the replies
    out = p.stdout

    def reply():
        lines = []
        while True:
            ln = out.readline()
            if not ln:
                return None, lines
            lines.append(ln.decode("utf-8", "replace").rstrip("\r\n"))
            if ln[3:4] != b"-":
                return int(ln[:3]), lines
    try:
        codes = [reply()[0]]
        for cmd in msg.split(b"\r\n")[:-1]:
            p.stdin.write(cmd + b"\r\n")
            p.stdin.flush()
            codes.append(reply()[0])
        p.stdin.write(b"Subject: " + subj.encode() + b"\r\n\r\nvia pipes\r\n.\r\nQUIT\r\n")
        p.stdin.flush()
        codes += [reply()[0], reply()[0]]
        p.stdin.close()
    except OSError as e:
        codes = ["error %s" % e]
    tap.eq(codes, [220, 250, 250, 250, 354, 250, 221],
           "tcpserver (pipes on fd 0/1): full dialogue")
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.eq(rc, 0, "tcpserver: smtpd exits 0")
    if rc != 0:
        dump("tcpserver.log")
    m = S.wait_for_subject("bob@example.test", subj)
    if tap.eq(len(m), 1, "tcpserver: the message is delivered"):
        rec = header_values(read_file(m[0]), "Received")
        tap.ok(rec and "192.0.2.7" in rec[0],
               "tcpserver: Received names $TCPREMOTEIP", rec)


def launch(lsock, listen_pid="self", logname="systemd.log", fdname="smtp"):
    env = clean_env()
    env["TEST_FDNAME"] = fdname
    with logfile(logname) as lf:
        return register_proc(subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(lsock.fileno()), listen_pid,
             SMTPD, "-c", S.conf], stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
            pass_fds=(lsock.fileno(),), env=env, start_new_session=True))


def t_systemd_accept_no():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    p = launch(lsock)
    lsock.close()
    # two sessions at once: the daemon accepts and forks per connection
    r1 = Raw(port)
    r2 = Raw(port)
    subj1, subj2 = "sd1-%d" % PID, "sd2-%d" % PID
    code, _ = r2.greeting()
    tap.eq(code, 220, "systemd: second concurrent connection greeted")
    dialogue(r1, "alice@example.test", subj1, "systemd #1")
    r2.buf = b""
    code, _ = r2.ehlo()
    tap.eq(code, 250, "systemd: second session still works (EHLO 250)")
    r2.cmd("MAIL FROM:<sender@remote.test>")
    r2.cmd("RCPT TO:<carol@example.org>")
    r2.cmd("DATA")
    r2.send(b"Subject: " + subj2.encode() + b"\r\n\r\nsecond\r\n.\r\n")
    code, _ = r2.reply()
    tap.eq(code, 250, "systemd: message on the second connection accepted")
    r2.cmd("QUIT")
    r1.close()
    r2.close()
    tap.eq(len(S.wait_for_subject("alice@example.test", subj1)), 1,
           "systemd: first message delivered")
    tap.eq(len(S.wait_for_subject("carol@example.org", subj2)), 1,
           "systemd: second message delivered")
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.eq(rc, 0, "systemd: smtpd exits 0 on SIGTERM")
    if rc != 0:
        dump("systemd.log")
    refused = False
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        refused = True
    tap.ok(refused, "systemd: the listener is closed after the exit")


def t_systemd_wrong_pid():
    # LISTEN_PID names another process: the fds are not ours (sd_listen_fds)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    p = launch(lsock, listen_pid="1", logname="wrongpid.log")
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.ok(rc is not None and rc != 0,
           "LISTEN_PID of another process: smtpd does not serve the fds, exits non-zero",
           "status %s" % rc)
    c = socket.create_connection(("127.0.0.1", port), timeout=2)
    c.settimeout(1)
    try:
        data = c.recv(100)
    except socket.timeout:
        data = b""
    tap.eq(data, b"", "nobody answered on the socket it was not given")
    c.close()
    lsock.close()
    if rc is None:
        p.kill()


def t_systemd_unit_named_socket():
    # Accept=no without FileDescriptorName=: systemd names the socket after
    # its unit; smtpd must still serve it.
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    p = launch(lsock, logname="unitname.log", fdname="postern-smtpd.socket")
    lsock.close()
    r = Raw(port)
    subj = "unitname-%d" % PID
    dialogue(r, "alice@example.test", subj, "unit-named socket")
    r.close()
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1,
           "unit-named socket: the message is delivered")
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    tap.eq(rc, 0, "unit-named socket: smtpd exits 0 on SIGTERM")
    if rc != 0:
        dump("unitname.log")


def t_systemd_accept_yes():
    # Accept=yes: systemd passes the connection itself as fd 3, named
    # "connection" (standard input is not the socket).
    a, b = socket.socketpair()
    p = launch(b, logname="acceptyes.log", fdname="connection")
    b.close()
    one_session(p, a, "Accept=yes", "acceptyes.log")


def t_master_unaffected():
    subj = "master-%d" % PID
    code, _ = S.send(subj)
    tap.eq(code, 250, "the master's own listener still delivers")
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1, "and it arrives")
    tap.ok(poll(lambda: not S.queue_files(), 10), "queue empty at the end")


for fn in (t_inetd_socketpair, t_tcpserver_pipes, t_systemd_accept_no,
           t_systemd_unit_named_socket, t_systemd_accept_yes,
           t_systemd_wrong_pid, t_master_unaffected):
    tap.run(fn, timeout=90)
tap.done()
