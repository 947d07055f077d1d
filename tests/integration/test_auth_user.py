#!/usr/bin/env python3
"""
The credentials have an account of their own (issue 13, "Credentials").
Started as root, authd and lookupd run as auth_user (postern-auth) and no
other process of the suite does; the sasldb is auth_user's, mode 0600 (or
0640 with auth_user's group), so that processes running as postern (qmgr,
pickup, smtpd), postern-login or vmail cannot open it; `postern check`
warns when mail_owner or anyone else could read it and `postern user
passwd` puts it right; and everything that needs the secrets still works
end to end: RCPT checks (lookupd), SMTP AUTH on submission, POP3 and IMAP
logins (authd).

authd's failure block counts per network: with auth_block_prefix_ipv4 =
24, failed logins from ten addresses of 127.0.5.0/24 (bound with
socket.bind) block an eleventh address of that /24, over POP3, IMAP and
SMTP AUTH alike, while 127.0.0.1 (another /24) still logs in. The IPv6
/64 case is in tests/unit/test_auth_prefix.c (loopback IPv6 has one
address).
"""
import os
import pwd
import re
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

AUTH_USER = "postern-auth"
OTHERS = ("postern", "postern-login", "vmail")
ROOT_ONLY = "not root: privilege separation needs root"
P587, P110, P143 = pt.free_port(), pt.free_port(), pt.free_port()
BAD_NET = "127.0.5.%d"		# the /24 whose failures get it blocked
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE

if pt.IS_ROOT:
    try:
        AUTH = pwd.getpwnam(AUTH_USER)
        IDS = {n: pwd.getpwnam(n) for n in OTHERS}
    except KeyError as e:
        tap.ok(False, "the system accounts exist", "%s: run tools/deps.sh" % e)
        tap.done()

S = pt.start_suite_or_bail(name="auth-user", extra_conf={
    "submission_listen": "127.0.0.1:%d" % P587,
    "pop3_listen": "127.0.0.1:%d" % P110,
    "imap_listen": "127.0.0.1:%d" % P143,
    "pop3_plaintext_auth": "yes",
    "imap_plaintext_auth": "yes",
    "auth_block_prefix_ipv4": "24",
})


def suite_procs():
    """[(pid, name)] of the master's descendants (name: exe or argv0)."""
    return [(pid, exe or a0) for pid, _pp, _pg, exe, a0 in pt.descendants(S.proc.pid)]


def ready():
    """Every daemon runs, and authd and lookupd have said they are ready
    (which they say only after dropping to auth_user)."""
    names = {n for _p, n in suite_procs()}
    log = S.log_text()
    return all(n in names for n in ("authd", "lookupd", "qmgr", "smtpd",
                                    "submitd", "pop3d", "imapd")) and \
        re.search(r"postern/authd\[\d+\]: authd ready", log) is not None and \
        re.search(r"postern/lookupd\[\d+\]: ready", log) is not None


def t_processes():
    if not pt.IS_ROOT:
        for what in ("authd", "lookupd", "everything else"):
            tap.skip("%s: uid and gid" % what, ROOT_ONLY)
        return
    tap.ok(pt.poll(ready, 15), "the suite's daemons run", suite_procs())
    seen = set()
    for pid, name in suite_procs():
        try:
            ids = pt.proc_ids(pid)
        except OSError:
            continue        # a per-connection process that just ended
        if name in ("authd", "lookupd"):
            seen.add(name)
            tap.eq((ids["Uid"], ids["Gid"], set(ids["Groups"]) - {AUTH.pw_gid}),
                   ([AUTH.pw_uid] * 4, [AUTH.pw_gid] * 4, set()),
                   "%s (pid %d) runs as %s (uid %d, gid %d, no other group)"
                   % (name, pid, AUTH_USER, AUTH.pw_uid, AUTH.pw_gid))
        else:
            tap.ok(AUTH.pw_uid not in ids["Uid"] and AUTH.pw_gid not in ids["Gid"]
                   and AUTH.pw_gid not in ids["Groups"],
                   "%s (pid %d) holds neither %s's uid nor its gid"
                   % (name, pid, AUTH_USER), ids)
    tap.eq(sorted(seen), ["authd", "lookupd"], "authd and lookupd were both found")


def opens_as(user, path):
    """Can the account user open path for reading? (True, False, or the
    error text when the check itself broke)."""
    r = subprocess.run(
        [sys.executable, "-c",
         "import sys\n"
         "try:\n open(sys.argv[1], 'rb').read(1)\n"
         "except PermissionError:\n sys.exit(3)\n", path],
        preexec_fn=pt.as_user(user), capture_output=True, text=True, timeout=20)
    return {0: True, 3: False}.get(r.returncode, "status %s: %s"
                                   % (r.returncode, r.stderr.strip()))


def sasldb_mode_ok(st):
    mode = stat.S_IMODE(st.st_mode)
    return st.st_uid == AUTH.pw_uid and (
        mode == 0o600 or (mode == 0o640 and st.st_gid == AUTH.pw_gid))


def t_sasldb():
    if not pt.IS_ROOT:
        for what in ("owner and mode", "not for postern", "check", "passwd fixes"):
            tap.skip("sasldb: %s" % what, ROOT_ONLY)
        return
    st = os.stat(S.sasl_db)
    tap.ok(sasldb_mode_ok(st), "the sasldb is %s's, mode 0600 (or 0640 with its "
           "group)" % AUTH_USER, "uid %d gid %d mode %o" % (
               st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
    tap.eq(opens_as(AUTH_USER, S.sasl_db), True,
           "a process running as %s can open the sasldb" % AUTH_USER)
    for user in OTHERS:
        tap.eq(opens_as(user, S.sasl_db), False,
               "a process running as %s cannot open the sasldb" % user)
    check = [pt.POSTERN, "check", "-c", S.conf]
    r = pt.run_cmd(check)
    tap.ok(r.returncode == 0 and "sasl_db" not in r.stderr,
           "postern check: no problem and no warning about the sasldb",
           r.stderr)
    # the old layout (root:postern 0640): readable by mail_owner
    os.chown(S.sasl_db, 0, IDS["postern"].pw_gid)
    os.chmod(S.sasl_db, 0o640)
    r = pt.run_cmd(check)
    tap.ok("sasl_db" in r.stderr and "readable by mail_owner" in r.stderr,
           "postern check warns when mail_owner's group can read the sasldb",
           r.stderr)
    tap.eq(opens_as("postern", S.sasl_db), True,
           "(so postern could read it then: the check above means something)")
    r = pt.run_cmd([pt.POSTERN, "user", "passwd", "-c", S.conf,
                    "dave@example.test"], input=pt.PASSWORD + "\n")
    st = os.stat(S.sasl_db)
    tap.ok(r.returncode == 0 and sasldb_mode_ok(st),
           "postern user passwd gives the sasldb back to %s, 0600" % AUTH_USER,
           "status %s %s; uid %d gid %d mode %o" % (
               r.returncode, r.stderr, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
    os.chmod(S.sasl_db, 0o604)
    r = pt.run_cmd(check)
    tap.ok("sasl_db" in r.stderr and "other accounts" in r.stderr,
           "postern check warns when anyone can read the sasldb", r.stderr)
    r = pt.run_cmd([pt.POSTERN, "user", "add", "-c", S.conf, "erin@example.test"],
                   input=pt.PASSWORD + "\n")
    st = os.stat(S.sasl_db)
    tap.ok(r.returncode == 0 and sasldb_mode_ok(st) and
           opens_as("postern", S.sasl_db) is False,
           "postern user add also leaves it %s's alone" % AUTH_USER,
           "status %s %s; mode %o" % (r.returncode, r.stderr, stat.S_IMODE(st.st_mode)))


def t_rcpt():
    with S.smtp() as c:
        c.ehlo()
        c.mail("sender@remote.test")
        tap.eq(c.rcpt("alice@example.test")[0], 250,
               "RCPT of a user of the sasldb: 250 (lookupd reads it)")
        tap.eq(c.rcpt("alice+tag@example.test")[0], 250, "RCPT of alice+tag: 250")
        tap.eq(c.rcpt("nosuchuser@example.test")[0], 550, "RCPT of no user: 550")
        tap.eq(c.rcpt("info@example.test")[0], 250,
               "RCPT of an alias: 250 (lookupd reads the alias file)")


def t_submission():
    subj = "authuser-sub-%d" % os.getpid()
    s = smtplib.SMTP("127.0.0.1", P587, local_hostname="client.test", timeout=20)
    s.ehlo()
    s.starttls(context=CTX)
    s.ehlo()
    code, _ = s.login("alice@example.test", pt.PASSWORD)
    tap.eq(code, 235, "SMTP AUTH on submission: 235 (authd reads the sasldb)")
    s.sendmail("alice@example.test", ["bob@example.test"],
               "From: alice@example.test\r\nTo: bob@example.test\r\n"
               "Subject: %s\r\n\r\nHi.\r\n" % subj)
    s.quit()
    tap.eq(len(S.wait_for_subject("bob@example.test", subj)), 1,
           "the authenticated submission is delivered")


class Lines:
    """A line client on a TCP socket from a given loopback source address."""

    def __init__(self, port, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20,
                                             source_address=(source, 0))
        self.f = self.sock.makefile("rb")

    def line(self):
        return self.f.readline().decode("utf-8", "replace").rstrip("\r\n")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def until(self, prefix):
        """Lines up to the one starting with prefix (that one), bounded."""
        for _ in range(100):
            ln = self.line()
            if ln.startswith(prefix) or ln == "":
                return ln
        return ""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop3_login(password, source="127.0.0.1"):
    """USER/PASS: the answer to PASS (and STAT's when it worked)."""
    c = Lines(P110, source)
    try:
        c.line()
        c.send("USER alice@example.test")
        c.line()
        c.send("PASS " + password)
        ans = c.line()
        if ans.startswith("+OK"):
            c.send("STAT")
            ans += " | " + c.line()
            c.send("QUIT")
        return ans
    finally:
        c.close()


def imap_login(password, source="127.0.0.1"):
    """LOGIN: the tagged answer (and SELECT's when it worked)."""
    c = Lines(P143, source)
    try:
        c.line()
        c.send('a LOGIN alice@example.test "%s"' % password)
        ans = c.until("a ")
        if ans.startswith("a OK"):
            c.send("b SELECT INBOX")
            ans += " | " + c.until("b ")
            c.send("c LOGOUT")
        return ans
    finally:
        c.close()


def smtp_auth(password, source="127.0.0.1"):
    """AUTH PLAIN on submission from source: (code, text)."""
    s = smtplib.SMTP("127.0.0.1", P587, local_hostname="client.test", timeout=20,
                     source_address=(source, 0))
    try:
        s.ehlo()
        s.starttls(context=CTX)
        s.ehlo()
        s.user, s.password = "alice@example.test", password
        try:
            return s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPResponseException as e:
            return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    finally:
        try:
            s.close()
        except OSError:
            pass


def t_logins():
    a = pop3_login(pt.PASSWORD)
    tap.ok(a.startswith("+OK") and "| +OK" in a, "POP3 USER/PASS works", a)
    a = imap_login(pt.PASSWORD)
    tap.ok(a.startswith("a OK") and "| b OK" in a, "IMAP LOGIN works", a)


def t_block_per_network():
    answers = {}

    def fail(n):
        try:
            answers[n] = pop3_login("wrong-password", BAD_NET % n)
        except OSError as e:
            answers[n] = "error: %s" % e
    threads = [threading.Thread(target=fail, args=(n,)) for n in range(2, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    tap.ok(len(answers) == 10 and all(a.startswith("-ERR [AUTH]")
                                      for a in answers.values()),
           "ten wrong passwords, each from another address of 127.0.5.0/24: "
           "-ERR [AUTH]", answers)
    a = pop3_login(pt.PASSWORD, BAD_NET % 200)
    tap.ok(a.startswith("-ERR [SYS/TEMP]") and "Too many" in a,
           "the right password from 127.0.5.200, an address that never failed: "
           "refused (its /24 is blocked)", a)
    a = imap_login(pt.PASSWORD, BAD_NET % 201)
    tap.ok(a.startswith("a NO") and "UNAVAILABLE" in a,
           "IMAP LOGIN from 127.0.5.201: NO [UNAVAILABLE]", a)
    code, text = smtp_auth(pt.PASSWORD, BAD_NET % 202)
    tap.ok(code == 421 and "too many failed logins" in str(text),
           "SMTP AUTH from 127.0.5.202: 421 4.7.0", (code, text))
    a = pop3_login(pt.PASSWORD, "127.0.0.1")
    tap.ok(a.startswith("+OK"), "127.0.0.1 (another /24) still logs in over POP3", a)
    code, _ = smtp_auth(pt.PASSWORD, "127.0.6.9")
    tap.eq(code, 235, "and 127.0.6.9 over SMTP AUTH")
    tap.ok(pt.poll(lambda: "127.0.5.0/24: 10 failed logins" in S.log_text(), 5),
           "authd logs the block of 127.0.5.0/24")


def t_stop():
    tap.eq(S.stop(), 0, "postern run exits 0 on SIGTERM")


for fn in (t_processes, t_sasldb, t_rcpt, t_submission, t_logins,
           t_block_per_network, t_stop):
    tap.run(fn, timeout=120)
tap.done()
