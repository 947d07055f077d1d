#!/usr/bin/env python3
"""
test_outbound: mail for other domains leaves through qmgr and the smtp
client (issue 4). The remote side is real: a second postern instance
(remote.test is local there) and small scripted servers (fake_smtp.py),
all reached through transport_map on loopback; no DNS query is made.

Cases: relay to the second postern (right envelope, TLS, one transaction
for two recipients of one domain), submitd to a remote address, 451 then
250, 550 -> an RFC 3464 bounce in the sender's Maildir, no bounce for the
null sender, an alias target that is nobody fails with 5.1.1, malformed
replies, the STARTTLS injection segment, tls_policy_map encrypt, smuggling
variants leave only CRLF on the wire, SIGKILL during delivery then
restart loses nothing.
"""

import email
import email.policy
import os
import pwd
import smtplib
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (PASSWORD, Suite, poll, tap,  # noqa: E402
                          make_message, free_port)
from fake_smtp import FakeSMTP  # noqa: E402
import postern_test as pt  # noqa: E402

# In the build tree (which is not the source tree in an out-of-tree build).
SMTP_BIN = os.path.join(pt.TOP_BUILDDIR, "queue", "smtp")


def flaky(n):
    # First connection: 451 to every RCPT; later ones: accept.
    if n == 0:
        return {"rcpt": lambda a: "451 4.3.0 try again later\r\n"}
    return {}


def reject(n):
    return {"rcpt": lambda a: "550 5.1.1 <%s>: Recipient address rejected\r\n" % a}


def malformed(n):
    if n == 0:
        return {"ehlo_raw": b"250-fake.test\r\n251 PIPELINING\r\n"}
    return {}


def inject(n):
    return {"starttls_reply": b"220 ready\r\n250 injected\r\n"}


def stall(n):
    if n == 0:
        return {"stall_data_end": 8}
    return {}


FAKES = {}


def setup():
    """The fakes, the remote postern (B) and the sending postern (A)."""
    for name, beh in (("ok", None), ("flaky", flaky), ("reject", reject),
                      ("malformed", malformed), ("inject", inject),
                      ("plain", None), ("stall", stall)):
        FAKES[name] = FakeSMTP(beh)
    remote = Suite(name="remote", users=("bob@remote.test", "carol@remote.test"),
                   aliases="", extra_conf={"hostname": "mx.remote.test",
                                           "local_domains": "remote.test"})
    remote.start()
    tmap = ["remote.test smtp:[127.0.0.1]:%d" % remote.port]
    for name, f in FAKES.items():
        tmap.append("%s.test smtp:[127.0.0.1]:%d" % (name, f.port))
    aliases = ("fwd: bob@remote.test\n"
               "two: bob@remote.test, carol@remote.test\n"
               "ghost: nobody-here@example.test\n"
               "postmaster: alice@example.test\n")
    for name in FAKES:
        aliases += "to-%s: user@%s.test\n" % (name, name)
    aliases += "to-relayed: user@relayed.test\n"
    a = Suite(name="sender", aliases=aliases)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(a.tls_cert, a.tls_key)
    FAKES["relay"] = FakeSMTP(lambda n: {"tls_ctx": tls, "auth": True})
    creds = os.path.join(a.etc, "relay_credentials")
    with open(creds, "w") as f:
        f.write("[127.0.0.1]:%d relayuser:relay-secret\n" % FAKES["relay"].port)
    os.chmod(creds, 0o600)
    tm = os.path.join(a.etc, "transport")
    with open(tm, "w") as f:
        f.write("# test transport map\n" + "\n".join(tmap) + "\n")
    tp = os.path.join(a.etc, "tls_policy")
    with open(tp, "w") as f:
        f.write("plain.test encrypt\n")
    a.settings.update({"transport_map": tm, "tls_policy_map": tp,
                       "relayhost": "[127.0.0.1]:%d" % FAKES["relay"].port,
                       "relayhost_credentials": creds})
    if os.access(os.path.join(os.path.dirname(SMTP_BIN), "..", "submitd",
                              "submitd"), os.X_OK):
        a.settings["submission_listen"] = "127.0.0.1:%d" % free_port()
    a.write_conf()
    a.start()
    return a, remote


def send_from(a, sender, rcpt, subject, body="Hello.\n"):
    with a.smtp() as s:
        s.ehlo()
        s.mail(sender)
        code, msg = s.rcpt(rcpt)
        if code != 250:
            return code, msg
        return s.data(make_message(subject, body, sender or "x@y.test", rcpt))


def test_relay_to_postern(a, b):
    code, msg = send_from(a, "sender@remote.test", "fwd@example.test", "relay-1")
    tap.eq(code, 250, "smtpd accepts mail for an alias of a remote address")
    got = b.wait_for_subject("bob@remote.test", "relay-1", timeout=20)
    tap.ok(got, "the remote postern delivered it to bob@remote.test")
    if got:
        data = open(got[0], "rb").read()
        tap.ok(b"Return-Path: <sender@remote.test>" in data,
               "the envelope sender arrived unchanged (Return-Path)")
        tap.ok(b"Delivered-To: bob@remote.test" in data,
               "the envelope recipient is the alias target")
    tap.ok(a.wait_log("relay=127.0.0.1[127.0.0.1]:%d" % b.port, 10) and
           "status=sent (250 2.0.0" in a.log_text(),
           "the sender logs relay=host[ip]:port and status=sent (250 ...)")
    tap.ok(b.wait_log("proto=ESMTPS", 5),
           "the client used STARTTLS with the remote postern (proto=ESMTPS)")
    code, msg = send_from(a, "sender@remote.test", "two@example.test", "relay-2")
    tap.eq(code, 250, "mail to an alias with two remote targets is accepted")
    ok = (b.wait_for_subject("bob@remote.test", "relay-2", timeout=20) and
          b.wait_for_subject("carol@remote.test", "relay-2", timeout=20))
    tap.ok(ok, "both remote recipients got it")
    tap.ok("nrcpt=2" in b.log_text(),
           "the two recipients of one domain went in one transaction (nrcpt=2)")


def test_submitd(a, b):
    port = a.settings.get("submission_listen", "")
    if not port:
        tap.ok(False, "submitd relays to a remote address: submitd is built")
        return
    port = int(port.rsplit(":", 1)[1])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as s:
            s.ehlo("client.test")
            s.starttls(context=ctx)
            s.ehlo("client.test")
            s.login("alice@example.test", PASSWORD)
            s.sendmail("alice@example.test", ["bob@remote.test"],
                       make_message("via-submitd", "Hi.\n", "alice@example.test",
                                    "bob@remote.test"))
    except (smtplib.SMTPException, OSError) as e:
        tap.ok(False, "submitd accepts authenticated mail for a remote address", str(e))
        return
    got = b.wait_for_subject("bob@remote.test", "via-submitd", timeout=20)
    tap.ok(got, "mail submitted through submitd arrives at the remote postern")
    if got:
        data = open(got[0], "rb").read()
        tap.ok(b"Return-Path: <alice@example.test>" in data,
               "with the authenticated sender as the envelope sender")


def test_relayhost(a):
    f = FAKES["relay"]
    code, _ = send_from(a, "sender@remote.test", "to-relayed@example.test", "relay-auth")
    tap.eq(code, 250, "accepted for a domain without a transport_map entry")
    tap.ok(f.wait_messages(1, 20), "it went to the relayhost")
    tap.eq(f.auth, [("relayuser", "relay-secret", True)],
           "with AUTH PLAIN from relayhost_credentials, after STARTTLS")


def test_retry(a):
    f = FAKES["flaky"]
    code, _ = send_from(a, "sender@remote.test", "to-flaky@example.test", "retry-1")
    tap.eq(code, 250, "accepted for a server that says 451 first")
    tap.ok(f.wait_messages(1, 30), "the 451 was retried until the server took it")
    tap.ok("status=deferred" in a.log_text() and
           "user@flaky.test" in a.log_text(), "the 451 was logged as deferred")
    rc = [x for x in f.all_commands() if x.upper().startswith("RCPT")]
    tap.ok(len(rc) >= 2, "RCPT was sent again on the retry (%d)" % len(rc))


def parse_bounce(a, subject, timeout=25):
    def find():
        for p in a.maildir_messages("alice@example.test"):
            data = open(p, "rb").read()
            if b"multipart/report" in data and subject.encode() in data:
                return data
        return None
    return poll(find, timeout)


def test_bounce(a):
    code, _ = send_from(a, "alice@example.test", "to-reject@example.test", "bounce-1")
    tap.eq(code, 250, "accepted for a server that says 550")
    data = parse_bounce(a, "bounce-1")
    tap.ok(data, "an RFC 3464 report lands in the sender's Maildir")
    if not data:
        return
    m = email.message_from_bytes(data, policy=email.policy.compat32)
    tap.eq(m.get_content_type(), "multipart/report", "Content-Type multipart/report")
    tap.eq(m.get_param("report-type"), "delivery-status", "report-type=delivery-status")
    tap.ok(data.startswith(b"Return-Path: <>"), "the report comes from the null sender")
    parts = m.get_payload()
    types = [p.get_content_type() for p in parts]
    tap.eq(types, ["text/plain", "message/delivery-status", "text/rfc822-headers"],
           "parts: text/plain, message/delivery-status, text/rfc822-headers")
    if len(parts) < 3:
        return
    ds = parts[1].get_payload()
    per_msg, per_rcpt = ds[0], ds[1] if len(ds) > 1 else {}
    tap.eq(per_msg.get("Reporting-MTA"), "dns; mx.example.test", "Reporting-MTA")
    tap.ok(per_msg.get("Arrival-Date"), "Arrival-Date is present")
    tap.eq(per_rcpt.get("Final-Recipient"), "rfc822; user@reject.test",
           "Final-Recipient names the failed recipient")
    tap.eq(per_rcpt.get("Action"), "failed", "Action: failed")
    tap.eq(per_rcpt.get("Status"), "5.1.1", "Status: 5.1.1 from the remote reply")
    tap.eq(per_rcpt.get("Remote-MTA"), "dns; 127.0.0.1", "Remote-MTA names the server")
    tap.ok("smtp; 550 5.1.1" in (per_rcpt.get("Diagnostic-Code") or ""),
           "Diagnostic-Code carries the remote reply",
           per_rcpt.get("Diagnostic-Code"))
    hdrs = parts[2].get_payload()
    tap.ok("Subject: bounce-1" in hdrs and "Hello." not in hdrs,
           "the original headers (only) are attached")
    q = poll(lambda: not a.queue_files(), 10)
    tap.ok(q, "the failed message and its bounce leave the queue")


def test_null_sender(a):
    before = len(a.maildir_messages("alice@example.test"))
    code, _ = send_from(a, "", "to-reject@example.test", "nullsender-1")
    tap.eq(code, 250, "accepted from the null sender")
    tap.ok(a.wait_log("(null sender: dropped)", 20),
           "the failure of a null-sender message is logged and dropped")
    tap.ok(a.settle(), "settle")
    bounces = [p for p in a.maildir_messages("alice@example.test")
               if b"nullsender-1" in open(p, "rb").read()]
    tap.eq(bounces, [], "no bounce for the null sender")
    tap.ok(len(a.maildir_messages("alice@example.test")) == before + 1,
           "only the sentinel arrived")


def test_double_bounce(a):
    code, _ = send_from(a, "nosuchuser@example.test", "to-reject@example.test",
                        "double-1")
    tap.eq(code, 250, "accepted from a local sender that does not exist")
    tap.ok(a.wait_log("(to <postmaster@example.test>)", 25),
           "the undeliverable bounce goes to the postmaster once")

    def find():
        for p in a.maildir_messages("alice@example.test"):
            d = open(p, "rb").read()
            if b"Final-Recipient: rfc822; nosuchuser@example.test" in d:
                return d
        return None
    d = poll(find, 20)
    tap.ok(d and b"multipart/report" in d,
           "the double bounce (a report about the bounce) reaches the postmaster")
    tap.ok(poll(lambda: not a.queue_files(), 15), "and nothing stays queued")
    n = a.log_text().count("(to <postmaster@example.test>)")
    tap.eq(n, 1, "exactly one double bounce")


def test_alias_nobody(a):
    code, _ = send_from(a, "alice@example.test", "ghost@example.test", "ghost-1")
    tap.eq(code, 250, "mail to an alias whose target is nobody is accepted")
    tap.ok(a.wait_log("nobody-here@example.test>: no such user", 15),
           "the target fails with 5.1.1")
    data = parse_bounce(a, "ghost-1")
    tap.ok(data and b"Status: 5.1.1" in data, "and the sender gets a 5.1.1 bounce")
    tap.ok(not os.path.exists(a.maildir("nobody-here@example.test")),
           "no Maildir was created for the non-user")


def test_malformed(a):
    f = FAKES["malformed"]
    code, _ = send_from(a, "sender@remote.test", "to-malformed@example.test", "malf-1")
    tap.eq(code, 250, "accepted for a server with a malformed EHLO reply")
    tap.ok(f.wait_messages(1, 30), "a malformed reply is temporary: delivered on retry")
    tap.ok("malformed reply" in a.log_text(), "the malformed reply was logged")


def test_injection(a):
    f = FAKES["inject"]
    code, _ = send_from(a, "sender@remote.test", "to-inject@example.test", "inject-1")
    tap.eq(code, 250, "accepted for a server that injects after STARTTLS")
    tap.ok(a.wait_log("STARTTLS injection", 20), "the client saw the injection")
    time.sleep(1)
    cmds = f.all_commands()
    tap.ok(len(f.conns) >= 1, "the server was reached")
    tap.ok(not any(c.upper().startswith(("MAIL", "RCPT", "DATA")) for c in cmds),
           "the injected 250 was never taken as a reply: no MAIL/RCPT/DATA sent",
           repr(cmds))
    tap.eq(f.messages(), [], "no message went over the compromised connection")
    tap.ok(a.queue_files(),
           "the message stays queued (deferred), not lost")
    tap.ok(a.delete_queued_for("user@inject.test"), "postern queue delete removes it")


def test_tls_required(a):
    f = FAKES["plain"]
    code, _ = send_from(a, "sender@remote.test", "to-plain@example.test", "plain-1")
    tap.eq(code, 250, "accepted for a domain with tls_policy_map encrypt")
    tap.ok(a.wait_log("TLS is required", 20), "no STARTTLS offered: deferred")
    tap.eq(f.messages(), [], "nothing was sent in clear text")
    tap.ok(a.delete_queued_for("user@plain.test"), "postern queue delete removes it")


SMUGGLE = [
    ("bare LF dot", b"Subject: smug-1\r\n\r\nline1\n.\nMAIL FROM:<evil@x>\r\nend\r\n"),
    ("bare CR", b"Subject: smug-2\r\n\r\nline1\r.\rmore\r\nend\r\n"),
    ("LF dot CRLF", b"Subject: smug-3\r\n\r\nline1\n.\r\nRCPT TO:<x@y>\r\nend\r\n"),
    ("CR dot CRLF", b"Subject: smug-4\r\n\r\nline1\r.\r\nline2\r\n"),
    # smtpd removes one dot of "..two"; the client must add it back.
    ("leading dots", b"Subject: smug-5\r\n\r\n..two\r\none\r\nend\r\n"),
]


def test_smuggling(a):
    f = FAKES["ok"]
    accepted = 0
    for name, body in SMUGGLE:
        r = a.raw()
        r.greeting()
        r.ehlo()
        r.cmd("MAIL FROM:<sender@remote.test>")
        r.cmd("RCPT TO:<to-ok@example.test>")
        c, _ = r.cmd("DATA")
        if c != 354:
            r.close()
            continue
        r.send(body + b".\r\n")
        c, lines = r.reply()
        r.cmd("QUIT")
        r.close()
        accepted += c == 250
    tap.ok(accepted >= 1, "smtpd accepted %d smuggling variant(s) for relaying" % accepted)
    tap.ok(f.wait_messages(accepted, 30), "every accepted variant reached the server")
    ok = True
    for c in f.conns:
        raw = c.raw
        i = 0
        while i < len(raw):
            if raw[i:i + 1] == b"\n" and (i == 0 or raw[i - 1:i] != b"\r"):
                ok = False
            if raw[i:i + 1] == b"\r" and raw[i + 1:i + 2] != b"\n":
                ok = False
            i += 1
    tap.ok(ok, "only CRLF line ends on the wire (no bare CR or LF)")
    n_data = sum(1 for x in f.all_commands() if x.upper() == "DATA")
    tap.eq(len(f.messages()), n_data, "one message per DATA: nothing smuggled")
    evil = [x for x in f.all_commands() if "evil@x" in x or "x@y" in x]
    tap.eq(evil, [], "no smuggled command reached the server as a command")
    stuffed = [m for m in f.messages() if b"smug-5" in m]
    tap.ok(stuffed and b"\r\n..two\r\none\r\n" in stuffed[0],
           "leading dots are stuffed", repr(stuffed[:1]))


def check_agent_privileges(a):
    """DESIGN.md rule 3: the smtp client delivering right now runs as
    postern, chrooted to the queue directory (root runs only)."""
    if not pt.IS_ROOT:
        tap.skip("the smtp agent runs as postern", "not root")
        tap.skip("the smtp agent is chrooted to the queue directory", "not root")
        return
    tree = pt.descendants(a.proc.pid)
    svc = [pid for pid, ppid, _g, exe, _a in tree
           if ppid == a.proc.pid and exe == "smtp"]
    agents = [pid for pid, ppid, _g, exe, _a in tree if svc and ppid == svc[0]]
    uid = pwd.getpwnam("postern").pw_uid
    tap.ok(len(agents) == 1 and pt.proc_ids(agents[0])["Uid"] == [uid] * 4,
           "the smtp agent delivering now runs as postern", tree)
    root = os.readlink("/proc/%d/root" % agents[0]) if agents else None
    tap.eq(root, os.path.realpath(a.queue_dir),
           "the smtp agent is chrooted to the queue directory")


def test_sigkill(a):
    f = FAKES["stall"]
    code, _ = send_from(a, "sender@remote.test", "to-stall@example.test", "kill-1")
    tap.eq(code, 250, "accepted for a server that stalls after the dot")
    tap.ok(poll(lambda: len(f.conns) >= 1 and f.conns[0].messages, 20),
           "the delivery is in progress (content sent, no reply yet)")
    check_agent_privileges(a)
    a.kill9()
    tap.ok(a.queue_files(), "the message is still queued")
    a.start()
    tap.ok(f.wait_messages(2, 40), "after restart the message is delivered again")
    # A generous bound (ASan on a loaded machine): poll() returns as soon
    # as the queue is empty.
    tap.ok(poll(lambda: not a.queue_files(), 60), "and the queue drains",
           a.queue_files())


def main():
    if not os.access(SMTP_BIN, os.X_OK):
        # A test that cannot run fails: CI never skips silently.
        tap.ok(False, "queue/smtp is built (%s)" % SMTP_BIN)
        tap.done()
    try:
        a, b = setup()
    except Exception:
        import traceback
        tap.ok(False, "the two suites start", traceback.format_exc())
        tap.done()
    tap.run(lambda: test_relay_to_postern(a, b), 90, "relay")
    tap.run(lambda: test_submitd(a, b), 60, "submitd")
    tap.run(lambda: test_relayhost(a), 60, "relayhost")
    tap.run(lambda: test_retry(a), 60, "retry")
    tap.run(lambda: test_bounce(a), 60, "bounce")
    tap.run(lambda: test_null_sender(a), 60, "null sender")
    tap.run(lambda: test_alias_nobody(a), 60, "alias nobody")
    tap.run(lambda: test_double_bounce(a), 60, "double bounce")
    tap.run(lambda: test_malformed(a), 60, "malformed")
    tap.run(lambda: test_injection(a), 60, "injection")
    tap.run(lambda: test_tls_required(a), 60, "tls required")
    tap.run(lambda: test_smuggling(a), 90, "smuggling")
    tap.run(lambda: test_sigkill(a), 180, "sigkill")
    for f in FAKES.values():
        f.close()
    tap.ok(a.stop() == 0, "the sending postern stops cleanly")
    tap.ok(b.stop() == 0, "the remote postern stops cleanly")
    tap.done()


if __name__ == "__main__":
    main()
