#!/usr/bin/env python3
"""
Disk full (issue 13), as root: the queue (state_dir) on a small file
system the test mounts (a tmpfs with size=, else a loop-mounted ext4
image), the Maildirs on another one.

- MAIL FROM with SIZE= larger than the queue's free space: 452 4.3.1
  before DATA (RFC 1870 6.1).
- deliver on ENOSPC in a Maildir defers with 4.3.1 (never bounces), the
  message stays in the queue (`postern queue list`: deferred), and no
  partial file is left in tmp/ or new/.
- Several SMTP senders while the queue file system fills: every reply is
  250 (354) or 452 4.3.1 (RFC 5321 4.2.5, RFC 3463 4.3.1), never a 5xx,
  never a hang, never a 250 for something not stored; every 250'd token
  is recorded.
- postern-sendmail on a full queue exits EX_TEMPFAIL (75) and leaves
  nothing behind in maildrop/.
- A queue file system this small (under 256 MiB free) keeps no spent
  queue file for reuse: its space stays free for messages.
- Space comes back: `postern queue flush`, every 250'd message is
  delivered exactly once (no crash here, so no duplicate is allowed),
  no refused one is, and the queue is empty.

imapd's APPEND on a full Maildir file system is tested by test_imap.py
(t_disk_full, a 600 KB tmpfs): not repeated here.
"""
import os
import pwd
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
from smallfs import cleanup_at_exit, free_bytes, mount_and_start  # noqa: E402

if not pt.IS_ROOT:
    tap.skip_all("not running as root (mounting the small file systems needs root)")

QUEUE_FS_KB = 3072      # the queue: about 60 messages of MSG_KB
MAIL_FS_KB = 8192       # the Maildirs: room for all of them once the filler goes
MSG_KB = 48
SENDERS = 4             # odd ones declare SIZE=, even ones do not
PER_SENDER = 60         # messages at most per sender
LOAD_FOR = 30.0         # seconds of load at most
STOP_AFTER_452 = 3      # a sender stops after this many 452s in a row
REPLY_TIMEOUT = 20.0    # a reply slower than this is a hang
ALICE = "alice@example.test"
SENDER = "load@remote.test"
PID = os.getpid()
SENDMAIL = os.path.join(pt.TOP_BUILDDIR, "queue", "postern-sendmail")
EX_TEMPFAIL = 75

def fill(path):
    """Write a file until the file system is full; returns its size."""
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = b"\0" * 65536
        for _ in range(1 << 16):        # bounded: 4 GB at most
            try:
                w = os.write(fd, block)
            except OSError:
                w = 0
            if w <= 0:
                if len(block) == 512:
                    break
                block = block[:len(block) // 2]
                continue
            n += w
        try:
            os.fsync(fd)
        except OSError:
            pass
    finally:
        os.close(fd)
    return n


def token_message(token, kb=MSG_KB):
    """A message of about kb KB whose Subject is token (CRLF, dot-safe)."""
    line = ("%s " % token) * (70 // (len(token) + 1)) or token
    body = "\r\n".join([line] * (kb * 1024 // (len(line) + 2)))
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>"
            "\r\n\r\n%s\r\n" % (SENDER, ALICE, token, token, body))


def delivered_tokens(addr=ALICE):
    """token -> number of copies in addr's Maildir (new/ and cur/)."""
    out = {}
    for p in S.maildir_messages(addr):
        data = pt.read_file(p)
        subj = pt.subject_of(data) if data is not None else None
        if subj:
            out[subj] = out.get(subj, 0) + 1
    return out


def queue_list():
    r = pt.run_cmd([pt.POSTERN, "queue", "list", "-c", S.conf], timeout=30)
    return r.stdout or ""


def queue_count():
    return len([f for f in S.queue_files() if not f.startswith("maildrop/")])


# ---------------------------------------------------------------- setup

try:
    VM = pwd.getpwnam("vmail")
except KeyError as e:
    tap.skip_all("system account missing (%s): run tools/deps.sh" % e)

try:
    S = pt.Suite(extra_conf={"message_size_limit": str(32 * 1024 * 1024)},
                 name="diskfull")
except Exception as e:
    tap.ok(False, "the suite is set up", str(e))
    tap.done()


cleanup_at_exit(S)     # before the harness removes the tree

mount_and_start(S, [(S.state_dir, QUEUE_FS_KB, 0, 0, 0o755),
                    (S.mail_root, MAIL_FS_KB, VM.pw_uid, VM.pw_gid, 0o700)])

MAIL_FILLER = os.path.join(S.mail_root, "filler")
QUEUE_FILLER = os.path.join(S.state_dir, "filler")
lock = threading.Lock()
accepted = []           # tokens that got 250
refused = []            # tokens that got 452 (at MAIL or after DATA)
bad = []                # (token, stage, reply) of anything else
stages = {}             # "MAIL 452" etc. -> count


# ---------------------------------------------------------------- tests

def t_size_param():
    """RFC 1870 6.1: a SIZE= the queue has no room for is 452 4.3.1 at MAIL."""
    c = S.raw()
    try:
        c.greeting()
        code, lines = c.ehlo()
        tap.ok(code == 250 and any("SIZE" in ln for ln in lines), "EHLO offers SIZE",
               lines)
        big = free_bytes(S.queue_dir) + 1024 * 1024
        code, lines = c.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, big))
        tap.ok(code == 452 and pt.enhanced(lines) == "4.3.1",
               "MAIL FROM with SIZE=%d (> free space): 452 4.3.1" % big, lines)
        code, lines = c.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, 64 * 1024 * 1024))
        tap.ok(code == 552 and pt.enhanced(lines) == "5.3.4",
               "SIZE over message_size_limit is still 552 5.3.4", lines)
        code, lines = c.cmd("MAIL FROM:<%s> SIZE=1000" % SENDER)
        tap.ok(code == 250, "MAIL FROM with a SIZE that fits: 250", lines)
        c.cmd("QUIT")
    finally:
        c.close()


def t_deliver_enospc():
    """A full Maildir file system: deliver defers with 4.3.1, never bounces."""
    code, msg = S.send("df-before-%d" % PID)
    tap.eq(code, 250, "a first message is accepted")
    tap.ok(S.wait_for_subject(ALICE, "df-before-%d" % PID),
           "and delivered while there is space (the Maildir exists)")
    tap.ok(S.wait_queue_empty(10), "the queue is empty")
    kept = [n for n in os.listdir(os.path.join(S.queue_dir, "tmp"))
            if n.startswith("f.")]
    tap.eq(kept, [], "a queue file system with under 256 MiB free keeps no "
           "spent queue file for reuse (qmgr(8))")
    n = fill(MAIL_FILLER)
    tap.ok(n > 0 and free_bytes(S.mail_root) < 4096,
           "the Maildir file system is full (filler of %d bytes)" % n,
           "free: %d" % free_bytes(S.mail_root))
    before = set(S.maildir_messages(ALICE))
    token = "df-m0-%d" % PID
    code, msg = S.send(token, body=("x" * 70 + "\n") * 300)
    tap.ok(code == 250, "a message for the full Maildir is accepted (the queue has room)",
           "%s %r" % (code, msg))
    m = pt.QID_RE.search(msg or b"")
    qid = m.group(1).decode() if m else "?"
    if code == 250:
        accepted.append(token)
    got = pt.poll(lambda: (lambda t: t if qid in t and "4.3.1" in
                           t.split(qid, 1)[1].split("\n\n")[0] else None)(queue_list()), 20)
    tap.ok(got and "deferred" in got.split(qid, 1)[1].split("\n")[0],
           "postern queue list shows it deferred with 4.3.1", got or queue_list())
    tap.ok(re.search(r"%s: to=<%s>, relay=local, .*status=deferred \(4\.3\.1 "
                     % (re.escape(qid), re.escape(ALICE)), S.log_text()),
           "the log has the deferral with 4.3.1")
    tap.ok(pt.poll(lambda: "attempt 2" in S.log_text().split(qid, 1)[-1], 15),
           "it is retried (and defers again)")
    tap.ok("%s: sender non-delivery notification" % qid not in S.log_text() and
           "status=bounced" not in S.log_text() and "MAILER-DAEMON" not in queue_list(),
           "no bounce, no non-delivery notification")
    tap.eq(set(S.maildir_messages(ALICE)), before, "nothing new in new/ or cur/")
    tmp = os.listdir(os.path.join(S.maildir(ALICE), "tmp"))
    tap.eq(tmp, [], "no partial file left in the Maildir's tmp/")


def sender_thread(tid, deadline):
    declare = tid % 2 == 1
    c = None
    in_a_row = 0
    try:
        c = S.raw(timeout=REPLY_TIMEOUT)
        c.greeting()
        c.ehlo("load%d.test" % tid)
        for i in range(PER_SENDER):
            if time.monotonic() > deadline or in_a_row >= STOP_AFTER_452:
                break
            token = "df-load-%d-%d-%d" % (PID, tid, i)
            data = token_message(token)
            size = " SIZE=%d" % len(data) if declare else ""
            outcome = one_transaction(c, token, data, size)
            in_a_row = in_a_row + 1 if outcome == 452 else 0
            if outcome is None:
                break
        c.cmd("QUIT")
    except (OSError, socket.timeout) as e:
        with lock:
            bad.append(("sender %d" % tid, "connection", repr(e)))
    finally:
        if c is not None:
            c.close()


def note(stage, code, lines):
    key = "%s %s %s" % (stage, code, pt.enhanced(lines))
    with lock:
        stages[key] = stages.get(key, 0) + 1


def one_transaction(c, token, data, size):
    """One MAIL/RCPT/DATA; 250, 452, or None after a bad reply."""
    code, lines = c.cmd("MAIL FROM:<%s>%s" % (SENDER, size))
    note("MAIL", code, lines)
    if code == 452 and pt.enhanced(lines) == "4.3.1":
        with lock:
            refused.append(token)
        return 452
    if code != 250:
        with lock:
            bad.append((token, "MAIL", lines))
        return None
    code, lines = c.cmd("RCPT TO:<%s>" % ALICE)
    if code != 250:
        with lock:
            bad.append((token, "RCPT", lines))
        return None
    code, lines = c.cmd("DATA")
    if code != 354:
        with lock:
            bad.append((token, "DATA", lines))
        return None
    c.send(data.encode() + b".\r\n")
    code, lines = c.reply()
    note("end of DATA", code, lines)
    with lock:
        if code == 250:
            accepted.append(token)
            return 250
        if code == 452 and pt.enhanced(lines) == "4.3.1":
            refused.append(token)
            c.cmd("RSET")
            return 452
        bad.append((token, "end of DATA", lines))
        refused.append(token)   # not a 250: must never be delivered
    return None


def t_load():
    """Senders while the queue file system fills (the Maildirs stay full,
    so nothing leaves the queue)."""
    n0 = len(accepted)
    deadline = time.monotonic() + LOAD_FOR
    threads = [threading.Thread(target=sender_thread, args=(t, deadline), daemon=True)
               for t in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LOAD_FOR + 3 * REPLY_TIMEOUT)
    tap.ok(not any(t.is_alive() for t in threads), "every sender finished (no hang)")
    tap.diag("replies: %s" % ", ".join("%s: %d" % kv for kv in sorted(stages.items())))
    tap.diag("accepted %d, refused %d under load" % (len(accepted) - n0, len(refused)))
    tap.eq(bad, [], "every reply was 250, 354 or 452 4.3.1 (no 5xx, no other 4xx, "
           "no timeout)")
    tap.ok(len(accepted) - n0 >= 10, "the queue took messages before it filled (%d)"
           % (len(accepted) - n0))
    tap.ok(stages.get("end of DATA 452 4.3.1", 0) > 0,
           "a message that did not fit got 452 4.3.1 after DATA")
    tap.ok(free_bytes(S.queue_dir) < (MSG_KB + 8) * 1024,
           "the queue file system is (nearly) full", "free: %d" % free_bytes(S.queue_dir))
    left = os.listdir(os.path.join(S.queue_dir, "tmp"))
    tap.eq(left, [], "no partial queue file left in tmp/")
    # Every 250 is a file in the queue (nothing could be delivered).
    tap.ok(pt.poll(lambda: queue_count() == len(accepted), 5),
           "the queue holds exactly one file per 250 (%d)" % len(accepted),
           "%d files" % queue_count())


def sendmail(token, kb):
    text = token_message(token, kb).replace("\r\n", "\n")
    return pt.run_cmd([SENDMAIL, "-C", S.conf, "-f", SENDER, ALICE], input=text,
                      timeout=30)


def maildrop_files():
    return os.listdir(os.path.join(S.queue_dir, "maildrop"))


def smtp_one(token, size=None, kb=4):
    """One transaction on a fresh connection: (stage, code, lines)."""
    c = S.raw(timeout=REPLY_TIMEOUT)
    try:
        c.greeting()
        c.ehlo()
        code, lines = c.cmd("MAIL FROM:<%s>%s" % (SENDER, " SIZE=%d" % size if size else ""))
        if code != 250:
            return "MAIL", code, lines
        c.cmd("RCPT TO:<%s>" % ALICE)
        c.cmd("DATA")
        c.send(token_message(token, kb).encode() + b".\r\n")
        code, lines = c.reply()
        c.cmd("QUIT")
        return "end of DATA", code, lines
    finally:
        c.close()


def t_queue_full():
    """A full queue: SMTP 452 4.3.1 (at MAIL with SIZE=, else after DATA),
    postern-sendmail EX_TEMPFAIL with nothing left behind; a maildrop file
    that pickup cannot queue waits in maildrop/ and is queued once there is
    room, without another wake-up."""
    n = fill(QUEUE_FILLER)
    tap.ok(free_bytes(S.queue_dir) < 4096, "the queue file system is full "
           "(filler of %d bytes)" % n, "free: %d" % free_bytes(S.queue_dir))
    before = queue_count()
    stage, code, lines = smtp_one("df-smtp-size-%d" % PID, size=10000)
    refused.append("df-smtp-size-%d" % PID)
    tap.ok(stage == "MAIL" and code == 452 and pt.enhanced(lines) == "4.3.1",
           "SMTP on the full queue, MAIL with SIZE=10000: 452 4.3.1", (stage, lines))
    stage, code, lines = smtp_one("df-smtp-full-%d" % PID)
    refused.append("df-smtp-full-%d" % PID)
    tap.ok(stage == "end of DATA" and code == 452 and pt.enhanced(lines) == "4.3.1",
           "SMTP on the full queue without SIZE=: 452 4.3.1 after DATA", (stage, lines))
    tok = "df-bdat-full-%d" % PID
    refused.append(tok)
    c = S.raw(timeout=REPLY_TIMEOUT)
    try:
        c.greeting()
        c.ehlo()
        c.cmd("MAIL FROM:<%s>" % SENDER)
        c.cmd("RCPT TO:<%s>" % ALICE)
        data = token_message(tok, 8).encode()
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        code, lines = c.reply()
        tap.ok(code == 452 and pt.enhanced(lines) == "4.3.1",
               "SMTP on the full queue with BDAT (RFC 3030): 452 4.3.1", lines)
        code, lines = c.cmd("NOOP")
        tap.eq(code, 250, "and the session goes on")
        c.cmd("QUIT")
    finally:
        c.close()
    token = "df-sendmail-full-%d" % PID
    r = sendmail(token, 16)
    refused.append(token)
    tap.ok(r.returncode == EX_TEMPFAIL, "postern-sendmail on the full queue exits 75 "
           "(EX_TEMPFAIL)", "%s %s" % (r.returncode, r.stderr))
    tap.ok(r.stderr.strip() != "", "and says why", r.stderr)
    tap.eq(maildrop_files(), [], "nothing is left in maildrop/")
    tap.ok(pt.poll(lambda: queue_count() == before, 5), "the queue is unchanged")
    # Room for the maildrop file (5 pages) but not for the queue file too.
    os.truncate(QUEUE_FILLER, max(0, n - 32 * 1024))
    token = "df-pickup-%d" % PID
    r = sendmail(token, 16)
    tap.ok(r.returncode == 0, "with 32 KB free postern-sendmail exits 0 (in maildrop/)",
           "%s %s" % (r.returncode, r.stderr))
    if r.returncode == 0:
        accepted.append(token)
    tap.ok(S.wait_log("kept in maildrop/", 10),
           "pickup cannot queue it and keeps the maildrop file")
    tap.eq(len(maildrop_files()), 1, "it waits in maildrop/")
    os.unlink(QUEUE_FILLER)
    tap.ok(pt.poll(lambda: not maildrop_files() and queue_count() == before + 1, 20),
           "with room again pickup queues it by itself (within its retry time)",
           "maildrop: %s, queue %d" % (maildrop_files(), queue_count()))


def t_space_back():
    """The Maildirs get room: flush, and every 250 is delivered once."""
    os.unlink(MAIL_FILLER)
    r = pt.run_cmd([pt.POSTERN, "queue", "flush", "-c", S.conf], timeout=30)
    tap.ok(r.returncode == 0, "postern queue flush", "%s %s" % (r.returncode, r.stderr))
    want = set(accepted)
    got = pt.poll(lambda: (lambda d: d if want <= set(d) else None)(
        delivered_tokens()), 45) or delivered_tokens()
    missing = sorted(want - set(got))
    tap.eq(missing, [], "every one of the %d 250'd messages is delivered" % len(want))
    dups = sorted(t for t in want if got.get(t, 0) > 1)
    tap.eq(dups, [], "each exactly once (no crash, so no duplicate)")
    ghosts = sorted(t for t in refused if t in got)
    tap.eq(ghosts, [], "none of the %d refused messages is delivered" % len(refused))
    tap.ok(S.wait_queue_empty(20), "the queue is empty", S.queue_files()[:10])
    tap.eq(os.listdir(os.path.join(S.maildir(ALICE), "tmp")), [],
           "the Maildir's tmp/ is empty")
    tap.ok("sender non-delivery notification" not in S.log_text(),
           "no non-delivery notification was ever made")
    token = "df-sendmail-%d" % PID
    r = sendmail(token, 16)
    tap.ok(r.returncode == 0, "with room again postern-sendmail exits 0",
           "%s %s" % (r.returncode, r.stderr))
    tap.ok(S.wait_for_subject(ALICE, token, 1, 20), "and its message is delivered")


tap.run(t_size_param, timeout=30)
tap.run(t_deliver_enospc, timeout=90)
tap.run(t_queue_full, timeout=90)
tap.run(t_load, timeout=150)
tap.run(t_space_back, timeout=120)
S.stop()
tap.done()
