#!/usr/bin/env python3
"""
pop3_launch: start authd and pop3d the way systemd socket activation
(Accept=no) does, for the POP3 tests and bench/pop3-20k. This is how
test_pop3.py covers the systemd mode, and lets it stop and restart authd
and pop3d one by one; test_pop3_master.py runs them under `postern run`.

Sockets are bound here and passed as fds 3.. with LISTEN_FDS, LISTEN_PID
and LISTEN_FDNAMES: authd gets the unix socket $queue_dir/private/auth
("auth"), pop3d the TCP listeners "pop3" and "pop3s". When root, the
directories get the owners the master gives them (private/: mail_owner,
mail_root: vmail_user).

deliver_file() writes a message into a Maildir exactly as deliver names
it: <sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<wire size> (LF line ends).
"""

import os
import pwd
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402

AUTHD = os.path.join(pt.TOP_BUILDDIR, "auth", "authd")
POP3D = os.path.join(pt.TOP_BUILDDIR, "pop3d", "pop3d")

_seq = [0]


def deliver_file(maildir, data, host="mx.example.test", sub="new"):
    """Write data (bytes, LF line ends) into maildir/new as deliver does.
    Returns the file's path."""
    make_maildir(maildir)
    _seq[0] += 1
    now = time.time()
    sec, usec = int(now), int((now - int(now)) * 1e6)
    wire = len(data) + data.count(b"\n") + (0 if data.endswith(b"\n") else 2)
    base = "%d.M%dP%dQ%d.%s,S=%d,W=%d" % (sec, usec, os.getpid(), _seq[0],
                                          host, len(data), wire)
    tmp = os.path.join(maildir, "tmp", base)
    with open(tmp, "wb") as f:
        f.write(data)
    _chown(tmp, "vmail")
    final = os.path.join(maildir, sub, base)
    os.rename(tmp, final)
    return final


def make_maildir(maildir):
    """mail_root/<domain>/<local>/Maildir with tmp new cur, owned by vmail
    when root (as deliver makes it)."""
    parts = []
    d = maildir
    for _ in range(3):
        parts.append(d)
        d = os.path.dirname(d)
    for p in reversed(parts):
        if not os.path.isdir(p):
            os.mkdir(p, 0o700)
            _chown(p, "vmail")
    for sub in ("tmp", "new", "cur"):
        p = os.path.join(maildir, sub)
        if not os.path.isdir(p):
            os.mkdir(p, 0o700)
            _chown(p, "vmail")


def _chown(path, user):
    if os.geteuid() == 0:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _spawn(argv, socks, names, logf, env):
    """Exec argv with socks as fds 3.. and LISTEN_PID set to its own pid."""
    fds = [s.fileno() for s in socks]

    def child():
        high = [os.dup(fd) for fd in fds]      # out of the way of 3..
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
        for fd in high:
            os.close(fd)

    env = dict(env)
    env["LISTEN_FDS"] = str(len(fds))
    env["LISTEN_FDNAMES"] = ":".join(names)
    wrapper = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"']
    # close_fds=False: the dup2'd fds 3.. must survive; Python's own fds
    # are close-on-exec anyway.
    return subprocess.Popen(wrapper + argv, preexec_fn=child, close_fds=False,
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            env=env, start_new_session=True)


class Pop3Server:
    """authd + pop3d for a Suite's tree (the master is not needed)."""

    def __init__(self, suite):
        self.suite = suite
        self.procs = []
        self.pop3_port = pt.free_port()
        self.pop3s_port = pt.free_port()
        self.log_path = os.path.join(suite.tree, "pop3.log")
        self.logf = None

    def prepare_dirs(self):
        s = self.suite
        c = s.settings
        os.makedirs(s.queue_dir, exist_ok=True)
        os.chmod(s.state_dir, 0o755)
        priv = os.path.join(s.queue_dir, "private")
        os.makedirs(priv, exist_ok=True)
        os.chmod(priv, 0o700)
        _chown(priv, c.get("mail_owner", "postern"))
        os.makedirs(s.mail_root, exist_ok=True)
        os.chmod(s.mail_root, 0o700)
        _chown(s.mail_root, c.get("vmail_user", "vmail"))
        return priv

    def start(self, authd=True, pop3d=True):
        priv = self.prepare_dirs()
        self.logf = open(self.log_path, "ab")
        env = pt.clean_env()
        env["POSTERN_LOG"] = "stderr"
        if authd:
            path = os.path.join(priv, "auth")
            if os.path.exists(path):
                os.unlink(path)
            us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            us.bind(path)
            os.chmod(path, 0o600)
            _chown(path, self.suite.settings.get("mail_owner", "postern"))
            us.listen(128)
            self.procs.append(_spawn([AUTHD, "-c", self.suite.conf], [us],
                                     ["auth"], self.logf, env))
            us.close()
            pt.poll(lambda: "authd ready" in self.log_text(), 10)
        if pop3d:
            socks = []
            for port in (self.pop3_port, self.pop3s_port):
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("127.0.0.1", port))
                t.listen(128)
                socks.append(t)
            self.procs.append(_spawn([POP3D, "-c", self.suite.conf], socks,
                                     ["pop3", "pop3s"], self.logf, env))
            for t in socks:
                t.close()
            pt.poll(lambda: "pop3d ready" in self.log_text(), 10)
        for p in self.procs:
            if p not in pt._extra_procs:
                pt.register_proc(p)
        return self

    def inetd_argv(self, implicit_tls=False):
        return [POP3D, "-c", self.suite.conf] + (["-s"] if implicit_tls else [])

    def log_text(self):
        if self.logf:
            self.logf.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.logf:
            self.logf.close()
            self.logf = None

    def dump_log(self, lines=30):
        tail = self.log_text().splitlines()[-lines:]
        pt.tap.diag("--- last %d lines of %s ---" % (len(tail), self.log_path))
        for ln in tail:
            pt.tap.diag("  " + ln)
