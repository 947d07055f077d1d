#!/usr/bin/env python3
"""
test_imap_clients: imapd under the master with real IMAP clients.

  curl      imap:// with STARTTLS (--ssl-reqd) and imaps://: list the
            folders, fetch a message by UID, search, run a command, upload
            (APPEND); without TLS it cannot log in (LOGINDISABLED)
  fetchmail over IMAPS (ssl) and STARTTLS (sslproto), keep: every message
            fetched, nothing deleted, the messages marked \\Seen
  mbsync    (isync) a two-way sync of several folders with flags into a
            local Maildir; then a change on each side (flags, a new
            message, a deletion, a new folder); a second sync; both sides
            must then hold the same messages with the same flags, and a
            third sync must change nothing

Each client must exist and be able to do what is asked: otherwise the
test FAILS naming the Debian package (curl, fetchmail, isync).
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import test_imap_util as u  # noqa: E402

S = u.imap_suite("imap-clients")
ALICE, BOB, CAROL = u.ALICE, u.BOB, u.CAROL
PW = pt.PASSWORD
LETTER = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
          "T": "\\Deleted"}


def ip_cert():
    """Replace the suite's certificate by one for the name 127.0.0.1: mbsync
    checks the host name even for a certificate it is told to trust."""
    r = pt.run_cmd(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", S.tls_key, "-out", S.tls_cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1"], timeout=30)
    if r.returncode != 0:
        raise pt.SuiteError("openssl req failed: %s" % r.stderr)
    os.chmod(S.tls_key, 0o600)


def t_start():
    try:
        ip_cert()
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master starts imapd", e)
        tap.done()
    tap.ok(True, "the master starts imapd")


# ---------------------------------------------------------------- curl

def curl(*args, timeout=30):
    return pt.run_cmd(["curl", "-sS", "-k", "--max-time", "20", "-u", "%s:%s" % (ALICE, PW)]
                      + list(args), timeout=timeout)


def t_curl():
    if not pt.require("curl", "imap", "imaps"):
        return
    data = u.plain_message("curl fetch", "fetched by curl\n", msgid="<curl-1@t>")
    u.deliver(S, ALICE, data)
    r = curl("--ssl-reqd", "imap://127.0.0.1:%d/" % S.imap_port)
    tap.ok(r.returncode == 0 and re.search(r'(?m)^\* LIST .* "?INBOX"?\r?$', r.stdout)
           and re.search(r'(?m)^\* LIST .*\\Sent.* "?Sent"?\r?$', r.stdout),
           "curl imap:// with STARTTLS lists INBOX and Sent", r)
    c = u.session(S.imap_port, select="INBOX")
    uid = [k for k, v in u.uid_map(c).items() if v == "<curl-1@t>"]
    c.cmd("LOGOUT")
    c.close()
    r = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "-u", "%s:%s" % (ALICE, PW),
                        "imaps://127.0.0.1:%d/INBOX;UID=%d" % (S.imaps_port,
                                                              uid[0] if uid else 0)],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    tap.ok(r.returncode == 0 and r.stdout == u.crlf(data),
           "curl imaps://.../INBOX;UID=n fetches the message byte for byte", r)
    r = curl("imaps://127.0.0.1:%d/INBOX?SUBJECT%%20%%22curl%%20fetch%%22" % S.imaps_port)
    tap.ok(r.returncode == 0 and re.search(r"(?m)^\* SEARCH %d\r?$" % (uid[0] if uid else 0),
                                           r.stdout),
           "curl imaps://.../INBOX?SUBJECT ... searches", r)
    r = curl("-X", 'STATUS INBOX (MESSAGES UIDNEXT)', "imaps://127.0.0.1:%d/" % S.imaps_port)
    tap.ok(r.returncode == 0 and "* STATUS" in r.stdout and "MESSAGES" in r.stdout,
           "curl -X STATUS runs a custom command", r)
    up = os.path.join(S.tree, "curl-upload.eml")
    with open(up, "wb") as f:
        f.write(u.crlf(u.plain_message("curl upload", msgid="<curl-up@t>")))
    r = curl("--ssl-reqd", "-T", up, "imap://127.0.0.1:%d/Drafts" % S.imap_port)
    c = u.session(S.imap_port, select="Drafts")
    ids = list(u.uid_map(c).values())
    c.cmd("LOGOUT")
    c.close()
    tap.ok(r.returncode == 0 and "<curl-up@t>" in ids, "curl -T uploads into Drafts (APPEND)",
           (r, ids))
    # (challenge-response mechanisms may be offered before TLS: they do
    # not expose the password, so only PLAIN and LOGIN are tried here)
    for opt in ("AUTH=PLAIN", "AUTH=LOGIN"):
        r = curl("--login-options", opt, "imap://127.0.0.1:%d/" % S.imap_port)
        tap.ok(r.returncode != 0, "curl imap:// %s without TLS cannot log in" % opt, r)


# ---------------------------------------------------------------- fetchmail

def t_fetchmail():
    if not pt.require("fetchmail", "SSL"):
        return
    for i in range(3):
        u.deliver(S, BOB, u.plain_message("fetch %d" % i, "text %d\n.dot\n" % i, to=BOB))
    home = tempfile.mkdtemp(prefix="fetchmail-", dir=S.tree)
    for mode, port, opts in (("imaps", S.imaps_port, "ssl"),
                             ("starttls", S.imap_port, "sslproto tls1.2+")):
        r, data = pt.fetchmail_fetch(home, "imap", port, BOB, PW, opts)
        tap.ok(r.returncode == 0 and data.count(b"Subject: fetch") == 3
               and b"\n.dot\n" in data,
               "fetchmail over IMAP (%s) fetches the 3 messages" % mode,
               "rc=%s\n%s%s" % (r.returncode, r.stdout, r.stderr[-2000:]))
    files = S.maildir_messages(BOB)
    tap.eq(len(files), 3, "fetchmail with keep deleted nothing")
    tap.ok(files and all(f.endswith(":2,S") for f in files),
           "fetchmail marked the messages \\Seen (:2,S)", files)


# ---------------------------------------------------------------- mbsync

MBSYNCRC = """\
IMAPAccount srv
Host 127.0.0.1
Port {port}
User {user}
Pass {pw}
SSLType IMAPS
CertificateFile {cert}
Timeout 30

IMAPStore remote
Account srv

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
Sync All
"""


def mbsync(home, rc):
    env = pt.clean_env()
    env["HOME"] = home
    return subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)


def server_state(user):
    """{folder: {Message-ID: flags}} over IMAP (folders that hold messages
    or exist)."""
    c = u.session(S.imaps_port, user, implicit=True)
    r = c.cmd('LIST "" "*"')
    names = []
    for x in r.untagged:
        if x.upper().startswith(b"* LIST "):
            t = u.parse(x[7:])
            if "\\noselect" not in [a.lower() for a in t[0]]:
                names.append(t[2].decode() if isinstance(t[2], bytes) else t[2])
    out = {}
    for n in names:
        c.cmd('EXAMINE "%s"' % n)
        r = c.cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        msgs = {}
        for d in u.fetches(r.untagged).values():
            h = [v for k, v in d.items() if k.startswith("BODY[")][0] or b""
            mid = h.split(b":", 1)[1].strip().decode() if b":" in h else "?"
            msgs[mid] = sorted(set(u.flags_of(d.get("FLAGS"))) - {"\\Recent"})
        out["INBOX" if n.upper() == "INBOX" else n] = msgs
    c.cmd("LOGOUT")
    c.close()
    return out


def local_state(local):
    out = {}
    for d, dirs, files in os.walk(local):
        if not os.path.isdir(os.path.join(d, "cur")):
            continue
        rel = os.path.relpath(d, local)
        name = "INBOX" if rel == "INBOX" else rel.replace(os.sep, ".")
        msgs = {}
        for sub in ("cur", "new"):
            for f in os.listdir(os.path.join(d, sub)):
                data = pt.read_file(os.path.join(d, sub, f)) or b""
                m = re.search(rb"(?im)^message-id:\s*(\S+)", data.split(b"\n\n", 1)[0])
                info = f.split(":2,", 1)[1] if ":2," in f else ""
                msgs[m.group(1).decode() if m else "?"] = sorted(
                    LETTER[ch] for ch in info if ch in LETTER)
        out[name] = msgs
    return out


def local_file(local, folder, msgid):
    d = os.path.join(local, "INBOX" if folder == "INBOX" else folder.replace(".", os.sep))
    for sub in ("cur", "new"):
        for f in os.listdir(os.path.join(d, sub)):
            p = os.path.join(d, sub, f)
            if msgid.encode() in (pt.read_file(p) or b""):
                return p
    return None


def t_mbsync():
    if not pt.require("mbsync"):
        return
    for i in range(3):
        u.deliver(S, CAROL, u.plain_message("sync %d" % i, msgid="<sync-%d@t>" % i, to=CAROL))
    c = u.session(S.imap_port, CAROL)
    ok = [c.cmd("CREATE Work").ok, c.cmd("CREATE Lists.postern").ok,
          c.append("Work", u.crlf(u.plain_message("w0", msgid="<w0@t>")), "\\Flagged").ok,
          c.append("Work", u.crlf(u.plain_message("w1", msgid="<w1@t>")), "\\Seen").ok,
          c.append("Lists.postern", u.crlf(u.plain_message("l0", msgid="<l0@t>")),
                   "\\Seen \\Answered").ok]
    c.cmd("SELECT INBOX")
    c.cmd("STORE 1 +FLAGS (\\Seen)")
    c.cmd("LOGOUT")
    c.close()
    tap.ok(all(ok), "carol's folders are set up over IMAP", ok)
    home = tempfile.mkdtemp(prefix="mbsync-", dir=S.tree)
    local = os.path.join(home, "Mail")
    os.mkdir(local)
    rc = os.path.join(home, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(MBSYNCRC.format(port=S.imaps_port, user=CAROL, pw=PW, cert=S.tls_cert,
                                local=local))
    r = mbsync(home, rc)
    tap.ok(r.returncode == 0, "mbsync: the first sync succeeds",
           "rc=%s\n%s%s" % (r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
    srv, loc = server_state(CAROL), local_state(local)
    tap.eq(loc, srv, "after the first sync the local Maildir equals the server "
           "(folders, messages, flags)")
    for name in ("Work", "Lists.postern", "Sent", "Trash"):
        tap.ok(name in loc, "the local side has %s" % name, sorted(loc))
    # A change on each side.
    p = local_file(local, "INBOX", "<sync-1@t>")
    if p:
        base, _, info = os.path.basename(p).partition(":2,")
        os.rename(p, os.path.join(local, "INBOX", "cur", base + ":2," +
                                  "".join(sorted(set(info) | {"F", "S"}))))
    p = local_file(local, "INBOX", "<sync-2@t>")
    if p:
        os.unlink(p)
    new = os.path.join(local, "Work", "new", "1715000000.local-1.testhost")
    with open(new, "wb") as f:
        f.write(u.plain_message("local new", msgid="<local-new@t>"))
    c = u.session(S.imap_port, CAROL, select="Work")
    um = {v: k for k, v in u.uid_map(c).items()}
    ok = [c.cmd("UID STORE %d +FLAGS (\\Answered)" % um.get("<w0@t>", 0)).ok,
          c.append("INBOX", u.crlf(u.plain_message("server new", msgid="<server-new@t>"))).ok,
          c.cmd("CREATE Projects").ok,
          c.append("Projects", u.crlf(u.plain_message("p0", msgid="<p0@t>")), "\\Seen").ok]
    c.cmd("LOGOUT")
    c.close()
    tap.ok(all(ok), "changes made on the server", ok)
    r = mbsync(home, rc)
    tap.ok(r.returncode == 0, "mbsync: the second sync succeeds",
           "rc=%s\n%s%s" % (r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
    srv, loc = server_state(CAROL), local_state(local)
    tap.eq(loc, srv, "after the second sync both sides agree")
    tap.eq(srv.get("INBOX", {}).get("<sync-1@t>"), ["\\Flagged", "\\Seen"],
           "the server has the flags set locally")
    tap.ok("<sync-2@t>" not in srv.get("INBOX", {}),
           "the message deleted locally is gone from the server", srv.get("INBOX"))
    tap.ok("<local-new@t>" in srv.get("Work", {}), "the new local message is on the server",
           srv.get("Work"))
    tap.eq(loc.get("Work", {}).get("<w0@t>"), ["\\Answered", "\\Flagged"],
           "the local side has the flag set on the server")
    tap.ok("<server-new@t>" in loc.get("INBOX", {}) and "<p0@t>" in loc.get("Projects", {}),
           "the new server message and folder are local", sorted(loc))
    r = mbsync(home, rc)
    srv2, loc2 = server_state(CAROL), local_state(local)
    tap.ok(r.returncode == 0 and srv2 == srv and loc2 == loc,
           "a third sync changes nothing", "rc=%s\n%s" % (r.returncode, r.stderr[-2000:]))


def t_stop():
    tap.eq(S.stop(), 0, "the master stops cleanly")


def main():
    for fn in (t_start, t_curl, t_fetchmail, t_mbsync, t_stop):
        tap.run(fn, timeout=240)
    tap.done()


if __name__ == "__main__":
    main()
