#!/usr/bin/env python3
"""
Delivery rules (postern.rules(5), issue 10) through the whole path:
smtplib -> smtpd -> queue -> qmgr -> deliver -> Maildir++ folders, then
imapd (imaplib) sees the folder and the message.

Covered: fileinto (the Maildir++ directory, maildirfolder, the
subscriptions file), discard, redirect (through postdrop/pickup, with a
Delivered-To field) and a redirect loop stopped by Delivered-To, a rule
file with an error (INBOX, FILE:LINE logged), plus-addressing (RCPT
accepted; an existing folder of any case; INBOX when there is none), the
global delivery_rules before the user's (stop in the global file), a
pathological regex on a pathological message (delivered within the
limits, the failure logged), and `postern check` naming FILE:LINE of a
broken global rules file and of a broken user's rules file.

As root the whole suite runs as `nobody` (rule 6), so that deliver's
postdrop can write the suite's own maildrop/.
"""
import imaplib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap, header_values, read_file, subject_of  # noqa: E402
import test_imap_util as u  # noqa: E402

ALICE, BOB, CAROL, DAVE = u.ALICE, u.BOB, u.CAROL, u.DAVE
RUN_AS = "nobody" if pt.IS_ROOT else None
TAG = "%d" % os.getpid()

GLOBAL_RULES = """\
# the site's rules, applied before every user's
if header "Subject" contains "order-stop" { fileinto "GlobalStop"; stop; }
if header "Subject" contains "order-both" { fileinto "Global"; }
"""

ALICE_RULES = """\
# alice's rules
if header "Subject" contains "[lists]" and not header "Subject" contains "skip" {
    fileinto "Lists";
}
elsif header "Subject" contains "drop-me" { discard; }
elsif header "Subject" contains "fwd-me" or header "Subject" contains "loop-me" {
    redirect bob@example.test;
}
if header "Subject" matches /^(a+)+$/ { fileinto "Patho"; }
if header "Subject" contains "order-" { fileinto "User"; }
"""

BOB_RULES = """\
if header "Subject" contains "loop-me" { redirect <alice@example.test>; }
"""

DAVE_RULES = """\
keep;
# line 3 has the error
if header "Subject" contanes "x" { discard; }
"""


def user_dir(suite, addr):
    local, _, domain = addr.lower().partition("@")
    return os.path.join(suite.mail_root, domain, local)


def write_file(suite, path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if pt.IS_ROOT:
        pt.chown_tree(suite.mail_root, RUN_AS)
        pt.chown_tree(os.path.dirname(suite.conf), RUN_AS)


def all_messages(suite, addr):
    """{folder dir ('' for INBOX): [paths]} over the whole Maildir++."""
    md = suite.maildir(addr)
    out = {}
    try:
        names = [""] + [n for n in os.listdir(md) if n.startswith(".")
                        and os.path.isdir(os.path.join(md, n))]
    except FileNotFoundError:
        return out
    for n in names:
        for sub in ("new", "cur"):
            d = os.path.join(md, n, sub)
            try:
                out.setdefault(n, []).extend(
                    os.path.join(d, f) for f in os.listdir(d))
            except FileNotFoundError:
                pass
    return out


def where(suite, addr, subject):
    """The folders (dir names, '' = INBOX) holding a message with subject."""
    got = []
    for folder, paths in all_messages(suite, addr).items():
        for p in paths:
            data = read_file(p)
            if data is not None and subject_of(data) == subject:
                got.append(folder)
    return sorted(got)


def wait_where(suite, addr, subject, n=1, timeout=20):
    return pt.poll(lambda: (lambda w: w if len(w) >= n else None)(
        where(suite, addr, subject)), timeout) or where(suite, addr, subject)


def setup():
    s = u.imap_suite("rules", extra={"delivery_rules": "", "imap_plaintext_auth": "yes"})
    gpath = os.path.join(s.etc, "global.rules")
    s.settings["delivery_rules"] = gpath
    s.write_conf()
    with open(gpath, "w") as f:
        f.write(GLOBAL_RULES)
    write_file(s, os.path.join(user_dir(s, ALICE), "rules"), ALICE_RULES)
    write_file(s, os.path.join(user_dir(s, BOB), "rules"), BOB_RULES)
    write_file(s, os.path.join(user_dir(s, DAVE), "rules"), DAVE_RULES)
    if pt.IS_ROOT:
        pt.chown_tree(s.tree, RUN_AS)
    s.start(user=RUN_AS)
    return s


try:
    S = setup()
except Exception as e:  # noqa: BLE001
    tap.bail("cannot start the suite: %s" % e)
    raise SystemExit(0)


def t_fileinto():
    subj = "[lists] weekly %s" % TAG
    code, _ = S.send(subj, (ALICE,))
    tap.eq(code, 250, "fileinto: message accepted")
    tap.eq(wait_where(S, ALICE, subj), [".Lists"],
           "fileinto \"Lists\": the message is in Maildir/.Lists only")
    md = S.maildir(ALICE)
    tap.ok(os.path.isfile(os.path.join(md, ".Lists", "maildirfolder")),
           "the folder has a maildirfolder file")
    for sub in ("cur", "new", "tmp"):
        tap.ok(os.path.isdir(os.path.join(md, ".Lists", sub)),
               "the folder has %s/" % sub)
    subs = open(os.path.join(md, "subscriptions")).read().split("\n")
    tap.ok("Lists" in subs, "Lists is in the subscriptions file", subs)
    data = read_file(os.path.join(md, ".Lists", "new",
                                  os.listdir(os.path.join(md, ".Lists", "new"))[0]))
    tap.eq([v.lower() for v in header_values(data, "Delivered-To")], [ALICE],
           "the filed copy has Return-Path and Delivered-To as INBOX copies do")
    subj2 = "[lists] skip %s" % TAG
    S.send(subj2, (ALICE,))
    tap.eq(wait_where(S, ALICE, subj2), [""], "and/not: the skipped one is in INBOX")


def t_discard():
    subj = "drop-me %s" % TAG
    code, _ = S.send(subj, (ALICE,))
    tap.eq(code, 250, "discard: message accepted")
    tap.ok(S.settle((ALICE,)), "the queue settled")
    tap.eq(where(S, ALICE, subj), [], "discard: the message is in no folder")
    tap.ok(S.wait_log("discarded by delivery rules"), "the discard is logged")


def t_redirect():
    subj = "fwd-me %s" % TAG
    code, _ = S.send(subj, (ALICE,))
    tap.eq(code, 250, "redirect: message accepted")
    got = wait_where(S, BOB, subj)
    tap.eq(got, [""], "redirect: the message reaches bob's INBOX")
    if got:
        p = S.messages_with_subject(BOB, subj)[0]
        dt = [v.lower() for v in header_values(read_file(p), "Delivered-To")]
        tap.eq(dt, [BOB, ALICE], "bob's copy has Delivered-To bob and alice")
    tap.eq(where(S, ALICE, subj), [], "alice keeps no copy")
    tap.ok(S.wait_log("redirected to <bob@example.test>"), "the redirect is logged")


def t_loop():
    subj = "loop-me %s" % TAG
    code, _ = S.send(subj, (ALICE,))
    tap.eq(code, 250, "loop: message accepted")
    got = wait_where(S, BOB, subj)
    tap.eq(got, [""], "the loop stops at bob (redirect back refused): bob's INBOX")
    tap.ok(S.wait_log("redirect to <alice@example.test> refused: mail loop"),
           "the refused redirect is logged as a loop")
    tap.ok(S.settle((ALICE, BOB)), "the queue settled")
    tap.eq(where(S, ALICE, subj), [], "alice has no copy")
    tap.eq(len(S.messages_with_subject(BOB, subj)), 1, "bob has exactly one copy")


def t_broken():
    subj = "broken %s" % TAG
    code, _ = S.send(subj, (DAVE,))
    tap.eq(code, 250, "broken rules: message accepted")
    tap.eq(wait_where(S, DAVE, subj), [""], "broken rules: the message is in INBOX")
    needle = os.path.join(user_dir(S, DAVE), "rules") + ":3:"
    tap.ok(S.wait_log(needle), "the error is logged with FILE:LINE (%s)" % needle)


def t_plus():
    with S.smtp() as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, _ = s.rcpt("alice+anything@example.test")
        tap.eq(code, 250, "RCPT alice+anything@: 250")
        code, _ = s.rcpt("nosuchuser+x@example.test")
        tap.eq(code, 550, "RCPT nosuchuser+x@: 550")
    # .Lists exists (t_fileinto): any case of the extension finds it
    subj = "plus-folder %s" % TAG
    code, _ = S.send(subj, ("alice+lists@example.test",))
    tap.eq(code, 250, "plus-addressing: message accepted")
    tap.eq(wait_where(S, ALICE, subj), [".Lists"],
           "alice+lists: into the existing folder Lists")
    p = [x for x in all_messages(S, ALICE).get(".Lists", [])
         if subject_of(read_file(x)) == subj]
    if p:
        tap.eq([v.lower() for v in header_values(read_file(p[0]), "Delivered-To")],
               ["alice+lists@example.test"], "Delivered-To keeps the extension")
    subj = "plus-inbox %s" % TAG
    S.send(subj, ("alice+nofolder@example.test",))
    tap.eq(wait_where(S, ALICE, subj), [""], "alice+nofolder: INBOX")
    tap.ok(not os.path.exists(os.path.join(S.maildir(ALICE), ".nofolder")),
           "no folder is made for an extension")


def t_order():
    subj = "order-stop %s" % TAG
    S.send(subj, (ALICE,))
    tap.eq(wait_where(S, ALICE, subj), [".GlobalStop"],
           "global rules first: stop there skips alice's rules")
    subj = "order-both %s" % TAG
    S.send(subj, (ALICE,))
    tap.eq(wait_where(S, ALICE, subj, 2), [".Global", ".User"],
           "global then user: one copy in each folder")


def t_pathological():
    subj = "a" * 40 + "!"
    t0 = time.monotonic()
    code, _ = S.send(subj, (ALICE,))
    tap.eq(code, 250, "pathological message accepted")
    got = wait_where(S, ALICE, subj, timeout=30)
    took = time.monotonic() - t0
    tap.eq(got, [""], "pathological regex: no match, the message is in INBOX")
    tap.ok(took < 30, "delivered within the limits (%.1f s)" % took)
    tap.ok(S.wait_log("regex failed on this message"),
           "the regex failure is logged")
    tap.ok("rules:9: regex failed" in S.log_text(),
           "with the rule's FILE:LINE")


def t_imap():
    try:
        m = imaplib.IMAP4("127.0.0.1", S.imap_port, timeout=15)
        m.login(ALICE, pt.PASSWORD)
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "IMAP login as alice", repr(e))
        return
    try:
        typ, data = m.list('""', "*")
        names = [d.decode().rsplit(" ", 1)[-1].strip('"') for d in data if d]
        tap.ok(typ == "OK" and "Lists" in names, "IMAP LIST shows Lists", data)
        typ, data = m.lsub('""', "*")
        names = [d.decode().rsplit(" ", 1)[-1].strip('"') for d in data if d]
        tap.ok(typ == "OK" and "Lists" in names, "IMAP LSUB shows Lists", data)
        typ, data = m.select("Lists", readonly=True)
        tap.ok(typ == "OK" and int(data[0]) >= 1,
               "IMAP SELECT Lists shows the filed messages", data)
        typ, data = m.search(None, "SUBJECT", '"weekly %s"' % TAG)
        tap.ok(typ == "OK" and data[0].split(),
               "IMAP SEARCH finds the filed message", data)
    finally:
        m.logout()


def t_check():
    """postern check parses delivery_rules and mail_root/<dom>/<user>/rules."""
    dave = os.path.join(user_dir(S, DAVE), "rules")
    r = pt.run_cmd([pt.POSTERN, "check", "-c", S.conf])
    tap.ok(r.returncode != 0, "postern check with a broken user's rules: non-zero")
    tap.ok("%s:3: " % dave in r.stderr,
           "postern check names the user's rules file and line", r.stderr)
    good = [ln for ln in r.stderr.splitlines() if ".rules:" in ln or
            ln.startswith(user_dir(S, ALICE)) or ln.startswith(user_dir(S, BOB))]
    tap.ok(not good, "postern check: the good rules files are not reported",
           r.stderr)
    bad = os.path.join(S.etc, "bad-global.rules")
    with open(bad, "w") as f:
        f.write('# line 1\nkeep;\nif header "Subject" matches /(/ { stop; }\n')
    conf = os.path.join(S.etc, "bad-rules.conf")
    with open(S.conf) as f:
        text = "".join(ln for ln in f if not ln.startswith("delivery_rules"))
    with open(conf, "w") as f:
        f.write(text + "\ndelivery_rules = %s\n" % bad)
    r = pt.run_cmd([pt.POSTERN, "check", "-c", conf])
    tap.ok(r.returncode != 0 and "%s:3: " % bad in r.stderr,
           "postern check names the global rules file and line", r.stderr)
    with open(conf, "w") as f:
        f.write(text + "\ndelivery_rules = %s\n" % (bad + ".missing"))
    r = pt.run_cmd([pt.POSTERN, "check", "-c", conf])
    tap.ok(r.returncode != 0 and "%s.missing:0: " % bad in r.stderr,
           "postern check: a missing delivery_rules file is named", r.stderr)
    write_file(S, dave, "keep;\n# fixed\n")
    try:
        r = pt.run_cmd([pt.POSTERN, "check", "-c", S.conf])
        tap.ok(r.returncode == 0,
               "postern check passes with good rules files", r.stderr)
    finally:
        write_file(S, dave, DAVE_RULES)


for fn in (t_fileinto, t_discard, t_redirect, t_loop, t_broken, t_plus,
           t_order, t_pathological, t_imap, t_check):
    tap.run(fn, timeout=90)
S.stop()
tap.done()
