#!/usr/bin/env python3
"""
Delivery through the whole inbound path: smtpd -> queue -> qmgr ->
deliver -> Maildir. smtplib and swaks as clients.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    QID_RE, HOSTNAME, tap, start_suite_or_bail, header_values, split_message,
    read_file, make_message, run_cmd, poll, alive, require)

S = start_suite_or_bail()


def t_plain_delivery():
    subj = "plain-%d" % os.getpid()
    body = "First line.\nSecond line with trailing space \n..leading dot\n"
    with S.smtp() as s:
        s.ehlo()
        s.mail("Sender@Remote.test")
        code, _ = s.rcpt("alice@example.test")
        tap.eq(code, 250, "RCPT to a local user: 250")
        code, msg = s.data(make_message(subj, body, "Sender@Remote.test"))
    tap.eq(code, 250, "DATA accepted with 250")
    tap.ok(re.search(rb"^2\.0\.0 .*queued as [0-9A-Z]+", msg),
           "250 reply carries 2.0.0 and 'queued as QID'", repr(msg))
    msgs = S.wait_for_subject("alice@example.test", subj)
    if not tap.eq(len(msgs), 1, "exactly one message delivered to alice"):
        return
    path = msgs[0]
    tap.eq(os.path.basename(os.path.dirname(path)), "new",
           "the message file is in Maildir/new")
    name = os.path.basename(path)
    tap.ok(":" not in name and "/" not in name and name[0] != ".",
           "the Maildir file name is a plain unique name (no info part in new/)",
           name)
    data = read_file(path)
    head, text = split_message(data)
    tap.ok(data.startswith(b"Return-Path:"),
           "Return-Path is the first header line", data[:200])
    tap.eq(header_values(data, "Return-Path"), ["<Sender@Remote.test>"],
           "Return-Path is the envelope sender")
    tap.eq([v.lower() for v in header_values(data, "Delivered-To")],
           ["alice@example.test"], "one Delivered-To: alice@example.test")
    rec = header_values(data, "Received")
    tap.ok(len(rec) == 1 and HOSTNAME in rec[0] and "client.test" in rec[0],
           "one Received header naming our HELO and the server's hostname", rec)
    tap.ok(rec and re.search(r";\s*\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                             rec[0]),
           "Received ends in an RFC 5322 date", rec)
    tap.eq(header_values(data, "Subject"), [subj], "Subject preserved")
    order = [ln.split(b":")[0].lower() for ln in head.split(b"\n")
             if ln and ln[:1] not in (b" ", b"\t")]
    tap.ok(b"received" in order and b"from" in order and
           order.index(b"received") < order.index(b"from"),
           "Received is prepended above the message's own headers", order)
    tap.eq(text.decode(), body,
           "body stored byte for byte (dot-unstuffed, LF line ends)")
    tap.ok(b"\r" not in data, "stored with LF line ends", data[:200])


def t_case_insensitive():
    subj = "case-%d" % os.getpid()
    code, msg = S.send(subj, ("ALICE@Example.TEST",))
    tap.eq(code, 250, "RCPT with upper-case address is accepted")
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1,
           "upper-case recipient delivered to alice's (lower-case) Maildir")


def t_alias():
    subj = "alias-%d" % os.getpid()
    code, msg = S.send(subj, ("info@example.test",))
    tap.eq(code, 250, "mail to alias info@example.test accepted")
    msgs = S.wait_for_subject("alice@example.test", subj)
    tap.eq(len(msgs), 1, "alias info@ delivered to alice")
    subj2 = "alias2-%d" % os.getpid()
    code, msg = S.send(subj2, ("team@example.test",))
    tap.eq(code, 250, "mail to two-target alias team@example.test accepted")
    a = S.wait_for_subject("alice@example.test", subj2)
    b = S.wait_for_subject("bob@example.test", subj2)
    tap.ok(len(a) == 1 and len(b) == 1,
           "alias team@ delivered once to alice and once to bob",
           "alice %d, bob %d" % (len(a), len(b)))
    tap.ok(not os.path.exists(S.maildir("info@example.test")) and
           not os.path.exists(S.maildir("team@example.test")),
           "no Maildir was created for the alias names")


def t_multiple_rcpts():
    subj = "multi-%d" % os.getpid()
    rcpts = ("alice@example.test", "bob@example.test", "carol@example.org")
    code, msg = S.send(subj, rcpts)
    tap.eq(code, 250, "one message to three recipients in two domains accepted")
    for r in rcpts:
        m = S.wait_for_subject(r, subj)
        if tap.eq(len(m), 1, "delivered once to %s" % r):
            tap.eq([v.lower() for v in header_values(read_file(m[0]), "Delivered-To")],
                   [r], "Delivered-To of %s's copy names %s" % (r, r))
    tap.eq(S.messages_with_subject("dave@example.test", subj), [],
           "not delivered to dave (not a recipient)")


def t_null_sender():
    # RFC 5321 4.5.5: the null reverse-path (bounces) must be accepted
    subj = "null-%d" % os.getpid()
    with S.smtp() as s:
        s.ehlo()
        code, _ = s.mail("")
        tap.eq(code, 250, "MAIL FROM:<> (null sender): 250")
        s.rcpt("bob@example.test")
        code, _ = s.data(make_message(subj, "bounce\n", "MAILER-DAEMON@remote.test",
                                      "bob@example.test"))
        tap.eq(code, 250, "message with the null sender accepted")
    m = S.wait_for_subject("bob@example.test", subj)
    if tap.eq(len(m), 1, "null-sender message delivered"):
        tap.eq(header_values(read_file(m[0]), "Return-Path"), ["<>"],
               "Return-Path: <> for the null sender")


def t_verbs():
    r = S.raw()
    code, _ = r.greeting()
    tap.eq(code, 220, "greeting 220")
    code, lines = r.cmd("EHLO client.test")
    kw = set(ln[4:].split(" ")[0].upper() for ln in lines[1:])
    for k in ("SIZE", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "STARTTLS",
              "SMTPUTF8", "CHUNKING"):
        tap.ok(k in kw, "EHLO advertises %s" % k, lines)
    tap.ok(lines and HOSTNAME in lines[0], "EHLO reply names the hostname", lines)
    code, lines = r.cmd("HELO client.test")
    tap.ok(code == 250 and len(lines) == 1, "HELO: one-line 250", lines)
    code, _ = r.cmd("NOOP")
    tap.eq(code, 250, "NOOP: 250")
    code, _ = r.cmd("RSET")
    tap.eq(code, 250, "RSET: 250")
    code, _ = r.cmd("VRFY alice@example.test")
    tap.eq(code, 252, "VRFY: 252 (no user enumeration)")
    code, _ = r.cmd("HELP")
    tap.ok(code in (211, 214), "HELP: 214", code)
    code, lines = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT: 221")
    tap.ok(r.wait_closed(5), "connection closed after QUIT")
    r.close()


def t_transaction_reset():
    subj = "reset-%d" % os.getpid()
    r = S.raw()
    r.greeting()
    r.ehlo()
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<carol@example.org>")
    code, _ = r.cmd("RSET")
    tap.eq(code, 250, "RSET in a transaction: 250")
    code, _ = r.cmd("DATA")
    tap.eq(code, 503, "DATA after RSET: 503 (transaction gone)")
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<carol@example.org>")
    code, _ = r.cmd("EHLO client.test")
    tap.eq(code, 250, "EHLO in a transaction: 250")
    code, _ = r.cmd("DATA")
    tap.eq(code, 503, "DATA after a second EHLO: 503 (RFC 5321 4.1.4 reset)")
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<dave@example.test>")
    code, _ = r.cmd("DATA")
    tap.eq(code, 354, "new transaction: DATA 354")
    r.send(("Subject: %s\r\n\r\nafter reset\r\n.\r\n" % subj).encode())
    code, _ = r.reply()
    tap.eq(code, 250, "message after the resets: 250")
    r.cmd("QUIT")
    r.close()
    tap.eq(len(S.wait_for_subject("dave@example.test", subj)), 1,
           "delivered to the new transaction's recipient")
    tap.ok(S.settle(("carol@example.org",)), "queue settles")
    tap.eq(S.messages_with_subject("carol@example.org", subj), [],
           "not delivered to the recipient of the reset transaction")


def t_line_boundaries():
    # RFC 5321 4.5.3.1.4/4.5.3.1.6: 512-octet command lines and 1000-octet
    # text lines, both counting CRLF, must be accepted
    subj = "bound-%d" % os.getpid()
    r = S.raw()
    r.greeting()
    r.ehlo()
    code, lines = r.cmd("NOOP " + "x" * (512 - 7))
    tap.eq(code, 250, "a command line of exactly 512 octets is accepted")
    long_line = "L" * 998
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(("Subject: %s\r\n\r\n%s\r\n.\r\n" % (subj, long_line)).encode())
    code, lines = r.reply()
    tap.eq(code, 250, "a text line of exactly 1000 octets is accepted")
    r.cmd("QUIT")
    r.close()
    m = S.wait_for_subject("alice@example.test", subj)
    if tap.eq(len(m), 1, "message with a 1000-octet line delivered"):
        _, body = split_message(read_file(m[0]))
        tap.eq(body, (long_line + "\n").encode(), "the 998-character line is intact")


def t_utf8():
    subj = "utf8-%d" % os.getpid()
    r = S.raw()
    r.greeting()
    r.ehlo()
    code, lines = r.cmd("MAIL FROM:<j\u00f6rg@remote.test> SMTPUTF8 BODY=8BITMIME".encode())
    tap.eq(code, 250, "MAIL with a UTF-8 sender and SMTPUTF8: 250")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(("Subject: %s\r\n\r\ngr\u00fc\u00dfe \u2713\r\n.\r\n" % subj).encode())
    code, _ = r.reply()
    tap.eq(code, 250, "8-bit body accepted")
    r.cmd("QUIT")
    r.close()
    m = S.wait_for_subject("alice@example.test", subj)
    if tap.eq(len(m), 1, "UTF-8 message delivered"):
        data = read_file(m[0])
        tap.ok("gr\u00fc\u00dfe \u2713".encode() in data, "8-bit body intact")
        tap.eq(header_values(data, "Return-Path"), ["<j\u00f6rg@remote.test>"],
               "UTF-8 Return-Path intact")


def t_swaks():
    if not require("swaks"):
        return
    subj = "swaks-%d" % os.getpid()
    r = run_cmd(["swaks", "--server", "127.0.0.1", "--port", str(S.port),
                 "--helo", "swaks.test", "--from", "someone@remote.test",
                 "--to", "bob@example.test", "--header", "Subject: " + subj,
                 "--body", "sent by swaks", "--timeout", "20"], timeout=60)
    tap.eq(r.returncode, 0, "swaks exits 0")
    if r.returncode != 0:
        tap.diag(r.stdout[-2000:] + r.stderr[-1000:])
    m = S.wait_for_subject("bob@example.test", subj)
    tap.eq(len(m), 1, "swaks message delivered to bob")
    if m:
        tap.ok(b"sent by swaks" in read_file(m[0]), "swaks body present")


def t_queue_id_logged():
    qids = []
    for i in range(2):
        subj = "qid-%d-%d" % (os.getpid(), i)
        code, msg = S.send(subj)
        tap.eq(code, 250, "message %d accepted" % i)
        m = QID_RE.search(msg)
        if not tap.ok(m, "250 reply has 'queued as QID'", repr(msg)):
            return
        qids.append(m.group(1).decode())
        S.wait_for_subject("alice@example.test", subj)
    tap.ok(qids[0] != qids[1], "two messages get different queue ids", qids)
    for q in qids:
        tap.ok(S.wait_log(q, 10), "queue id %s appears in the log" % q)
        n = poll(lambda: (lambda c: c if c >= 2 else 0)(
            sum(1 for ln in S.log_text().splitlines() if q in ln)), 10)
        tap.ok(n >= 2, "at least two log lines (acceptance, delivery) carry %s" % q,
               "lines: %s" % [ln for ln in S.log_text().splitlines() if q in ln])


def t_unique_files():
    # every delivered file in alice's Maildir has a distinct name (no overwrite)
    names = [os.path.basename(p) for p in S.maildir_messages("alice@example.test")]
    tap.ok(len(names) >= 5 and len(set(names)) == len(names),
           "alice's Maildir holds %d distinctly named messages" % len(names))
    tap.eq(os.listdir(os.path.join(S.maildir("alice@example.test"), "tmp")), [],
           "alice's Maildir/tmp is empty after delivery")


def t_half_made_maildir():
    # A Maildir with tmp/ but neither new/ nor cur/: what deliver killed
    # between its mkdirs leaves. test_kill_random.py once hit that window,
    # and every later delivery to the Maildir failed (ENOENT on the move
    # into new/) and was deferred for good.
    addr = "dave@example.test"
    subj = "half-%d" % os.getpid()
    code, _ = S.send(subj + "-a", rcpts=(addr,))
    tap.eq(code, 250, "first message to dave accepted")
    if not tap.eq(len(S.wait_for_subject(addr, subj + "-a")), 1,
                  "first message to dave delivered (his Maildir made)"):
        return
    md = S.maildir(addr)
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)
    tap.ok(os.path.isdir(os.path.join(md, "tmp")) and
           not os.path.exists(os.path.join(md, "new")) and
           not os.path.exists(os.path.join(md, "cur")),
           "dave's Maildir now has tmp/ but no new/ and no cur/")
    code, _ = S.send(subj + "-b", rcpts=(addr,))
    tap.eq(code, 250, "second message to dave accepted")
    tap.eq(len(S.wait_for_subject(addr, subj + "-b")), 1,
           "delivered into the half-made Maildir: new/ made again")
    tap.ok(os.path.isdir(os.path.join(md, "cur")), "cur/ made again as well")
    tap.eq(os.listdir(os.path.join(md, "tmp")), [],
           "nothing left in dave's tmp/")


def t_clean_stop():
    tap.ok(S.wait_queue_empty(20), "the queue drains (incoming/active/deferred empty)",
           S.queue_files()[:10])
    pids = S.pids()
    tap.ok(len(pids) >= 5, "the master runs at least smtpd, qmgr, lookupd, deliver",
           "pids: %s" % pids)
    t0 = time.monotonic()
    rc = S.stop(15)
    tap.eq(rc, 0, "postern run exits 0 on SIGTERM")
    tap.ok(time.monotonic() - t0 < 10, "and within 10 s (%.1f s)" % (time.monotonic() - t0))
    gone = poll(lambda: not alive(pids), 5)
    tap.ok(gone, "no process of the suite survives the master",
           "left: %s" % alive(pids))


for fn in (t_plain_delivery, t_case_insensitive, t_alias, t_multiple_rcpts,
           t_null_sender, t_verbs, t_transaction_reset, t_line_boundaries, t_utf8,
           t_swaks, t_queue_id_logged, t_unique_files, t_half_made_maildir,
           t_clean_stop):
    tap.run(fn, timeout=90)
tap.done()
