#!/usr/bin/env python3
"""
test_imap_fetch: what imapd reads out of messages, under the master:
FETCH (FLAGS, sizes, INTERNALDATE, ENVELOPE with RFC 2047 words left
encoded, BODYSTRUCTURE and BODY of a multipart message with a
quoted-printable part, a base64 attachment and a message/rfc822 part,
BODY[] and its sections, partial fetches, BINARY, \\Seen set by BODY[] and
not by BODY.PEEK[]), SEARCH (flags, addresses, subject and bodies after
decoding, sizes, dates, headers, NOT/OR, CHARSET UTF-8, BADCHARSET),
SORT, THREAD=REFERENCES, ESEARCH and SEARCHRES, UID ranges past the end,
a 3 MB message, IMAP4rev2 (no RECENT, ESEARCH), CONDSTORE (MODSEQ,
CHANGEDSINCE, UNCHANGEDSINCE) and QRESYNC (VANISHED (EARLIER) on SELECT,
VANISHED instead of EXPUNGE). The messages are put in bob's Maildir the
way deliver writes them.
"""

import base64
import datetime
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from postern_test import tap  # noqa: E402
import test_imap_util as u  # noqa: E402

S = u.imap_suite("imap-fetch")
BOB = u.BOB

QBODY = "Sch\u00f6ne Gr\u00fc\u00dfe aus K\u00f6ln.\n".encode("utf-8")
MSGS = {
    "M": u.MULTIPART,
    "T1": u.plain_message("Plans", "alpha beta\n", sender="zed@remote.test", to=BOB,
                          msgid="<t1@x>", date="Wed, 01 May 2024 08:00:00 +0000"),
    "T2": u.plain_message("Re: Plans", "second\n", sender="zed@remote.test", to=BOB,
                          msgid="<t2@x>", date="Thu, 02 May 2024 08:00:00 +0000",
                          extra="In-Reply-To: <t1@x>\nReferences: <t1@x>\n"),
    "T3": u.plain_message("Re: Re: Plans", "third\n", sender="zed@remote.test", to=BOB,
                          msgid="<t3@x>", date="Fri, 03 May 2024 08:00:00 +0000",
                          extra="In-Reply-To: <t2@x>\nReferences: <t1@x> <t2@x>\n"),
    "Z": u.plain_message("Zebra news", "".join("zebra line %04d of the long one\n" % i
                                               for i in range(160)),
                         sender="amy@remote.test", to=BOB, msgid="<z@x>",
                         date="Sat, 04 May 2024 08:00:00 +0000"),
    "Q": u.plain_message("=?iso-8859-1?q?Gr=FC=DFe?=",
                         base64.encodebytes(QBODY).decode(), sender="bea@remote.test",
                         to=BOB, msgid="<q@x>", date="Sun, 05 May 2024 08:00:00 +0000",
                         extra="MIME-Version: 1.0\nContent-Type: text/plain; "
                               "charset=utf-8\nContent-Transfer-Encoding: base64\n"),
}
MSGID = {"M": "<multi-1@remote.test>", "T1": "<t1@x>", "T2": "<t2@x>", "T3": "<t3@x>",
         "Z": "<z@x>", "Q": "<q@x>"}
SEQ = {}      # key -> sequence number
UID = {}      # key -> UID


def keys_of(nums, by=None):
    by = by or SEQ
    rev = {v: k for k, v in by.items()}
    return sorted(rev.get(n, "?%d" % n) for n in nums)


def search_nums(r):
    """The numbers of '* SEARCH ...' (without a trailing (MODSEQ n))."""
    out = []
    for x in r.untagged:
        if x.upper().startswith(b"* SEARCH"):
            x = re.sub(rb"\(MODSEQ \d+\)", b"", x)
            out.extend(int(t) for t in x.split()[2:])
    return out


def esearch(r):
    """{KEY: value} of the first '* ESEARCH' response (UID as a flag)."""
    for x in r.untagged:
        if x.upper().startswith(b"* ESEARCH"):
            t = u.parse(x[9:])
            out = {}
            i = 0
            if t and isinstance(t[0], list):
                out["TAG"] = t[0][1] if len(t[0]) > 1 else None
                i = 1
            while i < len(t):
                k = t[i].upper()
                if k == "UID":
                    out["UID"] = True
                    i += 1
                    continue
                out[k] = t[i + 1] if i + 1 < len(t) else None
                i += 2
            return out
    return None


def expand(seqset):
    out = []
    for part in (seqset or "").split(","):
        if not part:
            continue
        a, _, b = part.partition(":")
        a, b = int(a), int(b or a)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


def one(c, key, items):
    r = c.cmd("FETCH %d (%s)" % (SEQ[key], items))
    return r, u.fetches(r.untagged).get(SEQ[key], {})


# ---------------------------------------------------------------- tests

def t_start():
    try:
        u.start_imap_suite(S)
    except Exception as e:
        tap.ok(False, "the master starts imapd", e)
        tap.done()
    for k in ("T1", "T2", "T3", "Z", "Q", "M"):
        u.deliver(S, BOB, MSGS[k])
        time.sleep(0.01)
    c = u.session(S.imap_port, BOB)
    r = c.cmd("EXAMINE INBOX")    # read-only: leaves \Recent to the next SELECT
    tap.eq(u.exists_of(r.untagged), len(MSGS), "bob's INBOX has the %d messages" % len(MSGS))
    r = c.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for seq, d in u.fetches(r.untagged).items():
        hdr = [v for k, v in d.items() if k.startswith("BODY[")][0] or b""
        mid = hdr.split(b":", 1)[1].strip().decode() if b":" in hdr else ""
        for k, v in MSGID.items():
            if v == mid:
                SEQ[k], UID[k] = seq, int(d["UID"])
    tap.eq(sorted(SEQ), sorted(MSGS), "every message is found by its Message-ID")
    uids = [UID[k] for k in sorted(UID, key=lambda k: SEQ[k])]
    tap.ok(uids == sorted(uids) and len(set(uids)) == len(uids),
           "UIDs grow with sequence numbers", uids)
    c.cmd("LOGOUT")
    c.close()
    if sorted(SEQ) != sorted(MSGS):
        tap.done()


def t_fetch_basic(c):
    m = u.crlf(MSGS["M"])
    r, d = one(c, "M", "FLAGS RFC822.SIZE INTERNALDATE UID")
    tap.eq(int(d.get("RFC822.SIZE", -1)), len(m), "RFC822.SIZE counts CRLF octets")
    tap.ok("\\Seen" not in u.flags_of(d.get("FLAGS")), "the new message is not \\Seen", d)
    tap.ok("\\Recent" in u.flags_of(d.get("FLAGS")),
           "the first session to see it gets \\Recent", d)
    tap.eq(d.get("UID"), str(UID["M"]), "FETCH UID")
    try:
        idate = datetime.datetime.strptime(d["INTERNALDATE"].decode(), "%d-%b-%Y %H:%M:%S %z")
        near = abs(idate.timestamp() - time.time()) < 3600
    except (KeyError, ValueError, AttributeError):
        near = False
    tap.ok(near, "INTERNALDATE is the delivery time", d.get("INTERNALDATE"))
    r, d = one(c, "M", "BODY.PEEK[]")
    tap.eq(d.get("BODY[]"), m, "BODY.PEEK[] is the message with CRLF line ends")
    r, d = one(c, "M", "BODY.PEEK[]<0.20> BODY.PEEK[]<100.50>")
    tap.eq(d.get("BODY[]<0>"), m[:20], "BODY.PEEK[]<0.20>: the first 20 octets as BODY[]<0>")
    tap.eq(d.get("BODY[]<100>"), m[100:150], "BODY.PEEK[]<100.50> as BODY[]<100>")
    r, d = one(c, "M", "BODY.PEEK[]<%d.10>" % (len(m) + 5))
    tap.eq(d.get("BODY[]<%d>" % (len(m) + 5)), b"",
           "a partial fetch past the end gives an empty string")
    head, _, text = m.partition(b"\r\n\r\n")
    r, d = one(c, "M", "RFC822.HEADER BODY.PEEK[TEXT] "
                       "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
    tap.eq(d.get("RFC822.HEADER"), head + b"\r\n\r\n", "RFC822.HEADER")
    tap.eq(d.get("BODY[TEXT]"), text, "BODY[TEXT]")
    hf = [v for k, v in d.items() if k.startswith("BODY[HEADER.FIELDS")]
    tap.eq(hf[0] if hf else None,
           b'From: "Ana Example" <ana@remote.test>\r\n'
           b'Subject: =?utf-8?q?Caf=C3=A9_report?=\r\n\r\n',
           "BODY[HEADER.FIELDS (SUBJECT FROM)] in message order, with the blank line")
    r, d = one(c, "M", "FLAGS")
    tap.ok("\\Seen" not in u.flags_of(d.get("FLAGS")), "BODY.PEEK did not set \\Seen", d)


def t_fetch_sections(c):
    r, d = one(c, "M", "BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2]")
    tap.eq(d.get("BODY[1]"), u.MULTIPART_PART1, "BODY[1]: the first part, still encoded")
    tap.eq(d.get("BODY[1.MIME]"),
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n", "BODY[1.MIME]")
    tap.eq(d.get("BODY[2]"), b"AAECAwQFBgcICQ==", "BODY[2]: the base64 attachment as is")
    inner_h = b"From: inner@remote.test\r\nSubject: inner message\r\n\r\n"
    r, d = one(c, "M", "BODY.PEEK[3] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT]")
    tap.eq(d.get("BODY[3]"), inner_h + b"Inner body.", "BODY[3]: the message/rfc822 part")
    tap.eq(d.get("BODY[3.HEADER]"), inner_h, "BODY[3.HEADER]: the inner message's header")
    tap.eq(d.get("BODY[3.TEXT]"), b"Inner body.", "BODY[3.TEXT]")
    r, d = one(c, "M", "BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1]")
    tap.eq(d.get("BINARY[2]"), u.MULTIPART_PART2_DECODED, "BINARY[2]: the attachment decoded")
    tap.eq(d.get("BINARY.SIZE[2]"), "10", "BINARY.SIZE[2] = 10")
    tap.eq(d.get("BINARY[1]"),
           "Le caf\u00e9 est pr\u00eat. zanzibar-word\r\nSecond line.".encode(),
           "BINARY[1]: the quoted-printable part decoded")
    r = c.cmd("FETCH %d (BODY[1])" % SEQ["M"])
    d = u.fetches(r.untagged).get(SEQ["M"], {})
    tap.ok("\\Seen" in u.flags_of(d.get("FLAGS")),
           "FETCH BODY[1] sets \\Seen and reports the new FLAGS", r)


def t_envelope(c):
    r, d = one(c, "M", "ENVELOPE")
    e = d.get("ENVELOPE") or [None] * 10
    tap.eq(e[0], b"Tue, 07 May 2024 09:30:00 +0200", "ENVELOPE date")
    tap.eq(e[1], b"=?utf-8?q?Caf=C3=A9_report?=",
           "ENVELOPE subject: the RFC 2047 word is left encoded")
    ana = [[b"Ana Example", None, b"ana", b"remote.test"]]
    tap.eq(e[2], ana, "ENVELOPE from")
    tap.eq([e[3], e[4]], [ana, ana], "ENVELOPE sender and reply-to default to from")
    tap.eq(e[5], [[b"Alice", None, b"alice", b"example.test"],
                  [None, None, b"bob", b"example.test"]], "ENVELOPE to: two addresses")
    tap.eq(e[6], [[b"Carol", None, b"carol", b"example.org"]], "ENVELOPE cc")
    tap.eq(e[7], None, "ENVELOPE bcc is NIL")
    tap.eq(e[8], b"<earlier@remote.test>", "ENVELOPE in-reply-to")
    tap.eq(e[9], b"<multi-1@remote.test>", "ENVELOPE message-id")
    r, d = one(c, "T1", "ENVELOPE")
    e = d.get("ENVELOPE") or [None] * 10
    tap.eq(e[2], [[None, None, b"zed", b"remote.test"]], "ENVELOPE from without a name")
    tap.eq(e[5], [[None, None, b"bob", b"example.test"]], "ENVELOPE to <bob@example.test>")


def _lower(x):
    if isinstance(x, bytes):
        return x.decode().lower()
    if isinstance(x, str):
        return x.lower()
    return x


def _params(lst):
    return {_lower(lst[i]): _lower(lst[i + 1]) for i in range(0, len(lst or []) - 1, 2)}


def t_bodystructure(c):
    r, d = one(c, "M", "BODYSTRUCTURE")
    bs = d.get("BODYSTRUCTURE") or []
    parts = [p for p in bs if isinstance(p, list)][:3]
    rest = bs[len(parts):]
    tap.ok(len(parts) == 3 and rest and _lower(rest[0]) == "mixed",
           "BODYSTRUCTURE: three parts, multipart/mixed", bs)
    tap.ok(len(rest) > 1 and _params(rest[1]).get("boundary") == "==outer==",
           "BODYSTRUCTURE: the boundary parameter (extension data)", rest)
    if len(parts) < 3:
        return
    p1, p2, p3 = parts
    tap.eq([_lower(x) for x in p1[:2]], ["text", "plain"], "part 1 is text/plain")
    tap.eq(_params(p1[2]).get("charset"), "utf-8", "part 1: charset utf-8")
    tap.eq(_lower(p1[5]), "quoted-printable", "part 1: quoted-printable")
    tap.eq(int(p1[6]), len(u.MULTIPART_PART1), "part 1: size in octets")
    # RFC 3501 leaves open whether the last line before a boundary counts.
    tap.ok(int(p1[7]) in (1, 2), "part 1: lines", p1[7])
    tap.eq([_lower(x) for x in p2[:2]], ["application", "octet-stream"],
           "part 2 is application/octet-stream")
    tap.eq(_params(p2[2]).get("name"), "data.bin", "part 2: name=data.bin")
    tap.eq(_lower(p2[5]), "base64", "part 2: base64")
    tap.eq(int(p2[6]), 16, "part 2: 16 octets")
    disp = p2[8] if len(p2) > 8 else None
    tap.ok(isinstance(disp, list) and _lower(disp[0]) == "attachment"
           and _params(disp[1]).get("filename") == "data.bin",
           "part 2: disposition attachment; filename=data.bin", p2)
    tap.eq([_lower(x) for x in p3[:2]], ["message", "rfc822"], "part 3 is message/rfc822")
    inner = b"From: inner@remote.test\r\nSubject: inner message\r\n\r\nInner body."
    tap.eq(int(p3[6]) if len(p3) > 6 else None, len(inner), "part 3: size")
    env = p3[7] if len(p3) > 7 else None
    tap.ok(isinstance(env, list) and env[1] == b"inner message",
           "part 3: the envelope of the inner message", p3)
    ib = p3[8] if len(p3) > 8 else None
    tap.ok(isinstance(ib, list) and [_lower(x) for x in ib[:2]] == ["text", "plain"]
           and int(ib[6]) == len(b"Inner body."),
           "part 3: the inner body is text/plain (default), 11 octets", p3)
    r, d = one(c, "M", "BODY")
    b = d.get("BODY") or []
    tap.ok(len([p for p in b if isinstance(p, list)]) == 3 and _lower(b[3]) == "mixed"
           and len(b) == 4, "BODY: the same parts, no extension data", b)
    r, d = one(c, "T1", "BODYSTRUCTURE")
    bs = d.get("BODYSTRUCTURE") or []
    tap.ok(len(bs) >= 8 and [_lower(x) for x in bs[:2]] == ["text", "plain"]
           and _params(bs[2]).get("charset") == "us-ascii"
           and _lower(bs[5]) == "7bit" and int(bs[6]) == 12 and int(bs[7]) == 1,
           'a single-part message: ("text" "plain" ("charset" "us-ascii") NIL NIL '
           '"7bit" 12 1 ...)', bs)
    r, d = one(c, "Q", "BODYSTRUCTURE")
    bs = d.get("BODYSTRUCTURE") or []
    tap.ok(len(bs) >= 8 and _lower(bs[5]) == "base64" and
           _params(bs[2]).get("charset") == "utf-8",
           "a base64 single-part message: encoding and charset", bs)


def t_flags_setup(c):
    r1 = c.cmd("STORE %d +FLAGS.SILENT (\\Flagged)" % SEQ["T1"])
    r2 = c.cmd("STORE %d +FLAGS.SILENT (\\Answered \\Seen)" % SEQ["T2"])
    r3 = c.cmd("STORE %d +FLAGS.SILENT ($Important)" % SEQ["Z"])
    tap.ok(r1.ok and r2.ok and r3.ok, "flags set for the searches", (r1, r2, r3))


SEARCHES = (
    ("UNSEEN", ["Q", "T1", "T3", "Z"]),
    ("SEEN", ["M", "T2"]),
    ("NOT SEEN", ["Q", "T1", "T3", "Z"]),
    ("FLAGGED", ["T1"]),
    ("ANSWERED", ["T2"]),
    ("OR FLAGGED ANSWERED", ["T1", "T2"]),
    ("KEYWORD $Important", ["Z"]),
    ("UNKEYWORD $Important FLAGGED", ["T1"]),
    ("DELETED", []),
    ("FROM ana", ["M"]),
    ("FROM zed@remote.test", ["T1", "T2", "T3"]),
    ("TO alice", ["M"]),
    ("CC carol", ["M"]),
    ('SUBJECT "plans"', ["T1", "T2", "T3"]),
    ("SUBJECT zebra", ["Z"]),
    ("BODY zanzibar-word", ["M"]),
    ("BODY alpha", ["T1"]),
    ('TEXT "inner message"', ["M"]),
    ("TEXT <t1@x>", ["T1", "T2", "T3"]),
    ("LARGER 4000", ["Z"]),
    ("SMALLER 4000", ["M", "Q", "T1", "T2", "T3"]),
    ("SENTBEFORE 2-May-2024", ["T1"]),
    ("SENTON 2-May-2024", ["T2"]),
    ("SENTSINCE 4-May-2024", ["M", "Q", "Z"]),
    ("SINCE 1-Jan-2020", ["M", "Q", "T1", "T2", "T3", "Z"]),
    ("BEFORE 1-Jan-2020", []),
    ("HEADER Message-ID <t2@x>", ["T2"]),
    ("HEADER In-Reply-To \"\"", ["M", "T2", "T3"]),
    ("NOT HEADER References t1", ["M", "Q", "T1", "Z"]),
    ("ALL", ["M", "Q", "T1", "T2", "T3", "Z"]),
)


def t_search(c):
    for crit, want in SEARCHES:
        r = c.cmd("SEARCH " + crit)
        tap.ok(r.ok and keys_of(search_nums(r)) == want,
               "SEARCH %s -> %s" % (crit, " ".join(want) or "nothing"),
               "got %s\n%r" % (keys_of(search_nums(r)), r))
    r = c.cmd("SEARCH %d:%d" % (1, 2))
    tap.eq(search_nums(r), [1, 2], "SEARCH 1:2 (a sequence set)")
    r = c.cmd("UID SEARCH UID %d" % UID["Z"])
    tap.eq(search_nums(r), [UID["Z"]], "UID SEARCH UID n answers UIDs")
    r = c.cmd("UID SEARCH FLAGGED")
    tap.eq(search_nums(r), [UID["T1"]], "UID SEARCH FLAGGED answers the UID")
    for crit, word, want in (("SUBJECT", "caf\u00e9", ["M"]),
                             ("BODY", "pr\u00eat", ["M"]),
                             ("SUBJECT", "Gr\u00fc\u00dfe", ["Q"]),
                             ("BODY", "K\u00f6ln", ["Q"]),
                             ("TEXT", "Sch\u00f6ne", ["Q"])):
        w = word.encode("utf-8")
        r = c.cmd_lit("SEARCH CHARSET UTF-8 %s" % crit, w)
        tap.ok(r.ok and keys_of(search_nums(r)) == want,
               "SEARCH CHARSET UTF-8 %s %s (decoded) -> %s" % (crit, word, want[0]),
               "got %s\n%r" % (keys_of(search_nums(r)), r))
    r = c.cmd('SEARCH CHARSET UTF-8 SUBJECT "CAF\u00c9"')
    tap.ok(r.ok and keys_of(search_nums(r)) == ["M"],
           "SEARCH CHARSET UTF-8 SUBJECT as a quoted UTF-8 string, other case", r)
    r = c.cmd("SEARCH CHARSET US-ASCII SUBJECT plans")
    tap.ok(r.ok and keys_of(search_nums(r)) == ["T1", "T2", "T3"],
           "SEARCH CHARSET US-ASCII", r)
    r = c.cmd("SEARCH CHARSET X-NO-SUCH ALL")
    tap.ok(r.status == "NO" and r.code().startswith("BADCHARSET"),
           "SEARCH CHARSET X-NO-SUCH: NO [BADCHARSET]", r)
    r = c.cmd("SEARCH NOSUCHKEY")
    tap.eq(r.status, "BAD", "SEARCH with an unknown key: BAD")


def t_sort_thread(c):
    r = c.cmd("SORT (SUBJECT) UTF-8 ALL")
    got = [x for x in r.untagged if x.upper().startswith(b"* SORT")]
    nums = [int(t) for t in got[0].split()[2:]] if got else []
    tap.eq([{v: k for k, v in SEQ.items()}.get(n) for n in nums],
           ["M", "Q"] + sorted(["T1", "T2", "T3"], key=lambda k: SEQ[k]) + ["Z"],
           "SORT (SUBJECT): base subjects (Re: removed, RFC 2047 decoded), ties by sequence")
    for crit, want in (("DATE", ["T1", "T2", "T3", "Z", "Q", "M"]),
                       ("REVERSE DATE", ["M", "Q", "Z", "T3", "T2", "T1"]),
                       ("FROM", ["Z", "M", "Q"] + sorted(["T1", "T2", "T3"],
                                                         key=lambda k: SEQ[k]))):
        r = c.cmd("SORT (%s) UTF-8 ALL" % crit)
        got = [x for x in r.untagged if x.upper().startswith(b"* SORT")]
        nums = [int(t) for t in got[0].split()[2:]] if got else []
        tap.eq([{v: k for k, v in SEQ.items()}.get(n) for n in nums], want,
               "SORT (%s)" % crit)
    r = c.cmd("FETCH 1:* (RFC822.SIZE)")
    sizes = {s: int(d["RFC822.SIZE"]) for s, d in u.fetches(r.untagged).items()}
    want = sorted(sizes, key=lambda s: (-sizes[s], s))
    r = c.cmd("SORT (REVERSE SIZE) UTF-8 ALL")
    got = [x for x in r.untagged if x.upper().startswith(b"* SORT")]
    tap.eq([int(t) for t in got[0].split()[2:]] if got else [], want,
           "SORT (REVERSE SIZE)")
    r = c.cmd("UID SORT (DATE) UTF-8 SUBJECT plans")
    got = [x for x in r.untagged if x.upper().startswith(b"* SORT")]
    tap.eq([int(t) for t in got[0].split()[2:]] if got else [],
           [UID["T1"], UID["T2"], UID["T3"]], "UID SORT (DATE) with a search key: UIDs")
    r = c.cmd("THREAD REFERENCES UTF-8 ALL")
    got = [x for x in r.untagged if x.upper().startswith(b"* THREAD")]
    tree = u.parse(got[0][8:]) if got else None
    want = [[str(SEQ["T1"]), str(SEQ["T2"]), str(SEQ["T3"])], [str(SEQ["Z"])],
            [str(SEQ["Q"])], [str(SEQ["M"])]]
    tap.eq(tree, want, "THREAD REFERENCES: (T1 T2 T3)(Z)(Q)(M), threads by date")
    r = c.cmd("UID THREAD REFERENCES UTF-8 SUBJECT plans")
    got = [x for x in r.untagged if x.upper().startswith(b"* THREAD")]
    tap.eq(u.parse(got[0][8:]) if got else None,
           [[str(UID["T1"]), str(UID["T2"]), str(UID["T3"])]], "UID THREAD: UIDs")


def t_esearch(c):
    r = c.cmd("SEARCH RETURN (MIN MAX COUNT) UNSEEN")
    e = esearch(r) or {}
    unseen = sorted(SEQ[k] for k in ("Q", "T1", "T3", "Z"))
    tap.ok(e.get("TAG") == r.tag.encode() and e.get("MIN") == str(unseen[0])
           and e.get("MAX") == str(unseen[-1]) and e.get("COUNT") == "4",
           "SEARCH RETURN (MIN MAX COUNT) UNSEEN: * ESEARCH (TAG ..) MIN MAX COUNT 4", r)
    r = c.cmd("UID SEARCH RETURN (ALL) ALL")
    e = esearch(r) or {}
    tap.ok(e.get("UID") is True and expand(e.get("ALL")) == sorted(UID.values()),
           "UID SEARCH RETURN (ALL) ALL: * ESEARCH ... UID ALL <set>", r)
    r = c.cmd("SEARCH RETURN () FLAGGED")
    e = esearch(r) or {}
    tap.eq(expand(e.get("ALL")), [SEQ["T1"]], "SEARCH RETURN () FLAGGED = RETURN (ALL)")
    r = c.cmd("SEARCH RETURN (COUNT) DELETED")
    e = esearch(r) or {}
    tap.eq(e.get("COUNT"), "0", "ESEARCH COUNT 0 when nothing matches")
    r = c.cmd("SEARCH RETURN (SAVE) OR FLAGGED ANSWERED")
    tap.ok(r.ok and esearch(r) is None and not search_nums(r),
           "SEARCH RETURN (SAVE): no result sent (RFC 5182)", r)
    r = c.cmd("FETCH $ (UID)")
    tap.eq(sorted(int(d["UID"]) for d in u.fetches(r.untagged).values()),
           sorted([UID["T1"], UID["T2"]]), "FETCH $ uses the saved result (SEARCHRES)")


def t_uid_ranges(c):
    top = max(UID.values())
    r = c.cmd("UID FETCH %d:* (UID)" % (top + 1000))
    got = [int(d["UID"]) for d in u.fetches(r.untagged).values()]
    tap.eq(got, [top], "UID FETCH n:* with n above every UID gives the last message "
           "(RFC 3501 6.4.8)")
    r = c.cmd("UID SEARCH UID %d:*" % (top + 1000))
    tap.eq(search_nums(r), [top], "UID SEARCH UID n:* likewise")
    r = c.cmd("UID FETCH %d (UID)" % (top + 1000))
    tap.ok(r.ok and not u.fetches(r.untagged), "UID FETCH of a UID that does not exist: "
           "OK and nothing", r)
    r = c.cmd("FETCH %d (UID)" % (len(MSGS) + 1))
    tap.eq(r.status, "BAD", "FETCH of a sequence number past the end: BAD")


def t_big_message(c):
    big = b"".join(b"big line %07d abcdefghijklmnopqrstuvwxyz0123456789\r\n" % i
                   for i in range(60000))
    data = (b"From: <big@remote.test>\r\nSubject: big one\r\nMessage-ID: <big@x>\r\n"
            b"\r\n" + big)
    r = c.cmd("CREATE Big")
    r = c.append("Big", data)
    tap.ok(r.ok, "APPEND of a %d-octet message" % len(data), r)
    s = u.session(S.imap_port, BOB, select="Big")
    r = s.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[]<1000000.100> BINARY.SIZE[1])",
              timeout=60)
    d = u.fetches(r.untagged).get(1, {})
    tap.eq(int(d.get("RFC822.SIZE", -1)), len(data), "its RFC822.SIZE")
    tap.ok(d.get("BODY[]") == data, "BODY[] gives all %d octets back" % len(data),
           len(d.get("BODY[]") or b""))
    tap.eq(d.get("BODY[]<1000000>"), data[1000000:1000100], "a partial fetch in the middle")
    tap.eq(d.get("BINARY.SIZE[1]"), str(len(big)), "BINARY.SIZE[1] of a single-part message")
    r = s.cmd("SEARCH BODY \"line 0059999\"", timeout=60)
    tap.eq(search_nums(r), [1], "SEARCH BODY finds a word near its end")
    s.cmd("LOGOUT")
    s.close()


def t_rev2(_c):
    c = u.session(S.imap_port, BOB)
    r = c.cmd("ENABLE IMAP4rev2")
    tap.ok(r.ok and any(b"IMAP4REV2" in x.upper() for x in r.untagged),
           "ENABLE IMAP4rev2", r)
    r = c.cmd("SELECT INBOX")
    tap.ok(r.ok and not any(re.match(rb"\* \d+ RECENT", x) for x in r.untagged),
           "IMAP4rev2 SELECT sends no * n RECENT (RFC 9051 6.3.2)", r)
    r = c.cmd("SEARCH UNSEEN")
    tap.ok(r.ok and esearch(r) is not None and not any(
        x.upper().startswith(b"* SEARCH") for x in r.untagged),
        "IMAP4rev2 SEARCH answers * ESEARCH, not * SEARCH (RFC 9051 6.4.4)", r)
    c.cmd("LOGOUT")
    c.close()


CS = []    # the CONDSTORE session, for t_qresync


def t_condstore(_c):
    # ENABLE is valid only before a mailbox is selected (RFC 5161 3.1).
    c = u.session(S.imap_port, BOB)
    CS.append(c)
    r = c.cmd("ENABLE CONDSTORE")
    tap.ok(r.ok and any(b"CONDSTORE" in x for x in r.untagged
                        if x.upper().startswith(b"* ENABLED")),
           "ENABLE CONDSTORE: * ENABLED CONDSTORE", r)
    r = c.cmd("SELECT INBOX (CONDSTORE)")
    h0 = u.code_value(r.untagged, "HIGHESTMODSEQ")
    tap.ok(r.ok and h0 and h0.isdigit() and int(h0) >= 1,
           "SELECT (CONDSTORE): * OK [HIGHESTMODSEQ n]", r)
    h0 = int(h0) if h0 and h0.isdigit() else 0
    r = c.cmd("FETCH 1:* (MODSEQ)")
    ms = {s: int(d["MODSEQ"][0]) for s, d in u.fetches(r.untagged).items() if "MODSEQ" in d}
    tap.ok(len(ms) == len(MSGS) and max(ms.values()) <= h0,
           "FETCH MODSEQ: every message has one, none above HIGHESTMODSEQ", r)
    r = c.cmd("STORE %d +FLAGS (\\Draft)" % SEQ["T1"])
    d = u.fetches(r.untagged).get(SEQ["T1"], {})
    m1 = int(d["MODSEQ"][0]) if d.get("MODSEQ") else 0
    tap.ok(r.ok and m1 > h0, "STORE after CONDSTORE: the FETCH has a MODSEQ above %d" % h0, r)
    r = c.cmd("STORE %d (UNCHANGEDSINCE %d) +FLAGS (\\Deleted)" % (SEQ["T1"], h0))
    tap.ok(r.ok and r.code() == "MODIFIED %d" % SEQ["T1"],
           "STORE (UNCHANGEDSINCE old) of a changed message: OK [MODIFIED n]", r)
    r = c.cmd("FETCH %d (FLAGS)" % SEQ["T1"])
    tap.ok("\\Deleted" not in u.flags_of(u.fetches(r.untagged)[SEQ["T1"]].get("FLAGS")),
           "and the flag was not set", r)
    r = c.cmd("STORE %d (UNCHANGEDSINCE %d) -FLAGS (\\Answered)" % (SEQ["T2"], m1))
    tap.ok(r.ok and "MODIFIED" not in r.code(), "STORE (UNCHANGEDSINCE current) works", r)
    r = c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
    tap.eq(keys_of(u.fetches(r.untagged)), ["T1", "T2"],
           "FETCH (CHANGEDSINCE) gives only the changed messages")
    r = c.cmd("SEARCH MODSEQ %d" % (h0 + 1))
    tap.ok(keys_of(search_nums(r)) == ["T1", "T2"] and
           any(re.search(rb"\(MODSEQ \d+\)$", x) for x in r.untagged),
           "SEARCH MODSEQ: the changed messages, with (MODSEQ n)", r)
    r2 = u.session(S.imap_port, BOB)
    r = r2.cmd("STATUS INBOX (HIGHESTMODSEQ)")
    st = [x for x in r.untagged if x.upper().startswith(b"* STATUS")]
    m = re.search(rb"HIGHESTMODSEQ (\d+)", st[0]) if st else None
    tap.ok(m and int(m.group(1)) >= m1, "STATUS (HIGHESTMODSEQ) from another session", r)
    r2.cmd("LOGOUT")
    r2.close()


def t_qresync(_c):
    if not CS:
        tap.ok(False, "the CONDSTORE session exists")
        return
    c = CS[0]
    q = u.session(S.imap_port, BOB)
    r = q.cmd("ENABLE QRESYNC")
    tap.ok(r.ok and any(b"QRESYNC" in x for x in r.untagged
                        if x.upper().startswith(b"* ENABLED")),
           "ENABLE QRESYNC: * ENABLED QRESYNC", r)
    r = q.cmd("SELECT INBOX")
    uv = u.code_value(r.untagged, "UIDVALIDITY")
    hm = u.code_value(r.untagged, "HIGHESTMODSEQ")
    tap.ok(uv and hm, "SELECT with QRESYNC enabled reports HIGHESTMODSEQ", r)
    q.cmd("LOGOUT")
    q.close()
    c.cmd("STORE %d +FLAGS (\\Flagged)" % SEQ["T3"])
    c.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" % SEQ["Z"])
    r = c.cmd("UID EXPUNGE %d" % UID["Z"])
    tap.ok(r.ok and any(re.match(rb"\* %d EXPUNGE" % SEQ["Z"], x) for x in r.untagged),
           "without QRESYNC, UID EXPUNGE answers * n EXPUNGE", r)
    q = u.session(S.imap_port, BOB)
    q.cmd("ENABLE QRESYNC")
    r = q.cmd("SELECT INBOX (QRESYNC (%s %s))" % (uv, hm))
    van = [x for x in r.untagged if x.upper().startswith(b"* VANISHED (EARLIER) ")]
    tap.ok(r.ok and van and expand(van[0].split()[3].decode()) == [UID["Z"]],
           "SELECT (QRESYNC (uidvalidity modseq)): * VANISHED (EARLIER) <the expunged UID>", r)
    f = u.fetches(r.untagged)
    got = sorted(int(d["UID"]) for d in f.values() if "UID" in d)
    tap.ok(UID["T3"] in got and UID["M"] not in got,
           "SELECT (QRESYNC ...): FETCH for the message changed since, not the others", r)
    st = [d for d in f.values() if d.get("UID") == str(UID["T3"])]
    tap.ok(st and "\\Flagged" in u.flags_of(st[0].get("FLAGS")) and "MODSEQ" in st[0],
           "the FETCH has the new FLAGS and MODSEQ", st)
    r = q.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % UID["T2"])
    r = q.cmd("EXPUNGE")
    tap.ok(r.ok and any(x.upper() == b"* VANISHED %d" % UID["T2"] for x in r.untagged)
           and not any(re.match(rb"\* \d+ EXPUNGE", x) for x in r.untagged),
           "with QRESYNC, EXPUNGE answers * VANISHED <uid>, not * n EXPUNGE", r)
    q.cmd("LOGOUT")
    q.close()
    r = c.cmd("NOOP")
    t2 = SEQ["T2"] - (1 if SEQ["Z"] < SEQ["T2"] else 0)
    tap.ok(any(re.match(rb"\* %d EXPUNGE" % t2, x) for x in r.untagged),
           "the CONDSTORE session sees the other session's expunge as * n EXPUNGE", r)


def main():
    tap.run(t_start, timeout=120)
    try:
        c = u.session(S.imap_port, BOB, select="INBOX")
    except Exception as e:
        tap.ok(False, "bob logs in and selects INBOX", e)
        tap.done()
    for fn in (t_fetch_basic, t_fetch_sections, t_envelope, t_bodystructure,
               t_flags_setup, t_search, t_sort_thread, t_esearch, t_uid_ranges,
               t_big_message, t_rev2, t_condstore, t_qresync):
        tap.run(lambda: fn(c), timeout=120, name=fn.__name__)
    c.close()
    S.stop()
    tap.done()


if __name__ == "__main__":
    main()
