#!/usr/bin/env python3
"""
test_outbound_fallback: the smtp client (issue 13) when STARTTLS breaks,
and next hops given by a name only /etc/hosts knows.

TLS: sinks (fake_smtp.py) that offer STARTTLS, answer 220 and then send
garbage instead of a TLS handshake, or close. With tls_policy_map `may`
the client opens a second connection without STARTTLS and delivers (one
message at the sink, over a connection that never said STARTTLS); with
`encrypt` and `verify` every connection tries STARTTLS, nothing is sent,
and the message stays deferred with the reason in `postern queue list`;
`verify` against a working TLS server with a self-signed certificate
defers the same way, naming the certificate problem.

/etc/hosts: as root (as CI runs, the smtp client then chrooted to the
queue directory) the test adds a line for a made-up name pointing to
127.0.0.1 to /etc/hosts for its duration (removed after, even on
failure) and routes a domain there through transport_map
`smtp:[name]:port`; not root, the same without chroot through the name
"localhost". The name is not in DNS and the machine has no network: the
delivery only happens when the name comes from /etc/hosts.
"""

import atexit
import os
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import POSTERN, Suite, poll, tap, make_message, run_cmd  # noqa: E402
from fake_smtp import FakeSMTP  # noqa: E402
import postern_test as pt  # noqa: E402

SMTP_BIN = os.path.join(pt.TOP_BUILDDIR, "queue", "smtp")
HOSTS = "/etc/hosts"
HOSTS_NAME = "sink-%d.postern.test" % os.getpid()
HOSTS_LINE = "127.0.0.1 %s # postern test_outbound_fallback\n" % HOSTS_NAME
GARBAGE = b"\x15\x03\x01\x00\x02\x02\x28 this is not TLS\r\n"

FAKES = {}


def garbage(n):
    return {"starttls_reply": b"220 2.0.0 ready\r\n", "tls_garbage": GARBAGE}


def closing(n):
    # 220, then the connection closes under the ClientHello.
    return {"starttls_reply": b"220 2.0.0 ready\r\n", "tls_garbage": b""}


def refusing(n):
    return {"starttls_reply": b"454 4.7.0 TLS not available\r\n"}


def hosts_name():
    return HOSTS_NAME if pt.IS_ROOT else "localhost"


def setup():
    for name, beh in (("may", garbage), ("mayclose", closing),
                      ("mayrefuse", refusing), ("enc", garbage),
                      ("ver", garbage), ("hosts", None)):
        FAKES[name] = FakeSMTP(beh)
    aliases = "".join("to-%s: user@%s.test\n" % (n, n) for n in FAKES)
    aliases += "to-vercert: user@vercert.test\n"
    a = Suite(name="fallback", aliases=aliases)
    # A working TLS server whose certificate is self-signed.
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(a.tls_cert, a.tls_key)
    FAKES["vercert"] = FakeSMTP(lambda n: {"tls_ctx": tls})
    tm = os.path.join(a.etc, "transport")
    with open(tm, "w") as f:
        for n, fk in FAKES.items():
            host = hosts_name() if n == "hosts" else "127.0.0.1"
            f.write("%s.test smtp:[%s]:%d\n" % (n, host, fk.port))
    tp = os.path.join(a.etc, "tls_policy")
    with open(tp, "w") as f:
        f.write("may.test may\nmayclose.test may\nmayrefuse.test may\n"
                "enc.test encrypt\nver.test verify\nvercert.test verify\n")
    a.settings.update({"transport_map": tm, "tls_policy_map": tp})
    a.write_conf()
    a.start()
    return a


def send_to(a, rcpt, subject):
    with a.smtp() as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, msg = s.rcpt(rcpt)
        if code != 250:
            return code, msg
        return s.data(make_message(subject, "Hello.\n", "sender@remote.test", rcpt))


def starttls_sent(conn):
    return any(c.upper() == "STARTTLS" for c in conn.commands)


def carried_mail(conn):
    return bool(conn.messages)


def test_may(a, name, what):
    f = FAKES[name]
    code, _ = send_to(a, "to-%s@example.test" % name, "%s-1" % name)
    tap.eq(code, 250, "%s: accepted" % what)
    tap.ok(f.wait_messages(1, 30), "%s: policy may delivers in plaintext" % what,
           [c.commands for c in f.conns])
    tap.ok(a.wait_queue_empty(15), "%s: the queue drains" % what)
    time.sleep(0.5)
    tap.eq(len(f.messages()), 1, "%s: exactly one message at the sink" % what)
    with f.lock:
        conns = list(f.conns)
    tap.ok(conns and starttls_sent(conns[0]) and not carried_mail(conns[0]),
           "%s: the first connection tried STARTTLS and sent no mail" % what,
           [c.commands for c in conns])
    mail = [c for c in conns if carried_mail(c)]
    tap.ok(len(mail) == 1 and not starttls_sent(mail[0]) and
           conns.index(mail[0]) == 1,
           "%s: the second connection carried it without STARTTLS" % what,
           [c.commands for c in conns])
    tap.ok(a.wait_log("127.0.0.1[127.0.0.1]:%d: STARTTLS failed" % f.port, 5)
           and "retrying in plaintext (TLS policy may)" in a.log_text(),
           "%s: the plaintext retry is logged" % what)


def queue_list(a):
    r = run_cmd([POSTERN, "queue", "-c", a.conf, "list"])
    return r.stdout if r.returncode == 0 else ""


def deferred_line(a, rcpt):
    """`postern queue list` once it shows rcpt deferred (not being tried)."""
    out = queue_list(a)
    ok = (re.search(r"\b[0-9A-Z]{20}\b .* deferred ", out) and
          re.search(r"\(%s: 4\.7\.5 TLS handshake with .* failed" % re.escape(rcpt),
                    out))
    return out if ok else None


def test_required(a, name, level, detail=""):
    f = FAKES[name]
    rcpt = "user@%s.test" % name
    code, _ = send_to(a, "to-%s@example.test" % name, "%s-1" % name)
    tap.eq(code, 250, "%s: accepted" % level)
    needle = "4.7.5 TLS handshake with 127.0.0.1[127.0.0.1]:%d failed%s" % (
        f.port, detail)
    tap.ok(a.wait_log(needle, 20), "%s: the handshake failure is logged" % level,
           needle)
    # Let qmgr retry (queue_retry_min 1s): it must never go plaintext.
    tap.ok(poll(lambda: len(f.conns) >= 2, 20),
           "%s: tried again later (%d connections)" % (level, len(f.conns)))
    out = poll(lambda: deferred_line(a, rcpt), 15, 0.2)
    tap.ok(out, "%s: the message stays queued, deferred, with the reason" % level,
           out or queue_list(a))
    with f.lock:
        conns = list(f.conns)
    tap.ok(all(starttls_sent(c) for c in conns),
           "%s: every connection tried STARTTLS (no plaintext fallback)" % level,
           [c.commands for c in conns])
    tap.eq(f.messages(), [], "%s: nothing was sent" % level)
    tap.ok(not any(x.upper().startswith(("MAIL", "RCPT", "DATA"))
                   for c in conns for x in c.commands),
           "%s: no MAIL, RCPT or DATA" % level)
    tap.ok(a.delete_queued_for(rcpt), "%s: postern queue delete removes it" % level)


def hosts_add():
    with open(HOSTS, "a") as f:
        f.write(HOSTS_LINE)


def hosts_remove():
    """Remove our line only (in place: /etc/hosts may be a bind mount)."""
    try:
        with open(HOSTS, "r+") as f:
            lines = f.readlines()
            keep = [ln for ln in lines if ln != HOSTS_LINE]
            if keep != lines:
                f.seek(0)
                f.writelines(keep)
                f.truncate()
    except OSError as e:
        tap.diag("could not clean %s: %s" % (HOSTS, e))


def test_hosts(a):
    f = FAKES["hosts"]
    if pt.IS_ROOT:
        atexit.register(hosts_remove)
        hosts_add()
    try:
        code, _ = send_to(a, "to-hosts@example.test", "hosts-1")
        tap.eq(code, 250, "accepted for a next hop named %s" % hosts_name())
        tap.ok(f.wait_messages(1, 30),
               "the name %s came from /etc/hosts%s: delivered at the sink"
               % (hosts_name(), " (smtp chrooted)" if pt.IS_ROOT else ""))
        tap.ok(a.wait_log("relay=%s[127.0.0.1]:%d" % (hosts_name(), f.port), 10),
               "logged as relay=%s[127.0.0.1]:%d" % (hosts_name(), f.port))
        tap.ok(a.wait_queue_empty(15), "the queue drains")
    finally:
        if pt.IS_ROOT:
            hosts_remove()
    if pt.IS_ROOT:
        with open(HOSTS) as fh:
            tap.ok(HOSTS_LINE not in fh.read(), "the test's /etc/hosts line is gone")


def main():
    if not os.access(SMTP_BIN, os.X_OK):
        tap.ok(False, "queue/smtp is built (%s)" % SMTP_BIN)
        tap.done()
    try:
        a = setup()
    except Exception:
        import traceback
        tap.ok(False, "the suite starts", traceback.format_exc())
        tap.done()
    tap.run(lambda: test_may(a, "may", "TLS garbage"), 60, "may garbage")
    tap.run(lambda: test_may(a, "mayclose", "TLS closed"), 60, "may closed")
    tap.run(lambda: test_may(a, "mayrefuse", "STARTTLS 454"), 60, "may refused")
    tap.run(lambda: test_required(a, "enc", "encrypt"), 60, "encrypt")
    tap.run(lambda: test_required(a, "ver", "verify"), 60, "verify")
    tap.run(lambda: test_required(
        a, "vercert", "verify, self-signed",
        " (certificate verification: self-signed certificate)"), 60, "verify cert")
    tap.run(lambda: test_hosts(a), 60, "hosts")
    for f in FAKES.values():
        f.close()
    tap.ok(a.stop() == 0, "the postern suite stops cleanly")
    tap.done()


if __name__ == "__main__":
    main()
