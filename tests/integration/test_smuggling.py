#!/usr/bin/env python3
"""
SMTP smuggling (ambiguous end-of-data sequences), STARTTLS command
injection, PIPELINING order and BDAT (RFC 3030), byte-exact on raw sockets.
"""
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    HOSTNAME, tap, start_suite_or_bail, read_file, split_message)

S = start_suite_or_bail()
PID = os.getpid()

VARIANTS = [
    ("LF.LF", b"\n.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CRLF.LF", b"\r\n.\n"),
    ("CR.CRLF", b"\r.\r\n"),
    # not in the list, same family
    ("CR.CR", b"\r.\r"),
    ("CRLF.CR", b"\r\n.\r"),
]
outcome = {}


def session():
    r = S.raw()
    code, lines = r.greeting()
    if code != 220:
        raise AssertionError("greeting: %s %r" % (code, lines))
    code, lines = r.ehlo()
    if code != 250:
        raise AssertionError("EHLO: %s %r" % (code, lines))
    return r, lines


def smuggle(name, seq):
    subj = "smuggle-%s-%d" % (name, PID)
    r, _ = session()
    code, _ = r.cmd("MAIL FROM:<sender@remote.test>")
    tap.eq(code, 250, "%s: MAIL 250" % name)
    code, _ = r.cmd("RCPT TO:<alice@example.test>")
    tap.eq(code, 250, "%s: RCPT alice 250" % name)
    code, _ = r.cmd("DATA")
    tap.eq(code, 354, "%s: DATA 354" % name)
    payload = (b"Subject: " + subj.encode() + b"\r\n\r\nfirst line" + seq +
               b"MAIL FROM:<evil@x>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
               b"smuggled-" + name.encode() + b"\r\n" + b"\r\n.\r\n")
    r.send(payload)
    code, lines = r.reply(timeout=15)
    tap.ok(code == 250 or (code is not None and 500 <= code < 600),
           "%s: one final reply to the message (250 or 5xx)" % name,
           "got %s %r" % (code, lines))
    outcome[name] = code
    # VRFY answers 252: a 250/354 here would be a reply to a smuggled command
    code2, lines2 = r.cmd("VRFY postmaster")
    tap.eq(code2, 252, "%s: the next reply belongs to our VRFY (no smuggled "
           "command was executed)" % name)
    code3, _ = r.cmd("QUIT")
    tap.eq(code3, 221, "%s: QUIT 221" % name)
    r.close()


def t_smuggling():
    for name, seq in VARIANTS:
        smuggle(name, seq)
    if not tap.ok(S.settle(("alice@example.test", "bob@example.test")),
                  "queue settles after the smuggling attempts"):
        return
    bob_texts = [read_file(p) or b"" for p in S.maildir_messages("bob@example.test")]
    for name, seq in VARIANTS:
        subj = "smuggle-%s-%d" % (name, PID)
        msgs = S.messages_with_subject("alice@example.test", subj)
        if outcome.get(name) == 250:
            if tap.eq(len(msgs), 1, "%s: exactly one message delivered to alice" % name):
                _, body = split_message(read_file(msgs[0]))
                tap.ok(b"smuggled-" + name.encode() in body and b"evil@x" in body,
                       "%s: the smuggled text is inside the delivered body" % name,
                       body[:400])
        else:
            tap.eq(len(msgs), 0, "%s: refused message not delivered" % name)
        tap.ok(not any(b"smuggled-" + name.encode() in t for t in bob_texts),
               "%s: nothing reached bob (the smuggled recipient)" % name)
        tap.ok(not any(b"evil@x" in (t.split(b"\n", 1)[0]) for t in bob_texts),
               "%s: no message with Return-Path evil@x at bob" % name)


def t_starttls_injection():
    r, lines = session()
    tap.ok(any(ln[4:].upper() == "STARTTLS" for ln in lines),
           "EHLO advertises STARTTLS", lines)
    r.send(b"STARTTLS\r\nNOOP\r\n")
    code, lines = r.reply()
    tap.eq(code, 220, "STARTTLS: 220")
    tap.eq(r.buf, b"", "no plaintext reply to the injected NOOP before the handshake")
    try:
        r.starttls()
    except (ssl.SSLError, OSError) as e:
        tap.ok(False, "TLS handshake after STARTTLS with injected NOOP", repr(e))
        r.close()
        return
    tap.ok(True, "TLS handshake after STARTTLS with injected NOOP (%s)" % r.sock.version())
    code, lines = r.ehlo("tls-client.test")
    tap.ok(code == 250 and len(lines) > 1 and HOSTNAME in lines[0],
           "first reply inside TLS answers our EHLO (injected NOOP discarded)", lines)
    tap.ok(not any(ln[4:].upper() == "STARTTLS" for ln in lines),
           "EHLO inside TLS does not offer STARTTLS again (RFC 3207 4.2)", lines)
    subj = "tls-%d" % PID
    code, _ = r.cmd("MAIL FROM:<sender@remote.test>")
    tap.eq(code, 250, "MAIL inside TLS: 250")
    code, _ = r.cmd("RCPT TO:<alice@example.test>")
    tap.eq(code, 250, "RCPT inside TLS: 250")
    code, _ = r.cmd("DATA")
    tap.eq(code, 354, "DATA inside TLS: 354")
    r.send(b"Subject: " + subj.encode() + b"\r\n\r\nover TLS\r\n.\r\n")
    code, lines = r.reply()
    tap.eq(code, 250, "message inside TLS: 250")
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT inside TLS: 221 (no stray replies queued)")
    r.close()
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1,
           "the message sent over TLS is delivered")


def t_starttls_resets_state():
    # RFC 3207 4.2: after the handshake the server discards what it knew.
    # STARTTLS inside a transaction is either refused (503, as Postfix
    # does) or the transaction is discarded with the rest.
    r, _ = session()
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    code, lines = r.cmd("STARTTLS")
    tap.ok(code in (220, 503), "STARTTLS in a transaction: 220 or 503",
           "got %s %r" % (code, lines))
    in_tx = code == 220
    if code == 503:
        r.cmd("RSET")
        code, lines = r.cmd("STARTTLS")
        if not tap.eq(code, 220, "STARTTLS after RSET: 220"):
            r.close()
            return
    elif code != 220:
        r.close()
        return
    r.starttls()
    code, lines = r.cmd("MAIL FROM:<x@remote.test>")
    tap.ok(code == 503, "MAIL before EHLO inside TLS: 503 (EHLO state reset)",
           "got %s %r" % (code, lines))
    if in_tx:
        r.ehlo()
        code, lines = r.cmd("DATA")
        tap.ok(code == 503, "DATA inside TLS with the plaintext transaction: 503 "
               "(the transaction was discarded)", "got %s %r" % (code, lines))
    r.cmd("QUIT")
    r.close()


def t_starttls_twice():
    r, _ = session()
    code, _ = r.cmd("STARTTLS")
    if not tap.eq(code, 220, "STARTTLS: 220"):
        return
    r.starttls()
    r.ehlo()
    code, lines = r.cmd("STARTTLS")
    tap.ok(code is not None and code >= 500, "STARTTLS inside TLS is refused (5xx)",
           "got %s %r" % (code, lines))
    r.cmd("QUIT")
    r.close()


def t_pipelining():
    r, lines = session()
    tap.ok(any(ln[4:].upper() == "PIPELINING" for ln in lines),
           "EHLO advertises PIPELINING", lines)
    subj = "pipe-%d" % PID
    r.send(b"MAIL FROM:<sender@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody-here@example.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\n"
           b"DATA\r\n")
    codes = []
    for _ in range(5):
        code, lines = r.reply()
        codes.append(code)
    tap.eq(codes, [250, 250, 550, 250, 354],
           "pipelined MAIL, RCPT, RCPT(unknown), RCPT, DATA answered in order")
    if codes[-1] == 354:
        r.send(b"Subject: " + subj.encode() + b"\r\n\r\npipelined\r\n.\r\n"
               b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<carol@example.org>\r\n"
               b"DATA\r\n")
        codes = [r.reply()[0] for _ in range(4)]
        tap.eq(codes, [250, 250, 250, 354],
               "end of data pipelined with the next transaction: in order")
        if codes[-1] == 354:
            r.send(b"Subject: " + subj.encode() + b"\r\n\r\nsecond\r\n.\r\nQUIT\r\n")
            codes = [r.reply()[0] for _ in range(2)]
            tap.eq(codes, [250, 221], "second message and QUIT pipelined: 250, 221")
    r.close()
    for rc in ("alice@example.test", "bob@example.test", "carol@example.org"):
        tap.eq(len(S.wait_for_subject(rc, subj)), 1,
               "pipelined message delivered to %s" % rc)


BDAT_LINES = [b"Subject: bdat-%d" % PID, b"", b"line one", b".", b".dot stays",
              b"..two dots stay", b"", b"tail line"]


def bdat_expect(path, content):
    data = read_file(path)
    got = data.replace(b"\r\n", b"\n").split(b"\n")
    want = content.replace(b"\r\n", b"\n").split(b"\n")
    tap.eq(got[-len(want):], want,
           "BDAT content stored line for line (no dot-unstuffing, '.' line kept)")


def t_bdat():
    r, lines = session()
    tap.ok(any(ln[4:].upper() == "CHUNKING" for ln in lines),
           "EHLO advertises CHUNKING", lines)
    content = b"\r\n".join(BDAT_LINES) + b"\r\n"
    cut = content.index(b"line one\r") + len(b"line one\r")   # between CR and LF
    c1, c2 = content[:cut], content[cut:]
    code, _ = r.cmd("MAIL FROM:<sender@remote.test> BODY=8BITMIME")
    tap.eq(code, 250, "MAIL BODY=8BITMIME: 250")
    code, _ = r.cmd("RCPT TO:<bob@example.test>")
    tap.eq(code, 250, "RCPT: 250")
    r.send(b"BDAT %d\r\n" % len(c1) + c1)
    code, lines = r.reply()
    tap.eq(code, 250, "BDAT %d (chunk ends between CR and LF): 250" % len(c1))
    r.send(b"BDAT %d\r\n" % len(c2) + c2)
    code, lines = r.reply()
    tap.eq(code, 250, "BDAT %d: 250" % len(c2))
    code, lines = r.cmd("BDAT 0 LAST")
    tap.ok(code == 250 and "queued as" in lines[-1], "BDAT 0 LAST: 250 queued as",
           "got %s %r" % (code, lines))
    code, _ = r.cmd("NOOP")
    tap.eq(code, 250, "NOOP after BDAT: 250")
    r.cmd("QUIT")
    r.close()
    m = S.wait_for_subject("bob@example.test", "bdat-%d" % PID)
    if tap.eq(len(m), 1, "BDAT message delivered once to bob"):
        bdat_expect(m[0], content)


def t_bdat_pipelined():
    subj = b"bdat-pipe-%d" % PID
    content = b"Subject: " + subj + b"\r\n\r\nbody\r\n.\r\nmore\r\n"
    r, _ = session()
    r.send(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<carol@example.org>\r\n"
           b"BDAT %d LAST\r\n" % len(content) + content + b"NOOP\r\n")
    codes = [r.reply()[0] for _ in range(4)]
    tap.eq(codes, [250, 250, 250, 250], "pipelined MAIL, RCPT, BDAT LAST, NOOP: all 250")
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT: 221")
    r.close()
    m = S.wait_for_subject("carol@example.org", subj.decode())
    if tap.eq(len(m), 1, "pipelined BDAT message delivered once"):
        bdat_expect(m[0], content)


def t_bdat_then_data():
    r, _ = session()
    r.cmd("MAIL FROM:<sender@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.send(b"BDAT 5\r\nabcde")
    r.reply()
    code, lines = r.cmd("DATA")
    tap.ok(code == 503, "DATA after BDAT in the same transaction: 503 (RFC 3030 3)",
           "got %s %r" % (code, lines))
    code, _ = r.cmd("RSET")
    tap.eq(code, 250, "RSET: 250")
    r.cmd("QUIT")
    r.close()


for fn in (t_smuggling, t_starttls_injection, t_starttls_resets_state, t_starttls_twice, t_pipelining,
           t_bdat, t_bdat_pipelined, t_bdat_then_data):
    tap.run(fn, timeout=90)
tap.done()
