#!/usr/bin/env python3
"""
test_queue_tools: `postern queue list|show|flush|delete|hold|release`
against a running postern whose remote destinations are down (ports
where nothing listens, reached through transport_map), then up (a
scripted server from fake_smtp.py). Retries are slow here (300 s) so that
only a flush or a release makes a deferred message go again.
"""

import os
import pwd
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (IS_ROOT, POSTERN, Suite, free_port, poll,  # noqa: E402
                          run_cmd, tap, make_message)
from fake_smtp import FakeSMTP  # noqa: E402

SMTP_BIN = os.path.join(os.path.dirname(POSTERN), "queue", "smtp")


def pq(s, *args, user=None):
    argv = [POSTERN, "queue", "-c", s.conf] + list(args)
    if user is None:
        return run_cmd(argv)
    import subprocess
    pw = pwd.getpwnam(user)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           preexec_fn=drop, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    return p


def send(s, rcpt, subject):
    with s.smtp() as c:
        c.ehlo()
        c.mail("sender@remote.test")
        c.rcpt(rcpt)
        code, msg = c.data(make_message(subject, "Body of %s.\n" % subject,
                                        "sender@remote.test", rcpt))
    m = re.search(rb"queued as ([0-9A-Z]+)", msg or b"")
    return code, m.group(1).decode() if m else None


def where(s, qid):
    for d in ("incoming", "active", "deferred", "hold"):
        if os.path.exists(os.path.join(s.queue_dir, d, qid)):
            return d
    return None


def setup():
    ports = {n: free_port() for n in ("down", "gone", "slow", "busy")}
    aliases = "".join("to-%s: user@%s.test\n" % (n, n) for n in ports)
    aliases += "to-relayed: user@relayed.test\n"
    s = Suite(name="queue-tools", aliases=aliases,
              extra_conf={"queue_retry_min": "300s", "queue_retry_max": "600s",
                          "smtp_destination_concurrency": "1",
                          "deliver_concurrency": "2"})
    tm = os.path.join(s.etc, "transport")
    with open(tm, "w") as f:
        for n, p in ports.items():
            f.write("%s.test smtp:[127.0.0.1]:%d\n" % (n, p))
    creds = os.path.join(s.etc, "relay_credentials")
    with open(creds, "w") as f:
        f.write("[127.0.0.1]:%d user:secret\n" % ports["gone"])
    os.chmod(creds, 0o644)
    s.settings.update({"transport_map": tm, "relayhost_credentials": creds,
                       "relayhost": "[127.0.0.1]:%d" % ports["gone"]})
    s.write_conf()
    s.start()
    return s, ports


def test_list_show(s, st):
    code, qid = send(s, "to-down@example.test", "qt-1")
    tap.eq(code, 250, "a message for a destination that is down is accepted")
    st["qid"] = qid
    tap.ok(s.wait_log("%s: deferred, attempt 1" % qid, 20), "it is deferred")
    r = pq(s, "list")
    tap.eq(r.returncode, 0, "postern queue list exits 0")
    out = r.stdout
    line = [ln for ln in out.splitlines() if ln.startswith(qid)]
    tap.ok(line and "deferred" in line[0] and "sender@remote.test" in line[0],
           "list shows the id, the status and the sender", out)
    tap.ok("user@down.test" in out, "list shows the pending recipient")
    tap.ok(re.search(r"\(.*(refused|connect to).*\)", out),
           "list shows the last error", out)
    tap.ok(re.search(r"Kbytes in 1 Request", out), "and the total", out)
    r = pq(s, "show", qid)
    tap.eq(r.returncode, 0, "postern queue show ID exits 0")
    tap.ok("sender: <sender@remote.test>" in r.stdout and
           "recipient: <to-down@example.test> X" in r.stdout and
           "<user@down.test>" in r.stdout, "show prints the envelope", r.stdout)
    tap.ok("Subject: qt-1" in r.stdout and "Body of qt-1." in r.stdout,
           "show prints the content")


def test_unknown(s, st):
    for op in ("show", "delete", "hold", "release"):
        r = pq(s, op, "0000000000000000000Z")
        tap.eq((r.returncode, r.stderr.strip()),
               (1, "postern: queue: no message 0000000000000000000Z"),
               "%s of an unknown id: exit 1 and a clear error" % op)
    r = pq(s, "show", "../../etc/passwd")
    tap.eq(r.returncode, 1, "a malformed id is an unknown id")
    r = pq(s, "bogus")
    tap.eq(r.returncode, 2, "an unknown subcommand is a usage error")


def test_hold_release(s, st):
    qid = st["qid"]
    r = pq(s, "hold", qid)
    tap.eq(r.returncode, 0, "hold exits 0")
    tap.eq(where(s, qid), "hold", "the message is in hold/")
    r = pq(s, "list")
    tap.ok(re.search(r"%s .* hold " % qid, r.stdout), "list shows it as hold", r.stdout)
    r = pq(s, "release", "%s" % qid)
    tap.eq(r.returncode, 0, "release exits 0")
    tap.ok(s.wait_log("%s: deferred, attempt 2" % qid, 20),
           "a released message is due at once (tried again, attempt 2)")
    r = pq(s, "release", qid)
    tap.eq(r.returncode, 1, "release of a message that is not on hold fails")


def test_flush(s, ports, st):
    qid = st["qid"]
    fake = FakeSMTP(port=ports["down"])
    try:
        time.sleep(0.5)
        tap.eq(fake.messages(), [], "no retry before the flush (300 s back-off)")
        r = pq(s, "flush")
        tap.eq(r.returncode, 0, "flush exits 0")
        tap.ok(fake.wait_messages(1, 20), "flush delivers the deferred message")
        tap.ok(poll(lambda: where(s, qid) is None, 10), "and it leaves the queue")
        r = pq(s, "list")
        tap.ok("Mail queue is empty" in r.stdout, "list: Mail queue is empty", r.stdout)
    finally:
        fake.close()


def test_delete(s, st):
    code, qid = send(s, "to-gone@example.test", "qt-2")
    tap.ok(s.wait_log("%s: deferred, attempt 1" % qid, 20), "a second message is deferred")
    r = pq(s, "delete", qid)
    tap.eq(r.returncode, 0, "delete exits 0")
    tap.eq(where(s, qid), None, "the message is gone")
    tap.ok(not os.path.exists(os.path.join(s.queue_dir, "defer", qid)),
           "and its defer/ record too")
    tap.ok("%s: deleted by the administrator" % qid in s.log_text(), "qmgr logs it")


def test_during_delivery(s, ports, st):
    beh = lambda n: {"stall_data_end": 3, "data_end": "451 4.3.0 try later\r\n"}
    fake = FakeSMTP(beh, port=ports["slow"])
    try:
        code, qid = send(s, "to-slow@example.test", "qt-3")
        tap.ok(poll(lambda: fake.messages(), 20), "a delivery is in progress")
        r = pq(s, "hold", qid)
        tap.ok(r.returncode == 0 and "being delivered" in r.stdout,
               "hold during the delivery is accepted and deferred to its end",
               r.stdout + r.stderr)
        tap.ok(poll(lambda: where(s, qid) == "hold", 15),
               "when the delivery ends the message goes to hold/")
        r = pq(s, "show", qid)
        tap.ok(r.returncode == 0 and "Body of qt-3." in r.stdout,
               "the held message is intact")
        r = pq(s, "delete", qid)
        tap.ok(r.returncode == 0 and where(s, qid) is None, "then delete removes it")
    finally:
        fake.close()


def test_expire(s, st):
    """A message past queue_lifetime bounces with 4.4.7 (its arrival time
    is moved back 10 days in the held file: same number of digits)."""
    code, qid = send_from_alice(s, "to-gone@example.test", "qt-exp")
    tap.ok(s.wait_log("%s: deferred, attempt 1" % qid, 20), "deferred first")
    tap.eq(pq(s, "hold", qid).returncode, 0, "held while the test ages it")
    path = os.path.join(s.queue_dir, "hold", qid)
    data = open(path, "rb").read()
    m = re.search(rb"\narrival (\d+)\n", data)
    old = str(int(m.group(1)) - 10 * 86400).encode()
    with open(path, "r+b") as f:
        f.seek(m.start(1))
        f.write(old)
    tap.eq(pq(s, "release", qid).returncode, 0, "released")

    def find():
        for p in s.maildir_messages("alice@example.test"):
            d = open(p, "rb").read()
            if b"qt-exp" in d and b"multipart/report" in d:
                return d
        return None
    d = poll(find, 25)
    tap.ok(d, "the expired message bounces to its sender")
    tap.ok(d and b"Status: 4.4.7" in d and b"Action: failed" in d and
           b"expired" in d, "with Status 4.4.7 and the last error",
           d and d.decode("utf-8", "replace")[-1500:])
    tap.ok(poll(lambda: where(s, qid) is None, 10), "and it leaves the queue")


def send_from_alice(s, rcpt, subject):
    with s.smtp() as c:
        c.ehlo()
        c.mail("alice@example.test")
        c.rcpt(rcpt)
        code, msg = c.data(make_message(subject, "Body.\n", "alice@example.test",
                                        rcpt))
    m = re.search(rb"queued as ([0-9A-Z]+)", msg or b"")
    return code, m.group(1).decode() if m else None


def test_concurrency(s, ports):
    """smtp_destination_concurrency 1 and deliver_concurrency 2: messages
    beyond the limits wait (no attempt counted) and all get through."""
    fake = FakeSMTP(lambda n: {"stall_data_end": 0.4}, port=ports["busy"],
                    threaded=True)
    try:
        for i in range(4):
            send(s, "to-busy@example.test", "qt-busy-%d" % i)
        for i in range(8):
            send(s, "alice@example.test", "qt-local-%d" % i)
        tap.ok(fake.wait_messages(4, 30), "every message for the busy domain arrives")
        tap.eq(fake.max_active, 1, "never more than one connection to it at once")
        got = poll(lambda: len([p for p in s.maildir_messages("alice@example.test")
                                if b"qt-local-" in open(p, "rb").read()]) >= 8, 20)
        tap.ok(got, "every local message arrives with deliver_concurrency 2")
        tap.ok(poll(lambda: not s.queue_files(), 20), "the queue drains")
        tap.ok(not any(("to=<user@busy.test>" in ln and "status=deferred" in ln)
                       for ln in s.log_text().splitlines()),
               "no recipient was deferred for lack of a slot")
    finally:
        fake.close()


def test_loose_credentials(s):
    """relayhost_credentials with mode 0644 is refused: no AUTH secrets
    are used from a file others can read; the mail waits."""
    code, qid = send(s, "to-relayed@example.test", "qt-loose")
    tap.eq(code, 250, "accepted for a domain that goes to the relayhost")
    tap.ok(s.wait_log("relayhost_credentials: ", 5) and
           "chmod 0600" in s.log_text(), "smtp refuses the loose credentials file")
    tap.ok(s.wait_log("%s: to=<user@relayed.test>" % qid, 20) and
           "relayhost_credentials refused" in s.log_text(),
           "the recipient is deferred, not sent without the credentials")
    tap.eq(pq(s, "delete", qid).returncode, 0, "delete it")


def test_permissions(s):
    if not IS_ROOT:
        tap.skip("a user other than root and mail_owner is refused", "not root")
        return
    r = pq(s, "list", user="nobody")
    tap.ok(r is not None and r.returncode == 1 and "run as root or as" in r.stderr,
           "a user other than root and mail_owner is refused",
           r and (r.stdout + r.stderr))
    try:
        pwd.getpwnam("postern")
    except KeyError:
        tap.skip("mail_owner may use postern queue", "no postern account")
        return
    r = pq(s, "list", user="postern")
    tap.ok(r is not None and r.returncode == 0, "mail_owner may use postern queue",
           r and (r.stdout + r.stderr))


def main():
    if not os.access(SMTP_BIN, os.X_OK):
        # A test that cannot run fails: CI never skips silently.
        tap.ok(False, "queue/smtp is built (%s)" % SMTP_BIN)
        tap.done()
    try:
        s, ports = setup()
    except Exception:
        import traceback
        tap.ok(False, "the suite starts", traceback.format_exc())
        tap.done()
    st = {}
    tap.run(lambda: test_list_show(s, st), 60, "list/show")
    tap.run(lambda: test_unknown(s, st), 60, "unknown ids")
    tap.run(lambda: test_hold_release(s, st), 60, "hold/release")
    tap.run(lambda: test_flush(s, ports, st), 60, "flush")
    tap.run(lambda: test_delete(s, st), 60, "delete")
    tap.run(lambda: test_during_delivery(s, ports, st), 60, "during delivery")
    tap.run(lambda: test_expire(s, st), 60, "expire")
    tap.run(lambda: test_concurrency(s, ports), 90, "concurrency")
    tap.run(lambda: test_loose_credentials(s), 60, "loose credentials")
    tap.run(lambda: test_permissions(s), 60, "permissions")
    tap.ok(s.stop() == 0, "postern stops cleanly")
    tap.done()


if __name__ == "__main__":
    main()
