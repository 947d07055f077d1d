#!/usr/bin/env python3
"""
test_qmgr_collect: qmgr gathers new mail for queue_collect_delay before it
hands it out (issue 12; queue/qmgr.c, qmgr(8), postern.conf(5)), through
the real master.

With queue_collect_delay = 2s, a few messages accepted within a fraction
of a second wait in incoming/: none is in the Maildir one second after
the first 250, and every one is delivered, none of them before the two
seconds are up (Maildir file times). A message accepted once the queue
is quiet again starts a gathering of its own. Retries of deferred mail
are not gathered (a deferred message comes back within its retry time,
checked in test_delivery.py and test_dsn.py with the default).

`postern check` takes 8ms, 250 and 1s, and refuses 11s (more than 10
seconds) and 5x with one line naming the key; `postern config` shows
the default, 8ms.

The timing checks hold on a slow machine too: qmgr cannot deliver
earlier than the delay, and the waits for delivery are long.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

ALICE = "alice@example.test"
DELAY = 2.0
SLACK = 0.1	# file times come from the kernel's coarse clock

S = pt.start_suite_or_bail(extra_conf={"queue_collect_delay": "2s"})


def mtimes(paths):
    out = []
    for p in paths:
        try:
            out.append(os.stat(p).st_mtime)
        except FileNotFoundError:
            pass	# moved to cur/ meanwhile: not by anyone here
    return out


def t_gathered():
    before = len(S.maildir_messages(ALICE))
    n = 4
    first = None
    for i in range(n):
        code, msg = S.send("collect-%d" % i)
        tap.eq(code, 250, "message %d accepted" % i)
        if first is None:
            first = time.time()
    early = time.time()
    time.sleep(max(0.0, first + 1.0 - early))
    got = [p for i in range(n)
           for p in S.messages_with_subject(ALICE, "collect-%d" % i)]
    tap.eq(len(got), 0, "none delivered one second after the first 250 "
           "(sent within %.2f s)" % (early - first))
    for i in range(n):
        tap.ok(S.wait_for_subject(ALICE, "collect-%d" % i, timeout=30),
               "message %d delivered" % i)
    times = mtimes([p for i in range(n)
                    for p in S.messages_with_subject(ALICE, "collect-%d" % i)])
    tap.eq(len(times), n, "%d Maildir files" % n)
    if times:
        tap.ok(min(times) >= first + DELAY - SLACK,
               "none written before the delay was up (first %.3f s after "
               "the first 250)" % (min(times) - first))
    tap.eq(len(S.maildir_messages(ALICE)), before + n, "nothing else arrived")


def t_new_gathering():
    tap.ok(S.wait_queue_empty(20), "the queue is empty")
    time.sleep(0.5)
    code, _ = S.send("collect-later")
    t = time.time()
    tap.eq(code, 250, "a later message accepted")
    got = S.wait_for_subject(ALICE, "collect-later", timeout=30)
    tap.ok(got, "it is delivered")
    times = mtimes(got)
    if times:
        tap.ok(min(times) >= t + DELAY - SLACK - 0.05,
               "not before its own delay was up (%.3f s after its 250)"
               % (min(times) - t))


def check_value(value):
    conf = os.path.join(S.etc, "collect-%s.conf" % value)
    S.settings["queue_collect_delay"] = value
    try:
        S.write_conf(conf)
    finally:
        S.settings["queue_collect_delay"] = "2s"
    return pt.run_cmd([pt.POSTERN, "check", "-c", conf])


def t_config():
    for v in ("8ms", "250", "1s", "0"):
        r = check_value(v)
        tap.ok(r.returncode == 0, "postern check takes queue_collect_delay = %s"
               % v, r.stdout + r.stderr)
    for v in ("11s", "5x", "ms", "-1"):
        r = check_value(v)
        out = r.stdout + r.stderr
        tap.ok(r.returncode != 0 and "queue_collect_delay" in out,
               "postern check refuses queue_collect_delay = %s" % v, out)
    conf = os.path.join(S.etc, "collect-default.conf")
    saved = S.settings.pop("queue_collect_delay")
    try:
        S.write_conf(conf)
    finally:
        S.settings["queue_collect_delay"] = saved
    r = pt.run_cmd([pt.POSTERN, "config", "-c", conf])
    tap.ok(r.returncode == 0 and any(
        ln.split() == ["queue_collect_delay", "=", "8ms"]
        for ln in r.stdout.splitlines()),
        "postern config shows the default, 8ms", r.stdout + r.stderr)


for fn in (t_gathered, t_new_gathering, t_config):
    tap.run(fn, timeout=120, name=fn.__name__)
S.stop()
tap.done()
