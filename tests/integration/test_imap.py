#!/usr/bin/env python3
"""
test_imap: imapd under the master (`postern run` binds imap_listen and
imaps_listen and spawns authd and imapd), driven by Python's imaplib and
a byte-exact client (test_imap_util.Imap): the pre-auth dialogue
(CAPABILITY, LOGINDISABLED before STARTTLS, STARTTLS with a pipelined
command discarded, LOGIN, AUTHENTICATE PLAIN with and without SASL-IR,
wrong passwords -> NO [AUTHENTICATIONFAILED]), CAPABILITY after login,
the SPECIAL-USE folders made on first login, LIST/CREATE/RENAME/DELETE/
SUBSCRIBE/LSUB and modified UTF-7 names (and UTF8=ACCEPT), SELECT and
EXAMINE, mail sent through smtpd in INBOX, STORE and the Maildir file
names, COPY/MOVE with COPYUID, APPEND with APPENDUID (and LITERAL+),
EXPUNGE and UID EXPUNGE, the keyword table full, IDLE woken within a
second by another session and by a delivery, COMPRESS=DEFLATE,
AUTHENTICATE LOGIN and SCRAM, and as root the processes' uids, the chroot
of the login process and the owner of the files.
FETCH, SEARCH, SORT, THREAD, ESEARCH and CONDSTORE/QRESYNC are in
test_imap_fetch.py; TOOBIG, quota and a full disk in test_imap_limits.py.
"""

import datetime
import os
import pwd
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
from postern_test import tap  # noqa: E402
import test_imap_util as u  # noqa: E402

S = u.imap_suite("imap")
ALICE, BOB = u.ALICE, u.BOB
SUBJ = "imap-smtp-%d" % os.getpid()


def folder_dir(suite, user, folder):
    md = suite.maildir(user)
    return md if folder.upper() == "INBOX" else os.path.join(md, "." + folder)


def files_with_msgid(suite, user, msgid, folder="INBOX"):
    """Paths of the messages in folder whose Message-ID is msgid."""
    d = folder_dir(suite, user, folder)
    out = []
    for sub in ("cur", "new"):
        try:
            names = os.listdir(os.path.join(d, sub))
        except FileNotFoundError:
            continue
        for n in names:
            p = os.path.join(d, sub, n)
            data = pt.read_file(p)
            if data and msgid.encode() in data.split(b"\n\n", 1)[0]:
                out.append(p)
    return out


def info_of(path):
    """The maildir flags of a file name (the letters after ':2,')."""
    base = os.path.basename(path)
    return base.split(":2,", 1)[1] if ":2," in base else None


def list_entries(untagged, verb="LIST"):
    """{name: (lower-cased attributes, delimiter, rest)} of LIST/LSUB responses."""
    out = {}
    head = ("* %s " % verb).encode()
    for x in untagged:
        if not x.upper().startswith(head):
            continue
        t = u.parse(x[len(head):])
        name = t[2].decode("utf-8") if isinstance(t[2], bytes) else t[2]
        out[name] = ([a.lower() for a in t[0]], t[1], t[3:])
    return out


def parse_internaldate(v):
    if isinstance(v, bytes):
        v = v.decode()
    return datetime.datetime.strptime(v.strip(), "%d-%b-%Y %H:%M:%S %z")


# ---------------------------------------------------------------- tests

def t_start():
    try:
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master starts imapd on imap_listen and imaps_listen", e)
        tap.done()
    tap.ok(True, "the master starts imapd on imap_listen and imaps_listen")
    code, _ = S.send(SUBJ)
    tap.eq(code, 250, "a message for alice is accepted on port 25")
    tap.eq(len(S.wait_for_subject(ALICE, SUBJ)), 1, "and delivered to her Maildir")


def t_preauth():
    c = u.Imap(S.imap_port)
    g = c.greeting()
    tap.ok(g is not None and g.startswith("* OK"), "port 143: the greeting is * OK", g)
    caps = c.capabilities()
    tap.ok("IMAP4rev1" in caps, "CAPABILITY before TLS lists IMAP4rev1", caps)
    tap.ok("STARTTLS" in caps, "CAPABILITY before TLS lists STARTTLS", caps)
    tap.ok("LOGINDISABLED" in caps, "CAPABILITY before TLS lists LOGINDISABLED", caps)
    tap.ok("AUTH=PLAIN" not in [x.upper() for x in caps],
           "CAPABILITY before TLS does not offer AUTH=PLAIN", caps)
    r = c.login()
    tap.ok(r.status in ("NO", "BAD"), "LOGIN before STARTTLS is refused", r)
    r = c.cmd("AUTHENTICATE PLAIN " + u.sasl_plain())
    tap.ok(r.status in ("NO", "BAD"), "AUTHENTICATE PLAIN before STARTTLS is refused", r)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.status in ("NO", "BAD"), "SELECT before login is refused", r)
    r = c.cmd("NOOP")
    tap.ok(r.ok, "NOOP works before login", r)
    # A command pipelined after STARTTLS must be discarded (RFC 3501 6.2.1,
    # RFC 7817 4): it was sent in the clear.
    c.send(b"x STARTTLS\r\ny LOGIN %s %s\r\n" % (ALICE.encode(), pt.PASSWORD.encode()))
    r = c.response()
    tap.ok(r is not None and r.startswith(b"x OK"), "STARTTLS answers OK", r)
    c.sock = u.tls_ctx().wrap_socket(c.sock)
    r = c.cmd("CAPABILITY")
    tap.ok(r.ok and not any(x.startswith(b"y ") for x in r.untagged),
           "the LOGIN pipelined after STARTTLS was discarded", r)
    caps = u.caps_of(r.untagged)
    tap.ok("STARTTLS" not in caps and "LOGINDISABLED" not in caps,
           "CAPABILITY after STARTTLS: no STARTTLS, no LOGINDISABLED", caps)
    tap.ok("AUTH=PLAIN" in [x.upper() for x in caps] and "SASL-IR" in caps,
           "CAPABILITY after STARTTLS offers AUTH=PLAIN and SASL-IR", caps)
    r = c.cmd("STARTTLS")
    tap.ok(r.status in ("NO", "BAD"), "a second STARTTLS is refused", r)
    r = c.login()
    tap.ok(r.ok, "LOGIN after STARTTLS works", r)
    caps = c.capabilities()
    for k in u.POSTAUTH_CAPS:
        tap.ok(k in caps, "CAPABILITY after login lists %s" % k, caps)
    tap.ok("IMAP4rev2" in caps, "CAPABILITY after login lists IMAP4rev2", caps)
    tap.ok(any(x in caps for x in ("LITERAL+", "LITERAL-")),
           "CAPABILITY after login lists LITERAL+ or LITERAL-", caps)
    tap.ok(any(x.startswith("APPENDLIMIT") for x in caps),
           "CAPABILITY after login lists APPENDLIMIT", caps)
    tap.ok("STARTTLS" not in caps and "LOGINDISABLED" not in caps,
           "CAPABILITY after login: no STARTTLS, no LOGINDISABLED", caps)
    r = c.cmd("LOGOUT")
    tap.ok(r.ok and any(x.startswith(b"* BYE") for x in r.untagged),
           "LOGOUT: * BYE then OK", r)
    c.close()


def t_imaplib():
    m = u.imaplib_session(S.imap_port)
    typ, data = m.select("INBOX")
    tap.ok(typ == "OK" and int(data[0]) >= 1,
           "imaplib: STARTTLS + LOGIN, SELECT INBOX shows the message", data)
    m.logout()
    m = u.imaplib_session(S.imaps_port, implicit=True)
    typ, data = m.select("INBOX", readonly=True)
    tap.ok(typ == "OK" and int(data[0]) >= 1, "imaplib over IMAPS: LOGIN, EXAMINE INBOX",
           data)
    typ, data = m.uid("SEARCH", None, "HEADER", "Subject", SUBJ)
    uids = data[0].split() if typ == "OK" else []
    tap.eq(len(uids), 1, "imaplib: UID SEARCH finds the message sent through smtpd")
    if uids:
        typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
        body = data[0][1] if typ == "OK" and data and isinstance(data[0], tuple) else b""
        disk = pt.read_file(S.wait_for_subject(ALICE, SUBJ)[0]) or b""
        tap.eq(body, u.crlf(disk), "imaplib: BODY.PEEK[] is the delivered file with CRLF")
    m.logout()


def t_authenticate():
    c = u.Imap(S.imaps_port, tls=True)
    c.greeting()
    caps = c.capabilities()
    tap.ok("AUTH=PLAIN" in [x.upper() for x in caps] and "SASL-IR" in caps
           and "LOGINDISABLED" not in caps,
           "IMAPS before login: AUTH=PLAIN, SASL-IR, no LOGINDISABLED", caps)
    r = c.cmd("AUTHENTICATE PLAIN " + u.sasl_plain())
    tap.ok(r.ok, "AUTHENTICATE PLAIN with an initial response (SASL-IR)", r)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok, "and the session works (SELECT INBOX)", r)
    c.cmd("LOGOUT")
    c.close()
    c = u.Imap(S.imaps_port, tls=True)
    c.greeting()
    tag = c.start("AUTHENTICATE PLAIN")
    r = c.response()
    tap.ok(r is not None and r.startswith(b"+"),
           "AUTHENTICATE PLAIN without one gets a continuation", r)
    c.send(u.sasl_plain() + "\r\n")
    r = c.finish(tag, 20)
    tap.ok(r.ok, "and then logs in", r)
    c.close()
    c = u.Imap(S.imaps_port, tls=True)
    c.greeting()
    tag = c.start("AUTHENTICATE PLAIN")
    c.response()
    c.send(b"*\r\n")
    r = c.finish(tag)
    tap.eq(r.status, "BAD", "AUTHENTICATE cancelled with * gets BAD (RFC 3501 6.2.2)")
    r = c.cmd("NOOP")
    tap.ok(r.ok, "the connection stays usable after the cancel", r)
    c.close()


def t_sasl_mechanisms():
    c = u.Imap(S.imaps_port, tls=True)
    c.greeting()
    caps = [x.upper() for x in c.capabilities()]
    tap.ok("AUTH=LOGIN" in caps, "IMAPS: AUTH=LOGIN is offered", caps)
    prompts = []

    def login_steps(chal):
        prompts.append(chal)
        return (u.ALICE if len(prompts) == 1 else pt.PASSWORD).encode()
    r = u.sasl_exchange(c, "LOGIN", login_steps)
    tap.ok(r.ok and len(prompts) == 2, "AUTHENTICATE LOGIN (two challenges)", (r, prompts))
    c.close()
    scrams = [x[5:] for x in caps if x.startswith("AUTH=SCRAM-SHA-")
              and not x.endswith("-PLUS")]
    tap.ok(scrams, "a SCRAM mechanism is offered (issue 9: PLAIN, LOGIN, SCRAM)", caps)
    for mech in scrams:
        c = u.Imap(S.imaps_port, tls=True)
        c.greeting()
        r, verified = u.scram(c, mech)
        tap.ok(r.ok, "AUTHENTICATE %s with SASL-IR logs in" % mech, r)
        tap.ok(verified, "%s: the server proves it knows the password (v=)" % mech, r)
        c.close()
    c = u.Imap(S.imap_port)
    c.greeting()
    pre = [x.upper() for x in c.capabilities()]
    offered = [x[5:] for x in pre if x.startswith("AUTH=")]
    tap.ok(not any(m in ("PLAIN", "LOGIN") for m in offered),
           "before STARTTLS only mechanisms that do not expose the password", pre)
    r = u.sasl_exchange(c, "LOGIN", login_steps)
    tap.ok(r.status in ("NO", "BAD"), "AUTHENTICATE LOGIN before STARTTLS is refused", r)
    c.close()


def t_wrong_password():
    c = u.Imap(S.imaps_port, tls=True)
    c.greeting()
    t0 = time.monotonic()
    r = c.login(ALICE, "wrong-password")
    took = time.monotonic() - t0
    tap.ok(r.status == "NO" and r.code() == "AUTHENTICATIONFAILED",
           "LOGIN with a wrong password: NO [AUTHENTICATIONFAILED]", r)
    tap.ok(took >= 1.0, "a failed login is delayed (%.2f s)" % took)
    r = c.cmd("AUTHENTICATE PLAIN " + u.sasl_plain(ALICE, "also-wrong"), timeout=20)
    tap.ok(r.status == "NO" and r.code() == "AUTHENTICATIONFAILED",
           "AUTHENTICATE PLAIN with a wrong password: NO [AUTHENTICATIONFAILED]", r)
    r = c.login("nobody@example.test", pt.PASSWORD)
    tap.ok(r.status == "NO" and r.code() == "AUTHENTICATIONFAILED",
           "LOGIN of an unknown user: NO [AUTHENTICATIONFAILED]", r)
    r = c.login()
    tap.ok(r.ok, "the right password then works on the same connection", r)
    c.close()


def t_special_use():
    c = u.session(S.imap_port)
    r = c.cmd('LIST "" "*"')
    ents = list_entries(r.untagged)
    tap.ok(r.ok and "INBOX" in ents, "LIST \"\" * lists INBOX", r)
    for name, attr in u.SPECIAL:
        e = ents.get(name)
        tap.ok(e is not None and attr.lower() in e[0],
               "first login made %s, listed with %s" % (name, attr), r)
        d = folder_dir(S, ALICE, name)
        tap.ok(all(os.path.isdir(os.path.join(d, x)) for x in ("cur", "new", "tmp"))
               and os.path.isfile(os.path.join(d, "maildirfolder")),
               "%s is the Maildir++ folder .%s (cur new tmp maildirfolder)" % (name, name))
    tap.ok(all(e[1] == b"." for e in ents.values()), "the hierarchy delimiter is '.'",
           ents)
    r = c.cmd('LIST "" ""')
    tap.ok(r.ok and any(b'"."' in x for x in r.untagged),
           'LIST "" "" gives the delimiter', r)
    r = c.cmd('LIST (SPECIAL-USE) "" "*"')
    ents = list_entries(r.untagged)
    tap.eq(sorted(ents), sorted(n for n, _ in u.SPECIAL),
           "LIST (SPECIAL-USE) lists exactly the five special-use folders")
    r = c.cmd('LSUB "" "*"')
    ents = list_entries(r.untagged, "LSUB")
    tap.ok(all(n in ents for n, _ in u.SPECIAL),
           "the special-use folders are subscribed", r)
    c.cmd("LOGOUT")
    c.close()


def t_folders():
    c = u.session(S.imap_port)
    r = c.cmd("CREATE Lists.postern")
    tap.ok(r.ok, "CREATE Lists.postern", r)
    tap.ok(os.path.isdir(folder_dir(S, ALICE, "Lists.postern") + "/cur"),
           "it is the directory .Lists.postern")
    r = c.cmd('LIST "" "Lists*"')
    ents = list_entries(r.untagged)
    tap.ok("Lists" in ents and "\\haschildren" in ents["Lists"][0],
           "LIST: the parent Lists exists with \\HasChildren", r)
    tap.ok("Lists.postern" in ents and "\\hasnochildren" in ents["Lists.postern"][0],
           "LIST: Lists.postern has \\HasNoChildren", r)
    r = c.cmd("CREATE Lists.postern")
    tap.ok(r.status == "NO" and r.code() == "ALREADYEXISTS",
           "CREATE of an existing folder: NO [ALREADYEXISTS]", r)
    r = c.append("Lists.postern", u.crlf(u.plain_message("in a list")))
    tap.ok(r.ok, "APPEND into Lists.postern", r)
    r = c.cmd("SUBSCRIBE Lists.postern")
    tap.ok(r.ok, "SUBSCRIBE Lists.postern", r)
    r = c.cmd('LSUB "" "*"')
    tap.ok("Lists.postern" in list_entries(r.untagged, "LSUB"), "LSUB lists it", r)
    r = c.cmd('LIST (SUBSCRIBED) "" "*"')
    e = list_entries(r.untagged).get("Lists.postern")
    tap.ok(e is not None and "\\subscribed" in e[0],
           "LIST (SUBSCRIBED) lists it with \\Subscribed (LIST-EXTENDED)", r)
    r = c.cmd('LIST "" "%" RETURN (STATUS (MESSAGES UIDNEXT))')
    tap.ok(r.ok and any(x.upper().startswith(b"* STATUS ") for x in r.untagged),
           "LIST ... RETURN (STATUS ...) gives STATUS responses (LIST-STATUS)", r)
    r = c.cmd("UNSUBSCRIBE Lists.postern")
    r2 = c.cmd('LSUB "" "*"')
    tap.ok(r.ok and "Lists.postern" not in list_entries(r2.untagged, "LSUB"),
           "UNSUBSCRIBE: LSUB no longer lists it", r2)
    r = c.cmd("RENAME Lists Groups")
    tap.ok(r.ok, "RENAME Lists Groups", r)
    r = c.cmd('LIST "" "*"')
    ents = list_entries(r.untagged)
    tap.ok("Groups.postern" in ents and not any(n.startswith("Lists") for n in ents),
           "RENAME moved the children (Groups.postern), no Lists* left", r)
    tap.ok(os.path.isdir(folder_dir(S, ALICE, "Groups.postern")),
           "on disk: .Groups.postern")
    r = c.cmd("STATUS Groups.postern (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    st = u.status_of(r.untagged)
    tap.ok(r.ok and st.get("MESSAGES") == 1 and st.get("UIDNEXT", 0) >= 2,
           "STATUS Groups.postern: the message moved with the folder", r)
    r = c.cmd("DELETE Groups.postern")
    tap.ok(r.ok and not os.path.exists(folder_dir(S, ALICE, "Groups.postern")),
           "DELETE Groups.postern removes it", r)
    r = c.cmd("DELETE INBOX")
    tap.eq(r.status, "NO", "DELETE INBOX is refused")
    r = c.cmd("DELETE Nonesuch")
    tap.ok(r.status == "NO" and r.code() == "NONEXISTENT",
           "DELETE of a missing folder: NO [NONEXISTENT]", r)
    # Modified UTF-7 (RFC 3501 5.1.3): "Été" and "Café.Menú".
    r = c.cmd('CREATE "&AMk-t&AOk-"')
    tap.ok(r.ok and os.path.isdir(folder_dir(S, ALICE, "&AMk-t&AOk-")),
           "CREATE &AMk-t&AOk- (Ete with accents): the directory has the mUTF-7 name", r)
    r = c.cmd('CREATE "Caf&AOk-.Men&APo-"')
    r2 = c.cmd('LIST "" "*"')
    ents = list_entries(r2.untagged)
    tap.ok(r.ok and "&AMk-t&AOk-" in ents and "Caf&AOk-.Men&APo-" in ents
           and "Caf&AOk-" in ents, "LIST shows the mUTF-7 names as created", r2)
    for bad in ("&Jjo", "&AMk", "&AGE-"):
        r = c.cmd('CREATE "%s"' % bad)
        tap.ok(r.status in ("NO", "BAD"), "CREATE %s (invalid modified UTF-7) is refused"
               % bad, r)
    c.cmd("LOGOUT")
    c.close()
    c = u.session(S.imap_port)
    r = c.cmd("ENABLE UTF8=ACCEPT")
    tap.ok(r.ok and any(b"UTF8=ACCEPT" in x.upper() for x in r.untagged
                        if x.upper().startswith(b"* ENABLED")),
           "ENABLE UTF8=ACCEPT", r)
    r = c.cmd('LIST "" "*"')
    names = set(list_entries(r.untagged))
    tap.ok("\u00c9t\u00e9" in names and "Caf\u00e9.Men\u00fa" in names,
           "after ENABLE UTF8=ACCEPT, LIST gives the names in UTF-8 (RFC 6855 3)", r)
    c.cmd("LOGOUT")
    c.close()


def t_select():
    c = u.session(S.imap_port)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok and r.code() == "READ-WRITE", "SELECT INBOX: OK [READ-WRITE]", r)
    fl = [x for x in r.untagged if x.upper().startswith(b"* FLAGS ")]
    tap.ok(fl and all(f in fl[0] for f in (b"\\Answered", b"\\Flagged", b"\\Deleted",
                                            b"\\Seen", b"\\Draft")),
           "SELECT: * FLAGS lists the system flags", r)
    n = u.exists_of(r.untagged)
    tap.ok(n is not None and n >= 1, "SELECT: * n EXISTS", r)
    tap.ok(any(re.match(rb"\* \d+ RECENT", x) for x in r.untagged), "SELECT: * n RECENT", r)
    uv = u.code_value(r.untagged, "UIDVALIDITY")
    tap.ok(uv is not None and uv.isdigit() and int(uv) > 0,
           "SELECT: * OK [UIDVALIDITY n], n > 0", r)
    un = u.code_value(r.untagged, "UIDNEXT")
    tap.ok(un is not None and un.isdigit() and int(un) > n, "SELECT: * OK [UIDNEXT n]", r)
    pf = u.code_value(r.untagged, "PERMANENTFLAGS")
    tap.ok(pf is not None and "\\*" in pf and "\\Seen" in pf,
           "SELECT: * OK [PERMANENTFLAGS (... \\*)]", r)
    c.cmd("LOGOUT")
    c.close()
    c = u.session(S.imap_port)
    r = c.cmd("EXAMINE INBOX")
    tap.ok(r.ok and r.code() == "READ-ONLY", "EXAMINE INBOX: OK [READ-ONLY]", r)
    tap.eq(u.code_value(r.untagged, "UIDVALIDITY"), uv,
           "UIDVALIDITY is the same in the next session")
    r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
    tap.ok(r.status in ("NO", "BAD"), "STORE in a folder opened with EXAMINE is refused", r)
    r = c.cmd("FETCH 1 (UID BODY[])")
    r2 = c.cmd("FETCH 1 (FLAGS)")
    f = u.fetches(r2.untagged).get(1, {})
    tap.ok(r.ok and "\\Seen" not in u.flags_of(f.get("FLAGS")),
           "FETCH BODY[] under EXAMINE does not set \\Seen", r2)
    r = c.cmd("SELECT Nonesuch")
    tap.eq(r.status, "NO", "SELECT of a missing folder: NO")
    r = c.cmd("FETCH 1 (FLAGS)")
    tap.ok(r.status == "BAD", "after a failed SELECT nothing is selected (FETCH: BAD)", r)
    r = c.cmd("SELECT INBOX")
    r2 = c.cmd("UNSELECT")
    r3 = c.cmd("FETCH 1 (FLAGS)")
    tap.ok(r.ok and r2.ok and r3.status == "BAD", "UNSELECT leaves the selected state", r3)
    r = c.cmd("NAMESPACE")
    tap.ok(r.ok and any(x.startswith(b'* NAMESPACE (("" ".")) NIL NIL') for x in r.untagged),
           'NAMESPACE: * NAMESPACE (("" ".")) NIL NIL', r)
    r = c.cmd('ID ("name" "test_imap")')
    tap.ok(r.ok and any(x.upper().startswith(b"* ID ") for x in r.untagged), "ID answers * ID", r)
    r = c.cmd("ENABLE IMAP4rev2")
    tap.ok(r.ok and any(b"IMAP4REV2" in x.upper() for x in r.untagged),
           "ENABLE IMAP4rev2: * ENABLED IMAP4rev2", r)
    c.cmd("LOGOUT")
    c.close()


def t_store():
    for i in range(3):
        u.deliver(S, ALICE, u.plain_message("store %d" % i, msgid="<store-%d@t>" % i))
    c = u.session(S.imap_port, select="INBOX")
    um = u.uid_map(c)
    by_id = {v: k for k, v in um.items()}
    uids = u.seq_uids(c)
    seq = {mid: uids.index(by_id[mid]) + 1 for mid in ("<store-0@t>", "<store-1@t>",
                                                        "<store-2@t>")}
    s0, s1, s2 = seq["<store-0@t>"], seq["<store-1@t>"], seq["<store-2@t>"]
    r = c.cmd("STORE %d +FLAGS (\\Flagged)" % s0)
    f = u.fetches(r.untagged).get(s0, {})
    tap.ok(r.ok and "\\Flagged" in u.flags_of(f.get("FLAGS")),
           "STORE +FLAGS answers * n FETCH (FLAGS (... \\Flagged))", r)
    r = c.cmd("STORE %d +FLAGS.SILENT (\\Seen \\Answered)" % s1)
    tap.ok(r.ok and s1 not in u.fetches(r.untagged), "STORE +FLAGS.SILENT answers no FETCH", r)
    r = c.cmd("STORE %d FLAGS ($Work \\Draft)" % s2)
    f = u.fetches(r.untagged).get(s2, {})
    tap.ok(r.ok and {"$Work", "\\Draft"} <= set(u.flags_of(f.get("FLAGS"))),
           "STORE FLAGS with a keyword", r)
    r = c.cmd("UID STORE %d +FLAGS (\\Deleted)" % by_id["<store-0@t>"])
    f = u.fetches(r.untagged).get(s0, {})
    tap.ok(r.ok and f.get("UID") == str(by_id["<store-0@t>"]),
           "UID STORE: the FETCH response includes the UID", r)
    c.cmd("STORE %d -FLAGS (\\Deleted)" % s0)
    c.cmd("LOGOUT")
    c.close()
    c = u.session(S.imap_port, select="INBOX")
    r = c.cmd("FETCH 1:* (UID FLAGS)")
    f = {int(d["UID"]): set(u.flags_of(d.get("FLAGS"))) - {"\\Recent"}
         for d in u.fetches(r.untagged).values()}
    tap.eq(f.get(by_id["<store-0@t>"]), {"\\Flagged"}, "flags persist: \\Flagged")
    tap.eq(f.get(by_id["<store-1@t>"]), {"\\Seen", "\\Answered"},
           "flags persist: \\Seen \\Answered")
    tap.eq(f.get(by_id["<store-2@t>"]), {"$Work", "\\Draft"},
           "flags persist: $Work \\Draft")
    c.cmd("LOGOUT")
    c.close()
    want = {"<store-0@t>": "F", "<store-1@t>": "RS"}
    for mid, info in want.items():
        p = files_with_msgid(S, ALICE, mid)
        tap.ok(len(p) == 1 and "/cur/" in p[0] and info_of(p[0]) == info,
               "the file of %s is in cur/ and ends in :2,%s" % (mid, info), p)
    p = files_with_msgid(S, ALICE, "<store-2@t>")
    info = info_of(p[0]) if len(p) == 1 else None
    tap.ok(info is not None and info[:1] == "D" and len(info) == 2 and info[1].islower(),
           "the file of the $Work \\Draft message ends in :2,D<keyword letter>", p)


def t_keywords_full():
    c = u.session(S.imap_port)
    c.cmd("CREATE Kw")
    c.append("Kw", u.crlf(u.plain_message("keywords", msgid="<kw@t>")))
    c.cmd("SELECT Kw")
    kws = ["$k%02d" % i for i in range(1, 27)]
    r = c.cmd("STORE 1 +FLAGS (%s)" % " ".join(kws))
    f = u.fetches(r.untagged).get(1, {})
    tap.ok(r.ok and set(kws) <= set(u.flags_of(f.get("FLAGS"))),
           "26 keywords on one message (the maildir letters a-z)", r)
    r = c.cmd("STORE 1 +FLAGS ($k27)")
    tap.eq(r.status, "NO", "a 27th keyword: NO (the server cannot store it; not BAD)")
    r = c.cmd("SELECT Kw")
    pf = u.code_value(r.untagged, "PERMANENTFLAGS") or ""
    tap.ok(r.ok and "\\*" not in pf,
           "with the keyword table full PERMANENTFLAGS has no \\* (RFC 3501 7.1)", r)
    c.cmd("LOGOUT")
    c.close()
    c = u.session(S.imap_port)
    c.cmd("EXAMINE Kw")
    r = c.cmd("FETCH 1 (FLAGS)")
    tap.ok(set(kws) <= set(u.flags_of(u.fetches(r.untagged).get(1, {}).get("FLAGS"))),
           "the 26 keywords persist", r)
    c.cmd("LOGOUT")
    c.close()


def _uids_after(uids, expunged_seqs):
    out = list(uids)
    for s in expunged_seqs:
        if 1 <= s <= len(out):
            del out[s - 1]
        else:
            return None
    return out


def t_copy_move():
    c = u.session(S.imap_port, select="INBOX")
    r = c.cmd("CREATE Work")
    tap.ok(r.ok, "CREATE Work", r)
    um = u.uid_map(c)
    by_id = {v: k for k, v in um.items()}
    ua, ub = by_id["<store-1@t>"], by_id["<store-2@t>"]
    r = c.cmd("UID COPY %d Work" % ua)
    m = re.match(r"COPYUID (\d+) (\d+) (\d+)$", r.code())
    tap.ok(r.ok and m and int(m.group(2)) == ua,
           "UID COPY: OK [COPYUID uidvalidity src-uid dst-uid]", r)
    r = c.cmd("STATUS Work (MESSAGES UIDVALIDITY)")
    st = u.status_of(r.untagged)
    tap.ok(st.get("MESSAGES") == 1 and m and st.get("UIDVALIDITY") == int(m.group(1)),
           "Work has the copy; COPYUID gave its UIDVALIDITY", r)
    uids = u.seq_uids(c)
    r = c.cmd("UID MOVE %d Work" % ub)
    cu = [x for x in r.untagged if b"[COPYUID " in x]
    ex = [int(x.split()[1]) for x in r.untagged if re.match(rb"\* \d+ EXPUNGE", x)]
    tap.ok(r.ok and len(cu) == 1 and re.search(rb"COPYUID \d+ %d \d+\]" % ub, cu[0]),
           "UID MOVE: * OK [COPYUID ...] (RFC 6851)", r)
    tap.eq(_uids_after(uids, ex), [x for x in uids if x != ub],
           "UID MOVE: * n EXPUNGE removes exactly the moved message")
    tap.eq(u.seq_uids(c), [x for x in uids if x != ub], "and INBOX no longer has it")
    r = c.cmd("COPY 1 Nonesuch")
    tap.ok(r.status == "NO" and r.code() == "TRYCREATE",
           "COPY to a missing folder: NO [TRYCREATE]", r)
    c.cmd("EXAMINE Work")
    r = c.cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    got = {}
    for d in u.fetches(r.untagged).values():
        body = [v for k, v in d.items() if k.startswith("BODY[")][0] or b""
        got[body.split(b":", 1)[1].strip().decode()] = set(u.flags_of(d.get("FLAGS"))) - {
            "\\Recent"}
    tap.eq(got, {"<store-1@t>": {"\\Seen", "\\Answered"},
                 "<store-2@t>": {"$Work", "\\Draft"}},
           "COPY and MOVE kept the flags and keywords")
    c.cmd("LOGOUT")
    c.close()
    n = len(os.listdir(os.path.join(folder_dir(S, ALICE, "Work"), "cur")))
    tap.eq(n, 2, "two files in .Work/cur")


def t_append():
    c = u.session(S.imap_port)
    data = u.crlf(u.plain_message("appended", "Appended body.\n", msgid="<app-1@t>"))
    date = "07-May-2024 10:11:12 +0200"
    r = c.append("Drafts", data, "\\Draft \\Seen", date)
    m = re.match(r"APPENDUID (\d+) (\d+)$", r.code())
    tap.ok(r.ok and m, "APPEND: OK [APPENDUID uidvalidity uid]", r)
    if not m:
        return
    uid = int(m.group(2))
    r = c.cmd("EXAMINE Drafts")
    tap.eq(u.code_value(r.untagged, "UIDVALIDITY"), m.group(1),
           "APPENDUID's UIDVALIDITY is the folder's")
    r = c.cmd("UID FETCH %d (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])" % uid)
    d = list(u.fetches(r.untagged).values())
    d = d[0] if d else {}
    tap.eq(d.get("BODY[]"), data, "UID FETCH of the APPENDUID gives the message back")
    tap.eq(int(d.get("RFC822.SIZE", -1)), len(data), "RFC822.SIZE is its size")
    tap.ok({"\\Draft", "\\Seen"} <= set(u.flags_of(d.get("FLAGS"))),
           "it has the flags given to APPEND", d.get("FLAGS"))
    try:
        same = parse_internaldate(d.get("INTERNALDATE")) == parse_internaldate(date)
    except (ValueError, AttributeError):
        same = False
    tap.ok(same, "INTERNALDATE is the date given to APPEND", d.get("INTERNALDATE"))
    p = files_with_msgid(S, ALICE, "<app-1@t>", "Drafts")
    tap.ok(len(p) == 1 and "/cur/" in p[0] and info_of(p[0]) == "DS",
           "the file is in .Drafts/cur with :2,DS", p)
    data2 = u.crlf(u.plain_message("appended 2", msgid="<app-2@t>"))
    r = c.append("Drafts", data2, nonsync=True)
    tap.ok(r.ok and r.code().startswith("APPENDUID "),
           "APPEND with a non-synchronizing literal {n+}", r)
    r = c.append("Nonesuch", data2)
    tap.ok(r.status == "NO" and r.code() == "TRYCREATE",
           "APPEND to a missing folder: NO [TRYCREATE]", r)
    c.cmd("LOGOUT")
    c.close()


def t_expunge():
    c = u.session(S.imap_port, select="Work")
    for i in range(2):
        c.append("Work", u.crlf(u.plain_message("exp %d" % i, msgid="<exp-%d@t>" % i)))
    c.cmd("NOOP")
    uids = u.seq_uids(c)
    tap.eq(len(uids), 4, "Work has 4 messages")
    if len(uids) != 4:
        return
    c.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("EXPUNGE")
    ex = [int(x.split()[1]) for x in r.untagged if re.match(rb"\* \d+ EXPUNGE", x)]
    tap.ok(r.ok and _uids_after(uids, ex) == [uids[1], uids[3]],
           "EXPUNGE: the * n EXPUNGE responses remove messages 1 and 3", r)
    tap.eq(u.seq_uids(c), [uids[1], uids[3]], "the \\Deleted messages are gone")
    c.cmd("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("UID EXPUNGE %d" % uids[3])
    ex = [int(x.split()[1]) for x in r.untagged if re.match(rb"\* \d+ EXPUNGE", x)]
    tap.ok(r.ok and ex == [2], "UID EXPUNGE expunges only the UID given", r)
    r = c.cmd("FETCH 1:* (UID FLAGS)")
    f = u.fetches(r.untagged)
    tap.ok(list(f) == [1] and f[1].get("UID") == str(uids[1])
           and "\\Deleted" in u.flags_of(f[1].get("FLAGS")),
           "the other \\Deleted message is still there", r)
    c.cmd("STORE 1 -FLAGS.SILENT (\\Deleted)")
    c.cmd("LOGOUT")
    c.close()
    n = len(os.listdir(os.path.join(folder_dir(S, ALICE, "Work"), "cur")))
    tap.eq(n, 1, "one file left in .Work/cur")


def t_idle():
    a = u.session(S.imap_port, select="INBOX")
    b = u.session(S.imap_port, select="INBOX")
    n0 = len(u.seq_uids(a))
    tag = a.start("IDLE")
    r = a.response()
    tap.ok(r is not None and r.startswith(b"+"), "IDLE answers with a continuation", r)
    r = b.cmd("STORE 1 +FLAGS ($IdleTest)")
    t0 = time.monotonic()
    got, seen = a.wait_untagged(lambda x: re.match(rb"\* 1 FETCH .*\$IdleTest", x), 5)
    dt = time.monotonic() - t0
    tap.ok(got is not None and dt <= 1.0,
           "IDLE: another session's STORE shows within a second (%.2f s)" % dt, seen)
    tap.ok(r.ok, "the other session's STORE worked", r)
    b.cmd("STORE 1 -FLAGS.SILENT ($IdleTest)")
    t0 = time.monotonic()
    u.deliver(S, ALICE, u.plain_message("idle new", msgid="<idle-1@t>"))
    got, seen = a.wait_untagged(lambda x: re.match(rb"\* %d EXISTS" % (n0 + 1), x), 5)
    dt = time.monotonic() - t0
    tap.ok(got is not None and dt <= 1.0,
           "IDLE: a delivered message shows as * %d EXISTS within a second (%.2f s)"
           % (n0 + 1, dt), seen)
    code, _ = S.send("idle smtp %d" % os.getpid())
    got, seen = a.wait_untagged(lambda x: re.match(rb"\* %d EXISTS" % (n0 + 2), x), 15)
    tap.ok(code == 250 and got is not None,
           "IDLE: mail through smtpd and deliver shows as * %d EXISTS" % (n0 + 2), seen)
    b.cmd("NOOP")
    b.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" % (n0 + 1))
    b.cmd("EXPUNGE")
    t0 = time.monotonic()
    got, seen = a.wait_untagged(lambda x: re.match(rb"\* %d EXPUNGE" % (n0 + 1), x), 5)
    dt = time.monotonic() - t0
    tap.ok(got is not None and dt <= 1.0,
           "IDLE: another session's EXPUNGE shows within a second (%.2f s)" % dt, seen)
    a.send(b"DONE\r\n")
    r = a.finish(tag)
    tap.ok(r.ok, "DONE ends IDLE with OK", r)
    for c in (a, b):
        c.cmd("LOGOUT")
        c.close()


def t_compress():
    c = u.session(S.imap_port)
    caps = c.capabilities()
    if "COMPRESS=DEFLATE" not in caps:
        tap.skip("COMPRESS DEFLATE", "not offered (the CAPABILITY check fails for it)")
        c.close()
        return
    r = c.compress()
    tap.ok(r.ok, "COMPRESS DEFLATE", r)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok and u.exists_of(r.untagged), "SELECT over the compressed stream", r)
    r = c.cmd("FETCH 1 (BODY.PEEK[])")
    body = u.fetches(r.untagged).get(1, {}).get("BODY[]")
    tap.ok(r.ok and body and b"Subject:" in body, "FETCH BODY[] over the compressed stream", r)
    r = c.cmd("COMPRESS DEFLATE")
    tap.ok(r.status == "NO" and r.code() == "COMPRESSIONACTIVE",
           "a second COMPRESS: NO [COMPRESSIONACTIVE]", r)
    r = c.cmd("LOGOUT")
    tap.ok(r.ok, "LOGOUT over the compressed stream", r)
    c.close()


def master_child(name):
    for pid, ppid, _pgid, exe, _a0 in pt.descendants(S.proc.pid):
        if ppid == S.proc.pid and exe == name:
            return pid
    return None


def t_root():
    if not pt.IS_ROOT:
        for d in ("imapd listener", "session", "login", "chroot", "files"):
            tap.skip("root: %s" % d, "not root")
        return
    uid = lambda name: pwd.getpwnam(name).pw_uid  # noqa: E731
    lpid = master_child("imapd")
    tap.ok(lpid is not None and pt.proc_ids(lpid)["Uid"] == [0] * 4,
           "the imapd listener, spawned by the master, stays root (accepts and forks only)")
    for port, implicit in ((S.imap_port, False), (S.imaps_port, True)):
        what = "imaps" if implicit else "imap+STARTTLS"
        c = u.session(port, implicit=implicit, select="INBOX")

        def one_conn():
            t = pt.descendants(lpid) if lpid else []
            k = [pid for pid, ppid, *_ in t if ppid == lpid]
            return (t, k) if len(k) == 1 else None
        tree, conn = pt.poll(one_conn, 5) or (pt.descendants(lpid) if lpid else [], [])
        login = [pid for pid, ppid, *_ in tree if ppid in conn]
        tap.ok(len(conn) == 1 and pt.proc_ids(conn[0])["Uid"] == [uid("vmail")] * 4,
               "%s: the session process runs as vmail" % what, tree)
        tap.ok(len(login) == 1 and
               pt.proc_ids(login[0])["Uid"] == [uid("postern-login")] * 4,
               "%s: the login process runs as postern-login" % what, tree)
        root = os.readlink("/proc/%d/root" % login[0]) if login else None
        tap.eq(root, os.path.join(S.state_dir, "empty"),
               "%s: the login process is chrooted to $state_dir/empty" % what)
        if conn:
            cwd = os.readlink("/proc/%d/cwd" % conn[0])
            tap.eq(cwd, S.maildir(ALICE), "%s: the session's cwd is the Maildir" % what)
        c.cmd("LOGOUT")
        c.close()
    bad = []
    vm = uid("vmail")
    for d, dirs, files in os.walk(S.maildir(ALICE)):
        for name in [d] + [os.path.join(d, f) for f in files]:
            if os.lstat(name).st_uid != vm:
                bad.append(name)
    tap.ok(not bad, "everything in alice's Maildir (folders, uid lists) belongs to vmail",
           bad[:10])


def t_stop():
    tap.eq(S.stop(), 0, "the master stops cleanly with imapd")
    refused = False
    try:
        socket.create_connection(("127.0.0.1", S.imap_port), timeout=3).close()
    except OSError:
        refused = True
    tap.ok(refused, "nothing answers on the IMAP port after the stop")


def main():
    for fn in (t_start, t_preauth, t_imaplib, t_authenticate, t_sasl_mechanisms,
               t_wrong_password,
               t_special_use, t_folders, t_select, t_store, t_keywords_full, t_copy_move,
               t_append,
               t_expunge, t_idle, t_compress, t_root, t_stop):
        tap.run(fn, timeout=120)
    tap.done()


if __name__ == "__main__":
    main()
