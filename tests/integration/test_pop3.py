#!/usr/bin/env python3
"""
test_pop3: pop3d and authd with real clients (Python poplib, curl,
fetchmail) and byte-exact raw sessions: STLS and POP3S, plaintext logins
refused before TLS, a wrong password, STAT/LIST/RETR/TOP with byte
counts and dot-stuffing, UIDL stable across sessions and restarts,
DELE with RSET/QUIT/a dropped connection, IN-USE, inetd/Accept=yes/
tcpserver-style starts, bad input, the failed-login cap, and as root the
uids of the processes and the chroot of the login process.
"""

import hashlib
import hmac
import base64
import os
import poplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import pop3_launch as pl  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
PW = pt.PASSWORD


def tls_ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class P:
    """A byte-exact POP3 client on a socket."""

    def __init__(self, port=None, sock=None, tls=False, timeout=10):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            sock = tls_ctx().wrap_socket(sock)
        self.r = pt.Raw(sock=sock, timeout=timeout)

    def line(self, timeout=None):
        ln = self.r.line(timeout)
        return None if ln is None else ln.decode("latin-1")

    def cmd(self, text, timeout=None):
        self.r.send(text.encode("latin-1") + b"\r\n")
        return self.line(timeout)

    def multi(self):
        """Lines of a multi-line answer up to '.', raw (still stuffed)."""
        out = []
        for _ in range(1000000):
            ln = self.r.line()
            if ln is None:
                raise EOFError("EOF in a multi-line answer")
            if ln == b".":
                return out
            out.append(ln)
        raise RuntimeError("unbounded answer")

    def stls(self):
        ok = self.cmd("STLS")
        if ok.startswith("+OK"):
            self.r.starttls()
        return ok

    def login(self, user=ALICE, pw=PW):
        a = self.cmd("USER " + user)
        if not a.startswith("+OK"):
            return a
        return self.cmd("PASS " + pw, timeout=15)

    def close(self):
        self.r.close()


def msg(subject, body):
    return ("From: <sender@remote.test>\nTo: <%s>\nSubject: %s\n\n%s"
            % (ALICE, subject, body)).encode()


def pop(srv, user=ALICE):
    """poplib session over STLS, logged in."""
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=15)
    p.stls(tls_ctx())
    p.user(user)
    p.pass_(PW)
    return p


def uidls(p):
    return [ln.decode().split(" ", 1)[1] for ln in p.uidl()[1]]


def files(suite, user=ALICE):
    return suite.maildir_messages(user)


# ---------------------------------------------------------------- tests

def t_capa_before_tls(srv, suite):
    c = P(srv.pop3_port)
    g = c.line()
    tap.ok(g.startswith("+OK"), "greeting is +OK", g)
    c.r.send(b"CAPA\r\n")
    tap.ok(c.line().startswith("+OK"), "CAPA answers +OK")
    caps = [x.decode() for x in c.multi()]
    for k in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS"):
        tap.ok(k in caps, "CAPA before TLS lists %s" % k, caps)
    tap.ok("USER" not in caps, "CAPA before TLS does not list USER", caps)
    sasl = [x for x in caps if x.startswith("SASL")]
    tap.ok(sasl and "PLAIN" not in sasl[0].split(),
           "CAPA before TLS does not offer SASL PLAIN", caps)
    a = c.cmd("USER " + ALICE)
    tap.ok(a.startswith("-ERR"), "USER refused before TLS", a)
    a = c.cmd("PASS " + PW)
    tap.ok(a.startswith("-ERR"), "PASS refused before TLS", a)
    a = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                                               PW.encode()).decode())
    tap.ok(a.startswith("-ERR"), "AUTH PLAIN refused before TLS", a)
    a = c.cmd("STAT")
    tap.ok(a.startswith("-ERR"), "STAT refused before login", a)
    # Pipelined plaintext after STLS must be dropped (RFC 2595).
    c.r.send(b"STLS\r\nUSER " + ALICE.encode() + b"\r\n")
    a = c.line()
    tap.ok(a.startswith("+OK"), "STLS answers +OK", a)
    c.r.starttls()
    c.r.send(b"CAPA\r\n")
    a = c.line()
    tap.ok(a.startswith("+OK"), "the pipelined USER was discarded (CAPA answers next)", a)
    caps = [x.decode() for x in c.multi()]
    tap.ok("USER" in caps and "STLS" not in caps,
           "CAPA after STLS lists USER and no STLS", caps)
    tap.ok(any(x.startswith("SASL") and "PLAIN" in x.split() for x in caps),
           "CAPA after STLS offers SASL PLAIN", caps)
    a = c.cmd("PASS " + PW)
    tap.ok(a.startswith("-ERR"), "PASS without USER after STLS is refused", a)
    c.close()


def t_wrong_password(srv, suite):
    c = P(srv.pop3_port)
    c.line()
    c.stls()
    t0 = time.monotonic()
    a = c.login(ALICE, "wrong-password")
    took = time.monotonic() - t0
    tap.ok(a.startswith("-ERR [AUTH]"), "a wrong password gets -ERR [AUTH]", a)
    tap.ok(took >= 1.0, "a failed login is delayed (%.2f s)" % took)
    a = c.login(ALICE, PW)
    tap.ok(a.startswith("+OK"), "the right password then works", a)
    c.cmd("QUIT")
    c.close()
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=15)
    p.stls(tls_ctx())
    p.user("nobody@example.test")
    try:
        p.pass_(PW)
        tap.ok(False, "an unknown user is refused")
    except poplib.error_proto as e:
        tap.ok(b"[AUTH]" in e.args[0], "an unknown user is refused", e)
    p.close()


BODY1 = ("line one\n.starts with a dot\n..two dots\n.\nafter lone dot\n"
         "last line\n")


def t_stat_list_retr_top(srv, suite):
    md = suite.maildir(ALICE)
    raw1 = msg("first", BODY1)
    raw2 = msg("second", "".join("body line %d\n" % i for i in range(1, 11)))
    pl.deliver_file(md, raw1)
    pl.deliver_file(md, raw2)
    wire = [len(m) + m.count(b"\n") for m in (raw1, raw2)]
    p = pop(srv)
    tap.eq(p.stat(), (2, sum(wire)), "STAT counts CRLF octets")
    tap.eq(p.list()[1], [b"1 %d" % wire[0], b"2 %d" % wire[1]],
           "LIST sizes count CRLF line ends")
    resp, lines, octets = p.retr(1)
    tap.eq(b"\n".join(lines) + b"\n", raw1, "RETR 1 gives the message back "
           "(dot-stuffing undone by poplib)")
    tap.ok(resp.startswith(b"+OK %d" % wire[0]), "RETR announces the size", resp)
    resp, lines, octets = p.top(2, 3)
    head = raw2.split(b"\n\n")[0].split(b"\n")
    tap.eq(lines, head + [b"", b"body line 1", b"body line 2", b"body line 3"],
           "TOP 2 3 gives the header, the blank line and 3 body lines")
    resp, lines, octets = p.top(2, 0)
    tap.eq(lines, head + [b""], "TOP 2 0 gives the header only")
    p.quit()
    # The wire: dots stuffed, CRLF everywhere, byte count exact.
    c = P(srv.pop3_port)
    c.line()
    c.stls()
    c.login()
    first = c.cmd("RETR 1")
    body = c.multi()
    tap.ok(b"..starts with a dot" in body and b"...two dots" in body and
           b".." in body, "dot-stuffing on the wire", body)
    sent = sum(len(x) + 2 for x in body) - sum(
        1 for x in body if x.startswith(b"."))
    tap.eq(sent, wire[0], "octets on the wire (less stuffing) = the size")
    tap.ok(first == "+OK %d octets" % wire[0], "RETR first line", first)
    c.cmd("QUIT")
    c.close()
    seen = [f for f in files(suite) if f.endswith(":2,S")]
    tap.eq(len(seen), 1, "RETR moved the message to cur/ with the S flag")
    tap.ok(all("/cur/" in f for f in seen), "the Seen message is in cur/", seen)


def t_uidl_stable(srv, suite):
    p = pop(srv)
    u1 = uidls(p)
    p.retr(2)
    p.quit()
    p = pop(srv)
    u2 = uidls(p)
    p.quit()
    tap.ok(len(u1) >= 2 and u1 == u2, "UIDL stable across sessions (and RETR)",
           (u1, u2))
    tap.ok(all(0 < len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u)
               for u in u1), "UIDLs are 1-70 printable characters", u1)
    srv.stop()
    srv.procs[:] = []
    srv.pop3_port, srv.pop3s_port = pt.free_port(), pt.free_port()
    srv.start()
    p = pop(srv)
    u3 = uidls(p)
    p.quit()
    tap.eq(u3, u1, "UIDL stable across a restart of authd and pop3d")


def t_dele(srv, suite):
    n0 = len(files(suite))
    p = pop(srv)
    p.dele(1)
    try:
        p.retr(1)
        tap.ok(False, "RETR of a deleted message is refused")
    except poplib.error_proto:
        tap.ok(True, "RETR of a deleted message is refused")
    tap.eq(p.stat()[0], n0 - 1, "STAT leaves out the deleted message")
    p.rset()
    tap.eq(p.stat()[0], n0, "RSET undeletes")
    p.quit()
    tap.eq(len(files(suite)), n0, "DELE + RSET + QUIT deletes nothing")
    # A dropped connection deletes nothing.
    c = P(srv.pop3_port)
    c.line()
    c.stls()
    c.login()
    a = c.cmd("DELE 1")
    tap.ok(a.startswith("+OK"), "DELE 1", a)
    c.close()
    time.sleep(0.5)
    tap.eq(len(files(suite)), n0, "a dropped connection deletes nothing")
    p = pop(srv)
    u = uidls(p)
    p.dele(1)
    p.quit()
    tap.eq(len(files(suite)), n0 - 1, "DELE + QUIT deletes the file")
    p = pop(srv)
    tap.eq(uidls(p), u[1:], "the deleted UIDL is gone, the others stay")
    p.quit()


def t_in_use(srv, suite):
    p1 = pop(srv)
    c = P(srv.pop3_port)
    c.line()
    c.stls()
    a = c.login()
    tap.ok(a.startswith("-ERR [IN-USE]"), "a second session gets -ERR [IN-USE]", a)
    c.close()
    tap.ok(p1.stat()[0] >= 1, "the first session still works")
    p1.quit()
    p2 = pop(srv)
    tap.ok(p2.stat()[0] >= 1, "after QUIT the mailbox can be opened again")
    p2.quit()


def t_pop3s(srv, suite):
    p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=tls_ctx(), timeout=15)
    caps = p.capa()
    tap.ok("USER" in caps and "STLS" not in caps, "POP3S CAPA: USER, no STLS", caps)
    p.user(ALICE)
    p.pass_(PW)
    tap.ok(p.stat()[0] >= 1, "POP3S login and STAT")
    p.quit()
    # AUTH PLAIN with an initial response, and AUTH PLAIN with a continuation.
    c = P(srv.pop3s_port, tls=True)
    c.line()
    cred = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PW.encode()).decode()
    a = c.cmd("AUTH PLAIN " + cred)
    tap.ok(a.startswith("+OK"), "AUTH PLAIN with an initial response", a)
    c.cmd("QUIT")
    c.close()
    c = P(srv.pop3s_port, tls=True)
    c.line()
    a = c.cmd("AUTH PLAIN")
    tap.ok(a.startswith("+"), "AUTH PLAIN without one gets a continuation", a)
    a = c.cmd(cred)
    tap.ok(a.startswith("+OK"), "and then logs in", a)
    c.cmd("QUIT")
    c.close()


def t_cram_md5_plaintext(srv, suite):
    # Challenge-response mechanisms do not expose the password: allowed
    # before TLS (only USER/PASS, PLAIN and LOGIN are refused).
    c = P(srv.pop3_port)
    c.line()
    a = c.cmd("AUTH CRAM-MD5")
    if not a.startswith("+ "):
        tap.ok(False, "AUTH CRAM-MD5 gets a challenge", a)
        return
    chal = base64.b64decode(a[2:])
    dig = hmac.new(PW.encode(), chal, hashlib.md5).hexdigest()
    a = c.cmd(base64.b64encode(("%s %s" % (ALICE, dig)).encode()).decode())
    tap.ok(a.startswith("+OK"), "AUTH CRAM-MD5 logs in", a)
    c.cmd("QUIT")
    c.close()
    c = P(srv.pop3_port)
    c.line()
    c.cmd("AUTH CRAM-MD5")
    a = c.cmd("*")
    tap.ok(a.startswith("-ERR"), "AUTH cancelled with *", a)
    c.close()


def t_curl(srv, suite):
    if not pt.require("curl", "pop3", "pop3s"):
        return
    r = pt.run_cmd(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20",
                    "-u", "%s:%s" % (ALICE, PW),
                    "pop3://127.0.0.1:%d/" % srv.pop3_port])
    tap.ok(r.returncode == 0 and r.stdout.startswith("1 "),
           "curl pop3:// with STLS lists the mailbox", r)
    r = pt.run_cmd(["curl", "-sS", "-k", "--max-time", "20",
                    "-u", "%s:%s" % (ALICE, PW),
                    "pop3s://127.0.0.1:%d/1" % srv.pop3s_port])
    tap.ok(r.returncode == 0 and "Subject:" in r.stdout,
           "curl pop3s:// retrieves message 1", r)
    for opt in ("AUTH=PLAIN", "AUTH=+LOGIN"):
        r = pt.run_cmd(["curl", "-sS", "--max-time", "20", "--login-options", opt,
                        "-u", "%s:%s" % (ALICE, PW),
                        "pop3://127.0.0.1:%d/" % srv.pop3_port])
        tap.ok(r.returncode != 0,
               "curl pop3:// %s without TLS cannot log in" % opt, r)


def t_fetchmail(srv, suite):
    if not pt.require("fetchmail"):
        return
    md = suite.maildir(BOB)
    for i in range(3):
        pl.deliver_file(md, msg("fetch %d" % i, "text %d\n.dot\n" % i))
    home = tempfile.mkdtemp(prefix="fetchmail-", dir=suite.tree)
    for mode, port, opts in (("pop3s", srv.pop3s_port, "ssl"),
                             ("stls", srv.pop3_port, "sslproto tls1.2+")):
        r, data = pt.fetchmail_fetch(home, "pop3", port, BOB, PW, opts)
        tap.ok(r.returncode == 0 and data.count(b"Subject: fetch") == 3
               and b"\n.dot\n" in data,
               "fetchmail (%s) fetches 3 messages, dots intact" % mode,
               "rc=%s\n%s%s" % (r.returncode, r.stdout, r.stderr[-2000:]))
    tap.eq(len(files(suite, BOB)), 3, "fetchmail with keep deleted nothing")


def spawn_fd0(srv, conf, extra_env=None, implicit=False, stdio=None):
    """pop3d on a connected socket as fds 0/1 (inetd); returns (proc, sock)."""
    a, b = socket.socketpair()
    env = pt.clean_env()
    env["POSTERN_LOG"] = "stderr"
    env.update(extra_env or {})
    argv = [pl.POP3D, "-c", conf] + (["-s"] if implicit else [])
    p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=srv.logf, env=env,
                         start_new_session=True)
    pt.register_proc(p)
    b.close()
    return p, a


def t_inetd(srv, suite):
    # inetd, with pop3_plaintext_auth = yes in a second config.
    conf2 = os.path.join(suite.etc, "plain.conf")
    suite.settings["pop3_plaintext_auth"] = "yes"
    suite.write_conf(conf2)
    suite.settings.pop("pop3_plaintext_auth")
    p, sock = spawn_fd0(srv, conf2)
    c = P(sock=sock)
    g = c.line()
    tap.ok(g is not None and g.startswith("+OK"), "inetd: greeting on fd 0", g)
    c.r.send(b"CAPA\r\n")
    c.line()
    caps = [x.decode() for x in c.multi()]
    tap.ok("USER" in caps and any("PLAIN" in x for x in caps),
           "pop3_plaintext_auth = yes: CAPA lists USER and PLAIN without TLS", caps)
    a = c.login()
    tap.ok(a.startswith("+OK"), "pop3_plaintext_auth = yes: USER/PASS without TLS", a)
    a = c.cmd("QUIT")
    tap.ok(a is not None and a.startswith("+OK"), "inetd: QUIT", a)
    c.close()
    tap.ok(p.wait(10) == 0, "inetd: pop3d exits 0 after the session")
    # inetd with -s: implicit TLS.
    p, sock = spawn_fd0(srv, suite.conf, implicit=True)
    c = P(sock=sock, tls=True)
    g = c.line()
    tap.ok(g is not None and g.startswith("+OK"), "inetd -s: TLS greeting", g)
    a = c.login()
    tap.ok(a.startswith("+OK"), "inetd -s: login over implicit TLS", a)
    c.cmd("QUIT")
    c.close()
    p.wait(10)


def t_tcpserver_and_accept_yes(srv, suite):
    # tcpserver style: pipes on 0/1 and TCPREMOTEIP.
    env = pt.clean_env()
    env["POSTERN_LOG"] = "stderr"
    env["TCPREMOTEIP"] = "192.0.2.77"
    p = subprocess.Popen([pl.POP3D, "-c", suite.conf], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=srv.logf, env=env,
                         start_new_session=True)
    pt.register_proc(p)
    try:
        out, _ = p.communicate(b"CAPA\r\nQUIT\r\n", timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out = b""
    tap.ok(out.startswith(b"+OK") and b"\r\nSTLS\r\n" in out and
           out.rstrip().endswith(b"+OK Bye"), "tcpserver-style pipes work", out)
    # systemd Accept=yes: the connection itself as fd 3.
    a, b = socket.socketpair()
    p = pl._spawn([pl.POP3D, "-c", suite.conf], [b], ["connection"], srv.logf,
                  dict(env, TCPREMOTEIP=""))
    pt.register_proc(p)
    b.close()
    c = P(sock=a)
    g = c.line()
    tap.ok(g is not None and g.startswith("+OK"), "systemd Accept=yes: greeting on fd 3", g)
    c.stls()
    a2 = c.login()
    tap.ok(a2.startswith("+OK"), "systemd Accept=yes: STLS and login", a2)
    c.cmd("QUIT")
    c.close()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        pass


def t_bad_input(srv, suite):
    c = P(srv.pop3_port)
    c.line()
    a = c.cmd("X" * 400)
    tap.ok(a.startswith("-ERR"), "an overlong line gets -ERR", a)
    a = c.cmd("CAPA")
    tap.ok(a.startswith("+OK"), "and the connection stays usable", a)
    c.multi()
    try:
        c.r.send(b"BOGUS\r\n" * 12)    # the server may hang up mid-way
        closed = c.r.wait_closed(10)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    tap.ok(closed, "too many bad commands close the connection")
    c.close()


def t_root(srv, suite):
    if not pt.IS_ROOT:
        tap.skip("root: process uids", "not root")
        tap.skip("root: login chroot", "not root")
        return
    c = P(srv.pop3_port)
    c.line()
    c.stls()
    c.login()
    c.cmd("NOOP")
    pop3d = [pr for pr in srv.procs if pr.args[-3:] == [pl.POP3D, "-c", suite.conf]]
    lpid = pop3d[0].pid if pop3d else srv.procs[-1].pid
    tree = pt.descendants(lpid)
    uid = lambda name: __import__("pwd").getpwnam(name).pw_uid  # noqa: E731
    uids = {pid: pt.proc_ids(pid)["Uid"] for pid, *_ in tree}
    conn = [pid for pid, ppid, *_ in tree if ppid == lpid]
    login = [pid for pid, ppid, *_ in tree if ppid in conn]
    tap.ok(len(conn) == 1 and len(login) == 1,
           "one session and one login process per connection", tree)
    if conn and login:
        tap.eq(uids[conn[0]], [uid("vmail")] * 4, "the session runs as vmail")
        tap.eq(uids[login[0]], [uid("postern-login")] * 4,
               "the login process runs as postern-login")
        root = os.readlink("/proc/%d/root" % login[0])
        tap.eq(root, os.path.join(suite.state_dir, "empty"),
               "the login process is chrooted to $state_dir/empty")
        tap.eq(os.listdir(root), [], "and that directory is empty")
    a = [p for p in srv.procs if p.args[-3:] == [pl.AUTHD, "-c", suite.conf]]
    if a:
        tap.eq(pt.proc_ids(a[0].pid)["Uid"], [uid("postern-auth")] * 4,
               "authd runs as postern-auth (auth_user)")
    c.cmd("QUIT")
    c.close()


def t_end_to_end(srv, suite):
    # smtpd -> queue -> deliver -> Maildir -> pop3d, with the real master
    # (which does not run authd/pop3d itself here: pop3_listen is empty).
    try:
        suite.start()
    except Exception as e:
        tap.skip("mail through smtpd and deliver is read over POP3",
                 "the master does not start: %s" % e)
        return
    try:
        body = "through the queue\n.leading dot\n"
        code, _ = suite.send("e2e", rcpts=(BOB,), body=body)
        got = suite.wait_for_subject(BOB, "e2e")
        tap.ok(code == 250 and len(got) == 1, "smtpd accepted and deliver stored it")
        if not got:
            return
        data = open(got[0], "rb").read()
        p = pop(srv, BOB)
        n = len(p.list()[1])
        resp, lines, _ = p.retr(n)
        p.quit()
        tap.ok(resp.startswith(b"+OK %d " % (len(data) + data.count(b"\n"))) and
               b"\n".join(lines) + b"\n" == data,
               "deliver's message is read back over POP3, size and bytes exact",
               (resp, len(data)))
    finally:
        suite.stop()


def t_authd_down(srv, suite):
    authd = [p for p in srv.procs if p.args[-3:] == [pl.AUTHD, "-c", suite.conf]]
    for p in authd:
        p.terminate()
        p.wait(10)
        srv.procs.remove(p)
    c = P(srv.pop3_port)
    g = c.line()
    tap.ok(g is not None and g.startswith("-ERR [SYS/TEMP]"),
           "without authd the client gets -ERR [SYS/TEMP]", g)
    c.close()
    srv.start(authd=True, pop3d=False)
    p = pop(srv)
    tap.ok(p.stat()[0] >= 1, "after authd is back, logins work again")
    p.quit()


def t_session_limit(srv, suite):
    """submission_auth_failures (default 10) is POP3's per-session limit
    too: 3 wrong passwords in one session (a client trying its mechanisms)
    leave it open. From 127.0.0.2, so authd's count for 127.0.0.1 (which
    t_fail_cap fills) is not touched."""
    sock = socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=10,
                                    source_address=("127.0.0.2", 0))
    c = P(sock=sock, tls=True)
    c.line()
    answers = [c.login(ALICE, "wrong-%d" % i) for i in range(3)]
    tap.ok(all(a and a.startswith("-ERR [AUTH]") for a in answers),
           "3 wrong passwords in one session: -ERR [AUTH] each", answers)
    a = c.login(ALICE, PW)
    tap.ok(a and a.startswith("+OK"), "the session is still open and the right "
           "password then works (submission_auth_failures = 10)", a)
    c.cmd("QUIT")
    c.close()


def t_fail_cap(srv, suite):
    # Last: it blocks 127.0.0.1 in authd for a while.
    conns = []
    for _ in range(10):
        c = P(srv.pop3s_port, tls=True)
        c.line()
        c.r.send(b"USER " + ALICE.encode() + b"\r\nPASS nope\r\n")
        conns.append(c)
    answers = []
    for c in conns:
        c.line()
        answers.append(c.line(timeout=20))
        c.close()
    tap.ok(all(a and a.startswith("-ERR") for a in answers),
           "10 wrong passwords refused", answers)
    c = P(srv.pop3s_port, tls=True)
    c.line()
    a = c.login()
    tap.ok(a.startswith("-ERR [SYS/TEMP]"),
           "then even the right password is refused for a while", a)
    c.close()


def main():
    suite = pt.Suite(name="pop3")
    srv = pl.Pop3Server(suite)
    try:
        srv.start()
    except Exception as e:
        tap.ok(False, "authd and pop3d start", e)
        tap.done()
    for fn in (t_capa_before_tls, t_wrong_password, t_stat_list_retr_top,
               t_uidl_stable, t_dele, t_in_use, t_pop3s, t_cram_md5_plaintext,
               t_curl, t_fetchmail, t_inetd, t_tcpserver_and_accept_yes,
               t_bad_input, t_root, t_end_to_end, t_authd_down, t_session_limit,
               t_fail_cap):
        before = tap.failed
        tap.run(lambda: fn(srv, suite), timeout=120, name=fn.__name__)
        if tap.failed > before:
            srv.dump_log()
    srv.stop()
    tap.done()


if __name__ == "__main__":
    main()
