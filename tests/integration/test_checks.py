#!/usr/bin/env python3
"""
test_checks: content checks at SMTP time (issue 10): header_checks,
mime_header_checks and body_checks files, sent through the real smtpd
with smtplib. REJECT is a 550 5.7.1 with the rule's text and nothing is
delivered or bounced; DISCARD is a 250 and nothing is delivered; HOLD
puts the message in hold/ (seen by `postern queue list`) until `postern
queue release`; WARN delivers and logs; PREPEND adds a header seen in
the Maildir file; a body check matches a body line; a mime_header_check
matches an attachment's name; a pathological regex with a pathological
message ends quickly with a logged error and the message delivered.
`postern check` names a bad pattern with its file and line.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (POSTERN, Suite, read_file, run_cmd,  # noqa: E402
                          tap, header_values, make_message)

ALICE = "alice@example.test"
BOB = "bob@example.test"     # the sender of refused mail: a bounce would land here

HEADER_CHECKS = r"""# header_checks of the test
/^Subject: .*reject me/          REJECT Rejected by policy
/^Subject: (.*)discard me/       DISCARD
/^Subject: .*hold me/            HOLD held for review
/^Subject: .*warn (\w+)/         WARN watch $1
/^Subject: (.*prepend me.*)$/    PREPEND X-Checked: saw
        <$1>
/^Subject: folded reject$/       REJECT folded headers are unfolded
/^X-Evil: (a+)+$/                REJECT catastrophic
"""
BODY_CHECKS = r"""/^buy cheap pills/   REJECT no spam in bodies
/^(a|aa)+$/          REJECT catastrophic body
"""
MIME_CHECKS = r"""/^Content-(Type|Disposition):.*name="?[^"]*\.(exe|scr)"?/ REJECT attachment $2 refused
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def setup():
    s = Suite(name="checks")
    hc = os.path.join(s.etc, "header_checks")
    bc = os.path.join(s.etc, "body_checks")
    mc = os.path.join(s.etc, "mime_header_checks")
    write(hc, HEADER_CHECKS)
    write(bc, BODY_CHECKS)
    write(mc, MIME_CHECKS)
    s.settings.update({"header_checks": hc, "body_checks": bc,
                       "mime_header_checks": mc})
    s.write_conf()
    s.start()
    return s


def send(s, msg, sender=BOB, rcpt=ALICE):
    """(code, reply bytes) of one message sent with smtplib."""
    import smtplib
    with s.smtp() as c:
        c.ehlo()
        c.mail(sender)
        c.rcpt(rcpt)
        try:
            return c.data(msg)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error


def qid_of(reply):
    m = re.search(rb"queued as ([0-9A-Z]+)", reply or b"")
    return m.group(1).decode() if m else None


def nothing_for(s, subject, who=(ALICE, BOB)):
    """After a settle barrier: no message with subject anywhere, no bounce."""
    if not s.settle((ALICE, BOB)):
        return False
    for w in who:
        if s.messages_with_subject(w, subject):
            return False
    return not s.queue_files()


def t_reject(s):
    code, reply = send(s, make_message("please reject me", "x\n", BOB))
    tap.eq(code, 550, "REJECT: 550")
    tap.ok(reply.startswith(b"5.7.1 Rejected by policy"), "550 5.7.1 with the text", reply)
    tap.ok(nothing_for(s, "please reject me"), "nothing delivered, queued or bounced")
    tap.ok("reject: header Subject: please reject me" in s.log_text(), "the match is logged")
    code, reply = send(s, "Subject: folded\r\n reject\r\n\r\nbody\r\n")
    tap.eq((code, reply), (550, b"5.7.1 folded headers are unfolded"),
           "a folded header is matched unfolded")


def t_bdat(s):
    r = s.raw()
    r.greeting()
    r.ehlo()
    tap.eq(r.cmd("MAIL FROM:<bob@example.test>")[0], 250, "BDAT: MAIL")
    tap.eq(r.cmd("RCPT TO:<alice@example.test>")[0], 250, "BDAT: RCPT")
    part1 = b"Subject: please rej"
    part2 = b"ect me\r\n\r\nbody\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    tap.eq(r.reply()[0], 250, "BDAT: a chunk that splits the header")
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, lines = r.reply()
    tap.ok(code == 550 and "5.7.1 Rejected by policy" in r.text(),
           "BDAT LAST: 550 5.7.1 with the text (the header matched across chunks)",
           repr((code, lines)))
    r.close()


def t_discard(s):
    code, reply = send(s, make_message("please discard me", "x\n", BOB))
    tap.eq(code, 250, "DISCARD: 250")
    qid = qid_of(reply)
    tap.ok(qid and s.wait_log("%s: discard: content check" % qid), "the discard is logged")
    tap.ok(nothing_for(s, "please discard me"), "nothing delivered or bounced")


def t_hold_release(s):
    code, reply = send(s, make_message("please hold me", "x\n", BOB))
    tap.eq(code, 250, "HOLD: 250")
    qid = qid_of(reply)
    tap.ok(qid and os.path.exists(os.path.join(s.queue_dir, "hold", qid)),
           "the message is in hold/")
    r = run_cmd([POSTERN, "queue", "-c", s.conf, "list"])
    tap.ok(r.returncode == 0 and re.search(r"%s .* hold " % qid, r.stdout),
           "postern queue list shows it as held", r.stdout + r.stderr)
    time.sleep(1)
    tap.eq(s.messages_with_subject(ALICE, "please hold me"), [], "not delivered while held")
    r = run_cmd([POSTERN, "queue", "-c", s.conf, "release", qid])
    tap.eq(r.returncode, 0, "postern queue release exits 0")
    tap.ok(s.wait_for_subject(ALICE, "please hold me"), "delivered after the release")


def t_warn_prepend(s):
    code, _ = send(s, make_message("a warn flag here", "x\n", BOB))
    tap.eq(code, 250, "WARN: 250")
    tap.ok(s.wait_for_subject(ALICE, "a warn flag here"), "WARN delivers")
    tap.ok(s.wait_log("warning: header Subject: a warn flag here (") and
           "watch flag" in s.log_text(), "WARN logs the line and the text with $1")
    code, _ = send(s, make_message("do prepend me", "x\n", BOB))
    tap.eq(code, 250, "PREPEND: 250")
    got = s.wait_for_subject(ALICE, "do prepend me")
    data = read_file(got[0]) if got else b""
    got = header_values(data or b"", "X-Checked")
    tap.ok(len(got) == 1 and re.fullmatch(r"saw\s+<do prepend me>", got[0]),
           "the prepended header is in the Maildir file, with $1 and a continuation line",
           repr(got))
    head = (data or b"").split(b"\n\n")[0]
    tap.ok(head.find(b"X-Checked:") < head.find(b"Subject: do prepend me"),
           "right before the matched header")


def t_body(s):
    code, reply = send(s, make_message("body test", "hello\nbuy cheap pills now\nbye\n"))
    tap.eq((code, reply), (550, b"5.7.1 no spam in bodies"), "a body line is matched")
    code, _ = send(s, make_message("body ok", "hello\nwe never buy cheap pills\n"))
    tap.eq(code, 250, "a body without a matching line is accepted")
    tap.ok(s.wait_for_subject(ALICE, "body ok"), "and delivered")


MIME = ("From: <bob@example.test>\r\nTo: <alice@example.test>\r\n"
        "Subject: %s\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        "--b1\r\nContent-Type: application/octet-stream;\r\n name=\"%s\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b1--\r\n")


def t_mime(s):
    code, reply = send(s, MIME % ("mime evil", "setup.exe"))
    tap.eq((code, reply), (550, b"5.7.1 attachment exe refused"),
           "a mime_header_check matches an attachment's name")
    code, _ = send(s, MIME % ("mime fine", "report.pdf"))
    tap.eq(code, 250, "another attachment is accepted")
    tap.ok(s.wait_for_subject(ALICE, "mime fine"), "and delivered")
    code, _ = send(s, "Subject: top\r\nContent-Type: text/plain; name=\"x.exe\"\r\n\r\nhi\r\n")
    tap.eq(code, 250, "the message's own header is not a MIME part header")


def t_pathological(s):
    body = "\n".join(["a" * 900 + "!"] * 60) + "\n"
    msg = make_message("pathological", body).replace(
        "Subject: pathological", "X-Evil: " + "a" * 60 + "!\r\nSubject: pathological")
    t0 = time.monotonic()
    code, _ = send(s, msg)
    took = time.monotonic() - t0
    tap.eq(code, 250, "a pathological message with pathological rules: 250")
    tap.ok(took < 10, "within seconds (%.2f s)" % took)
    tap.ok(s.wait_for_subject(ALICE, "pathological"), "the message is delivered")
    log = s.log_text()
    tap.ok(re.search(r"header_checks:\d+: .*limit.*treated as no match", log) and
           re.search(r"body_checks:\d+: .*limit.*treated as no match", log),
           "the limit errors are logged with the file and line",
           "\n".join(ln for ln in log.splitlines() if "limit" in ln))


def t_check_cli(s):
    r = run_cmd([POSTERN, "check", "-c", s.conf])
    tap.ok(r.returncode == 0, "postern check: the rule files compile", r.stderr)
    bad = os.path.join(s.etc, "bad_checks")
    write(bad, "/good/ WARN\n# comment\n/bad(/ REJECT x\n/x/ FROB\n")
    conf = os.path.join(s.etc, "bad.conf")
    with open(s.conf) as f:
        text = f.read()
    write(conf, text + "\nbody_checks = %s\n" % bad)
    r = run_cmd([POSTERN, "check", "-c", conf])
    tap.ok(r.returncode != 0, "postern check with a bad pattern: non-zero")
    tap.ok("%s:3: " % bad in r.stderr and "%s:4: unknown action" % bad in r.stderr,
           "the bad pattern is named with its file and line", r.stderr)


def main():
    s = setup()
    for fn in (t_reject, t_bdat, t_discard, t_hold_release, t_warn_prepend, t_body, t_mime,
               t_pathological, t_check_cli):
        tap.run(lambda: fn(s), timeout=90, name=fn.__name__)
    tap.done()


main()
