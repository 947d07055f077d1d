#!/usr/bin/env python3
"""
Delivery to Unix accounts (system_domains, issue 10 "~/.postern.rules for
system users"), started as root as CI runs it.

Two throw-away accounts are made with useradd (names unique per run,
homes in the test's temporary tree, removed with userdel at the end, on
failure and on a signal too). The suite runs as root with
system_domains = sys.test, a domain that is NOT in local_domains (a
system domain is a local domain by itself). Through smtpd:

- user1@sys.test lands in ~user1/Maildir/new (Maildir made, 0700), the
  message file belongs to user1 with mode 0600; user1's shell is nologin;
- User1@SYS.TEST (any case) and user1+x@sys.test (plus-addressing: into
  ~/Maildir/.x when that folder exists, else INBOX);
- user2's ~/.postern.rules files a header match into "Lists":
  ~/Maildir/.Lists/new, the folder subscribed (~/Maildir/subscriptions);
  other mail to INBOX;
- a broken ~/.postern.rules: INBOX, and FILE:LINE in the log and in
  `postern check`;
- root@sys.test without an alias: 550 at RCPT; an unknown account:
  550 5.1.1 at RCPT; root@sys2.test, which has an alias, goes there;
- the delivering process ran as the user: caught in /proc while it waits
  on a FIFO put in place of ~/Maildir/subscriptions (uid, gid and groups
  are the user's), and every file under ~/Maildir is the user's;
- `postern check` as root is quiet about system_domains; run as an
  ordinary account it warns;
- started as user1 (rule 6), the suite delivers to user1 only: another
  account gets 451 at RCPT.

Then the accounts log in (authd checks their shadow(5) hash, set here
with chpasswd): IMAP LOGIN, AUTHENTICATE PLAIN and POP3 USER/PASS, by
bare name and by address; the session is the account (uid, gid, cwd
~/Maildir in /proc), sees what deliver put there and the folders its
rules made; a wrong password, root, an address extension fail; a
virtual user still logs in as vmail; authd's one extra group is
/etc/shadow's; `postern user add` refuses a system domain's address.
"""
import atexit
import errno
import imaplib
import os
import poplib
import pwd
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_test as pt  # noqa: E402
from postern_test import tap, read_file, subject_of  # noqa: E402

SYSDOM = "sys.test"
SYSDOM2 = "sys2.test"     # root has an alias there
TAG = "%d" % os.getpid()

if not pt.IS_ROOT:
    tap.skip_all("not root: delivery as Unix accounts needs root")
for tool in ("useradd", "userdel"):
    if not any(os.access(os.path.join(d, tool), os.X_OK)
               for d in ("/usr/sbin", "/sbin", "/usr/bin")):
        tap.skip_all("%s is not installed" % tool)

# unique per run; useradd's names: [a-z_][a-z0-9_-]*, at most 32
U1 = "ptsu1-%s" % TAG[-8:]
U2 = "ptsu2-%s" % TAG[-8:]
PW_U1 = "Unix-pass-%s-1" % TAG    # set with chpasswd: a real shadow(5) hash
PW_U2 = "Unix-pass-%s-2" % TAG
IMAP_PORT, POP3_PORT, SUB_PORT = pt.free_port(), pt.free_port(), pt.free_port()
_made = []


def del_users():
    while _made:
        name = _made.pop()
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)


atexit.register(del_users)   # runs before the harness removes the tree


def _on_signal(signum, frame):
    del_users()
    pt._on_signal(signum, frame)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def make_user(name, home, shell, groups=()):
    extra = ["-G", ",".join(groups)] if groups else []
    r = pt.run_cmd(["useradd", "-M", "-U", "-d", home, "-s", shell] + extra +
                   [name], timeout=30)
    if r.returncode != 0:
        raise pt.SuiteError("useradd %s: %s" % (name, r.stderr.strip()))
    _made.append(name)
    pw = pwd.getpwnam(name)
    os.mkdir(home, 0o700)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return pw


def setup():
    try:
        s = pt.Suite(extra_conf={"system_domains": "%s, %s" % (SYSDOM, SYSDOM2),
                                 "imap_listen": "127.0.0.1:%d" % IMAP_PORT,
                                 "pop3_listen": "127.0.0.1:%d" % POP3_PORT,
                                 "submission_listen": "127.0.0.1:%d" % SUB_PORT,
                                 "imap_plaintext_auth": "yes",
                                 "pop3_plaintext_auth": "yes"},
                     aliases=pt.DEFAULT_ALIASES +
                     "root@%s: %s@%s\n" % (SYSDOM2, U1, SYSDOM))
        homes = os.path.join(s.tree, "home")
        os.mkdir(homes, 0o755)
        nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") \
            else "/bin/false"
        p1 = make_user(U1, os.path.join(homes, U1), nologin)
        # user2 is also in user1's group: initgroups must give it
        p2 = make_user(U2, os.path.join(homes, U2), "/bin/sh", (U1,))
        r = pt.run_cmd(["chpasswd"], input="%s:%s\n%s:%s\n" % (U1, PW_U1, U2, PW_U2),
                       timeout=30)
        if r.returncode != 0:
            raise pt.SuiteError("chpasswd: %s" % r.stderr.strip())
        return s.start(), p1, p2
    except Exception:
        import traceback
        tap.ok(False, "accounts made and the suite started as root",
               traceback.format_exc())
        del_users()
        tap.done()


S, PW1, PW2 = setup()
MD1 = os.path.join(PW1.pw_dir, "Maildir")
MD2 = os.path.join(PW2.pw_dir, "Maildir")


def md_files(md, sub="new"):
    d = os.path.join(md, sub)
    try:
        return sorted(os.path.join(d, n) for n in os.listdir(d)
                      if not n.startswith("."))
    except FileNotFoundError:
        return []


def with_subject(md, sub, subject):
    return [p for p in md_files(md, sub)
            if subject_of(read_file(p) or b"") == subject]


def wait_subject(md, sub, subject, timeout=20):
    return pt.poll(lambda: with_subject(md, sub, subject), timeout) or []


def send(subject, rcpt):
    return S.send(subject, (rcpt,))


def put_file(pw, path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)


def rcpt_reply(rcpt):
    with S.smtp() as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, msg = s.rcpt(rcpt)
        s.rset()
        return code, msg


def all_owned_by(top, pw):
    bad = []
    for d, dirs, files in os.walk(top):
        for n in [d] + [os.path.join(d, f) for f in files]:
            st = os.lstat(n)
            if st.st_uid != pw.pw_uid or st.st_gid != pw.pw_gid:
                bad.append("%s %d:%d" % (n, st.st_uid, st.st_gid))
    return bad


def t_plain():
    subj = "plain-" + TAG
    code, msg = send(subj, "%s@%s" % (U1, SYSDOM))
    tap.eq(code, 250, "mail to a Unix account of a system domain (not in "
           "local_domains) is accepted, not refused as relaying")
    m = wait_subject(MD1, "new", subj)
    if not tap.eq(len(m), 1, "it is in ~%s/Maildir/new" % U1):
        S.dump_log(30)
        return
    st = os.stat(m[0])
    tap.ok(st.st_uid == PW1.pw_uid and st.st_gid == PW1.pw_gid,
           "the message file belongs to %s" % U1,
           "uid %d gid %d" % (st.st_uid, st.st_gid))
    tap.eq(stat.S_IMODE(st.st_mode), 0o600, "the message file is mode 0600")
    st = os.stat(MD1)
    tap.ok(st.st_uid == PW1.pw_uid and stat.S_IMODE(st.st_mode) == 0o700,
           "~/Maildir was made by the delivery: %s's, mode 0700" % U1,
           "uid %d mode %o" % (st.st_uid, stat.S_IMODE(st.st_mode)))
    data = read_file(m[0]) or b""
    tap.ok(b"Delivered-To: %s@%s" % (U1.encode(), SYSDOM.encode()) in data,
           "Delivered-To names the account's address")
    tap.ok(not os.path.exists(os.path.join(S.mail_root, SYSDOM)),
           "nothing was made under mail_root for the system domain")


def t_case_and_plus():
    subj = "case-" + TAG
    code, _ = send(subj, "%s@%s" % (U1.upper(), SYSDOM.upper()))
    tap.eq(code, 250, "an upper-case address of the account is accepted")
    tap.eq(len(wait_subject(MD1, "new", subj)), 1, "and lands in its INBOX")
    subj = "plus-none-" + TAG
    code, _ = send(subj, "%s+nofolder@%s" % (U1, SYSDOM))
    tap.eq(code, 250, "user1+nofolder@ is accepted (plus-addressing)")
    tap.eq(len(wait_subject(MD1, "new", subj)), 1,
           "without a folder of that name it lands in INBOX")
    fx = os.path.join(MD1, ".x")
    for d in (fx, fx + "/cur", fx + "/new", fx + "/tmp"):
        os.makedirs(d, 0o700, exist_ok=True)
        os.chown(d, PW1.pw_uid, PW1.pw_gid)
    subj = "plus-x-" + TAG
    code, _ = send(subj, "%s+x@%s" % (U1, SYSDOM))
    tap.eq(code, 250, "user1+x@ is accepted")
    tap.eq(len(wait_subject(fx, "new", subj)), 1,
           "it lands in the existing folder .x")


RULES2 = """\
# %s's own rules
if header "Subject" contains "[lists]" { fileinto "Lists"; }
""" % U2

BROKEN = """\
keep;
# line 3 has the error
if header "Subject" contanes "x" { discard; }
"""


def t_rules():
    put_file(PW2, os.path.join(PW2.pw_dir, ".postern.rules"), RULES2)
    subj = "[lists] r-" + TAG
    code, _ = send(subj, "%s@%s" % (U2, SYSDOM))
    tap.eq(code, 250, "mail for %s accepted" % U2)
    lists = os.path.join(MD2, ".Lists")
    m = wait_subject(lists, "new", subj)
    if not tap.eq(len(m), 1, "~/.postern.rules filed it into ~/Maildir/.Lists/new"):
        S.dump_log(30)
        return
    tap.ok(os.path.exists(os.path.join(lists, "maildirfolder")),
           "the folder has its maildirfolder file")
    try:
        subs = open(os.path.join(MD2, "subscriptions")).read().split("\n")
    except OSError as e:
        subs = [str(e)]
    tap.ok("Lists" in subs, "Lists is in ~/Maildir/subscriptions", subs)
    subj = "other-" + TAG
    send(subj, "%s@%s" % (U2, SYSDOM))
    tap.eq(len(wait_subject(MD2, "new", subj)), 1,
           "a message the rules do not match lands in INBOX")
    bad = all_owned_by(MD2, PW2)
    tap.ok(not bad, "everything under ~%s/Maildir belongs to it" % U2,
           "\n".join(bad[:10]))
    bad = all_owned_by(MD1, PW1)
    tap.ok(not bad, "everything under ~%s/Maildir belongs to it" % U1,
           "\n".join(bad[:10]))


def t_broken_rules():
    path = os.path.join(PW2.pw_dir, ".postern.rules")
    put_file(PW2, path, BROKEN)
    subj = "[lists] broken-" + TAG
    code, _ = send(subj, "%s@%s" % (U2, SYSDOM))
    tap.eq(code, 250, "mail accepted while ~/.postern.rules is broken")
    tap.eq(len(wait_subject(MD2, "new", subj)), 1,
           "it lands in INBOX (never lost)")
    tap.ok(S.wait_log(path + ":3:"), "the error is logged as FILE:LINE (%s:3:)"
           % path)
    r = pt.run_cmd([pt.POSTERN, "check", "-c", S.conf], env=pt.clean_env())
    tap.ok(r.returncode != 0 and path + ":3:" in r.stderr,
           "postern check names it as FILE:LINE too",
           "status %s: %s" % (r.returncode, r.stderr))
    os.unlink(path)


def t_refusals():
    code, msg = rcpt_reply("root@%s" % SYSDOM)
    tap.eq(code, 550, "root@ a system domain without an alias: 550 at RCPT")
    code, msg = rcpt_reply("nosuch-%s@%s" % (TAG, SYSDOM))
    tap.eq(code, 550, "an unknown account: 550 at RCPT")
    tap.ok(msg.startswith(b"5.1.1"), "with 5.1.1", msg)
    code, msg = rcpt_reply("%s@elsewhere.test" % U1)
    tap.ok(code in (550, 554), "the account name at a foreign domain is "
           "still relaying (refused)", "%s %r" % (code, msg))


def t_root_alias():
    subj = "root-alias-" + TAG
    code, _ = send(subj, "root@%s" % SYSDOM2)
    tap.eq(code, 250, "root@ a system domain with an alias is accepted")
    tap.eq(len(wait_subject(MD1, "new", subj)), 1,
           "and goes where the alias says (%s's INBOX)" % U1)


def deliver_as(uid):
    """Deliver processes of the suite running as uid."""
    out = []
    for pid, ppid, pgid, exe, a0 in pt.descendants(S.proc.pid):
        if "deliver" not in (exe, a0):
            continue
        try:
            ids = pt.proc_ids(pid)
        except OSError:
            continue
        if ids.get("Uid", [None])[0] == uid:
            out.append((pid, ids))
    return out


def t_proc_ids():
    """Hold a delivery: the first fileinto of a new folder subscribes it,
    reading ~/Maildir/subscriptions, here a FIFO the delivery waits on."""
    fifo = os.path.join(MD2, "subscriptions")
    os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    os.chown(fifo, PW2.pw_uid, PW2.pw_gid)
    put_file(PW2, os.path.join(PW2.pw_dir, ".postern.rules"),
             'if header "Subject" contains "hold" { fileinto "Held"; }\n')
    subj = "hold-" + TAG
    code, _ = send(subj, "%s@%s" % (U2, SYSDOM))
    tap.eq(code, 250, "the held message is accepted")
    try:
        got = pt.poll(lambda: deliver_as(PW2.pw_uid), 15)
        if not got:
            tap.skip("the delivering process seen in /proc",
                     "it did not wait on the FIFO (ownership checked instead)")
        for pid, ids in got[:1]:
            tap.eq(ids.get("Uid"), [PW2.pw_uid] * 4,
                   "deliver (pid %d) runs with %s's uid, real/effective/saved/fs"
                   % (pid, U2))
            tap.eq(ids.get("Gid"), [PW2.pw_gid] * 4,
                   "and %s's gid in all four" % U2)
            tap.eq(sorted(ids.get("Groups", [])),
                   sorted({PW2.pw_gid, PW1.pw_gid}),
                   "its supplementary groups are the account's own and "
                   "%s's, which it is a member of (initgroups)" % U1)
    finally:
        fd = None
        for _ in range(100):    # the reader is there, or comes soon
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                time.sleep(0.05)
        if fd is not None:
            os.write(fd, b"Lists\n")
            os.close(fd)
    m = wait_subject(os.path.join(MD2, ".Held"), "new", subj)
    tap.eq(len(m), 1, "the held message is then delivered into .Held")
    if m:
        st = os.stat(m[0])
        tap.eq(st.st_uid, PW2.pw_uid, "and belongs to %s" % U2)


def session_procs(uid, exe):
    """The suite's exe processes whose four uids are uid."""
    out = []
    for pid, ppid, pgid, e, a0 in pt.descendants(S.proc.pid):
        if exe not in (e, a0):
            continue
        try:
            ids = pt.proc_ids(pid)
        except OSError:
            continue
        if ids.get("Uid") == [uid] * 4:
            out.append((pid, ids))
    return out


def imap_login(user, password):
    m = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=20)
    try:
        m.login(user, password)
    except imaplib.IMAP4.error as e:
        try:
            m.shutdown()
        except OSError:
            pass
        return None, str(e)
    return m, "OK"


def t_imap():
    """A Unix account logs in to imapd with its passwd(1) password (shadow
    checked by authd), and the session is that account on ~/Maildir."""
    subj = "plain-" + TAG        # t_plain's message, in user1's INBOX
    m, why = imap_login(U1, PW_U1)
    if not tap.ok(m is not None, "IMAP LOGIN as Unix account %s with its "
                  "shadow password" % U1, why):
        return
    try:
        typ, data = m.select("INBOX")
        n_files = len(md_files(MD1, "new")) + len(md_files(MD1, "cur"))
        tap.eq((typ, int(data[0])), ("OK", n_files),
               "SELECT INBOX: as many messages as ~%s/Maildir holds" % U1)
        typ, data = m.search(None, "SUBJECT", '"%s"' % subj)
        tap.eq(len(data[0].split()), 1, "SEARCH finds the message smtpd took "
               "for %s@%s" % (U1, SYSDOM))
        got = session_procs(PW1.pw_uid, "imapd")
        tap.ok(len(got) == 1, "one imapd process runs with %s's uid (all four)"
               % U1, pt.descendants(S.proc.pid))
        for pid, ids in got[:1]:
            tap.eq(ids.get("Gid"), [PW1.pw_gid] * 4, "and its gid")
            tap.eq(os.readlink("/proc/%d/cwd" % pid), MD1,
                   "its working directory is ~%s/Maildir" % U1)
        m.store(data[0].split()[0], "+FLAGS", "\\Seen")
    finally:
        m.logout()
    tap.eq(all_owned_by(MD1, PW1), [], "after the IMAP session every file "
           "under ~%s/Maildir is still the account's" % U1)

    m, why = imap_login("%s@%s" % (U2, SYSDOM.upper()), PW_U2)
    if tap.ok(m is not None, "LOGIN with the address (domain in any case) "
              "works too", why):
        typ, data = m.list()
        names = b" ".join(data)
        tap.ok(b"Lists" in names and b"Held" in names, "LIST shows the folders "
               "%s's ~/.postern.rules filed into" % U2, data)
        typ, data = m.select("Lists")
        tap.ok(typ == "OK" and int(data[0]) >= 1, "and SELECT Lists has its "
               "message", data)
        m.logout()

    # AUTHENTICATE PLAIN: libsasl2 asks authd's shadow check (bare name)
    m = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=20)
    try:
        typ, _ = m.authenticate(
            "PLAIN", lambda _: ("\0%s\0%s" % (U1, PW_U1)).encode())
        tap.eq(typ, "OK", "AUTHENTICATE PLAIN as %s (SASL, shadow)" % U1)
        m.logout()
    except imaplib.IMAP4.error as e:
        tap.ok(False, "AUTHENTICATE PLAIN as %s (SASL, shadow)" % U1, str(e))

    # AUTHENTICATE LOGIN: with system_domains authd runs the exchange
    # itself, and the Unix password is checked in a worker thread (a wrong
    # one: test_auth_cmd; here the failures from 127.0.0.1 are counted
    # towards authd's block of the network, which the tests below need)
    for who, pw, want, what in (
            (U1, PW_U1, "OK", "AUTHENTICATE LOGIN as %s (authd's exchange, "
             "shadow)" % U1),
            ("alice@example.test", pt.PASSWORD, "OK", "AUTHENTICATE LOGIN "
             "as a virtual user (sasldb) in the same setup")):
        answers = [who.encode(), pw.encode()]
        m = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=20)
        try:
            typ, _ = m.authenticate("LOGIN", lambda _: answers.pop(0))
            tap.eq(typ, want, what)
            m.logout()
        except imaplib.IMAP4.error as e:
            tap.ok(want == "NO" and "AUTHENTICATIONFAILED" in str(e), what, str(e))

    m, why = imap_login(U1, PW_U2)
    tap.ok(m is None and "AUTHENTICATIONFAILED" in why,
           "a wrong password: NO [AUTHENTICATIONFAILED]", why)
    m, why = imap_login("root", "x")
    tap.ok(m is None, "root never logs in (uid 0)", why)
    m, why = imap_login("%s+x@%s" % (U1, SYSDOM), PW_U1)
    tap.ok(m is None, "nor an address extension (%s+x)" % U1, why)
    m, why = imap_login("alice@example.test", pt.PASSWORD)
    if tap.ok(m is not None, "a virtual user still logs in (sasldb)", why):
        got = session_procs(pwd.getpwnam("vmail").pw_uid, "imapd")
        tap.ok(len(got) >= 1, "and its session runs as vmail")
        m.logout()
    shadow_gid = os.stat("/etc/shadow").st_gid
    authd = [pid for pid, ppid, pgid, e, a0 in pt.descendants(S.proc.pid)
             if "authd" in (e, a0)]
    if tap.eq(len(authd), 1, "one authd"):
        ids = pt.proc_ids(authd[0])
        pa = pwd.getpwnam("postern-auth")
        tap.eq((ids["Uid"][0], sorted(ids["Groups"])),
               (pa.pw_uid, sorted([pa.pw_gid, shadow_gid])),
               "authd runs as postern-auth, its groups its own and "
               "/etc/shadow's, no other (system_domains set)")
        tap.ok(len(os.listdir("/proc/%d/task" % authd[0])) > 1,
               "and runs worker threads for the password checks")
    log = read_file(S.log_path) or b""
    tap.ok(b"login user=%s@%s" % (U1.encode(), SYSDOM.encode()) in log,
           "the log names the Unix login as %s@%s" % (U1, SYSDOM))


def t_parallel_logins():
    """authd checks Unix passwords in worker threads (crypt(3) of a
    yescrypt hash takes tens of ms): 8 logins at once all succeed, with
    right and wrong passwords mixed, and a client that hangs up while its
    check runs leaves authd serving."""
    import threading
    res = {}

    def one(i):
        m, why = imap_login(U1 if i % 2 else U2, (PW_U1 if i % 2 else PW_U2)
                            if i % 4 != 3 else "wrong-%d" % i)
        res[i] = m is not None
        if m is not None:
            m.logout()
    s = socket.create_connection(("127.0.0.1", IMAP_PORT), timeout=10)
    s.recv(4096)
    s.sendall(b'a LOGIN "%s" "%s"\r\n' % (U1.encode(), PW_U1.encode()))
    s.close()       # gone before its check is answered
    ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    tap.eq(sorted(i for i, ok in res.items() if ok), [0, 1, 2, 4, 5, 6],
           "8 parallel IMAP logins of Unix accounts: the 6 right passwords "
           "in, the 2 wrong ones out")
    m, why = imap_login(U1, PW_U1)
    tap.ok(m is not None, "authd still serves after a client left during "
           "its check", why)
    if m is not None:
        m.logout()


def t_pop3():
    p = poplib.POP3("127.0.0.1", POP3_PORT, timeout=20)
    try:
        p.user(U1)
        p.pass_(PW_U1)
    except poplib.error_proto as e:
        tap.ok(False, "POP3 USER/PASS as Unix account %s" % U1, str(e))
        return
    tap.ok(True, "POP3 USER/PASS as Unix account %s" % U1)
    n, _ = p.stat()
    n_files = len(md_files(MD1, "new")) + len(md_files(MD1, "cur"))
    tap.eq(n, n_files, "STAT counts ~%s/Maildir's messages" % U1)
    got = session_procs(PW1.pw_uid, "pop3d")
    tap.eq(len(got), 1, "the pop3d session runs as %s" % U1)
    p.quit()
    p = poplib.POP3("127.0.0.1", POP3_PORT, timeout=20)
    try:
        p.user(U2)
        p.pass_(PW_U1)
        tap.ok(False, "POP3 with another account's password is refused")
    except poplib.error_proto as e:
        tap.ok(True, "POP3 with another account's password is refused", str(e))
    try:
        p.quit()
    except (poplib.error_proto, OSError):
        pass


def t_submission():
    """SMTP AUTH on 587 goes through authd too: the account sends mail
    (here to user2, local, so nothing leaves) with its Unix password."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    subj = "submitted-" + TAG
    try:
        with smtplib.SMTP("127.0.0.1", SUB_PORT, local_hostname="client.test",
                          timeout=20) as s:
            s.ehlo()
            s.starttls(context=ctx)
            s.ehlo()
            code, _ = s.login(U1, PW_U1)
            tap.eq(code, 235, "submission: AUTH as Unix account %s with its "
                   "password: 235" % U1)
            # and the LOGIN mechanism (authd's exchange): a second AUTH in
            # one session is refused, so a session of its own
            with smtplib.SMTP("127.0.0.1", SUB_PORT, local_hostname="client.test",
                              timeout=20) as s2:
                s2.ehlo()
                s2.starttls(context=ctx)
                s2.ehlo()
                s2.user, s2.password = U1, PW_U1
                code, _ = s2.auth("LOGIN", s2.auth_login)
                tap.eq(code, 235, "submission: AUTH LOGIN as %s: 235" % U1)
            s.sendmail("%s@%s" % (U1, SYSDOM), ["%s@%s" % (U2, SYSDOM)],
                       "From: %s@%s\r\nSubject: %s\r\n\r\nhi\r\n"
                       % (U1, SYSDOM, subj))
    except smtplib.SMTPException as e:
        tap.ok(False, "submission: AUTH as Unix account %s" % U1, repr(e))
        return
    tap.eq(len(wait_subject(MD2, "new", subj)), 1,
           "and the message it sent reached %s's INBOX" % U2)
    try:
        with smtplib.SMTP("127.0.0.1", SUB_PORT, local_hostname="client.test",
                          timeout=20) as s:
            s.ehlo()
            s.starttls(context=ctx)
            s.ehlo()
            s.login(U1, PW_U2)
        tap.ok(False, "submission: a wrong Unix password is refused")
    except smtplib.SMTPAuthenticationError as e:
        tap.eq(e.smtp_code, 535, "submission: a wrong Unix password gets 535")


def t_check():
    r = pt.run_cmd([pt.POSTERN, "user", "add", "-c", S.conf, "-f",
                    "%s@%s" % (U1, SYSDOM)], input="pw-12345678\n",
                   env=pt.clean_env())
    tap.ok(r.returncode != 0 and "system_domains" in r.stderr,
           "postern user add refuses an address of a system domain (even "
           "with -f)", r.stderr)
    r = pt.run_cmd([pt.POSTERN, "check", "-c", S.conf], env=pt.clean_env())
    tap.ok("system_domains" not in r.stderr,
           "postern check as root says nothing about system_domains", r.stderr)
    r = subprocess.run(
        [pt.POSTERN, "check", "-c", S.conf], capture_output=True, text=True,
        timeout=20, env=pt.clean_env(), preexec_fn=pt.as_user(U1),
        stdin=subprocess.DEVNULL)
    tap.ok("warning: system_domains" in r.stderr,
           "postern check as an ordinary user warns about system_domains",
           r.stderr)


def t_stop():
    tap.eq(S.stop(), 0, "postern run (root) exits 0 on SIGTERM")


def t_nonroot():
    """DESIGN.md rule 6: started as user1, the suite delivers to user1's
    own account only; another account gets 451 at RCPT."""
    n = pt.Suite(extra_conf={"system_domains": SYSDOM}, name="as-" + U1)
    pt.chown_tree(n.tree, U1)
    n.start(user=U1)
    subj = "nonroot-" + TAG
    code, _ = n.send(subj, ("%s+x@%s" % (U1, SYSDOM),))
    tap.eq(code, 250, "started as %s: mail to its own account is accepted" % U1)
    m = wait_subject(os.path.join(MD1, ".x"), "new", subj)
    tap.eq(len(m), 1, "and delivered into its ~/Maildir (.x)")
    with n.smtp() as s:
        s.ehlo()
        s.mail("sender@remote.test")
        code, msg = s.rcpt("%s@%s" % (U2, SYSDOM))
    tap.eq(code, 451, "another account: 451 at RCPT (not started as root)")
    tap.eq(n.stop(), 0, "postern run (as %s) exits 0 on SIGTERM" % U1)


for fn in (t_plain, t_case_and_plus, t_rules, t_broken_rules, t_refusals,
           t_root_alias, t_proc_ids, t_imap, t_parallel_logins, t_pop3, t_submission, t_check, t_stop,
           t_nonroot):
    tap.run(fn, timeout=90)
del_users()
tap.done()
