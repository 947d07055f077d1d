#!/usr/bin/env python3
"""
test_imap_concurrency: one Maildir, several writers, under the master.
Two IMAP sessions of one user see each other's flag changes and
expunges (with no EXPUNGE sent during FETCH, RFC 3501 7.4.1); messages
delivered while sessions are selected (written as deliver writes them,
and through smtpd and deliver) get the same UIDs in every session; pop3d
and imapd on the same Maildir: a message deleted over POP3 leaves IMAP
with an EXPUNGE and the other UIDs unchanged, a RETR's \\Seen shows in
IMAP, and IMAP's renames do not change POP3's UIDLs. The index is a
cache: deleted or overwritten with garbage it loses no UID or flag;
changes made by another program (flags in a file name, a file put into
cur/) show in an open session; UIDs and flags survive a restart.
imapd and pop3d scan tmp/ for what killed writers left.
"""

import os
import poplib
import pwd
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import test_imap_util as u  # noqa: E402

S = u.imap_suite("imap-concurrency", pop3=True)
ALICE, BOB, DAVE = u.ALICE, u.BOB, u.DAVE


def expunged(untagged):
    return [int(x.split()[1]) for x in untagged if re.match(rb"\* \d+ EXPUNGE", x)]


def pop(user):
    p = poplib.POP3("127.0.0.1", S.pop3_port, timeout=15)
    p.stls(u.tls_ctx())
    p.user(user)
    p.pass_(pt.PASSWORD)
    return p


def pop_msgids(p):
    """{pop3 number: Message-ID} by TOP n 0."""
    out = {}
    for ln in p.list()[1]:
        n = int(ln.split()[0])
        for h in p.top(n, 0)[1]:
            if h.lower().startswith(b"message-id:"):
                out[n] = h.split(b":", 1)[1].strip().decode()
    return out


def t_start():
    try:
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master starts imapd and pop3d", e)
        tap.done()
    ok = pt.poll(lambda: "pop3d ready" in S.log_text(), 15)
    tap.ok(ok, "the master starts imapd and pop3d")


def t_two_sessions():
    for i in range(4):
        u.deliver(S, ALICE, u.plain_message("two %d" % i, msgid="<two-%d@t>" % i))
    a = u.session(S.imap_port, select="INBOX")
    b = u.session(S.imaps_port, implicit=True, select="INBOX")
    ua, ub = u.seq_uids(a), u.seq_uids(b)
    tap.ok(len(ua) == 4 and ua == ub, "both sessions see the same 4 UIDs", (ua, ub))
    r = b.cmd("STORE 1 +FLAGS (\\Seen $Shared)")
    r = a.cmd("NOOP")
    f = u.fetches(r.untagged).get(1, {})
    tap.ok({"\\Seen", "$Shared"} <= set(u.flags_of(f.get("FLAGS"))),
           "B's STORE shows in A at the next NOOP as * 1 FETCH (FLAGS ...)", r)
    b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = b.cmd("EXPUNGE")
    tap.eq(expunged(r.untagged), [2], "B expunges message 2")
    r = a.cmd("FETCH 1:* (UID)")
    tap.ok(not expunged(r.untagged), "no EXPUNGE is sent to A during FETCH (RFC 3501 7.4.1)",
           r)
    r = a.cmd("NOOP")
    tap.eq(expunged(r.untagged), [2], "A's NOOP reports * 2 EXPUNGE")
    tap.eq(u.seq_uids(a), [ua[0]] + ua[2:], "A's view is then B's")
    r = a.cmd("STORE 1 -FLAGS (\\Seen)")
    r2 = b.cmd("NOOP")
    f = u.fetches(r2.untagged).get(1, {})
    tap.ok("\\Seen" not in u.flags_of(f.get("FLAGS")) and "FLAGS" in f,
           "and A's change shows in B", r2)
    b.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")
    b.cmd("EXPUNGE")
    r = a.cmd("UID FETCH %d (FLAGS)" % ua[3])
    tap.ok(r.ok or (r.status == "NO" and r.code() == "EXPUNGEISSUED"),
           "A's UID FETCH of a message B expunged meanwhile: OK (or NO [EXPUNGEISSUED])", r)
    r = a.cmd("UID SEARCH ALL")
    tap.ok(r.ok, "UID SEARCH after another session's EXPUNGE", r)
    r = a.cmd("NOOP")
    tap.eq(u.seq_uids(a), u.seq_uids(b), "after NOOP both sessions agree again")
    c = u.session(S.imap_port, select="INBOX")
    tap.eq(u.seq_uids(c), u.seq_uids(a), "a new session sees the same UIDs")
    for x in (a, b, c):
        x.cmd("LOGOUT")
        x.close()


def t_deliver_race():
    n_direct, n_smtp = 40, 6
    a = u.session(S.imap_port, BOB, select="INBOX")
    b = u.session(S.imap_port, BOB, select="INBOX")
    errors = []

    def writer():
        try:
            for i in range(n_direct):
                u.deliver(S, BOB, u.plain_message("race %d" % i, msgid="<race-%d@t>" % i))
                if i % 8 == 0:
                    time.sleep(0.02)
        except Exception as e:  # reported below
            errors.append(e)

    def smtp_writer():
        try:
            with S.smtp() as s:
                for i in range(n_smtp):
                    refused = s.sendmail("sender@remote.test", [BOB], pt.make_message(
                        "race smtp %d" % i, msgid="<race-smtp-%d@t>" % i, to=BOB))
                    if refused:
                        errors.append(refused)
        except Exception as e:
            errors.append(e)

    ts = [threading.Thread(target=writer), threading.Thread(target=smtp_writer)]
    for t in ts:
        t.start()
    total = n_direct + n_smtp
    deadline = time.monotonic() + 30
    rounds = 0
    while time.monotonic() < deadline:
        a.cmd("NOOP")
        b.cmd("FETCH 1:* (UID FLAGS)")
        rounds += 1
        if not any(t.is_alive() for t in ts) and len(S.maildir_messages(BOB)) >= total:
            break
        time.sleep(0.02)
    for t in ts:
        t.join(30)
    tap.ok(not errors, "the writers ran without an error", errors)
    tap.ok(len(S.maildir_messages(BOB)) == total,
           "all %d messages were delivered while A and B polled (%d rounds)"
           % (total, rounds))
    a.cmd("NOOP")
    b.cmd("NOOP")
    ma, mb = u.uid_map(a), u.uid_map(b)
    want = {"<race-%d@t>" % i for i in range(n_direct)} | {
        "<race-smtp-%d@t>" % i for i in range(n_smtp)}
    tap.eq(sorted(ma.values()), sorted(want),
           "session A sees all %d messages, each once" % total)
    tap.eq(ma, mb, "sessions A and B gave every message the same UID")
    ua = u.seq_uids(a)
    tap.ok(ua == sorted(ua) and len(set(ua)) == len(ua), "UIDs ascend with sequence numbers")
    c = u.session(S.imap_port, BOB, select="INBOX")
    tap.eq(u.uid_map(c), ma, "a new session sees the same UID for every message")
    for x in (a, b, c):
        x.cmd("LOGOUT")
        x.close()


def t_pop3_and_imap():
    for i in range(4):
        u.deliver(S, DAVE, u.plain_message("mix %d" % i, msgid="<mix-%d@t>" % i, to=DAVE))
    a = u.session(S.imap_port, DAVE, select="INBOX")
    um0 = u.uid_map(a)
    by_id = {v: k for k, v in um0.items()}
    tap.eq(sorted(um0.values()), ["<mix-%d@t>" % i for i in range(4)], "IMAP sees 4 messages")
    p = pop(DAVE)
    uidl0 = p.uidl()[1]
    p.quit()
    r = a.cmd("UID STORE %d +FLAGS (\\Flagged)" % by_id["<mix-0@t>"])
    tap.ok(r.ok, "IMAP flags one message (the file is renamed)", r)
    p = pop(DAVE)
    tap.eq(p.uidl()[1], uidl0, "POP3 UIDLs do not change when IMAP renames a file")
    ids = pop_msgids(p)
    num = {v: k for k, v in ids.items()}
    p.dele(num["<mix-1@t>"])
    p.retr(num["<mix-2@t>"])
    p.quit()
    seqs = u.seq_uids(a)
    r = a.cmd("NOOP")
    gone = seqs.index(by_id["<mix-1@t>"]) + 1
    tap.eq(expunged(r.untagged), [gone],
           "IMAP: the message deleted over POP3 goes with * %d EXPUNGE" % gone)
    r2 = a.cmd("UID FETCH %d (FLAGS)" % by_id["<mix-2@t>"])
    fl = [d for d in u.fetches(r2.untagged).values()]
    tap.ok(fl and "\\Seen" in u.flags_of(fl[0].get("FLAGS")),
           "IMAP: POP3's RETR shows as \\Seen", (r, r2))
    um1 = u.uid_map(a)
    tap.eq(um1, {k: v for k, v in um0.items() if v != "<mix-1@t>"},
           "IMAP: the other messages keep their UIDs")
    r = a.cmd("UID FETCH %d (FLAGS)" % by_id["<mix-0@t>"])
    fl = [d for d in u.fetches(r.untagged).values()]
    tap.ok(fl and "\\Flagged" in u.flags_of(fl[0].get("FLAGS")),
           "IMAP's \\Flagged survived POP3's session", r)
    a.cmd("LOGOUT")
    a.close()
    c = u.session(S.imap_port, DAVE, select="INBOX")
    tap.eq(u.uid_map(c), um1, "a new IMAP session: the same UIDs")
    c.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % by_id["<mix-3@t>"])
    c.cmd("EXPUNGE")
    c.cmd("LOGOUT")
    c.close()
    p = pop(DAVE)
    tap.eq(sorted(pop_msgids(p).values()), ["<mix-0@t>", "<mix-2@t>"],
           "POP3 no longer lists the message expunged over IMAP")
    p.quit()


def state(c, folder="INBOX"):
    """(UIDVALIDITY, UIDNEXT, {uid: (Message-ID, flags)}) of a folder."""
    r = c.cmd("SELECT %s" % folder)
    um = u.uid_map(c)
    r2 = c.cmd("UID FETCH 1:* (FLAGS)")
    fl = {int(d["UID"]): tuple(sorted(set(u.flags_of(d.get("FLAGS"))) - {"\\Recent"}))
          for d in u.fetches(r2.untagged).values()}
    return (u.code_value(r.untagged, "UIDVALIDITY"), u.code_value(r.untagged, "UIDNEXT"),
            {k: (v, fl.get(k)) for k, v in um.items()})


def index_files(user):
    out = []
    for d, dirs, files in os.walk(S.maildir(user)):
        out.extend(os.path.join(d, f) for f in files if f.startswith("postern-index"))
    return out


def t_index_is_a_cache():
    user = u.CAROL
    for i in range(5):
        u.deliver(S, user, u.plain_message("cache %d" % i, msgid="<cache-%d@t>" % i,
                                           to=user))
    c = u.session(S.imap_port, user, select="INBOX")
    c.cmd("STORE 1 +FLAGS (\\Seen)")
    c.cmd("STORE 2 +FLAGS ($Label1 \\Flagged)")
    c.cmd("STORE 3 +FLAGS (\\Deleted \\Answered)")
    st0 = state(c)
    c.cmd("LOGOUT")
    c.close()
    tap.ok(len(st0[2]) == 5 and st0[0], "carol's INBOX: 5 messages with flags", st0)
    idx = index_files(user)
    tap.ok(idx, "imapd keeps an index (postern-index) in the Maildir", idx)
    for f in idx:
        os.unlink(f)
    c = u.session(S.imap_port, user)
    tap.eq(state(c), st0, "with the index deleted: the same UIDVALIDITY, UIDNEXT, UIDs, flags")
    c.cmd("LOGOUT")
    c.close()
    # A broken cache: the index overwritten in its middle, or (when the
    # server did not write one again) a file with the right magic and
    # garbage after it.
    idx = index_files(user) or [os.path.join(S.maildir(user), "postern-index")]
    for f in idx:
        if os.path.exists(f):
            with open(f, "r+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                fh.seek(max(0, size // 3))
                fh.write(os.urandom(max(64, size // 3)))
        else:
            with open(f, "wb") as fh:
                fh.write(b"PSTNIDX1" + os.urandom(4096))
            if pt.IS_ROOT:
                vm = pwd.getpwnam("vmail")
                os.chown(f, vm.pw_uid, vm.pw_gid)
    c = u.session(S.imap_port, user)
    tap.eq(state(c), st0, "with the index overwritten by garbage: the same state")
    c.cmd("LOGOUT")
    c.close()
    a = u.session(S.imap_port, user, select="INBOX")
    for f in index_files(user):
        os.unlink(f)
    r = a.cmd("NOOP")
    tap.ok(r.ok and not u.exists_of(r.untagged) and not expunged(r.untagged),
           "the index deleted under an open session: NOOP reports no change", r)
    # Another program changes the Maildir: flags in a file name, a new file in cur/.
    mid = "<cache-4@t>"
    uid4 = [k for k, v in st0[2].items() if v[0] == mid][0]
    p = [f for f in S.maildir_messages(user) if mid.encode() in (pt.read_file(f) or b"")][0]
    base = os.path.basename(p).split(":2,")[0]
    os.rename(p, os.path.join(S.maildir(user), "cur", base + ":2,FR"))
    path = u.deliver(S, user, u.plain_message("by hand", msgid="<by-hand@t>", to=user),
                     sub="cur")
    os.rename(path, path + ":2,S")
    r = a.cmd("NOOP")
    seq4 = sorted(st0[2]).index(uid4) + 1
    f = u.fetches(r.untagged)
    tap.ok(set(u.flags_of(f.get(seq4, {}).get("FLAGS"))) >= {"\\Flagged", "\\Answered"},
           "flags changed in a file name by another program show as FETCH FLAGS", r)
    tap.eq(u.exists_of(r.untagged), 6, "a file put into cur/ by another program: * 6 EXISTS")
    r = a.cmd("FETCH 6 (FLAGS UID)")
    d = u.fetches(r.untagged).get(6, {})
    tap.ok("\\Seen" in u.flags_of(d.get("FLAGS")) and int(d.get("UID", 0)) >= int(st0[1]),
           "it has its :2,S flag and a new UID", r)
    st1 = state(a)
    a.cmd("LOGOUT")
    a.close()
    if S.stop() != 0:
        tap.ok(False, "the master stops for the restart")
    try:
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master restarts", e)
        return
    c = u.session(S.imap_port, user)
    tap.eq(state(c), st1, "after a restart of the master: the same UIDVALIDITY, UIDs, flags")
    c.cmd("LOGOUT")
    c.close()


def t_tmp_cleanup():
    """Readers clean what a killed writer left in tmp/ (files over 36 hours
    old), scanning at most every 8 hours: the scan's time is tmp/'s atime.
    A file's ctime cannot be set back here, so this checks that imapd and
    pop3d do scan (the atime moves), that a scan within 8 hours does not,
    and that a young file survives (common/maildir.c and
    tests/unit/test_maildir_tmp.c have the age rules)."""
    user = DAVE
    md = S.maildir(user)
    tmp = os.path.join(md, "tmp")
    young = os.path.join(tmp, "young.%d" % os.getpid())
    with open(young, "w") as f:
        f.write("a delivery in progress\n")
    st = os.stat(md)
    os.chown(young, st.st_uid, st.st_gid)

    def set_atime(age):
        os.utime(tmp, ns=(time.time_ns() - int(age * 1e9), os.stat(tmp).st_mtime_ns))

    def atime_age():
        return time.time() - os.stat(tmp).st_atime
    set_atime(3600)
    c = u.session(S.imap_port, user, select="INBOX")
    c.cmd("LOGOUT")
    c.close()
    tap.ok(atime_age() > 3000, "SELECT within 8 hours of the last scan: tmp/ "
           "is not scanned (its atime stays)", atime_age())
    set_atime(9 * 3600)
    c = u.session(S.imap_port, user, select="INBOX")
    c.cmd("LOGOUT")
    c.close()
    tap.ok(atime_age() < 60, "imapd SELECT after 8 hours scans tmp/ (atime "
           "now)", atime_age())
    set_atime(9 * 3600)
    p = pop(user)
    p.quit()
    tap.ok(atime_age() < 60, "a pop3d login after 8 hours scans it too",
           atime_age())
    tap.ok(os.path.exists(young), "a young file in tmp/ is left alone")
    os.unlink(young)


def t_stop():
    tap.eq(S.stop(), 0, "the master stops cleanly")


def main():
    for fn in (t_start, t_two_sessions, t_deliver_race, t_pop3_and_imap, t_index_is_a_cache,
               t_tmp_cleanup, t_stop):
        tap.run(fn, timeout=150)
    tap.done()


if __name__ == "__main__":
    main()
