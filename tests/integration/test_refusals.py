#!/usr/bin/env python3
"""
What smtpd refuses, and that each refusal gets its proper reply while the
session stays usable or closes cleanly (RFC 5321 4.5.3.1, issue 2 limits).
Also the command-line tools' errors for wrong arguments.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    POSTERN, SMTPD, QMGR, LOOKUPD, DELIVER, tap, start_suite_or_bail, enhanced,
    run_cmd, clean_env)

SIZE_LIMIT = 100000
RCPT_LIMIT = 3
ERROR_LIMIT = 10
S = start_suite_or_bail(extra_conf={
    "message_size_limit": str(SIZE_LIMIT),
    "smtpd_recipient_limit": str(RCPT_LIMIT),
    "smtpd_error_limit": str(ERROR_LIMIT),
    "smtpd_timeout": "2s",
})


def session():
    r = S.raw()
    code, lines = r.greeting()
    if code != 220:
        raise AssertionError("greeting: %s %r" % (code, lines))
    code, lines = r.ehlo()
    if code != 250:
        raise AssertionError("EHLO: %s %r" % (code, lines))
    return r


def mail_from(r, sender="sender@remote.test", extra=""):
    return r.cmd("MAIL FROM:<%s>%s" % (sender, extra))


def send_data(r, subject, body_lines=("hello",)):
    code, lines = r.cmd("DATA")
    if code != 354:
        return code, lines
    msg = ["Subject: " + subject, ""] + list(body_lines)
    r.send("\r\n".join(msg).encode() + b"\r\n.\r\n")
    return r.reply()


def t_relay():
    r = session()
    code, _ = mail_from(r)
    tap.eq(code, 250, "MAIL from a remote sender: 250")
    for rcpt in ("someone@elsewhere.test", "alice@example.test.elsewhere.test",
                 "@example.test:someone@elsewhere.test",
                 "someone%elsewhere.test@example.test",
                 "someone@elsewhere.test@example.test"):
        code, lines = r.cmd("RCPT TO:<%s>" % rcpt)
        tap.ok(code is not None and code >= 500,
               "RCPT TO:<%s> refused with 5xx" % rcpt, "got %s %r" % (code, lines))
        if rcpt == "someone@elsewhere.test":
            tap.ok(code in (550, 554) and enhanced(lines) == "5.7.1",
                   "relay refusal is 550/554 5.7.1", "got %s %r" % (code, lines))
    code, lines = r.cmd("DATA")
    tap.ok(code is not None and code >= 500 and code != 354,
           "DATA without an accepted recipient is refused", "got %s %r" % (code, lines))
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT after the refusals: 221")
    r.close()
    tap.ok(S.settle(), "queue settles after the relay attempts")
    tap.ok(not os.path.exists(os.path.join(S.mail_root, "elsewhere.test")),
           "nothing was delivered for elsewhere.test")


def t_unknown_user():
    r = session()
    mail_from(r)
    code, lines = r.cmd("RCPT TO:<nosuchuser@example.test>")
    tap.ok(code == 550 and enhanced(lines) == "5.1.1",
           "unknown local user: 550 5.1.1 at RCPT", "got %s %r" % (code, lines))
    code, lines = r.cmd("RCPT TO:<nosuchuser@example.org>")
    tap.ok(code == 550 and enhanced(lines) == "5.1.1",
           "unknown user in the second local domain: 550 5.1.1",
           "got %s %r" % (code, lines))
    code, lines = r.cmd("RCPT TO:<alice@example.test>")
    tap.eq(code, 250, "a known user after an unknown one is still accepted")
    r.cmd("QUIT")
    r.close()


def t_size_at_mail():
    r = session()
    code, lines = r.cmd("EHLO client.test")
    tap.ok(any(re.match(r"250[ -]SIZE %d\b" % SIZE_LIMIT, ln) for ln in lines),
           "EHLO advertises SIZE %d" % SIZE_LIMIT, lines)
    code, lines = mail_from(r, extra=" SIZE=%d" % (SIZE_LIMIT * 10))
    tap.ok(code == 552, "MAIL with SIZE= over the limit: 552",
           "got %s %r" % (code, lines))
    code, lines = mail_from(r, extra=" SIZE=%d" % (SIZE_LIMIT // 2))
    tap.eq(code, 250, "MAIL with SIZE= under the limit afterwards: 250")
    r.cmd("QUIT")
    r.close()


def t_size_in_data():
    subj_big = "big-%d" % os.getpid()
    subj_ok = "after-big-%d" % os.getpid()
    r = session()
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    code, _ = r.cmd("DATA")
    tap.eq(code, 354, "DATA: 354")
    line = "x" * 76
    n = SIZE_LIMIT * 2 // 78 + 1
    r.send(("Subject: %s\r\n\r\n" % subj_big).encode() +
           (line + "\r\n").encode() * n + b".\r\n")
    code, lines = r.reply(timeout=20)
    tap.ok(code == 552 and enhanced(lines) == "5.3.4",
           "oversized content: 552 5.3.4 after the final dot",
           "got %s %r" % (code, lines))
    code, _ = r.cmd("RSET")
    tap.eq(code, 250, "RSET after the oversized message: 250")
    code, _ = r.cmd("NOOP")
    tap.eq(code, 250, "NOOP after the oversized message: 250")
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    code, lines = send_data(r, subj_ok)
    tap.eq(code, 250, "another message in the same session: 250")
    r.cmd("QUIT")
    r.close()
    tap.eq(len(S.wait_for_subject("alice@example.test", subj_ok)), 1,
           "the message after the oversized one is delivered")
    tap.ok(S.settle(), "queue settles")
    tap.eq(S.messages_with_subject("alice@example.test", subj_big), [],
           "the oversized message was not delivered")


def t_rcpt_limit():
    subj = "rcptcap-%d" % os.getpid()
    rcpts = ["alice@example.test", "bob@example.test", "carol@example.org",
             "dave@example.test"]
    r = session()
    mail_from(r)
    codes = []
    for i, rc in enumerate(rcpts):
        code, lines = r.cmd("RCPT TO:<%s>" % rc)
        codes.append((code, enhanced(lines)))
    tap.eq(codes[:RCPT_LIMIT], [(250, "2.1.5")] * RCPT_LIMIT,
           "the first %d recipients: 250 2.1.5" % RCPT_LIMIT)
    tap.eq(codes[RCPT_LIMIT], (452, "4.5.3"),
           "recipient %d (over smtpd_recipient_limit): 452 4.5.3" % (RCPT_LIMIT + 1))
    code, lines = send_data(r, subj)
    tap.eq(code, 250, "DATA after the cap delivers to the accepted ones: 250")
    r.cmd("QUIT")
    r.close()
    for rc in rcpts[:RCPT_LIMIT]:
        tap.eq(len(S.wait_for_subject(rc, subj)), 1, "capped message delivered to %s" % rc)
    tap.ok(S.settle(("dave@example.test",)), "queue settles")
    tap.eq(S.messages_with_subject("dave@example.test", subj), [],
           "the recipient past the cap got nothing")


def t_long_line():
    r = session()
    code, lines = r.cmd("NOOP " + "x" * 600)
    tap.ok(code == 500, "command line over 512 octets: 500",
           "got %s %r" % (code, lines))
    code, lines = r.cmd("NOOP")
    tap.eq(code, 250, "the next command gets its own reply (the long line was one error)")
    code, lines = r.cmd("MAIL FROM:<%s@remote.test>" % ("a" * 2000))
    tap.ok(code is not None and code >= 500,
           "2 KB MAIL command refused", "got %s %r" % (code, lines))
    code, lines = r.cmd("RSET")
    tap.eq(code, 250, "RSET afterwards: 250")
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT: 221")
    r.close()


def t_long_text_line():
    # RFC 5321 4.5.3.1.6: text lines of 1000 octets. A longer line must not
    # be accepted silently as-is: either refused (5xx) or accepted (then the
    # session must remain in step).
    subj = "longtext-%d" % os.getpid()
    r = session()
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    code, lines = send_data(r, subj, ["y" * 5000, "end"])
    tap.ok(code in (250, 500, 550, 552, 554),
           "a 5000-octet text line gets a final reply", "got %s %r" % (code, lines))
    code, _ = r.cmd("NOOP")
    tap.eq(code, 250, "session in step after the long text line")
    r.cmd("QUIT")
    r.close()


def t_bad_sequence():
    r = session()
    code, lines = r.cmd("RCPT TO:<alice@example.test>")
    tap.ok(code == 503 and enhanced(lines) == "5.5.1",
           "RCPT before MAIL: 503 5.5.1", "got %s %r" % (code, lines))
    code, lines = r.cmd("DATA")
    tap.ok(code == 503, "DATA before MAIL: 503", "got %s %r" % (code, lines))
    mail_from(r)
    code, lines = r.cmd("MAIL FROM:<other@remote.test>")
    tap.ok(code == 503, "second MAIL in a transaction: 503", "got %s %r" % (code, lines))
    # RFC 3030 2: the chunk follows the command and is consumed even when
    # the command is refused; these 10 octets must not run as commands
    r.send(b"BDAT 10 LAST\r\nRSET\r\nNOOP")
    code, lines = r.reply()
    tap.ok(code is not None and code >= 500,
           "BDAT without recipients refused (5xx)", "got %s %r" % (code, lines))
    code, _ = r.cmd("QUIT")
    tap.eq(code, 221, "QUIT: 221 (the refused BDAT chunk was skipped, not executed)")
    r.close()


def t_unknown_commands():
    r = session()
    code, lines = r.cmd("FROB")
    tap.ok(code == 500 or code == 502, "unknown command: 500/502",
           "got %s %r" % (code, lines))
    code, lines = r.cmd("VRFY alice@example.test")
    tap.eq(code, 252, "VRFY: 252")
    code, lines = r.cmd("MAIL FROM:alice")
    tap.ok(code == 501 or code == 553 or code == 555,
           "MAIL without angle brackets: 501", "got %s %r" % (code, lines))
    code, lines = r.cmd("MAIL FROM:<sender@remote.test> FROB=1")
    tap.ok(code == 555 or code == 501 or code == 504,
           "MAIL with an unknown parameter: 555", "got %s %r" % (code, lines))
    r.cmd("QUIT")
    r.close()


def t_error_limit():
    r = session()
    got = []
    closed_at = None
    for i in range(ERROR_LIMIT + 3):
        try:
            code, _ = r.cmd("FROB %d" % i)
        except OSError:
            code = None
        got.append(code)
        if code == 421 or code is None:
            closed_at = i + 1
            break
    tap.ok(closed_at is not None and closed_at <= ERROR_LIMIT + 1 and got[-1] == 421,
           "421 after at most %d errors (smtpd_error_limit %d)"
           % (ERROR_LIMIT + 1, ERROR_LIMIT), "replies: %s" % got)
    tap.ok(all(c is not None and 500 <= c < 600 for c in got[:-1]),
           "the errors before it are 5xx", "replies: %s" % got)
    tap.ok(r.wait_closed(5), "the server closes the connection after 421")
    r.close()


def t_idle_timeout():
    r = session()
    t0 = time.monotonic()
    try:
        code, lines = r.reply(timeout=15)
    except OSError as e:
        code, lines = None, [str(e)]
    dt = time.monotonic() - t0
    tap.ok(code == 421, "idle session gets 421 (smtpd_timeout 2s)",
           "got %s %r after %.1f s" % (code, lines, dt))
    tap.ok(1.5 <= dt <= 10, "after about 2 s idle (%.1f s)" % dt)
    tap.ok(r.wait_closed(5), "and the connection is closed")
    r.close()
    # a slow sender in DATA is timed out too (not only between commands)
    r = session()
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: slow\r\n\r\npartial line")
    t0 = time.monotonic()
    try:
        code, lines = r.reply(timeout=15)
    except OSError as e:
        code, lines = None, [str(e)]
    dt = time.monotonic() - t0
    tap.ok(code == 421 or (code is None and dt <= 10),
           "idle in the middle of DATA: 421 or close within the timeout",
           "got %s %r after %.1f s" % (code, lines, dt))
    r.close()


def t_log_sanitized():
    # peer text reaches the log only through log_sanitize(): no control
    # characters (terminal escapes, CR, NUL) from the network in the log
    r = S.raw()
    r.greeting()
    r.cmd(b"EHLO evil\x1b[2J\x07.test")
    r.cmd(b"EHLO client.test")
    r.cmd(b"MAIL FROM:<ev\x1b[31mil@remote.test>")
    r.cmd(b"RSET")
    r.cmd(b"MAIL FROM:<sender@remote.test>")
    r.cmd(b"RCPT TO:<no\x1b]0;pwned\x07body@example.test>")
    r.cmd(b"FROB\x1b[2J\rX")
    r.cmd(b"QUIT")
    r.close()
    S.wait_log("FROB", 3)
    text = S.log_text()
    bad = [ln for ln in text.splitlines() if "\x1b" in ln or "\x07" in ln or "\r" in ln
           or "\x00" in ln]
    tap.ok(not bad, "no control characters from the peer in the log",
           "\n".join(repr(b) for b in bad[:5]))


def t_no_queue_file():
    # The queue file is made after the 354 (issue 12): one that cannot be
    # made is a 451 4.3.0 at the end of the data (RFC 5321 4.1.1.4), the
    # content is read and dropped, and the session goes on.
    tmp = os.path.join(S.queue_dir, "tmp")
    mode = os.stat(tmp).st_mode & 0o7777
    r = session()
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    os.chmod(tmp, 0o500)
    try:
        code, lines = r.cmd("DATA")
        tap.eq(code, 354, "no queue file can be made: DATA still gets 354")
        if code == 354:
            r.send(b"Subject: noqueue\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200 + b".\r\n")
            code, lines = r.reply()
    finally:
        os.chmod(tmp, mode)
    tap.ok(code == 451 and enhanced(lines) == "4.3.0",
           "and 451 4.3.0 after the content", "%s %r" % (code, lines))
    # tmp/f.* are spent files qmgr keeps for reuse (qmgr(8)), not leftovers.
    tap.eq([n for n in os.listdir(tmp) if not n.startswith("f.")], [],
           "nothing left in the queue's tmp/")
    mail_from(r)
    r.cmd("RCPT TO:<alice@example.test>")
    subj = "after-noqueue-%d" % os.getpid()
    code, lines = send_data(r, subj)
    tap.eq(code, 250, "the same session then queues a message: 250")
    r.cmd("QUIT")
    r.close()
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1, "and it arrives")


def t_still_serving():
    # after all the abuse, the server still works for a fresh session
    subj = "still-%d" % os.getpid()
    code, msg = S.send(subj)
    tap.eq(code, 250, "a fresh session after all the refusals delivers: 250")
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1, "and it arrives")


def bad(r):
    return r.returncode is not None and r.returncode > 0


def out(r):
    return (r.stdout or "") + (r.stderr or "")


def t_cli_errors():
    r = run_cmd([POSTERN, "bogus"])
    tap.ok(bad(r), "postern bogus: non-zero exit", "status %s" % r.returncode)
    tap.ok(re.search(r"bogus|usage", r.stderr, re.I),
           "postern bogus: stderr names the command or prints usage", out(r))
    r = run_cmd([POSTERN])
    tap.ok(bad(r) and r.stderr.strip(), "postern (no command): usage on stderr, non-zero",
           "status %s: %s" % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "user"])
    tap.ok(bad(r) and re.search(r"usage|user", r.stderr, re.I),
           "postern user (no subcommand): usage, non-zero", "status %s: %s"
           % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "user", "add", "-c", S.conf])
    tap.ok(bad(r) and r.stderr.strip(), "postern user add without an address: error",
           "status %s: %s" % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "user", "frob", "-c", S.conf, "x@example.test"])
    tap.ok(bad(r) and re.search(r"frob|usage", r.stderr, re.I),
           "postern user frob: error naming it", "status %s: %s" % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "user", "add", "-c", S.conf, "alice@example.test"],
                input="x\n")
    tap.ok(bad(r) and r.stderr.strip(), "postern user add of an existing user: error",
           "status %s: %s" % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "user", "list", "-c", S.conf])
    tap.ok(r.returncode == 0 and "alice@example.test" in r.stdout
           and "carol@example.org" in r.stdout,
           "postern user list shows the users", out(r))
    r = run_cmd([POSTERN, "config", "-c", S.conf, "nosuchkey"])
    tap.ok(bad(r) and "nosuchkey" in r.stderr,
           "postern config nosuchkey: error naming nosuchkey",
           "status %s: %s" % (r.returncode, out(r)))
    r = run_cmd([POSTERN, "config", "-c", S.conf])
    tap.ok(r.returncode == 0 and re.search(r"^smtpd_timeout = 2s?$", r.stdout, re.M),
           "postern config prints effective settings", out(r)[:2000])
    r = run_cmd([POSTERN, "config", "-n", "-c", S.conf])
    tap.ok(r.returncode == 0 and "smtpd_timeout" in r.stdout
           and "listen_backlog" not in r.stdout,
           "postern config -n prints only the keys set in the file", out(r)[:2000])
    r = run_cmd([POSTERN, "check", "-c", S.conf])
    tap.eq(r.returncode, 0, "postern check on the suite's good config: 0")
    bad_conf = os.path.join(S.tree, "bad.conf")
    with open(bad_conf, "w") as f:
        f.write("# a comment\nhostname = mx.example.test\nnosuch_key = 1\n"
                "message_size_limit = lots\n")
    r = run_cmd([POSTERN, "check", "-c", bad_conf])
    tap.ok(bad(r), "postern check on a bad config: non-zero", "status %s" % r.returncode)
    tap.ok(re.search(r"\b3\b.*nosuch_key|nosuch_key.*\b3\b", out(r)),
           "postern check names the unknown key and its line (3)", out(r))
    tap.ok(re.search(r"\b4\b.*message_size_limit|message_size_limit.*\b4\b", out(r)),
           "postern check names the bad value's key and line (4)", out(r))
    r = run_cmd([POSTERN, "check", "-c", os.path.join(S.tree, "nonexistent.conf")])
    tap.ok(bad(r) and "nonexistent.conf" in out(r),
           "postern check on a missing file names it", out(r))
    r = run_cmd([POSTERN, "run", "-c", bad_conf], timeout=10)
    tap.ok(bad(r) and "nosuch_key" in out(r),
           "postern run refuses to start with a bad config, naming the key", out(r))
    for prog in (SMTPD, QMGR, LOOKUPD, DELIVER):
        name = os.path.basename(prog)
        r = run_cmd([prog, "-Z"], timeout=10, env=clean_env())
        tap.ok(bad(r) and r.stderr.strip(), "%s -Z: non-zero exit with a message" % name,
               "status %s: %s" % (r.returncode, out(r)))
        env = clean_env()
        env["POSTERN_LOG"] = "stderr"   # a daemon logs to syslog by default
        r = run_cmd([prog, "-c", bad_conf], timeout=10, env=env)
        tap.ok(bad(r) and "nosuch_key" in out(r),
               "%s -c bad.conf: refuses, naming the key" % name,
               "status %s: %s" % (r.returncode, out(r)))


for fn in (t_relay, t_unknown_user, t_size_at_mail, t_size_in_data, t_rcpt_limit,
           t_long_line, t_long_text_line, t_bad_sequence, t_unknown_commands,
           t_error_limit, t_idle_timeout, t_log_sanitized, t_no_queue_file, t_still_serving,
           t_cli_errors):
    tap.run(fn, timeout=90)
tap.done()
