#!/usr/bin/env python3
"""
test_submission: submitd (issue 3) with real clients -- smtplib on 587
(STARTTLS + AUTH PLAIN, LOGIN) and 465 (implicit TLS), swaks and msmtp --
against a real postern (master, authd, submitd, qmgr, deliver).

Checks: AUTH neither offered nor accepted before TLS (530 5.7.0), MAIL
without AUTH (530 5.7.0), a wrong password (535 5.7.8) and the
per-session cap (421 4.7.0, then the connection closes), a sender that
is not the user's (553 5.7.1) and one that sender_login_map allows,
Message-ID and Date added, ESMTPSA in Received and no secret in the
stored message, a remote recipient queued, the pipelined STARTTLS
injection, aborted AUTH exchanges ("*") across every mechanism leaving
the server healthy (the CVE-2011-1720 class), smtpd not offering AUTH on
port 25, and as root: submitd runs as postern, chrooted to the queue.
"""

import base64
import os
import pwd
import smtplib
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

PW = pt.PASSWORD
P587, P465 = pt.free_port(), pt.free_port()
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def b64(s):
    return base64.b64encode(s.encode()).decode()


def make_suite():
    s = pt.Suite(extra_conf={
        "submission_listen": "127.0.0.1:%d" % P587,
        "submissions_listen": "127.0.0.1:%d" % P465,
    })
    mapfile = os.path.join(s.etc, "sender_login_map")
    with open(mapfile, "w") as f:
        f.write("# who may send as whom\n"
                "sales@example.test   alice@example.test, bob@example.test\n"
                "@example.org         dave@example.test\n")
    s.settings["sender_login_map"] = mapfile
    s.write_conf()
    s.start()
    # submitd and authd are up once 587 greets.
    pt.poll(lambda: greets(P587), 10)
    return s


greets = pt.greets


def sub(port=P587):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=20)
    s.ehlo()
    s.starttls(context=CTX)
    s.ehlo()
    return s


def raw_tls(port=P587, source=None):
    """A Raw client on 587 after EHLO + STARTTLS + EHLO (from the loopback
    address source, if given)."""
    if source:
        r = pt.Raw(sock=socket.create_connection(("127.0.0.1", port), timeout=15,
                                                 source_address=(source, 0)), timeout=15)
    else:
        r = pt.Raw(port, timeout=15)
    r.greeting()
    r.ehlo()
    code, _ = r.cmd("STARTTLS")
    if code != 220:
        raise RuntimeError("STARTTLS: %s" % code)
    r.starttls()
    r.ehlo()
    return r


def msg(subject, frm="alice@example.test", to="alice@example.test", extra=""):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n%s\r\nHello.\r\n"
            % (frm, to, subject, extra))


def test_before_tls():
    r = pt.Raw(P587)
    code, lines = r.greeting()
    tap.eq(code, 220, "587 greets")
    code, lines = r.ehlo()
    tap.ok(code == 250 and any("STARTTLS" in l for l in lines)
           and not any(l[4:].startswith("AUTH") for l in lines),
           "587 offers STARTTLS and no AUTH before TLS", lines)
    code, lines = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    tap.ok(code == 530 and pt.enhanced(lines) == "5.7.0" and
           "STARTTLS" in lines[0], "AUTH before TLS: 530 5.7.0 Must issue a "
           "STARTTLS command first", lines)
    code, lines = r.cmd("MAIL FROM:<alice@example.test>")
    tap.ok(code == 530 and pt.enhanced(lines) == "5.7.0",
           "MAIL before TLS: 530 5.7.0", lines)
    r.close()
    r = raw_tls()
    code, lines = r.cmd("MAIL FROM:<alice@example.test>")
    tap.ok(code == 530 and pt.enhanced(lines) == "5.7.0" and
           "Authentication required" in lines[0],
           "MAIL after TLS without AUTH: 530 5.7.0 Authentication required", lines)
    r.close()


def test_wrong_password_smtplib():
    """A real client with a wrong password: smtplib tries every offered
    mechanism it knows (CRAM-MD5, PLAIN, LOGIN) in one session. With the
    default submission_auth_failures (10) it is told 535, not 421."""
    with sub() as s:
        mechs = s.esmtp_features.get("auth", "").split()
        try:
            s.login("alice@example.test", "wrong-pass")
            code, text = 235, b"accepted"
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        except smtplib.SMTPException as e:
            code, text = None, repr(e)
    tap.ok(code == 535, "smtplib.login with a wrong password (mechanisms %s): "
           "535, not 421" % " ".join(mechs), "%r %r" % (code, text))
    with sub() as s:
        code, _ = s.login("alice@example.test", PW)
    tap.eq(code, 235, "the right password afterwards, in a new session: 235")


def test_wrong_password_and_cap():
    # From 127.0.0.2: authd's per-address count of 127.0.0.1 stays low for
    # the other tests. Last: authd then blocks 127.0.0.2 for a while.
    r = raw_tls(source="127.0.0.2")
    code, lines = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong-pass"),
                        timeout=15)
    tap.ok(code == 535 and pt.enhanced(lines) == "5.7.8",
           "wrong password: 535 5.7.8", lines)
    codes = [code]
    for i in range(2, 10):
        code, lines = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong-%d" % i),
                            timeout=15)
        codes.append(code)
    tap.ok(codes == [535] * 9, "failures 1 to 9 in one session: 535 each", codes)
    code, lines = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong-10"), timeout=15)
    tap.ok(code == 421 and pt.enhanced(lines) == "4.7.0",
           "tenth failure in one session (submission_auth_failures = 10): "
           "421 4.7.0", lines)
    tap.ok(r.wait_closed(10), "the server closes the connection after 421")
    r.close()


def test_plain_and_login():
    for mech in ("PLAIN", "LOGIN"):
        subj = "sub-%s-%d" % (mech.lower(), os.getpid())
        with sub() as s:
            s.user, s.password = "alice@example.test", PW
            code, resp = s.auth(mech, getattr(s, "auth_" + mech.lower()))
            tap.eq(code, 235, "587 STARTTLS + AUTH %s with smtplib: 235" % mech)
            s.sendmail("alice@example.test", ["bob@example.test"],
                       "From: <alice@example.test>\r\nTo: <bob@example.test>\r\n"
                       "Subject: %s\r\n\r\nHello.\r\n" % subj)
        got = S.wait_for_subject("bob@example.test", subj)
        tap.ok(got, "the %s message is delivered to bob" % mech)
        if not got:
            continue
        data = pt.read_file(got[0]) or b""
        rcvd = pt.header_values(data, "Received")
        tap.ok(rcvd and "with ESMTPSA" in rcvd[0],
               "Received says ESMTPSA (RFC 3848)", rcvd[:1])
        tap.ok(PW.encode() not in data and b64("\0alice@example.test\0" + PW).encode()
               not in data, "no password in the stored message")
        if mech == "PLAIN":
            mid = pt.header_values(data, "Message-ID")
            date = pt.header_values(data, "Date")
            tap.ok(len(mid) == 1 and mid[0].startswith("<") and
                   mid[0].endswith("@%s>" % pt.HOSTNAME),
                   "Message-ID added: <time.random@hostname> (RFC 6409 8.4)", mid)
            tap.ok(len(date) == 1 and date[0].endswith("+0000"),
                   "Date added (RFC 6409 8.3)", date)


def test_kept_headers():
    subj = "sub-kept-%d" % os.getpid()
    with sub() as s:
        s.login("alice@example.test", PW)
        s.sendmail("alice@example.test", ["alice@example.test"],
                   msg(subj, extra="Message-ID: <own@client.test>\r\n"
                       "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"))
    got = S.wait_for_subject("alice@example.test", subj)
    data = pt.read_file(got[0]) if got else b""
    tap.ok(pt.header_values(data, "Message-ID") == ["<own@client.test>"] and
           len(pt.header_values(data, "Date")) == 1,
           "a message with its own Message-ID and Date keeps them, unchanged")


def test_senders():
    with sub() as s:
        s.login("alice@example.test", PW)
        code, resp = s.mail("bob@example.test")
        tap.ok(code == 553 and resp.startswith(b"5.7.1"),
               "sender not owned by the user: 553 5.7.1", resp)
        s.rset()
        code, resp = s.mail("ALICE@Example.Test")
        tap.eq(code, 250, "the user's own address (any case) is allowed")
        s.rset()
        code, resp = s.mail("sales@example.test")
        tap.eq(code, 250, "sender_login_map: sales@ is allowed for alice")
        s.rset()
        code, resp = s.mail("anyone@example.org")
        tap.eq(code, 553, "sender_login_map: @example.org is not alice's")
    with sub() as s:
        s.login("dave@example.test", PW)
        code, resp = s.mail("anyone@example.org")
        tap.eq(code, 250, "sender_login_map: @example.org wildcard allows dave")


def test_remote_queued():
    with sub() as s:
        s.login("alice@example.test", PW)
        s.mail("alice@example.test")
        code, _ = s.rcpt("someone@remote.example")
        tap.eq(code, 250, "any recipient domain is accepted when authenticated")
        code, resp = s.data(msg("sub-remote", to="someone@remote.example"))
        tap.eq(code, 250, "the remote message is queued")
    qid = resp.decode().rsplit(" ", 1)[-1]
    where = pt.poll(lambda: [f for f in S.queue_files() if f.endswith(qid)], 10)
    tap.ok(where and where[0].split("/")[0] in ("deferred", "active", "incoming"),
           "it waits in the queue for outbound delivery (issue 4)", where)
    with sub() as s:
        s.login("alice@example.test", PW)
        s.mail("alice@example.test")
        code, resp = s.rcpt("nosuchuser@example.test")
        tap.ok(code == 550, "an unknown local recipient is refused: 550", resp)


def test_465():
    subj = "sub-465-%d" % os.getpid()
    with smtplib.SMTP_SSL("127.0.0.1", P465, local_hostname="client.test",
                          timeout=20, context=CTX) as s:
        code, lines = s.ehlo()
        tap.ok(code == 250 and b"AUTH" in lines and b"STARTTLS" not in lines,
               "465: TLS from the first byte, AUTH offered, no STARTTLS", lines)
        code, _ = s.login("alice@example.test", PW)
        tap.eq(code, 235, "465: AUTH succeeds")
        s.sendmail("alice@example.test", ["alice@example.test"], msg(subj))
    tap.ok(S.wait_for_subject("alice@example.test", subj), "465: delivered")


def test_starttls_injection():
    r = pt.Raw(P587)
    r.greeting()
    r.ehlo()
    # The injected command arrives in plaintext with STARTTLS.
    r.send("STARTTLS\r\nMAIL FROM:<alice@example.test>\r\n")
    code, _ = r.reply()
    tap.eq(code, 220, "STARTTLS with a pipelined command: 220")
    r.starttls()
    try:
        extra = r.line(timeout=1.5)
    except socket.timeout:
        extra = None
    tap.ok(extra is None, "the pipelined plaintext command is not answered "
           "after the handshake", extra)
    code, lines = r.cmd("MAIL FROM:<alice@example.test>")
    tap.ok(code == 503, "after TLS the session starts afresh (MAIL needs EHLO): 503",
           lines)
    r.close()


def aborts(r, mechs):
    bad = []
    for mech in mechs:
        code, lines = r.cmd("AUTH " + mech)
        if code != 334:
            bad.append("%s: %s %s" % (mech, code, lines))
            continue
        code, lines = r.cmd("*")
        if code != 501 or pt.enhanced(lines) != "5.0.0":
            bad.append("%s abort: %s %s" % (mech, code, lines))
        if mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
            # Abort after the first step too.
            code, lines = r.cmd("AUTH %s %s" % (mech, b64("n,,n=alice@example.test,r=abcdefgh")))
            if code == 334:
                code, lines = r.cmd("*")
            if code != 501:
                bad.append("%s abort after a step: %s %s" % (mech, code, lines))
    return bad


def test_aborted_auth_loop():
    r = raw_tls()
    code, lines = r.ehlo()
    mechs = next((l[9:].split() for l in lines if l[4:].startswith("AUTH ")), [])
    tap.ok("PLAIN" in mechs and "LOGIN" in mechs and "SCRAM-SHA-256" in mechs,
           "AUTH offers PLAIN, LOGIN and SCRAM-SHA-256 (authd's list)", mechs)
    r.close()
    bad = []
    for rnd in range(3):
        r = raw_tls()
        bad += aborts(r, mechs)
        code, _ = r.cmd("NOOP")
        if code != 250:
            bad.append("round %d: NOOP after aborts: %s" % (rnd, code))
        r.close()
    tap.ok(not bad, "aborted AUTH (*) across %d mechanisms, 3 sessions: 501 5.0.0 "
           "each, server answers afterwards" % len(mechs), "\n".join(bad[:10]))
    with sub() as s:
        code, _ = s.login("alice@example.test", PW)
        tap.eq(code, 235, "after the abort loop a real AUTH still succeeds")
    tap.ok("killed by signal" not in S.log_text(),
           "no daemon was killed by a signal")


def test_swaks():
    if not pt.require("swaks", "TLS", "AUTH"):
        return
    subj = "sub-swaks-%d" % os.getpid()
    r = pt.run_cmd(["swaks", "--server", "127.0.0.1", "--port", str(P587),
                    "--tls", "--auth", "LOGIN", "--auth-user", "alice@example.test",
                    "--auth-password", PW, "--from", "alice@example.test",
                    "--to", "bob@example.test", "--header", "Subject: " + subj,
                    "--helo", "client.test"], timeout=60)
    tap.ok(r.returncode == 0, "swaks --tls --auth LOGIN exits 0", r.stdout[-1500:])
    tap.ok(S.wait_for_subject("bob@example.test", subj), "swaks message delivered")


def test_msmtp():
    if not pt.require("msmtp"):
        return
    subj = "sub-msmtp-%d" % os.getpid()
    rc = os.path.join(S.tree, "msmtprc")
    with open(rc, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\ntls on\n"
                "tls_starttls on\ntls_certcheck off\nauth on\n"
                "user alice@example.test\npassword %s\nfrom alice@example.test\n"
                "domain client.test\n" % (P587, PW))
    os.chmod(rc, 0o600)
    r = pt.run_cmd(["msmtp", "-C", rc, "bob@example.test"],
                   input="Subject: %s\n\nHello from msmtp.\n" % subj, timeout=60)
    tap.ok(r.returncode == 0, "msmtp (STARTTLS, AUTH) exits 0", r.stderr[-1500:])
    tap.ok(S.wait_for_subject("bob@example.test", subj), "msmtp message delivered")


def test_port25_no_auth():
    r = pt.Raw(S.port)
    r.greeting()
    r.ehlo()
    r.cmd("STARTTLS")
    r.starttls()
    code, lines = r.ehlo()
    tap.ok(code == 250 and not any(l[4:].startswith("AUTH") for l in lines),
           "smtpd does not offer AUTH on port 25 (smtpd_auth_enable = no)", lines)
    code, lines = r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0" + PW))
    tap.eq(code, 503, "smtpd refuses AUTH on port 25 by default")
    r.close()


def test_root():
    if not pt.IS_ROOT:
        tap.skip("submitd runs as postern, chrooted", "not root")
        return
    owner = pwd.getpwnam("postern")
    r = raw_tls()    # a session child exists while we hold it
    kids = [p for p in pt.descendants(S.proc.pid) if p[3] == "submitd"]
    bad = []
    for pid, *_ in kids:
        ids = pt.proc_ids(pid)
        if ids["Uid"] != [owner.pw_uid] * 4:
            bad.append("pid %d uid %r" % (pid, ids["Uid"]))
        try:
            root = os.readlink("/proc/%d/root" % pid)
        except OSError as e:
            root = str(e)
        if os.path.realpath(root) != os.path.realpath(S.queue_dir):
            bad.append("pid %d root %s" % (pid, root))
    r.close()
    tap.ok(kids and not bad, "submitd (%d processes) runs as postern, chrooted to "
           "the queue directory" % len(kids), "\n".join(bad))


S = None
try:
    S = make_suite()
except Exception as e:
    tap.ok(False, "the suite starts with submitd", str(e))
    tap.done()
for fn in (test_before_tls, test_plain_and_login, test_kept_headers, test_senders,
           test_remote_queued, test_465, test_starttls_injection,
           test_aborted_auth_loop, test_swaks, test_msmtp, test_port25_no_auth,
           test_root, test_wrong_password_smtplib, test_wrong_password_and_cap):
    tap.run(fn, timeout=120)
S.stop()
tap.done()
