#!/usr/bin/env python3
"""
test_qmgr_keep: qmgr's kept connections to deliver and the queue ids on
its FIFO (issue 12; queue/qmgr_agent.c, queue/qmgr.c), through the real
master.

Kept connection: after a delivery, the deliver worker that made it
(P<pid> in the Maildir file name) still holds qmgr's connection. With
that worker stopped (SIGSTOP), the next message goes to it and waits
(it would be delivered at once on a new connection, by an idle worker);
killed (SIGKILL) before it answered, qmgr sends the request again on a
new connection: the message arrives once, and nothing is deferred.
max_use counts requests, not connections (test_reuse.py checks the
files per worker).

FIFO: qfile_commit writes the queue id to private/qmgr. A message whose
line the test takes out of the FIFO (qmgr stopped meanwhile) is still
delivered when any other line arrives ("x": qmgr scans incoming/), and
when its own id arrives (no scan needed), within queue_collect_delay
(8 ms here; test_qmgr_collect.py checks the delay).

Parking: with deliver_concurrency 1, a burst of 40 messages is read
once each ("queue active" logged once per queue id): the jobs that find
no slot wait in memory, and the rest stay untaken until one is free.

Moved at once: new mail named on the FIFO goes into active/ as soon as
qmgr reads its name, before it has a slot, so that incoming/ (which
every commit fsyncs) stays small: with deliver_concurrency and
smtp_concurrency 1 (two job slots, two parking places) and every
deliver process stopped, 20 messages named on the FIFO are all in
active/ when qmgr starts its first job, and each is delivered once
when deliver goes on.
"""

import collections
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

ALICE = "alice@example.test"
MAILDIR_RE = re.compile(r"\.M\d+P(\d+)Q\d+\.")
QID_RE = re.compile(r"queued as ([0-9A-Z]+)")

S = pt.start_suite_or_bail(extra_conf={"max_use": "100"})


def procs(name):
    return [p[0] for p in pt.descendants(S.proc.pid) if p[3] == name or p[4] == name]


def send(subject):
    code, msg = S.send(subject)
    m = QID_RE.search(msg.decode("ascii", "replace"))
    return code, m.group(1) if m else None


def worker_of(subject):
    """The pid of the deliver worker that wrote the message (P<pid>)."""
    for p in S.messages_with_subject(ALICE, subject):
        m = MAILDIR_RE.search(os.path.basename(p))
        if m:
            return int(m.group(1))
    return None


def deferred_lines(qid):
    return [ln for ln in S.log_text().splitlines()
            if qid is not None and qid in ln and "status=deferred" in ln]


def t_kept_connection():
    code, _ = send("keep-1")
    tap.eq(code, 250, "first message accepted")
    tap.ok(S.wait_for_subject(ALICE, "keep-1"), "first message delivered")
    w = worker_of("keep-1")
    tap.ok(w is not None and w in procs("deliver"),
           "the deliver worker that delivered it is alive (pid %s)" % w)
    if w is None:
        return
    os.kill(w, signal.SIGSTOP)
    try:
        code, qid = send("keep-2")
        tap.eq(code, 250, "second message accepted with that worker stopped")
        early = S.wait_for_subject(ALICE, "keep-2", timeout=1.5)
        tap.ok(not early, "it waits: qmgr sent it on the connection it kept "
               "to the stopped worker (a new connection would reach an idle one)")
    finally:
        os.kill(w, signal.SIGKILL)
    got = S.wait_for_subject(ALICE, "keep-2", timeout=10)
    tap.eq(len(got), 1, "killed before it answered, the request went again on "
           "a new connection: delivered once")
    tap.ok(worker_of("keep-2") not in (None, w), "by another worker")
    tap.eq(deferred_lines(qid), [], "nothing deferred for %s" % qid)
    tap.ok(S.wait_queue_empty(10), "the queue is empty")


def fifo_take():
    """Read what waits in qmgr's FIFO (qmgr is stopped). smtpd writes its
    line just after the 250: wait up to 5 s for one."""
    fd = os.open(os.path.join(S.queue_dir, "private", "qmgr"),
                 os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    deadline = time.monotonic() + 5
    try:
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
    finally:
        os.close(fd)
    return data


def fifo_put(data):
    fd = os.open(os.path.join(S.queue_dir, "private", "qmgr"),
                 os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def t_fifo(subject, line):
    q = procs("qmgr")
    tap.eq(len(q), 1, "one qmgr")
    if len(q) != 1:
        return
    os.kill(q[0], signal.SIGSTOP)
    try:
        code, qid = send(subject)
        tap.eq(code, 250, "%s accepted with qmgr stopped" % subject)
        taken = fifo_take()
        tap.eq(taken, ("%s\n" % qid).encode(), "the FIFO held its queue id, "
               "one line (taken away now)")
        tap.ok(os.path.exists(os.path.join(S.queue_dir, "incoming", qid or "-")),
               "the message waits in incoming/")
        fifo_put(line(qid).encode())
    finally:
        os.kill(q[0], signal.SIGCONT)
    t0 = time.monotonic()
    got = S.wait_for_subject(ALICE, subject, timeout=5)
    tap.eq(len(got), 1, "delivered once, %.1f s after %r reached the FIFO "
           "(the rescan timer is 30 s)" % (time.monotonic() - t0, line(qid)))


def t_burst_read_once():
    """deliver_concurrency 1 and 40 messages at once: the jobs that find
    no deliver slot wait in memory (parked, at most 2) or stay in the new
    list; none is read twice (one "queue active" line each)."""
    S.stop()
    b = pt.Suite(extra_conf={"deliver_concurrency": "1"}, name="burst")
    b.start()
    q = [p[0] for p in pt.descendants(b.proc.pid) if "qmgr" in (p[3], p[4])]
    try:
        n = 40
        # qmgr stopped while they arrive: it finds all 40 at once
        os.kill(q[0], signal.SIGSTOP)
        try:
            b.send_many("burst", n, ALICE)
        finally:
            os.kill(q[0], signal.SIGCONT)
        got = b.wait_for_messages(ALICE, n, timeout=60)
        tap.eq(len(got), n, "all %d messages delivered" % n)
        log = b.log_text()
        qids = set(re.findall(r"qmgr\[\d+\]: ([0-9A-Z]+): from=<", log))
        active = collections.Counter(re.findall(
            r"qmgr\[\d+\]: ([0-9A-Z]+): from=<[^>]*>, size=\d+, nrcpt=\d+ "
            r"\(queue active\)", log))
        tap.eq(len(qids), n, "qmgr took %d messages" % n)
        twice = {q: c for q, c in active.items() if c != 1}
        tap.eq(twice, {}, "each was read (taken into active/) once")
        tap.ok(b.wait_queue_empty(10), "the queue is empty")
    finally:
        b.stop()


def t_moved_to_active():
    """qmgr stopped while 20 messages arrive, then every deliver process
    stopped and qmgr let go on: it reads the 20 names from the FIFO at
    once, and by the time it starts the first job (its "queue active"
    log line) all of them have left incoming/ for active/."""
    S.stop()
    m = pt.Suite(extra_conf={"deliver_concurrency": "1",
                             "smtp_concurrency": "1"}, name="moved")
    m.start()
    kids = pt.descendants(m.proc.pid)
    dl = [p[0] for p in kids if "deliver" in (p[3], p[4])]
    q = [p[0] for p in kids if "qmgr" in (p[3], p[4])]
    tap.ok(len(dl) >= 1 and len(q) == 1, "deliver (%d processes) and one qmgr"
           % len(dl))
    if not dl or len(q) != 1:
        m.stop()
        return
    inc = os.path.join(m.queue_dir, "incoming")
    act = os.path.join(m.queue_dir, "active")
    n = 20
    try:
        for pid in dl + q:
            os.kill(pid, signal.SIGSTOP)
        try:
            m.send_many("moved", n, ALICE)
            tap.eq(len(os.listdir(inc)), n, "all %d wait in incoming/ while "
                   "qmgr is stopped" % n)
            os.kill(q[0], signal.SIGCONT)
            first = pt.poll(lambda: "(queue active)" in m.log_text(), 10)
            tap.ok(first, "qmgr started the first job")
            tap.eq(os.listdir(inc), [], "by then incoming/ was empty")
            tap.eq(len(os.listdir(act)), n, "all %d in active/, with two job "
                   "slots and deliver stopped" % n)
            tap.eq(m.maildir_messages(ALICE), [],
                   "none delivered while deliver is stopped")
        finally:
            for pid in q + dl:
                os.kill(pid, signal.SIGCONT)
        m.wait_for_messages(ALICE, n, timeout=60)
        time.sleep(0.5)
        subjects = collections.Counter(
            pt.subject_of(pt.read_file(p)) for p in m.maildir_messages(ALICE))
        tap.eq(subjects, collections.Counter("moved-%d" % i for i in range(n)),
               "all %d delivered, once each, when deliver goes on" % n)
        tap.ok(m.wait_queue_empty(10), "the queue is empty")
    finally:
        m.stop()


for fn, args in ((t_kept_connection, ()),
                 (t_fifo, ("fifo-other", lambda qid: "x\n")),
                 (t_fifo, ("fifo-own", lambda qid: "%s\n" % qid)),
                 (t_burst_read_once, ()),
                 (t_moved_to_active, ())):
    tap.run(lambda: fn(*args), timeout=120, name=fn.__name__)
tap.done()
