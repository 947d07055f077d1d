#!/usr/bin/env python3
"""
test_cli: one command-line grammar for every command (issue 8). Each verb
of `postern` (run, start, stop, reload, status, check, config, user add|
passwd|del|list, queue list|show|flush|delete|hold|release, demo, help),
postern-sendmail, mailq and newaliases is run with its options before and
after the verb and its operands, and must do the same thing; `postern
help` and `postern VERB --help` list the verbs and options; a wrong
argument gets a one-line error and exit status 2 (64 for the sendmail
names).
"""

import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import POSTERN, run_cmd, tap  # noqa: E402

SENDMAIL = os.path.join(pt.TOP_BUILDDIR, "queue", "postern-sendmail")
VERBS = ("run", "start", "stop", "reload", "status", "check", "config", "user",
         "queue", "demo", "help")


def pn(*args, **kw):
    return run_cmd([POSTERN] + list(args), env=pt.clean_env(), **kw)


def both(desc, before, after, check, **kw):
    """Run `postern BEFORE...` and `postern AFTER...`; check(r) must hold
    for both and they must end alike."""
    r1, r2 = pn(*before, **kw), pn(*after, **kw)
    for argv, r in ((before, r1), (after, r2)):
        tap.ok(check(r), "%s: postern %s" % (desc, " ".join(argv)),
               "status %s\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout[-800:],
                                                     r.stderr[-800:]))
    tap.ok(r1.returncode == r2.returncode, "%s: the same exit status in both orders"
           % desc, "%s vs %s" % (r1.returncode, r2.returncode))
    return r1, r2


def one_line_error(r, status=2):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode == status and len(lines) == 1 and not r.stdout


def t_help():
    r = pn("help")
    tap.ok(r.returncode == 0 and all(re.search(r"^  postern %s\b" % v, r.stdout, re.M)
                                     for v in VERBS),
           "postern help lists every verb on stdout, exit 0", r.stdout + r.stderr)
    tap.ok(all(o in r.stdout for o in ("-c FILE", "-n", "-f", "--help")),
           "postern help lists the options", r.stdout)
    for argv in (["-h"], ["--help"]):
        r2 = pn(*argv)
        tap.ok(r2.returncode == 0 and r2.stdout == r.stdout,
               "postern %s prints the same list" % argv[0], r2.stdout + r2.stderr)
    subs = {"user": ("add", "passwd", "del", "list"),
            "queue": ("list", "show", "flush", "delete", "hold", "release")}
    for v in VERBS:
        r1, r2 = pn(v, "--help"), pn("help", v)
        want = ["postern %s %s" % (v, s) for s in subs.get(v, ())] or ["postern " + v]
        takes_c = v not in ("demo", "help")
        tap.ok(r1.returncode == 0 and all(w in r1.stdout for w in want)
               and r1.stdout == r2.stdout and (not takes_c or "[-c FILE]" in r1.stdout),
               "postern %s --help and postern help %s list its usage" % (v, v),
               r1.stdout + r1.stderr)
    r = pn("user", "add", "-h")
    tap.ok(r.returncode == 0 and "postern user add" in r.stdout,
           "postern user add -h: the user commands", r.stdout + r.stderr)


def t_errors():
    cases = [
        ([], "no command"),
        (["bogus"], "an unknown command"),
        (["-Z", "status"], "an unknown option before the verb"),
        (["status", "-Z"], "an unknown option after the verb"),
        (["--frob", "check"], "an unknown long option"),
        (["check", "-c"], "-c without its file"),
        (["run", "-n", "-c", S.conf], "an option the verb does not take (run -n)"),
        (["user"], "user without a subcommand"),
        (["user", "frob", "x@example.test"], "an unknown user subcommand"),
        (["user", "add", "-c", S.conf], "user add without the address"),
        (["user", "del", "a@example.test", "b@example.test", "-c", S.conf],
         "user del with two addresses"),
        (["user", "list", "-f", "-c", S.conf], "user list -f"),
        (["queue", "-c", S.conf], "queue without a subcommand"),
        (["queue", "show", "-c", S.conf], "queue show without the id"),
        (["queue", "list", "extra", "-c", S.conf], "queue list with an operand"),
        (["status", "extra", "-c", S.conf], "status with an operand"),
        (["demo", "a", "b"], "demo with two directories"),
        (["demo", "-c", S.conf], "demo -c"),
        (["help", "bogus"], "help on an unknown command"),
    ]
    for argv, what in cases:
        r = pn(*argv)
        tap.ok(one_line_error(r), "%s: one line on stderr, exit 2 (postern %s)"
               % (what, " ".join(argv)),
               "status %s\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr))


def t_check_config():
    C = S.conf
    both("check", ["-c", C, "check"], ["check", "-c", C], lambda r: r.returncode == 0)
    r1, r2 = both("config KEY", ["-c", C, "config", "hostname"],
                  ["config", "hostname", "-c", C],
                  lambda r: r.returncode == 0 and r.stdout == "hostname = %s\n" % pt.HOSTNAME)
    r1, r2 = both("config -n", ["-n", "-c", C, "config"], ["config", "-c", C, "-n"],
                  lambda r: r.returncode == 0 and "smtp_listen" in r.stdout
                  and "listen_backlog" not in r.stdout)
    tap.eq(r1.stdout, r2.stdout, "config -n: the same output in both orders")
    both("config, clustered and attached", ["-nc" + C, "config", "state_dir"],
         ["config", "state_dir", "-nc", C],
         lambda r: r.returncode == 0 and r.stdout.startswith("state_dir = "))
    both("config after --", ["-c", C, "config", "--", "hostname"],
         ["config", "-c", C, "--", "hostname"], lambda r: r.returncode == 0)


def t_user():
    C = S.conf
    pw = "Cli-pass-1\n"
    both("user add", ["-c", C, "user", "add", "cli1@example.test"],
         ["user", "add", "cli2@example.test", "-c", C], lambda r: r.returncode == 0,
         input=pw)
    r = pn("user", "-c", C, "add", "cli3@example.test", input=pw)
    tap.eq(r.returncode, 0, "user -c FILE add ADDRESS (the option between the words)")
    both("user add -f", ["-f", "-c", C, "user", "add", "x1@other.test"],
         ["user", "add", "x2@other.test", "-c", C, "-f"], lambda r: r.returncode == 0,
         input=pw)
    both("user passwd", ["-c", C, "user", "passwd", "cli1@example.test"],
         ["user", "passwd", "cli2@example.test", "-c", C], lambda r: r.returncode == 0,
         input="Cli-pass-2\n")
    r1, r2 = both("user list", ["-c", C, "user", "list"], ["user", "list", "-c", C],
                  lambda r: r.returncode == 0 and all(
                      a in r.stdout for a in ("cli1@example.test", "cli2@example.test",
                                              "cli3@example.test", "x1@other.test",
                                              "x2@other.test")))
    tap.eq(r1.stdout, r2.stdout, "user list: the same output in both orders")
    both("user del", ["-c", C, "user", "del", "cli1@example.test"],
         ["user", "del", "cli2@example.test", "-c", C], lambda r: r.returncode == 0)
    r = pn("user", "list", "-c", C)
    tap.ok("cli1@example.test" not in r.stdout and "cli2@example.test" not in r.stdout
           and "cli3@example.test" in r.stdout, "user del removed both", r.stdout)


greets = pt.greets


def t_run_status_reload_stop():
    C = S.conf
    both("status, master down", ["-c", C, "status"], ["status", "-c", C],
         lambda r: r.returncode == 1 and "not running" in r.stdout)
    for argv in (["-c", C, "run"], ["run", "-c", C]):
        with open(S.log_path, "ab") as logf:
            p = pt.register_proc(subprocess.Popen(
                [POSTERN] + argv, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, env=pt.clean_env(), start_new_session=True))
        up = pt.poll(lambda: greets(S.port), 20)
        tap.ok(up, "postern %s: the master serves SMTP" % " ".join(argv))
        if argv[0] == "-c":
            both("status, master up", ["-c", C, "status"], ["status", "-c", C],
                 lambda r: r.returncode == 0 and "is running" in r.stdout)
            both("reload", ["-c", C, "reload"], ["reload", "-c", C],
                 lambda r: r.returncode == 0)
            pt.poll(lambda: greets(S.port), 20)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
        tap.eq(rc, 0, "postern %s: exit 0 on SIGTERM" % " ".join(argv))


def t_start_stop():
    C = S.conf
    for start, stop in ((["-c", C, "start"], ["stop", "-c", C]),
                        (["start", "-c", C], ["-c", C, "stop"])):
        r = pn(*start, timeout=40)
        up = r.returncode == 0 and pt.poll(lambda: greets(S.port), 20)
        tap.ok(up, "postern %s: exit 0, the master serves SMTP" % " ".join(start),
               r.stdout + r.stderr)
        r = pn(*stop, timeout=40)
        tap.ok(r.returncode == 0 and not greets(S.port),
               "postern %s: exit 0, the master is gone" % " ".join(stop),
               r.stdout + r.stderr)
        if r.returncode != 0:
            pn("stop", "-c", C, timeout=40)


def send_deferred(subject):
    """A message for down.test (transport_map: a closed port), deferred for
    300 s. Its queue id, or None."""
    with S.smtp() as c:
        c.ehlo()
        c.mail("sender@remote.test")
        c.rcpt("to-down@example.test")
        code, msg = c.data(pt.make_message(subject, to="to-down@example.test"))
    m = pt.QID_RE.search(msg or b"")
    qid = m.group(1).decode() if m else None
    if qid and not S.wait_log("%s: deferred" % qid, 20):
        return None
    return qid


def t_queue():
    C = S.conf
    tm = os.path.join(S.etc, "transport")
    with open(tm, "w") as f:
        f.write("down.test smtp:[127.0.0.1]:%d\n" % pt.free_port())
    with open(S.alias_file, "a") as f:
        f.write("to-down: user@down.test\n")
    S.settings.update({"transport_map": tm, "queue_retry_min": "300s",
                       "queue_retry_max": "600s"})
    S.write_conf()
    S.start()
    try:
        qid = send_deferred("cli-queue")
        if not tap.ok(qid, "a message waits in the queue (deferred)"):
            return
        r1, r2 = both("queue list", ["-c", C, "queue", "list"], ["queue", "list", "-c", C],
                      lambda r: r.returncode == 0 and qid in r.stdout)
        r = pn("queue", "-c", C, "list")
        tap.ok(r.returncode == 0 and qid in r.stdout, "postern queue -c FILE list")
        both("queue show", ["-c", C, "queue", "show", qid], ["queue", "show", qid, "-c", C],
             lambda r: r.returncode == 0 and "Subject: cli-queue" in r.stdout)
        for hold, release in ((["-c", C, "queue", "hold", qid],
                               ["queue", "release", qid, "-c", C]),
                              (["queue", "hold", qid, "-c", C],
                               ["-c", C, "queue", "release", qid])):
            r = pn(*hold)
            tap.ok(r.returncode == 0 and pt.poll(
                lambda: os.path.exists(os.path.join(S.queue_dir, "hold", qid)), 10),
                "postern %s: the message is in hold/" % " ".join(hold), r.stderr)
            r = pn(*release)
            tap.ok(r.returncode == 0 and pt.poll(
                lambda: not os.path.exists(os.path.join(S.queue_dir, "hold", qid)), 10),
                "postern %s: it leaves hold/" % " ".join(release), r.stderr)
        both("queue flush", ["-c", C, "queue", "flush"], ["queue", "flush", "-c", C],
             lambda r: r.returncode == 0)
        qid2 = send_deferred("cli-queue-2")
        for q, argv in ((qid, ["-c", C, "queue", "delete", qid]),
                        (qid2, ["queue", "delete", qid2 or "x", "-c", C])):
            r = pn(*argv)
            tap.ok(r.returncode == 0 and pt.poll(
                lambda: not any(f.endswith("/" + str(q)) for f in S.queue_files()), 10),
                "postern %s: the message is gone" % " ".join(argv),
                r.stderr + repr(S.queue_files()))
    finally:
        S.stop()


def t_sendmail():
    C = S.conf
    S.start()
    try:
        subj = ["cli-sm-%d-%d" % (os.getpid(), i) for i in range(2)]
        r1 = run_cmd([SENDMAIL, "-C", C, "-f", "bob@example.test", "-i",
                      "alice@example.test"], input="Subject: %s\n\nx\n" % subj[0],
                     env=pt.clean_env())
        r2 = run_cmd([SENDMAIL, "alice@example.test", "-f", "bob@example.test", "-C", C,
                      "-i"], input="Subject: %s\n\nx\n" % subj[1], env=pt.clean_env())
        for r, order, s in ((r1, "before", subj[0]), (r2, "after", subj[1])):
            tap.ok(r.returncode == 0 and S.wait_for_subject("alice@example.test", s),
                   "postern-sendmail with the options %s the recipient: delivered" % order,
                   r.stdout + r.stderr)
        d = os.path.join(S.tree, "bin")
        os.makedirs(d, exist_ok=True)
        for n in ("mailq", "newaliases"):
            if not os.path.lexists(os.path.join(d, n)):
                os.symlink(SENDMAIL, os.path.join(d, n))
        mailq, newaliases = os.path.join(d, "mailq"), os.path.join(d, "newaliases")
        for prog, want in ((mailq, lambda r: r.returncode == 0),
                           (newaliases, lambda r: r.returncode == 0 and "directly" in r.stdout)):
            for argv in ([prog, "-C", C], [prog, "-v", "-C", C], [prog, "-C", C, "-v"]):
                r = run_cmd(argv, env=pt.clean_env())
                tap.ok(want(r), " ".join([os.path.basename(argv[0])] + argv[1:]),
                       r.stdout + r.stderr)
            r = run_cmd([prog, "--help"], env=pt.clean_env())
            tap.ok(r.returncode == 0 and "-C FILE" in r.stdout,
                   "%s --help" % os.path.basename(prog), r.stdout + r.stderr)
            r = run_cmd([prog, "extra", "-C", C], env=pt.clean_env())
            tap.ok(one_line_error(r, 64), "%s with an operand: one line, exit 64"
                   % os.path.basename(prog), r.stdout + r.stderr)
        r = run_cmd([SENDMAIL, "--help"], env=pt.clean_env())
        tap.ok(r.returncode == 0 and "-f SENDER" in r.stdout and "-C FILE" in r.stdout,
               "postern-sendmail --help lists the options", r.stdout + r.stderr)
        for argv, what in (([SENDMAIL, "-Z", "-C", C, "alice@example.test"], "-Z"),
                           ([SENDMAIL, "-C", C, "alice@example.test", "-f"], "-f at the end"),
                           ([SENDMAIL, "-C", C, "-bd"], "-bd"),
                           ([SENDMAIL, "--frob", "alice@example.test"], "--frob")):
            r = run_cmd(argv, input="Subject: x\n\n", env=pt.clean_env())
            tap.ok(one_line_error(r, 64), "postern-sendmail %s: one line, exit 64" % what,
                   "status %s: %s" % (r.returncode, r.stdout + r.stderr))
    finally:
        S.stop()


S = None
try:
    S = pt.Suite(name="cli")
except Exception as e:
    tap.ok(False, "the suite is made", str(e))
    tap.done()
for fn in (t_help, t_errors, t_check_config, t_user, t_run_status_reload_stop,
           t_start_stop, t_queue, t_sendmail):
    tap.run(fn, timeout=180)
tap.done()
