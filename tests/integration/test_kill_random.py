#!/usr/bin/env python3
"""
Durability under random kills (issue 12): ROUNDS times, 8 concurrent SMTP
senders load the suite, each message with a unique token as Subject and
Message-ID; at a random instant 50-800 ms into the load the master and
every process of the suite get SIGKILL at once; the suite is restarted on
the same tree and the queue drained. Then, by the contract (DESIGN.md:
250 only once the message is on stable storage, "at worst a message is
delivered twice"):

  - every token that got a 250 is in the recipient's Maildir;
  - tokens delivered without a 250 (accepted, reply lost in the kill) are
    allowed and counted;
  - a token delivered twice is allowed and counted, three times is not;
  - the queue is empty afterwards.

One `ok` per round, then totals. The kill delays come from a seed that is
printed; POSTERN_KILL_SEED=N replays them (the senders' timing is not
replayable, the instants are). POSTERN_KILL_ROUNDS=N changes the count.

The suite runs in a cgroup v2 of its own when one can be made (the kill is
then one write to cgroup.kill, which reaches every process at the same
instant); in any case its process group, its descendants and whatever is
left whose command line names the test's config file are killed, and the
round fails if anything survives.
"""
import atexit
import os
import random
import signal
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the cgroup helper of the benchmarks (stdlib only, shipped with them; no
# __pycache__ in bench/, which is dist)
sys.dont_write_bytecode = True
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bench"))
import postern_test as pt  # noqa: E402
import smtp_measure as sm  # noqa: E402
from postern_test import (  # noqa: E402
    tap, poll, proc_list, read_file, subject_of, make_message)

ROUNDS = int(os.environ.get("POSTERN_KILL_ROUNDS") or 20)
SENDERS = 8
DELAY_MS = (50, 800)          # kill instant, ms after the load started
PER_SENDER = 500              # messages per sender and round, at most
LOAD_MAX = 5.0                # seconds a sender keeps going, at most
DRAIN = 60.0                  # seconds for the restarted suite to deliver
BUDGET = 480.0                # seconds for all the rounds together
RCPTS = ("alice@example.test", "bob@example.test")
PID = os.getpid()
SEED = int(os.environ.get("POSTERN_KILL_SEED") or
           (int(time.time() * 1000) ^ PID) % 1000000007)


# ---------------------------------------------------------------- cgroup

class KillGroup(sm.Group):
    """bench/smtp_measure.py's cgroup v2 of a system under test (pids(),
    kill(), remove()), here postern-test-<pid>-kill-random, used only
    when it has cgroup.kill (Linux 5.14)."""

    def __init__(self):
        super().__init__("kill-random", prefix="postern-test")
        if self.path is not None and \
                not os.path.exists(os.path.join(self.path, "cgroup.kill")):
            os.rmdir(self.path)
            self.path = None
            self.why = "cgroup v2 without cgroup.kill (kernel < 5.14)"

    def remove(self):
        """Kill what is left, remove the cgroup; say so when it could not."""
        complaint = super().remove()
        if complaint:
            sys.stdout.write("# %s\n" % complaint)


class KillSuite(pt.Suite):
    """The harness's suite, started through a two-line wrapper that moves
    itself into the cgroup and execs `postern`, so that every daemon the
    master forks is in it from its first instruction."""

    def __init__(self, group, **kw):
        self.group = group
        super().__init__(**kw)
        self.wrapper = None
        if group.path is not None:
            self.wrapper = os.path.join(self.tree, "postern-in-cgroup")
            with open(self.wrapper, "w") as f:
                f.write('#!/bin/sh\necho $$ > "%s/cgroup.procs" || exit 111\n'
                        'exec "%s" "$@"\n' % (group.path, pt.POSTERN))
            os.chmod(self.wrapper, 0o755)

    def start(self, ready_timeout=30, user=None):
        if self.wrapper is None:
            return super().start(ready_timeout, user)
        real = pt.POSTERN
        pt.POSTERN = self.wrapper       # Suite.start runs POSTERN run -c ...
        try:
            return super().start(ready_timeout, user)
        finally:
            pt.POSTERN = real

    def stragglers(self):
        """Processes of this suite still alive: in its cgroup, in the
        master's process group, or naming its config file."""
        conf = self.conf.encode()
        master = self.proc.pid if self.proc else -1
        out = set(self.group.pids())
        for p in proc_list():
            if p[2] == master:
                out.add(p[0])
                continue
            try:
                with open("/proc/%d/cmdline" % p[0], "rb") as f:
                    if conf in f.read():
                        out.add(p[0])
            except OSError:
                pass
        out.discard(os.getpid())
        return sorted(out)

    def kill_everything(self):
        """SIGKILL to the whole suite; returns the pids still alive after
        10 s of trying (none, normally)."""
        if self.group.path is not None:       # atomic, when there is one
            why = self.group.kill()
            if why:
                tap.diag(why)
        self.kill9()                           # process group + descendants
        left = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = pt.alive(self.stragglers())
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        return left


# ---------------------------------------------------------------- load

class Load:
    """SENDERS threads sending until told to stop; acked maps every token
    that got a 250 to its recipient."""

    def __init__(self, port, rnd, seed):
        self.port, self.rnd = port, rnd
        self.lock = threading.Lock()
        self.acked = {}
        self.attempted = 0
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.sender,
                                         args=(t, random.Random(seed * 31 + t)),
                                         daemon=True)
                        for t in range(SENDERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def sender(self, tid, rng):
        rcpt = RCPTS[tid % len(RCPTS)]
        deadline = time.monotonic() + LOAD_MAX
        i = 0
        while i < PER_SENDER and not self.stop.is_set() \
                and time.monotonic() < deadline:
            # one to four messages per connection, then a new one
            batch = rng.randint(1, 4)
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10,
                                  local_hostname="load.test") as s:
                    s.ehlo()
                    for _ in range(batch):
                        if self.stop.is_set() or i >= PER_SENDER:
                            break
                        token = "kr-%d-%d-%d-%d" % (PID, self.rnd, tid, i)
                        i += 1
                        with self.lock:
                            self.attempted += 1
                        s.sendmail("load@remote.test", [rcpt],
                                   make_message(token, "random kill\n",
                                                to=rcpt))
                        with self.lock:
                            self.acked[token] = rcpt
            except (smtplib.SMTPException, OSError):
                with self.lock:
                    self.errors += 1
                if self.stop.is_set():
                    break
                time.sleep(0.01)

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)


class Mailboxes:
    """token -> number of delivered copies, reading each file once."""

    def __init__(self, suite):
        self.suite = suite
        self.seen = {}                         # (rcpt, name) -> (token, rcpt)

    def counts(self, prefix):
        for rcpt in RCPTS:
            for p in self.suite.maildir_messages(rcpt):
                key = (rcpt, os.path.basename(p).split(":")[0])
                if key in self.seen:
                    continue
                data = read_file(p)
                if data is not None:
                    self.seen[key] = (subject_of(data), rcpt)
        out = {}
        for token, rcpt in self.seen.values():
            if token and token.startswith(prefix):
                c = out.setdefault(token, [0, set()])
                c[0] += 1
                c[1].add(rcpt)
        return out


# ---------------------------------------------------------------- rounds

TOTAL = {"acked": 0, "lost": 0, "unacked": 0, "dups": 0, "over": 0,
         "interrupted": 0, "rounds": 0, "survivors": 0, "attempted": 0}


def one_round(S, boxes, rnd, delay_ms):
    load = Load(S.port, rnd, SEED * 1000 + rnd)
    t0 = time.monotonic()
    load.start()
    time.sleep(max(0.0, t0 + delay_ms / 1000.0 - time.monotonic()))
    with load.lock:
        errors_before = load.errors
    left = S.kill_everything()
    load.stop.set()
    joined = load.join(30)
    with load.lock:
        acked = dict(load.acked)
        attempted, interrupted = load.attempted, load.errors > errors_before
    S.start()
    prefix = "kr-%d-%d-" % (PID, rnd)
    want = set(acked)
    poll(lambda: want.issubset(boxes.counts(prefix)), DRAIN, interval=0.1)
    empty = S.wait_queue_empty(DRAIN)
    got = boxes.counts(prefix)
    lost = sorted(want - set(got))
    unacked = sorted(set(got) - want)
    dups = sorted(t for t, c in got.items() if c[0] == 2)
    over = sorted(t for t, c in got.items() if c[0] > 2)
    wrong = sorted(t for t in want & set(got) if got[t][1] != {acked[t]})
    for k, v in (("acked", len(want)), ("lost", len(lost)),
                 ("unacked", len(unacked)), ("dups", len(dups)),
                 ("over", len(over)), ("interrupted", int(interrupted)),
                 ("survivors", len(left)), ("attempted", attempted)):
        TOTAL[k] += v
    TOTAL["rounds"] += 1
    problems = []
    if left:
        problems.append("alive after SIGKILL: %s" % left)
    if not joined:
        problems.append("sender threads still running 30 s after the kill")
    if lost:
        problems.append("%d acknowledged but not delivered: %s"
                        % (len(lost), lost[:8]))
    if over:
        problems.append("delivered more than twice: %s"
                        % [(t, got[t][0]) for t in over[:8]])
    if wrong:
        problems.append("in another recipient's Maildir: %s" % wrong[:8])
    if not empty:
        problems.append("queue not empty %.0f s after the restart: %s"
                        % (DRAIN, S.queue_files()[:10]))
    tap.ok(not problems,
           "round %d, kill at %d ms: %d sent, %d got 250, %d of them lost; "
           "%d delivered without a 250, %d delivered twice, queue %s"
           % (rnd, delay_ms, attempted, len(want), len(lost), len(unacked),
              len(dups), "empty" if empty else "NOT empty"),
           "\n".join(problems))
    if not interrupted:
        tap.diag("round %d: no client error after the kill (load over?)" % rnd)


def t_rounds():
    group = KillGroup()
    atexit.register(group.remove)     # kills what is left, removes it
    tap.diag("seed %d (replay: POSTERN_KILL_SEED=%d), %d rounds, %d senders, "
             "kill %d-%d ms into the load" % (SEED, SEED, ROUNDS, SENDERS,
                                              DELAY_MS[0], DELAY_MS[1]))
    tap.diag("kill: %s" % ("cgroup.kill of %s, then process group and "
                           "stragglers" % group.path if group.path else
                           "process group, descendants and stragglers naming "
                           "the config file (%s)" % group.why))
    S = KillSuite(group, name="kill-random")
    S.start()
    boxes = Mailboxes(S)
    rng = random.Random(SEED)
    delays = [rng.randint(*DELAY_MS) for _ in range(ROUNDS)]
    t_start = time.monotonic()
    for rnd, delay in enumerate(delays, 1):
        if time.monotonic() - t_start > BUDGET:
            tap.ok(False, "rounds %d-%d run within %d s" % (rnd, ROUNDS, BUDGET))
            break
        one_round(S, boxes, rnd, delay)
    took = time.monotonic() - t_start
    tap.diag("totals over %d rounds in %.1f s: %d sent, %d got 250, %d lost, "
             "%d delivered without a 250, %d delivered twice, %d more than "
             "twice, load interrupted in %d rounds, %d survivors of SIGKILL"
             % (TOTAL["rounds"], took, TOTAL["attempted"], TOTAL["acked"],
                TOTAL["lost"], TOTAL["unacked"], TOTAL["dups"], TOTAL["over"],
                TOTAL["interrupted"], TOTAL["survivors"]))
    tap.ok(TOTAL["rounds"] >= min(ROUNDS, 20),
           "%d rounds of kill and restart" % TOTAL["rounds"])
    tap.ok(TOTAL["lost"] == 0, "no acknowledged message lost in any round "
           "(%d acknowledged)" % TOTAL["acked"])
    tap.ok(TOTAL["over"] == 0, "no message delivered more than twice "
           "(%d twice, %d without a 250)" % (TOTAL["dups"], TOTAL["unacked"]))
    tap.ok(TOTAL["acked"] >= TOTAL["rounds"],
           "the load got messages accepted (%d in %d rounds)"
           % (TOTAL["acked"], TOTAL["rounds"]))
    tap.ok(TOTAL["interrupted"] * 2 >= TOTAL["rounds"],
           "the kills hit the load in flight (%d of %d rounds)"
           % (TOTAL["interrupted"], TOTAL["rounds"]))
    tmpq = os.path.join(S.queue_dir, "tmp")
    # f.<id>: spent files kept for reuse (qfile_free.c), not unfinished.
    left = sorted(n for n in os.listdir(tmpq) if not n.startswith("f.")) \
        if os.path.isdir(tmpq) else []
    tap.ok(not left and not S.queue_files(),
           "queue empty at the end, nothing left in its tmp/",
           "%s %s" % (S.queue_files()[:10], left[:10]))
    tap.eq(S.stop(), 0, "clean stop after the last restart")
    group.remove()


tap.run(t_rounds, timeout=900)
tap.done()
