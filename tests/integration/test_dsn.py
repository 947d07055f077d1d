#!/usr/bin/env python3
"""
test_dsn: delivery status notifications (RFC 3461, RFC 3464), issue 13.

One postern (A) whose transport_map sends four test domains to scripted
servers (fake_smtp.py) on loopback: one that offers DSN, one that does
not, one that says 451 to every RCPT, one that says 550. Each notice is
read from the sender's Maildir (alice@example.test) and parsed with
Python's email library: a multipart/report (report-type=delivery-status)
whose message/delivery-status part has the per-message fields
(Reporting-MTA, Original-Envelope-Id, Arrival-Date) and one block per
recipient (Final-Recipient, Original-Recipient, Action, Status, ...),
and whose third part is text/rfc822-headers or message/rfc822 by RET.

Cases: NOTIFY=SUCCESS delivered locally -> "delivered"; relayed to a
next hop without DSN -> "relayed" (and no DSN parameter on the wire);
to a next hop with DSN -> RET/ENVID/NOTIFY/ORCPT on its commands (an
alias target gets an ORCPT naming the alias) and no notice from us;
RET=FULL failure -> message/rfc822; NOTIFY=NEVER failure -> no notice;
NOTIFY=FAILURE,DELAY at a next hop that defers, with delay_warning_time
2s -> exactly one "delayed" notice, also across a restart of postern;
no NOTIFY -> delayed too (our default FAILURE,DELAY), NOTIFY=FAILURE ->
none; the null sender never gets a notice (sent with swaks).

Debian 12's swaks (20201014) has no DSN options, so the sessions with
NOTIFY/ORCPT/RET/ENVID are smtplib sessions with mail and rcpt options.
"""

import email
import email.policy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (POSTERN, Suite, poll, tap, make_message,  # noqa: E402
                          run_cmd, QID_RE)
from fake_smtp import FakeSMTP  # noqa: E402
import postern_test as pt  # noqa: E402

SENDER = "alice@example.test"
FAKES = {}


def defer(n):
    return {"rcpt": lambda a: "451 4.3.0 not now, try later\r\n"}


def reject(n):
    return {"rcpt": lambda a: "550 5.1.1 <%s>: no such user\r\n" % a}


def setup():
    FAKES["nodsn"] = FakeSMTP()
    FAKES["dsn"] = FakeSMTP(lambda n: {"ehlo": ["PIPELINING", "SIZE 10240000",
                                                "DSN"]})
    FAKES["defer"] = FakeSMTP(defer)
    FAKES["reject"] = FakeSMTP(reject)
    # smtpd relays for nobody unauthenticated: remote targets are aliases.
    aliases = ("fwd-dsn: user2@dsn.test\n"
               "team-local: bob@example.test, dave@example.test\n"
               "r-nodsn: user@nodsn.test\n"
               "r-dsn: user@dsn.test\n"
               "r-reject: user@reject.test\n"
               "r-defer: user@defer.test\n"
               "r-defer2: user2@defer.test\n"
               "r-defer3: user3@defer.test\n")
    a = Suite(name="dsn", aliases=aliases)
    tm = os.path.join(a.etc, "transport")
    with open(tm, "w") as f:
        for name, fk in FAKES.items():
            f.write("%s.test smtp:[127.0.0.1]:%d\n" % (name, fk.port))
    a.settings.update({"transport_map": tm, "delay_warning_time": "2s",
                       "queue_retry_min": "1s", "queue_retry_max": "2s"})
    a.write_conf()
    a.start()
    return a


def send(a, subject, rcpts, mail_opts=(), sender=SENDER, body="Hello.\n"):
    """One smtplib session; rcpts: [(address, [options])]. Returns
    (code, queue id or None)."""
    with a.smtp() as s:
        s.ehlo()
        if not s.has_extn("dsn"):
            return 0, None
        code, msg = s.mail(sender, list(mail_opts))
        if code != 250:
            return code, None
        for r, opts in rcpts:
            code, msg = s.rcpt(r, list(opts))
            if code != 250:
                return code, None
        code, msg = s.data(make_message(subject, body, sender or "x@y.test",
                                        rcpts[0][0]))
        m = QID_RE.search(msg)
        return code, m.group(1).decode() if m else None


def notices(a, subject):
    """Every report about the message with this Subject in alice's Maildir."""
    out = []
    for p in a.maildir_messages(SENDER):
        data = pt.read_file(p)
        if data is None or b"multipart/report" not in data:
            continue
        m = email.message_from_bytes(data, policy=email.policy.compat32)
        parts = m.get_payload()
        if not isinstance(parts, list) or len(parts) < 3:
            continue
        if ("Subject: %s\n" % subject).encode() in parts[2].as_bytes():
            out.append((data, m))
    return out


def wait_notices(a, subject, n=1, timeout=25):
    got = poll(lambda: (lambda x: x if len(x) >= n else None)(
        notices(a, subject)), timeout)
    return got or notices(a, subject)


def report(m):
    """(per-message fields, [per-recipient fields], third part) of a report."""
    parts = m.get_payload()
    ds = parts[1].get_payload()
    return ds[0], ds[1:], parts[2]


def check_report(data, m, what):
    tap.eq(m.get_content_type(), "multipart/report", what + ": multipart/report")
    tap.eq(m.get_param("report-type"), "delivery-status",
           what + ": report-type=delivery-status")
    tap.ok(data.startswith(b"Return-Path: <>"), what + ": from the null sender")
    types = [p.get_content_type() for p in m.get_payload()]
    tap.eq(types[:2], ["text/plain", "message/delivery-status"],
           what + ": text/plain, then message/delivery-status")


def test_delivered(a):
    subj = "dsn-delivered"
    code, qid = send(a, subj, [("bob@example.test",
                                ["NOTIFY=SUCCESS", "ORCPT=rfc822;Bob+2Bx@example.test"])],
                     ["RET=HDRS", "ENVID=env+2Bdelivered"])
    tap.eq(code, 250, "NOTIFY=SUCCESS, ORCPT, RET=HDRS, ENVID accepted")
    tap.ok(a.wait_for_subject("bob@example.test", subj, timeout=20),
           "the message is delivered to bob")
    got = wait_notices(a, subj)
    tap.eq(len(got), 1, "one success notice in the sender's Maildir")
    if not got:
        return
    data, m = got[0]
    check_report(data, m, "delivered")
    tap.eq(m.get("Subject"), "Successful Mail Delivery Report", "its Subject")
    per_msg, rcpts, third = report(m)
    tap.eq(per_msg.get("Reporting-MTA"), "dns; mx.example.test", "Reporting-MTA")
    tap.eq(per_msg.get("Original-Envelope-Id"), "env+delivered",
           "Original-Envelope-Id is the ENVID, xtext-decoded (RFC 3461 6.3 a)")
    tap.ok(per_msg.get("Arrival-Date"), "Arrival-Date is present")
    tap.eq(len(rcpts), 1, "one recipient block")
    r = rcpts[0] if rcpts else {}
    tap.eq(r.get("Action"), "delivered", "Action: delivered")
    tap.eq(r.get("Status"), "2.0.0", "Status: 2.0.0")
    tap.eq(r.get("Final-Recipient"), "rfc822; bob@example.test", "Final-Recipient")
    tap.eq(r.get("Original-Recipient"), "rfc822; Bob+x@example.test",
           "Original-Recipient from ORCPT, decoded")
    tap.eq(third.get_content_type(), "text/rfc822-headers",
           "RET=HDRS: the header only (text/rfc822-headers)")
    tap.ok("Hello." not in third.as_string(), "and not the body")


def test_local_two_and_default(a):
    """An alias to two local users with NOTIFY=SUCCESS: one notice naming
    both; a recipient without NOTIFY in the same message gets none."""
    subj = "dsn-team"
    code, _ = send(a, subj, [("team-local@example.test", ["NOTIFY=SUCCESS,FAILURE"]),
                             ("carol@example.org", [])])
    tap.eq(code, 250, "alias with NOTIFY=SUCCESS,FAILURE plus a plain recipient")
    got = wait_notices(a, subj)
    tap.eq(len(got), 1, "one notice for the message")
    if not got:
        return
    per_msg, rcpts, third = report(got[0][1])
    finals = sorted(r.get("Final-Recipient") for r in rcpts)
    tap.eq(finals, ["rfc822; bob@example.test", "rfc822; dave@example.test"],
           "it covers both alias targets, not the recipient without NOTIFY")
    tap.ok(all(r.get("Action") == "delivered" for r in rcpts), "both delivered")
    tap.ok(all(r.get("Original-Recipient") is None for r in rcpts),
           "no Original-Recipient without ORCPT (RFC 3461 6.3 d)")
    tap.ok(per_msg.get("Original-Envelope-Id") is None,
           "no Original-Envelope-Id without ENVID")


def test_relayed(a):
    f = FAKES["nodsn"]
    subj = "dsn-relayed"
    code, _ = send(a, subj, [("r-nodsn@example.test", ["NOTIFY=SUCCESS",
                                                       "ORCPT=rfc822;r-nodsn@example.test"])],
                   ["RET=FULL", "ENVID=relay1"])
    tap.eq(code, 250, "NOTIFY=SUCCESS to a next hop without DSN accepted")
    tap.ok(f.wait_messages(1, 20), "the next hop got the message")
    cmds = [c.upper() for c in f.all_commands()]
    mail = [c for c in cmds if c.startswith("MAIL")]
    rcpt = [c for c in cmds if c.startswith("RCPT")]
    tap.ok(mail and not any(k in mail[0] for k in ("RET=", "ENVID=")),
           "no RET/ENVID to a hop without DSN (RFC 3461 5.2.2 a)", mail)
    tap.ok(rcpt and not any(k in rcpt[0] for k in ("NOTIFY=", "ORCPT=")),
           "no NOTIFY/ORCPT to a hop without DSN", rcpt)
    got = wait_notices(a, subj)
    tap.eq(len(got), 1, "one relayed notice comes back (RFC 3461 5.2.2 b)")
    if not got:
        return
    data, m = got[0]
    check_report(data, m, "relayed")
    per_msg, rcpts, third = report(m)
    r = rcpts[0] if rcpts else {}
    tap.eq(r.get("Action"), "relayed", "Action: relayed")
    tap.eq(r.get("Status"), "2.0.0", "Status: 2.0.0")
    tap.eq(r.get("Final-Recipient"), "rfc822; user@nodsn.test", "Final-Recipient")
    tap.eq(r.get("Original-Recipient"), "rfc822; r-nodsn@example.test",
           "Original-Recipient: the ORCPT of the alias it was expanded from")
    tap.eq(r.get("Remote-MTA"), "dns; 127.0.0.1", "Remote-MTA names the next hop")
    tap.ok((r.get("Diagnostic-Code") or "").startswith("smtp; 250"),
           "Diagnostic-Code carries its reply", r.get("Diagnostic-Code"))
    tap.eq(per_msg.get("Original-Envelope-Id"), "relay1", "Original-Envelope-Id")
    tap.eq(third.get_content_type(), "text/rfc822-headers",
           "RET=FULL on a success notice: the header only (RFC 3461 6.2)")


def test_passthrough(a):
    f = FAKES["dsn"]
    subj = "dsn-pass"
    code, _ = send(a, subj, [("r-dsn@example.test", ["NOTIFY=SUCCESS,FAILURE",
                                                     "ORCPT=rfc822;x+2By@dsn.test"]),
                             ("fwd-dsn@example.test", ["NOTIFY=SUCCESS"])],
                   ["RET=HDRS", "ENVID=abc+2Bdef"])
    tap.eq(code, 250, "mail for a next hop that offers DSN accepted")
    tap.ok(f.wait_messages(1, 20), "the next hop got the message")
    cmds = f.all_commands()
    mail = [c for c in cmds if c.upper().startswith("MAIL")]
    tap.ok(mail and mail[0].endswith(" RET=HDRS ENVID=abc+2Bdef"),
           "MAIL FROM carries RET and ENVID as received (RFC 3461 5.2.1 a, b)", mail)
    tap.ok("RCPT TO:<user@dsn.test> NOTIFY=SUCCESS,FAILURE "
           "ORCPT=rfc822;x+2By@dsn.test" in cmds,
           "RCPT carries NOTIFY and ORCPT as received, for an alias target "
           "too (5.2.1 c, d; 5.2.7.3)", cmds)
    tap.ok("RCPT TO:<user2@dsn.test> NOTIFY=SUCCESS "
           "ORCPT=rfc822;fwd-dsn@example.test" in cmds,
           "an alias target without ORCPT gets one naming the alias", cmds)
    tap.ok(a.settle(), "settle")
    tap.eq(notices(a, subj), [], "no relayed notice from us: the next hop reports")


def test_failures(a):
    subj = "dsn-full"
    code, _ = send(a, subj, [("r-reject@example.test", ["NOTIFY=FAILURE",
                                                        "ORCPT=rfc822;r-reject@example.test"])],
                   ["RET=FULL", "ENVID=fail1"], body="Body line here.\n")
    tap.eq(code, 250, "RET=FULL to a next hop that says 550 accepted")
    got = wait_notices(a, subj)
    tap.eq(len(got), 1, "one failure notice")
    if got:
        data, m = got[0]
        check_report(data, m, "failed")
        per_msg, rcpts, third = report(m)
        r = rcpts[0] if rcpts else {}
        tap.eq(r.get("Action"), "failed", "Action: failed")
        tap.eq(r.get("Status"), "5.1.1", "Status: 5.1.1")
        tap.eq(r.get("Original-Recipient"), "rfc822; r-reject@example.test",
               "Original-Recipient")
        tap.eq(r.get("Final-Recipient"), "rfc822; user@reject.test",
               "Final-Recipient")
        tap.eq(per_msg.get("Original-Envelope-Id"), "fail1", "Original-Envelope-Id")
        tap.eq(third.get_content_type(), "message/rfc822",
               "RET=FULL: the whole message (message/rfc822)")
        tap.ok("Body line here." in third.as_string(), "with its body")
    subj = "dsn-never"
    code, qid = send(a, subj, [("r-reject@example.test", ["NOTIFY=NEVER"])])
    tap.eq(code, 250, "NOTIFY=NEVER to a next hop that says 550 accepted")
    tap.ok(qid and a.wait_log("%s: no notification for 1 failed recipient(s) "
                              "(NOTIFY)" % qid, 20),
           "the failure is logged without a notice")
    tap.ok(a.settle(), "settle")
    tap.eq(notices(a, subj), [], "NOTIFY=NEVER: no notice")


def test_null_sender(a):
    subj = "dsn-null"
    code, qid = send(a, subj, [("bob@example.test", ["NOTIFY=SUCCESS"]),
                               ("r-nodsn@example.test", ["NOTIFY=SUCCESS"])],
                     ["RET=FULL"], sender="")
    tap.eq(code, 250, "NOTIFY=SUCCESS from the null sender accepted")
    tap.ok(a.wait_for_subject("bob@example.test", subj, timeout=20),
           "the message from <> is delivered")
    subj2 = "dsn-null-swaks"
    qid2 = None
    if pt.require("swaks"):
        r = run_cmd(["swaks", "--server", "127.0.0.1", "--port", str(a.port),
                     "--from", "<>", "--to", "bob@example.test",
                     "--header", "Subject: " + subj2, "--body", "null sender\n"],
                    timeout=30)
        tap.ok(r.returncode == 0, "swaks sends from the null sender",
               (r.stdout or "")[-500:])
        m = QID_RE.search((r.stdout or "").encode())
        qid2 = m.group(1).decode() if m else None
    tap.ok(a.settle(), "settle")
    log = a.log_text()
    for q, what in ((qid, "smtplib"), (qid2, "swaks")):
        tap.ok(q and ("%s: removed" % q) in log, "%s: it left the queue" % what, q)
        tap.ok(q and ("%s: sender" % q) not in log,
               "%s: no notice of any kind was queued for it (RFC 3461 5.2)" % what)
    tap.eq(notices(a, subj) + notices(a, subj2), [], "none reached alice either")


def delay_notices(a, subj):
    return [x for x in notices(a, subj)
            if report(x[1])[1] and report(x[1])[1][0].get("Action") == "delayed"]


def test_delay(a):
    f = FAKES["defer"]
    subj = "dsn-delay"
    code, qid = send(a, subj, [("r-defer@example.test", ["NOTIFY=FAILURE,DELAY",
                                                         "ORCPT=rfc822;r-defer@example.test"])],
                     ["ENVID=delay1", "RET=FULL"])
    tap.eq(code, 250, "NOTIFY=FAILURE,DELAY to a next hop that defers accepted")
    code2, qid2 = send(a, "dsn-delay-default", [("r-defer2@example.test", [])])
    code3, qid3 = send(a, "dsn-delay-failure", [("r-defer3@example.test",
                                                ["NOTIFY=FAILURE"])])
    code4, qid4 = send(a, "dsn-delay-null", [("r-defer2@example.test",
                                             ["NOTIFY=DELAY,FAILURE"])], sender="")
    tap.ok(code2 == 250 and code3 == 250 and code4 == 250,
           "and one without NOTIFY, one FAILURE only, one from <> with DELAY")
    got = poll(lambda: delay_notices(a, subj) or None, 30) or []
    tap.eq(len(got), 1, "a delayed notice arrives after delay_warning_time")
    if got:
        data, m = got[0]
        check_report(data, m, "delayed")
        tap.eq(m.get("Subject"), "Delayed Mail (still being retried)", "its Subject")
        per_msg, rcpts, third = report(m)
        r = rcpts[0]
        tap.eq(r.get("Action"), "delayed", "Action: delayed")
        tap.ok((r.get("Status") or "").startswith("4."), "Status 4.x.x",
               r.get("Status"))
        tap.eq(r.get("Original-Recipient"), "rfc822; r-defer@example.test",
               "Original-Recipient")
        tap.eq(r.get("Final-Recipient"), "rfc822; user@defer.test",
               "Final-Recipient")
        tap.ok(r.get("Will-Retry-Until"), "Will-Retry-Until is present")
        tap.ok("451" in (r.get("Diagnostic-Code") or ""),
               "Diagnostic-Code has the last temporary error")
        tap.eq(per_msg.get("Original-Envelope-Id"), "delay1", "Original-Envelope-Id")
        tap.eq(third.get_content_type(), "text/rfc822-headers",
               "RET=FULL on a delay notice: the header only (RFC 3461 6.2)")
    tap.ok(poll(lambda: delay_notices(a, "dsn-delay-default") or None, 20),
           "no NOTIFY: a delay notice too (default FAILURE,DELAY)")
    # Several more attempts, then a restart, then more attempts.
    def attempts():
        return sum(1 for c in f.all_commands() if c.startswith("RCPT TO:<user@defer.test>"))
    n0 = attempts()
    tap.ok(poll(lambda: attempts() >= n0 + 3 or None, 30),
           "the next hop keeps deferring it (%d more attempts)" % (attempts() - n0))
    tap.eq(len(delay_notices(a, subj)), 1, "still one delayed notice")
    a.stop()
    a.start()
    n1 = attempts()
    tap.ok(poll(lambda: attempts() >= n1 + 3 or None, 30),
           "after a restart of postern it is tried again")
    # A second notice would have been queued at one of those attempts;
    # give local delivery of it a moment (the queue never empties here).
    time.sleep(3)
    tap.eq(len(delay_notices(a, subj)), 1,
           "exactly one delayed notice across the restart (recorded in the queue file)")
    tap.eq(len(delay_notices(a, "dsn-delay-default")), 1,
           "exactly one for the message without NOTIFY too")
    tap.eq(delay_notices(a, "dsn-delay-failure"), [],
           "NOTIFY=FAILURE without DELAY: no delay notice")
    log = a.log_text()
    tap.ok(qid4 and ("%s: deferred" % qid4) in log and
           ("%s: sender" % qid4) not in log,
           "the null sender gets no delay notice")
    tap.ok(qid and log.count("%s: sender delay notification" % qid) == 1,
           "the log has one delay notification for the message")
    for q in (qid, qid2, qid3, qid4):
        if q:
            run_cmd([POSTERN, "queue", "-c", a.conf, "delete", q])


def main():
    a = None
    try:
        a = setup()
    except Exception as e:
        tap.ok(False, "the postern under test starts", str(e))
        tap.done()
    tap.run(lambda: test_delivered(a), timeout=60, name="delivered")
    tap.run(lambda: test_local_two_and_default(a), timeout=60, name="two local")
    tap.run(lambda: test_relayed(a), timeout=60, name="relayed")
    tap.run(lambda: test_passthrough(a), timeout=60, name="pass-through")
    tap.run(lambda: test_failures(a), timeout=90, name="failures")
    tap.run(lambda: test_null_sender(a), timeout=60, name="null sender")
    tap.run(lambda: test_delay(a), timeout=180, name="delay")
    for f in FAKES.values():
        f.close()
    tap.done()


if __name__ == "__main__":
    main()
