#!/usr/bin/env python3
"""
Durability: SIGKILL of the whole suite under load, then a restart on the
same tree. Every message that got a 250 must be delivered (duplicates are
allowed by the contract, losses are not).
"""
import os
import signal
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    QID_RE, descendants, tap, start_suite_or_bail, make_message, poll, alive, subject_of, read_file)

THREADS = 8
PER_THREAD = 400
RUN_FOR = 6.0          # seconds of load at most
KILL_AFTER = 3.0       # seconds into the load
RCPTS = ("alice@example.test", "bob@example.test")
PID = os.getpid()

S = start_suite_or_bail()

lock = threading.Lock()
acked = {}             # subject -> recipient, for every 250
attempted = [0]
errors = []
stop = threading.Event()
killed = threading.Event()


def sender(tid):
    rcpt = RCPTS[tid % len(RCPTS)]
    i = 0
    s = None
    deadline = time.monotonic() + RUN_FOR
    while i < PER_THREAD and time.monotonic() < deadline and not stop.is_set():
        try:
            if s is None:
                s = smtplib.SMTP("127.0.0.1", S.port, local_hostname="load.test",
                                 timeout=10)
                s.ehlo()
            subj = "dur-%d-%d-%d" % (PID, tid, i)
            with lock:
                attempted[0] += 1
            s.sendmail("load@remote.test", [rcpt], make_message(subj, "load\n"))
            with lock:
                acked[subj] = rcpt
            i += 1
        except (smtplib.SMTPException, OSError) as e:
            with lock:
                errors.append("%d: %s" % (tid, e))
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
            s = None
            # after the kill every connection fails: stop this sender
            if killed.is_set() or stop.is_set():
                break
    if s is not None:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def delivered_subjects(cache):
    """subject -> count of delivered copies, scanning only new files."""
    for rcpt in RCPTS:
        for p in S.maildir_messages(rcpt):
            name = os.path.basename(p).split(":")[0]
            if (rcpt, name) in cache:
                continue
            data = read_file(p)
            if data is None:
                continue
            cache[(rcpt, name)] = subject_of(data)
    counts = {}
    for subj in cache.values():
        counts[subj] = counts.get(subj, 0) + 1
    return counts


def t_kill_under_load():
    threads = [threading.Thread(target=sender, args=(t,), daemon=True)
               for t in range(THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    # the kill happens mid-load: wait (bounded) until some mail was accepted
    half = THREADS * PER_THREAD // 2
    poll(lambda: len(acked) >= half or time.monotonic() - t0 >= KILL_AFTER,
         KILL_AFTER + 1)
    pids = S.pids()
    with lock:
        acked_at_kill = len(acked)
        errors_before_kill = len(errors)
    killed.set()
    S.kill9()
    tkill = time.monotonic() - t0
    gone = poll(lambda: not alive(pids), 10)
    tap.ok(gone, "every process of the suite is gone after SIGKILL",
           "alive: %s" % alive(pids))
    for t in threads:
        t.join(RUN_FOR + 15)
    tap.ok(not any(t.is_alive() for t in threads), "all sender threads finished")
    stop.set()
    n_acked = len(acked)
    tap.diag("load: %d threads, %d attempted, %d acknowledged (%d before the "
             "kill at %.1f s), %d client errors"
             % (THREADS, attempted[0], n_acked, acked_at_kill, tkill, len(errors)))
    for e in errors[:5]:
        tap.diag("  client error: %s" % e)
    tap.ok(n_acked > 0, "some messages were acknowledged before the kill",
           "acknowledged %d" % n_acked)
    tap.ok(len(errors) > errors_before_kill,
           "the kill interrupted the load (clients saw errors after it)",
           "no client error after the kill: the kill came after the load ended")
    tap.diag("client errors before the kill: %d" % errors_before_kill)
    cache = {}
    before = delivered_subjects(cache)
    tap.diag("delivered before restart: %d distinct" % len(before))

    S.start()
    tap.ok(True, "the suite restarts on the same tree")
    want = set(acked)

    def all_in():
        got = delivered_subjects(cache)
        return want.issubset(got)
    poll(all_in, 60, interval=0.25)
    got = delivered_subjects(cache)
    lost = sorted(want - set(got))
    dups = sum(c - 1 for s, c in got.items() if s in want and c > 1)
    extra = len([s for s in got if s and s.startswith("dur-") and s not in want])
    tap.diag("after restart: %d acknowledged, %d delivered distinct, %d lost, "
             "%d duplicate copies, %d delivered without a 250 (in flight)"
             % (len(want), len(set(got) & want), len(lost), dups, extra))
    tap.ok(not lost, "every acknowledged message is delivered (%d of %d)"
           % (len(want) - len(lost), len(want)),
           "lost %d, first: %s" % (len(lost), lost[:10]))
    by_rcpt = {}
    for (r, n), subj in cache.items():
        by_rcpt.setdefault(r, set()).add(subj)
    wrong = [s for s in want if s in got and s not in by_rcpt.get(acked[s], ())]
    tap.ok(not wrong, "each message is in its own recipient's Maildir", wrong[:5])
    tap.ok(S.wait_queue_empty(30), "the queue drains after the restart (no stuck file)",
           S.queue_files()[:10])
    tmpq = os.path.join(S.queue_dir, "tmp")
    try:
        # f.<id>: spent files kept for reuse (qfile_free.c), not unfinished.
        left = [n for n in os.listdir(tmpq) if not n.startswith("f.")]
    except OSError:
        left = []
    tap.ok(not left, "the restart removed the crash's unfinished files from tmp/",
           left[:10])


def t_daemon_restart():
    """The master restarts a daemon that dies, and mail flows again."""
    master = S.proc.pid

    def kids(name):
        return [p[0] for p in descendants(master)
                if p[1] == master and name in (p[3], p[4])]
    for name in ("qmgr", "deliver", "lookupd", "smtpd"):
        old = kids(name)
        if not tap.eq(len(old), 1, "one %s under the master" % name):
            continue
        os.kill(old[0], signal.SIGKILL)
        new = poll(lambda: [p for p in kids(name) if p != old[0]], 15)
        tap.ok(new, "the master restarts %s after SIGKILL (new pid %s)" % (name, new))
        subj = "restart-%s-%d" % (name, PID)
        code, _ = S.send(subj)
        tap.eq(code, 250, "mail accepted after %s was killed" % name)
        tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1,
               "and delivered")


def t_retry():
    """A temporary delivery failure defers the message; it is retried with
    back-off (queue_retry_min 1s, max 4s) and delivered once fixed."""
    rcpt = "dave@example.test"
    code, _ = S.send("retry-init-%d" % PID, (rcpt,))
    if not tap.eq(len(S.wait_for_subject(rcpt, "retry-init-%d" % PID)), 1,
                  "first delivery to dave creates his Maildir"):
        return
    tmpdir = os.path.join(S.maildir(rcpt), "tmp")
    os.chmod(tmpdir, 0)
    try:
        subj = "retry-%d" % PID
        code, msg = S.send(subj, (rcpt,))
        tap.eq(code, 250, "message to dave accepted while his Maildir/tmp is unwritable")
        m = QID_RE.search(msg)
        qid = m.group(1).decode() if m else "?"
        deferred = os.path.join(S.queue_dir, "deferred", qid)
        tap.ok(poll(lambda: os.path.exists(deferred), 15),
               "the message is moved to deferred/ after the temporary failure",
               "queue: %s" % S.queue_files())
        defer_text = read_file(os.path.join(S.queue_dir, "defer", qid))
        tap.ok(defer_text, "defer/%s holds the last error text" % qid)
        tap.diag("defer text: %r" % (defer_text or b"")[:200])
        tap.eq(S.messages_with_subject(rcpt, subj), [], "not delivered while failing")
        t_fix = time.monotonic()
    finally:
        os.chmod(tmpdir, 0o700)
    got = S.wait_for_subject(rcpt, subj, timeout=20)
    dt = time.monotonic() - t_fix
    tap.eq(len(got), 1, "delivered exactly once after the failure is fixed (%.1f s)" % dt)
    tap.ok(dt <= 4 + 5, "retried within queue_retry_max (4 s) plus slack", "%.1f s" % dt)
    tap.ok(S.wait_queue_empty(10), "queue empty after the retry", S.queue_files())
    tap.ok(not os.path.exists(os.path.join(S.queue_dir, "defer", qid)),
           "defer/%s is removed once delivered" % qid)


def t_still_works():
    subj = "after-restart-%d" % PID
    code, _ = S.send(subj)
    tap.eq(code, 250, "a new message after the restart: 250")
    tap.eq(len(S.wait_for_subject("alice@example.test", subj)), 1, "and delivered")
    tap.eq(S.stop(), 0, "clean stop after the restart")


tap.run(t_kill_under_load, timeout=150)
tap.run(t_daemon_restart, timeout=120)
tap.run(t_retry, timeout=90)
tap.run(t_still_works, timeout=60)
tap.done()
