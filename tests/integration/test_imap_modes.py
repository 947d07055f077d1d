#!/usr/bin/env python3
"""
test_imap_modes: imapd as a program of its own, without the master (the
modes every postern daemon supports, as test_pop3.py does for pop3d):

  systemd Accept=no   the listeners "imap" and "imaps" passed as fds 3..
                      with LISTEN_FDS (authd too, as pop3_launch does)
  systemd Accept=yes  one connected socket as fd 3 ("connection")
  inetd               a connected socket on fds 0/1; -s for implicit TLS;
                      with imap_plaintext_auth = yes, LOGIN without TLS
  tcpserver           pipes on fds 0/1 and TCPREMOTEIP

and, as root, the processes of one connection: the session as vmail, the
login process as postern-login chrooted to $state_dir/empty. Without
authd, the client is told the service is unavailable.
"""

import imaplib
import os
import pwd
import re
import socket
import ssl
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import pop3_launch as pl  # noqa: E402
import test_imap_util as u  # noqa: E402

ALICE = u.ALICE


class Env:
    suite = None
    srv = None       # authd (pop3_launch.Pop3Server with pop3d off)
    imapd = None     # the Accept=no imapd
    imap_port = imaps_port = None


E = Env()


def env():
    e = pt.clean_env()
    e["POSTERN_LOG"] = "stderr"
    return e


def t_start():
    E.suite = pt.Suite(name="imap-modes")
    E.srv = pl.Pop3Server(E.suite)
    # One log for authd and imapd: the suite's, which tap.done() checks
    # for sanitizer reports.
    E.srv.log_path = E.suite.log_path
    try:
        E.srv.start(authd=True, pop3d=False)
    except Exception as e:
        tap.ok(False, "authd starts (systemd style)", e)
        tap.done()
    tap.ok("authd ready" in E.srv.log_text(), "authd starts (systemd style)")
    u.deliver(E.suite, ALICE, u.plain_message("modes", msgid="<modes@t>"))
    E.imap_port, E.imaps_port = pt.free_port(), pt.free_port()
    socks = []
    for port in (E.imap_port, E.imaps_port):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", port))
        t.listen(64)
        socks.append(t)
    E.imapd = pt.register_proc(pl._spawn([u.IMAPD, "-c", E.suite.conf], socks,
                                         ["imap", "imaps"], E.srv.logf, env()))
    for t in socks:
        t.close()
    tap.ok(pt.poll(lambda: "imapd ready" in E.srv.log_text(), 10),
           "systemd Accept=no: imapd logs that it is ready")


def t_accept_no():
    for port, implicit, what in ((E.imap_port, False, "imap + STARTTLS"),
                                 (E.imaps_port, True, "imaps")):
        ok, last = u.imap_ready(port, implicit, 10)
        tap.ok(ok, "systemd Accept=no, %s: greeting" % what, last)
        if not ok:
            continue
        c = u.session(port, implicit=implicit)
        r = c.cmd("SELECT INBOX")
        tap.ok(r.ok and u.exists_of(r.untagged) == 1,
               "systemd Accept=no, %s: LOGIN and SELECT INBOX" % what, r)
        c.cmd("LOGOUT")
        c.close()


def t_root():
    if not pt.IS_ROOT:
        tap.skip("root: process uids and chroot", "not root")
        return
    uid = lambda name: pwd.getpwnam(name).pw_uid  # noqa: E731
    c = u.session(E.imap_port, select="INBOX")
    lpid = E.imapd.pid
    tap.eq(pt.proc_ids(lpid)["Uid"], [0] * 4, "the imapd listener stays root")

    def one_conn():
        t = pt.descendants(lpid)
        k = [pid for pid, ppid, *_ in t if ppid == lpid]
        return (t, k) if len(k) == 1 else None
    tree, conn = pt.poll(one_conn, 5) or (pt.descendants(lpid), [])
    login = [pid for pid, ppid, *_ in tree if ppid in conn]
    tap.ok(len(conn) == 1 and len(login) == 1,
           "one session and one login process per connection", tree)
    if conn and login:
        tap.eq(pt.proc_ids(conn[0])["Uid"], [uid("vmail")] * 4, "the session runs as vmail")
        tap.eq(pt.proc_ids(login[0])["Uid"], [uid("postern-login")] * 4,
               "the login process runs as postern-login")
        root = os.readlink("/proc/%d/root" % login[0])
        tap.eq(root, os.path.join(E.suite.state_dir, "empty"),
               "the login process is chrooted to $state_dir/empty")
        tap.eq(os.listdir(root), [], "and that directory is empty")
        tap.ok(not any(os.readlink("/proc/%d/fd/%s" % (login[0], fd)).startswith(
            E.suite.mail_root) for fd in os.listdir("/proc/%d/fd" % login[0])),
            "the login process holds no file of the mail store")
    c.cmd("LOGOUT")
    c.close()


def spawn_fd0(conf, implicit=False):
    """imapd on a connected socket as fds 0/1 (inetd); returns (proc, sock)."""
    a, b = socket.socketpair()
    argv = [u.IMAPD, "-c", conf] + (["-s"] if implicit else [])
    p = pt.register_proc(subprocess.Popen(argv, stdin=b, stdout=b, stderr=E.srv.logf,
                                          env=env(), start_new_session=True))
    b.close()
    return p, a


def wait_exit(p, timeout=10):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def t_inetd():
    p, sock = spawn_fd0(E.suite.conf)
    c = u.Imap(sock=sock)
    g = c.greeting()
    tap.ok(g is not None and g.startswith("* OK"), "inetd: greeting on fd 0", g)
    caps = c.capabilities()
    tap.ok("LOGINDISABLED" in caps and "STARTTLS" in caps,
           "inetd: LOGINDISABLED and STARTTLS before TLS", caps)
    r = c.starttls()
    tap.ok(r.ok, "inetd: STARTTLS", r)
    r = c.login()
    tap.ok(r.ok, "inetd: LOGIN after STARTTLS", r)
    r = c.cmd("LOGOUT")
    tap.ok(r.ok, "inetd: LOGOUT", r)
    c.close()
    tap.eq(wait_exit(p), 0, "inetd: imapd exits 0 after the session")
    conf2 = os.path.join(E.suite.etc, "plain.conf")
    E.suite.settings["imap_plaintext_auth"] = "yes"
    E.suite.write_conf(conf2)
    E.suite.settings.pop("imap_plaintext_auth")
    p, sock = spawn_fd0(conf2)
    c = u.Imap(sock=sock)
    c.greeting()
    caps = c.capabilities()
    tap.ok("LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps,
           "imap_plaintext_auth = yes: no LOGINDISABLED, AUTH=PLAIN before TLS", caps)
    r = c.login()
    tap.ok(r.ok, "imap_plaintext_auth = yes: LOGIN without TLS", r)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok and u.exists_of(r.untagged) == 1, "inetd: SELECT INBOX", r)
    c.cmd("LOGOUT")
    c.close()
    wait_exit(p)
    p, sock = spawn_fd0(E.suite.conf, implicit=True)
    c = u.Imap(sock=sock, tls=True)
    g = c.greeting()
    tap.ok(g is not None and g.startswith("* OK"), "inetd -s: greeting over TLS", g)
    r = c.login()
    tap.ok(r.ok, "inetd -s: LOGIN over implicit TLS", r)
    c.cmd("LOGOUT")
    c.close()
    tap.eq(wait_exit(p), 0, "inetd -s: imapd exits 0")


def t_accept_yes():
    a, b = socket.socketpair()
    e = env()
    p = pt.register_proc(pl._spawn([u.IMAPD, "-c", E.suite.conf], [b], ["connection"],
                                   E.srv.logf, e))
    b.close()
    c = u.Imap(sock=a)
    g = c.greeting()
    tap.ok(g is not None and g.startswith("* OK"), "systemd Accept=yes: greeting on fd 3", g)
    r = c.starttls()
    r2 = c.login() if r.ok else r
    tap.ok(r.ok and r2.ok, "systemd Accept=yes: STARTTLS and LOGIN", (r, r2))
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok, "systemd Accept=yes: SELECT INBOX", r)
    c.cmd("LOGOUT")
    c.close()
    tap.eq(wait_exit(p), 0, "systemd Accept=yes: imapd exits 0 after the session")


def t_tcpserver():
    e = env()
    e["TCPREMOTEIP"] = "192.0.2.77"
    p = pt.register_proc(subprocess.Popen([u.IMAPD, "-c", E.suite.conf],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=E.srv.logf, env=e, start_new_session=True))
    try:
        out, _ = p.communicate(b"a CAPABILITY\r\nb LOGOUT\r\n", timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out = b""
    tap.ok(out.startswith(b"* OK") and b"STARTTLS" in out and b"\r\n* BYE" in out
           and out.rstrip().split(b"\r\n")[-1].startswith(b"b OK"),
           "tcpserver-style pipes: greeting, CAPABILITY, LOGOUT", out)
    tap.eq(p.returncode, 0, "tcpserver-style: imapd exits 0")


def t_authd_down():
    authd = [p for p in E.srv.procs if p.args[-3:] == [pl.AUTHD, "-c", E.suite.conf]]
    for p in authd:
        p.terminate()
        p.wait(10)
        E.srv.procs.remove(p)
    for port, implicit, what in ((E.imap_port, False, "imap"), (E.imaps_port, True, "imaps")):
        try:
            c = u.Imap(port, tls=implicit)
            g = c.greeting()
            c.close()
        except (OSError, ssl.SSLError) as e:
            g = "%s: %s" % (type(e).__name__, e)
        tap.ok(g is not None and g.startswith("* BYE [UNAVAILABLE]"),
               "%s without authd: the client gets * BYE [UNAVAILABLE]%s"
               % (what, " over TLS" if implicit else ""), g)
    E.srv.start(authd=True, pop3d=False)
    c = u.session(E.imaps_port, implicit=True)
    tap.ok(c.cmd("SELECT INBOX").ok, "after authd is back, logins work again")
    c.close()


def closed_after(c, timeout=10):
    """Read what is left; (saw '* BYE', the connection closed)."""
    bye = False
    try:
        while True:
            r = c.response(timeout)
            if r is None:
                return bye, True
            bye = bye or r.startswith(b"* BYE")
    except OSError:
        return bye, bye


def t_limits():
    c = u.Imap(E.imap_port)
    c.greeting()
    c.send(b"".join(b"n%d NOOP\r\n" % i for i in range(60)))
    oks = 0
    bye = False
    while True:
        r = c.response(10)
        if r is None:
            break
        if re.match(rb"n\d+ OK", r):
            oks += 1
        if r.startswith(b"* BYE"):
            bye = True
    tap.ok(bye and oks <= 50,
           "more than 50 commands before login: * BYE and the connection closes (%d OK)"
           % oks)
    c.close()
    c = u.Imap(E.imap_port)
    c.greeting()
    try:
        c.send(b"".join(b"b%d BOGUS\r\n" % i for i in range(30)))
    except OSError:
        pass
    bye, closed = closed_after(c)
    tap.ok(bye and closed, "30 invalid commands before login: * BYE, closed")
    c.close()
    c = u.session(E.imap_port, select="INBOX")
    try:
        c.send(b"".join(b"b%d FROB\r\n" % i for i in range(30)))
    except OSError:
        pass
    bye, closed = closed_after(c)
    tap.ok(bye and closed, "30 invalid commands after login: * BYE, closed")
    c.close()


class Imap4From(imaplib.IMAP4_SSL):
    """imaplib over implicit TLS from another local address (127.0.0.2),
    so that authd's per-address count of 127.0.0.1 is not touched."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=("127.0.0.2", 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def t_session_limit():
    """A real client that tries several mechanisms with a wrong password
    (3 failures) is not disconnected: the right password then works in
    the same session (submission_auth_failures = 10)."""
    m = Imap4From("127.0.0.1", E.imaps_port, ssl_context=u.tls_ctx(), timeout=30)
    tries = (("AUTHENTICATE CRAM-MD5", lambda: m.login_cram_md5(ALICE, "wrong-1")),
             ("AUTHENTICATE PLAIN", lambda: m.authenticate(
                 "PLAIN", lambda _: b"\0" + ALICE.encode() + b"\0wrong-2")),
             ("LOGIN", lambda: m.login(ALICE, "wrong-3")))
    answers = []
    for what, fn in tries:
        try:
            answers.append((what, "accepted", fn()))
        except imaplib.IMAP4.error as e:
            answers.append((what, "refused", str(e)))
        except (OSError, imaplib.IMAP4.abort) as e:
            answers.append((what, "connection lost", repr(e)))
    tap.ok(all(a[1] == "refused" and "AUTHENTICATIONFAILED" in a[2] for a in answers),
           "imaplib: 3 wrong passwords (CRAM-MD5, PLAIN, LOGIN) in one session: "
           "NO [AUTHENTICATIONFAILED] each", answers)
    try:
        typ, _ = m.login(ALICE, u.PW)
        typ2, data = m.select("INBOX", readonly=True)
        m.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        typ = typ2, data = repr(e), None
    tap.ok(typ == "OK" and typ2 == "OK",
           "the session is still open: the right password then logs in and "
           "EXAMINE INBOX works", (typ, typ2, data))


def t_fail_cap():
    # Last: it blocks 127.0.0.1 in authd for a while. authd counts from 0
    # here (t_authd_down restarted it; t_session_limit came from
    # 127.0.0.2), so the close is imapd's per-session limit, not authd's
    # per-address block.
    c = u.Imap(E.imaps_port, tls=True)
    c.greeting()
    answers = []
    for i in range(10):
        r = c.login(ALICE, "nope-%d" % i)
        answers.append(r.line)
        if r.line is None:
            break
    rest = []
    try:
        while True:
            r = c.response(10)
            if r is None:
                break
            rest.append(r)
        closed = True
    except OSError:
        closed = False
    tap.ok(len(answers) == 10 and all(a and a.startswith("NO [AUTHENTICATIONFAILED]")
                                      for a in answers),
           "failed logins 1 to 10 in one connection: NO [AUTHENTICATIONFAILED] each",
           answers)
    tap.ok(closed and rest == [b"* BYE Too many authentication failures"],
           "after the 10th (submission_auth_failures = 10): * BYE Too many "
           "authentication failures, and the connection closes", (closed, rest))
    c.close()
    conns = []
    for i in range(10):
        c = u.Imap(E.imaps_port, tls=True)
        c.greeting()
        c.send(b"w LOGIN %s wrong-%d\r\n" % (ALICE.encode(), i))
        conns.append(c)
    answers = []
    for c in conns:
        r = c.finish("w", 30)
        answers.append(r.line)
        c.close()
    tap.ok(all(a and a.startswith("NO") for a in answers), "10 more wrong passwords refused",
           answers)
    c = u.Imap(E.imaps_port, tls=True)
    c.greeting()
    r = c.login()
    tap.ok(r.status == "NO" and r.code() == "UNAVAILABLE",
           "then even the right password is refused for a while: NO [UNAVAILABLE]", r)
    c.close()


def t_stop():
    E.imapd.terminate()
    tap.eq(wait_exit(E.imapd), 0, "imapd exits 0 on SIGTERM")
    E.srv.stop()


def main():
    tap.run(t_start, timeout=60)
    for fn in (t_accept_no, t_root, t_inetd, t_accept_yes, t_tcpserver, t_limits,
               t_authd_down, t_session_limit, t_fail_cap, t_stop):
        before = tap.failed
        tap.run(fn, timeout=90)
        if tap.failed > before:
            E.srv.dump_log()
    tap.done()


if __name__ == "__main__":
    main()
