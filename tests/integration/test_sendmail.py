#!/usr/bin/env python3
"""
test_sendmail: local submission (issue 3): postern-sendmail -> postdrop
-> maildrop/ -> pickup -> the queue -> Maildir, with the master stopped
(the mail waits in maildrop/ and goes out when it starts) and running;
-t with Bcc removed, -f/-F, "." ending the input (and -i), -bs, mailq,
newaliases, postdrop's exit codes, pickup refusing a forged maildrop
file; as root the maildrop permissions and a setgid postdrop refusing -c.
"""

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402

SENDMAIL = os.path.join(pt.TOP_BUILDDIR, "queue", "postern-sendmail")
POSTDROP = os.path.join(pt.TOP_BUILDDIR, "queue", "postdrop")


def sendmail(args, text, env=None):
    return pt.run_cmd([SENDMAIL, "-C", S.conf] + args, input=text, env=env)


def maildrop():
    try:
        return [n for n in os.listdir(os.path.join(S.queue_dir, "maildrop"))]
    except FileNotFoundError:
        return []


def test_master_down():
    subj = "sm-down-%d" % os.getpid()
    r = sendmail(["-t", "-oi"],
                 "To: Alice <alice@example.test>\nCc: \"Bob, B.\" <bob@example.test>\n"
                 "Bcc: carol@example.org\nSubject: %s\n\nbody line\n.\nafter\n" % subj)
    tap.eq(r.returncode, 0, "postern-sendmail -t with the master stopped exits 0")
    tap.ok(len(maildrop()) == 1, "the message waits in maildrop/", maildrop())
    tap.ok(not S.messages_with_subject("alice@example.test", subj),
           "nothing is delivered while the master is down")
    S.start()
    for a in ("alice@example.test", "bob@example.test", "carol@example.org"):
        got = S.wait_for_subject(a, subj)
        tap.ok(got, "after the master starts it is delivered to %s (To, Cc, Bcc)" % a)
    got = S.messages_with_subject("carol@example.org", subj)
    data = pt.read_file(got[0]) if got else b""
    tap.ok(b"Bcc:" not in data and b"carol@example.org" not in data.split(b"\n\n")[0]
           .replace(b"Delivered-To: carol@example.org", b""),
           "the Bcc field is removed")
    tap.ok(pt.header_values(data, "Message-ID") and pt.header_values(data, "Date"),
           "Message-ID and Date are added")
    tap.ok(b"after\n" in data, "-oi: a line with a single dot does not end the input")
    tap.ok(pt.poll(lambda: not maildrop(), 10), "pickup removes the maildrop file")


def test_running():
    subj = "sm-run-%d" % os.getpid()
    r = sendmail(["-f", "dave@example.test", "-F", "Dave \"D\" Example", "alice@example.test"],
                 "Subject: %s\n\nfirst\n.\nnot this\n" % subj)
    tap.eq(r.returncode, 0, "postern-sendmail -f -F RCPT exits 0")
    got = S.wait_for_subject("alice@example.test", subj)
    data = pt.read_file(got[0]) if got else b""
    tap.ok(pt.header_values(data, "Return-Path") == ["<dave@example.test>"],
           "-f sets the envelope sender", pt.header_values(data, "Return-Path"))
    frm = pt.header_values(data, "From")
    tap.ok(frm and "Dave" in frm[0] and "<dave@example.test>" in frm[0],
           "From is added with the -F full name", frm)
    tap.ok(b"not this" not in data, "without -i a line with a single dot ends the input")
    tap.ok(S.wait_log("(set with -f)"), "pickup logs the -f sender with the uid")


def test_bs():
    subj = "sm-bs-%d" % os.getpid()
    r = sendmail(["-bs"], "EHLO local.test\r\nMAIL FROM:<bob@example.test>\r\n"
                 "RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: %s\r\n\r\nhi\r\n"
                 ".\r\nQUIT\r\n" % subj)
    tap.ok(r.returncode == 0 and "250 2.0.0 Ok: queued as" in r.stdout and
           r.stdout.startswith("220 "), "-bs speaks SMTP on stdin/stdout", r.stdout)
    tap.ok(S.wait_for_subject("alice@example.test", subj), "-bs message delivered")


def test_errors():
    r = sendmail([], "Subject: x\n\n")
    tap.eq(r.returncode, 64, "no recipients: EX_USAGE (64)")
    r = sendmail(["bad address@@x"], "Subject: x\n\n")
    tap.ok(r.returncode == 65 and "bad recipient" in r.stderr,
           "a bad recipient: postdrop exit 11 -> EX_DATAERR (65)", r.stderr)
    r = pt.run_cmd([POSTDROP, "-c", S.conf, "--", "alice@example.test"],
                   input="x" * 20)
    tap.eq(r.returncode, 0, "postdrop alone: exit 0")
    r = pt.run_cmd([POSTDROP, "-c", S.conf, "-f", "a\x01b@x", "--", "alice@example.test"],
                   input="x")
    tap.eq(r.returncode, 11, "postdrop: a control character in -f: exit 11")
    r = sendmail(["-bp"], "")
    tap.ok(r.returncode == 0 or "postern queue" in r.stderr,
           "mailq (-bp) lists the queue, or says clearly why not",
           r.stdout + r.stderr)
    r = sendmail(["-bi"], "")
    tap.ok(r.returncode == 0 and "directly" in r.stdout, "newaliases (-bi) checks "
           "the alias file and says changes need no rebuild", r.stdout + r.stderr)


def test_forged():
    """Files written into maildrop/ without postdrop: refused, removed."""
    md = os.path.join(S.queue_dir, "maildrop")
    bad = {
        "0000000000000000BAD1": b"postern-maildrop 1\nuid 0\nrcpt alice@example.test\n"
                                b"rcpt bob@example.test\nsender x@y\ndata\nx\n",
        "0000000000000000BAD2": b"postern-maildrop 1\nuid 4242\nrcpt "
                                b"alice@example.test\ndata\nSubject: forged\n\nx\n",
        "0000000000000000BAD3": b"postern-maildrop 1\nuid 0\nrcpt alice@example.test"
                                b"\r\nrcpt evil@example.test\ndata\n",
    }
    for name, data in bad.items():
        with open(os.path.join(md, name), "wb") as f:
            f.write(data)
        if pt.IS_ROOT:
            os.chmod(os.path.join(md, name), 0o444)
    subprocess.run([SENDMAIL, "-C", S.conf, "alice@example.test"], input=b"Subject: w\n\n",
                   capture_output=True, timeout=20)   # wakes pickup
    gone = pt.poll(lambda: not any(n in maildrop() for n in bad), 10)
    tap.ok(gone, "pickup removes malformed and forged maildrop files", maildrop())
    tap.ok(S.wait_log("the recorded uid is not the file's owner"),
           "a uid that is not the file's owner is refused")
    tap.ok(not S.messages_with_subject("alice@example.test", "forged"),
           "the forged message is not delivered")


def test_root():
    if not pt.IS_ROOT:
        tap.skip("maildrop permissions and setgid postdrop", "not root")
        return
    owner = pwd.getpwnam("postern")
    gid = grp.getgrnam("postdrop").gr_gid
    for sub, mode in (("maildrop", 0o1730), ("public", 0o710)):
        st = os.stat(os.path.join(S.queue_dir, sub))
        tap.ok(st.st_uid == owner.pw_uid and st.st_gid == gid and
               stat.S_IMODE(st.st_mode) == mode, "%s/ is %o postern:postdrop" % (sub, mode),
               "uid %d gid %d mode %o" % (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
    st = os.stat(os.path.join(S.queue_dir, "public", "pickup"))
    tap.ok(stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620 and
           st.st_gid == gid, "public/pickup is a FIFO 0620 postern:postdrop")
    st = os.stat(S.queue_dir)
    tap.ok(stat.S_IMODE(st.st_mode) & 0o077 == 0o011,
           "queue_dir is traversable but not listable (%o)" % stat.S_IMODE(st.st_mode))
    kids = [p for p in pt.descendants(S.proc.pid) if p[3] == "pickup"]
    tap.ok(kids and all(pt.proc_ids(p[0])["Uid"] == [owner.pw_uid] * 4 for p in kids),
           "pickup runs as postern")
    # A setgid copy of postdrop given -c by an ordinary user drops its group
    # first: the system's maildrop (1730 postern:postdrop) is then out of
    # reach, and nothing is written there.
    d = tempfile.mkdtemp(prefix="postern-pd-")
    try:
        os.chmod(d, 0o755)
        pd = os.path.join(d, "postdrop")
        shutil.copy(POSTDROP, pd)
        os.chown(pd, 0, gid)
        os.chmod(pd, 0o2755)
        before = maildrop()
        r = subprocess.run([pd, "-c", S.conf, "--", "alice@example.test"], input=b"x",
                           capture_output=True, timeout=20, preexec_fn=pt.as_user("nobody"))
        tap.ok(r.returncode == 72 and b"Permission denied" in r.stderr,
               "setgid postdrop, -c from an ordinary user: it drops its group, so "
               "the system's maildrop is not writable (72)",
               "status %s: %r" % (r.returncode, r.stderr))
        new = set(maildrop()) - set(before)
        tap.ok(not new, "nothing was written into that maildrop", sorted(new))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # make install (DESTDIR) makes postdrop setgid postdrop when root.
    if not pt.require("make"):
        return
    dest = tempfile.mkdtemp(prefix="postern-inst-")
    try:
        r = pt.run_cmd(["make", "-C", pt.TOP_BUILDDIR, "install-exec", "DESTDIR=" + dest],
                       timeout=300)
        found = [os.path.join(dp, "postdrop") for dp, _, fs in os.walk(dest)
                 if "postdrop" in fs]
        st = os.stat(found[0]) if found else None
        tap.ok(st is not None and st.st_mode & stat.S_ISGID and st.st_gid == gid,
               "make install: postdrop is setgid postdrop", r.stdout[-800:] + r.stderr[-800:])
        links = [os.path.join(dp, n) for dp, _, fs in os.walk(dest) for n in fs
                 if n in ("mailq", "newaliases")]
        tap.ok(len(links) == 2 and all(os.readlink(l) == "postern-sendmail" for l in links),
               "make install: mailq and newaliases link to postern-sendmail", links)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_user_tree():
    """An ordinary user (nobody) with a postern tree of his own and the
    setgid postdrop, as installed: postern-sendmail -C FILE (and
    POSTERN_CONF) works, postdrop writes with the user's own rights, and
    the user's own master (pickup) delivers the mail."""
    if not pt.IS_ROOT:
        tap.skip("an ordinary user's own tree with the setgid postdrop", "not root")
        return
    gid = grp.getgrnam("postdrop").gr_gid
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="postern-inst-")
    pt._trees.append(d)
    os.chmod(d, 0o755)
    for src, mode in ((POSTDROP, 0o2755), (SENDMAIL, 0o755)):
        dst = os.path.join(d, os.path.basename(src))
        shutil.copy(src, dst)
        os.chown(dst, 0, gid)
        os.chmod(dst, mode)
    sm = os.path.join(d, "postern-sendmail")   # outside the build tree: it
    U = pt.Suite(name="user-tree", tls=False,  # runs daemon_directory/postdrop
                 users=("alice@example.test",),
                 extra_conf={"daemon_directory": d})
    pt.chown_tree(U.tree, "nobody")
    U.start(user="nobody")      # makes the user's queue tree, then stop:
    U.stop()                    # the mail waits in his maildrop/
    env = pt.clean_env()
    subj = ["user-tree-%d-%d" % (os.getpid(), i) for i in range(2)]
    for i, (argv, env) in enumerate((([sm, "-C", U.conf, "alice@example.test"], env),
                                     ([sm, "alice@example.test"],
                                      dict(env, POSTERN_CONF=U.conf)))):
        r = subprocess.run(argv, input=("Subject: %s\n\nmine\n" % subj[i]).encode(),
                           capture_output=True, timeout=20, env=env,
                           preexec_fn=pt.as_user("nobody"))
        tap.ok(r.returncode == 0, "nobody: postern-sendmail %s (setgid postdrop): exit 0"
               % ("-C FILE" if i == 0 else "with POSTERN_CONF"),
               "status %s: %r" % (r.returncode, r.stderr))
    md = os.path.join(U.queue_dir, "maildrop")
    files = [os.path.join(md, n) for n in os.listdir(md)]
    sts = [os.stat(f) for f in files]
    tap.ok(len(files) == 2 and all(st.st_uid == nobody.pw_uid and st.st_gid != gid
                                   for st in sts),
           "postdrop wrote into the user's maildrop with the user's own ids "
           "(not the group postdrop)",
           ["%s %d:%d" % (f, st.st_uid, st.st_gid) for f, st in zip(files, sts)])
    U.start(user="nobody")
    for s in subj:
        got = U.wait_for_subject("alice@example.test", s)
        tap.ok(got and os.stat(got[0]).st_uid == nobody.pw_uid,
               "the user's own pickup delivers it (%s)" % s)
    kids = [p for p in pt.descendants(U.proc.pid) if p[3] == "pickup"]
    tap.ok(kids and all(pt.proc_ids(p[0])["Uid"][0] == nobody.pw_uid for p in kids),
           "that pickup runs as the user")
    U.stop()


try:
    S = pt.Suite()
    S.start()       # makes the queue tree, as `postern start` does once
    S.stop()
except Exception as e:
    tap.ok(False, "the suite starts and stops", str(e))
    tap.done()
for fn in (test_master_down, test_running, test_bs, test_errors, test_forged, test_root,
           test_user_tree):
    tap.run(fn, timeout=300)
S.stop()
tap.done()
