#!/usr/bin/env python3
"""
test_imap_util: the shared part of the IMAP integration tests (a helper
module, not a TAP program; it is not in TESTS).

  Imap        a byte-exact IMAP client on a socket: tagged commands,
              untagged responses with their literals, synchronizing and
              non-synchronizing literals, STARTTLS, IDLE, COMPRESS=DEFLATE
  parse()     an IMAP response (or a part of one) as nested Python lists:
              atoms are str (NIL is None), strings and literals are bytes
  fetches()   "* n FETCH (...)" responses as {seq: {ITEM: value}}
  imap_suite  a postern Suite with imap_listen and imaps_listen set
  messages    build test messages (multipart, threads, RFC 2047 subjects)

Python 3 standard library only, like postern_test.py.
"""

import base64
import hashlib
import hmac
import imaplib
import os
import re
import socket
import ssl
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import postern_test as pt  # noqa: E402
import pop3_launch as pl  # noqa: E402

IMAPD = os.path.join(pt.TOP_BUILDDIR, "imapd", "imapd")
ALICE = "alice@example.test"
BOB = "bob@example.test"
CAROL = "carol@example.org"
DAVE = "dave@example.test"
PW = pt.PASSWORD
SPECIAL = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
           ("Junk", "\\Junk"), ("Archive", "\\Archive"))
# What issue 9 asks for, as capability names after login.
POSTAUTH_CAPS = ("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "ENABLE", "NAMESPACE",
                 "ID", "UNSELECT", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED",
                 "LIST-STATUS", "ESEARCH", "SEARCHRES", "SORT",
                 "THREAD=REFERENCES", "CONDSTORE", "QRESYNC", "QUOTA",
                 "BINARY", "COMPRESS=DEFLATE", "SASL-IR")


def tls_ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


# ---------------------------------------------------------------- parser

def parse(data):
    """An IMAP response or data item list as nested lists. Atoms (with
    their [section]<partial> suffixes) are str, NIL is None, quoted strings
    and literals are bytes. Raises ValueError on malformed input."""
    out, i = _parse_seq(data, 0, None)
    return out


def _parse_seq(data, i, close):
    out = []
    n = len(data)
    while i < n:
        c = data[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c == b"(":
            sub, i = _parse_seq(data, i + 1, b")")
            out.append(sub)
        elif c == b")":
            if close != b")":
                raise ValueError("unbalanced ) at %d" % i)
            return out, i + 1
        elif c == b'"':
            j, buf = i + 1, bytearray()
            while True:
                if j >= n:
                    raise ValueError("unterminated quoted string")
                ch = data[j:j + 1]
                if ch == b"\\":
                    buf += data[j + 1:j + 2]
                    j += 2
                elif ch == b'"':
                    break
                else:
                    buf += ch
                    j += 1
            out.append(bytes(buf))
            i = j + 1
        elif c == b"{" or data[i:i + 2] == b"~{":
            j = data.index(b"}", i)
            count = int(data[i + (2 if c == b"~" else 1):j].rstrip(b"+"))
            start = data.index(b"\n", j) + 1
            out.append(data[start:start + count])
            i = start + count
        else:
            j = i
            depth = 0
            while j < n:
                ch = data[j:j + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif ch in (b"\r", b"\n") or (depth == 0 and ch in b" ()"):
                    break
                j += 1
            if j == i:
                raise ValueError("unexpected %r at %d" % (c, i))
            atom = data[i:j].decode("utf-8", "replace")
            out.append(None if atom.upper() == "NIL" else atom)
            i = j
    if close is not None:
        raise ValueError("missing )")
    return out, i


def fetches(untagged):
    """{seq: {ITEM: value}} from '* n FETCH (...)' responses (bytes).
    Items are upper-cased (BODY[...] keeps its section as sent); several
    responses for one message are merged."""
    out = {}
    for u in untagged:
        m = re.match(rb"\* (\d+) FETCH ", u)
        if not m:
            continue
        items = parse(u[m.end():])[0]
        d = out.setdefault(int(m.group(1)), {})
        for k in range(0, len(items) - 1, 2):
            d[items[k].upper()] = items[k + 1]
    return out


def flags_of(value):
    return sorted(str(f) for f in (value or []))


def untagged_named(untagged, word):
    """Untagged responses whose second word (or third, for '* n WORD') is word."""
    out = []
    for u in untagged:
        p = u.split(b" ", 3)
        if len(p) > 1 and p[1].upper() == word.encode().upper():
            out.append(u)
        elif len(p) > 2 and p[1].isdigit() and p[2].rstrip(b"\r\n").upper() == word.encode().upper():
            out.append(u)
    return out


def caps_of(untagged):
    """The capability names of '* CAPABILITY ...' (or of a [CAPABILITY] code)."""
    for u in untagged:
        m = re.search(rb"CAPABILITY ([^\]\r\n]*)", u)
        if m:
            return m.group(1).decode().split()
    return []


# ---------------------------------------------------------------- client

class Reply:
    """The tagged reply of a command and the untagged responses before it."""

    def __init__(self, tag, line, untagged):
        self.tag = tag
        self.line = line            # str, without the tag
        self.untagged = untagged    # [bytes], literals inline
        self.status = line.split(" ", 1)[0].upper() if line else None

    @property
    def ok(self):
        return self.status == "OK"

    def code(self):
        """The response code of the tagged line ('OVERQUOTA', 'COPYUID 1 2 3')."""
        m = re.match(r"\w+ \[([^\]]*)\]", self.line or "")
        return m.group(1) if m else ""

    def __repr__(self):
        u = b"\n".join(x[:300] for x in self.untagged[:40]).decode("utf-8", "replace")
        return "%s %s\n%s" % (self.tag, self.line, u)


class Imap:
    """A byte-exact IMAP client on a socket."""

    def __init__(self, port=None, sock=None, tls=False, timeout=10.0):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.settimeout(timeout)
        if tls:
            sock = tls_ctx().wrap_socket(sock)
        self.sock = sock
        self.timeout = timeout
        self.buf = b""
        self.n = 0
        self.transcript = []
        self.zin = self.zout = None

    # -- bytes

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("IMAP: nothing complete within the timeout")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        if self.zin is not None:
            chunk = self.zin.decompress(chunk)
        self.buf += chunk
        return True

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transcript.append(b"C: " + data[:300])
        if self.zout is not None:
            data = self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def line(self, timeout=None):
        """One line with its CRLF, or None on EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                rest, self.buf = self.buf, b""
                return rest or None
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln + b"\n"

    def exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError("EOF inside a literal")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, timeout=None):
        """One whole response: its lines and literals, CRLF stripped at the
        end; None on EOF."""
        ln = self.line(timeout)
        if ln is None:
            return None
        out = ln
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r?\n$", out)
            if not m:
                break
            out += self.exact(int(m.group(1)), timeout)
            nxt = self.line(timeout)
            if nxt is None:
                break
            out += nxt
        out = out.rstrip(b"\r\n")
        self.transcript.append(b"S: " + out[:300])
        return out

    # -- commands

    def next_tag(self):
        self.n += 1
        return "a%03d" % self.n

    def start(self, text):
        """Send a tagged command without reading; returns the tag."""
        tag = self.next_tag()
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.send(tag.encode() + b" " + text + b"\r\n")
        return tag

    def finish(self, tag, timeout=None, untagged=None):
        """Read up to the tagged reply of tag."""
        untagged = [] if untagged is None else untagged
        while True:
            r = self.response(timeout)
            if r is None:
                return Reply(tag, None, untagged)
            if r.startswith(tag.encode() + b" "):
                return Reply(tag, r[len(tag) + 1:].decode("utf-8", "replace"), untagged)
            untagged.append(r)

    def cmd(self, text, timeout=None):
        return self.finish(self.start(text), timeout)

    def cmd_lit(self, head, literal, tail=b"", nonsync=False, timeout=None):
        """'tag head {n}' CRLF literal tail CRLF. Waits for '+' unless
        nonsync (LITERAL+); a tagged reply instead of '+' is returned."""
        tag = self.next_tag()
        if isinstance(head, str):
            head = head.encode("utf-8")
        if isinstance(tail, str):
            tail = tail.encode("utf-8")
        self.send(b"%s %s {%d%s}\r\n" % (tag.encode(), head, len(literal),
                                        b"+" if nonsync else b""))
        untagged = []
        if not nonsync:
            while True:
                r = self.response(timeout)
                if r is None:
                    return Reply(tag, None, untagged)
                if r.startswith(b"+"):
                    break
                if r.startswith(tag.encode() + b" "):
                    return Reply(tag, r[len(tag) + 1:].decode("utf-8", "replace"),
                                 untagged)
                untagged.append(r)
        self.send(literal + tail + b"\r\n")
        return self.finish(tag, timeout, untagged)

    def greeting(self, timeout=None):
        r = self.response(timeout)
        return None if r is None else r.decode("utf-8", "replace")

    def capabilities(self):
        return caps_of(self.cmd("CAPABILITY").untagged)

    def starttls(self):
        r = self.cmd("STARTTLS")
        if r.ok:
            self.sock.settimeout(self.timeout)
            self.sock = tls_ctx().wrap_socket(self.sock)
        return r

    def login(self, user=ALICE, pw=PW):
        return self.cmd('LOGIN "%s" "%s"' % (user, pw), timeout=20)

    def compress(self):
        r = self.cmd("COMPRESS DEFLATE")
        if r.ok:
            self.zin = zlib.decompressobj(-15)
            self.zout = zlib.compressobj(6, zlib.DEFLATED, -15)
        return r

    def append(self, mbox, data, flags=None, date=None, nonsync=False):
        head = "APPEND %s" % mbox
        if flags is not None:
            head += " (%s)" % flags
        if date is not None:
            head += ' "%s"' % date
        return self.cmd_lit(head, data, nonsync=nonsync, timeout=20)

    def wait_untagged(self, pred, timeout):
        """Read untagged responses until pred(response) or timeout; returns
        (the response or None, everything read)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, seen
            try:
                r = self.response(left)
            except socket.timeout:
                return None, seen
            if r is None:
                return None, seen
            seen.append(r)
            if pred(r):
                return r, seen

    def text(self):
        return b"\n".join(self.transcript[-60:]).decode("utf-8", "replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def session(port, user=ALICE, pw=PW, implicit=False, select=None):
    """A logged-in Imap: STARTTLS on port, or implicit TLS. Raises when
    the login fails."""
    c = Imap(port, tls=implicit, timeout=15)
    g = c.greeting()
    if g is None or not g.startswith("* OK"):
        raise AssertionError("IMAP greeting: %r" % g)
    if not implicit:
        r = c.starttls()
        if not r.ok:
            raise AssertionError("STARTTLS: %r" % r)
    r = c.login(user, pw)
    if not r.ok:
        raise AssertionError("LOGIN %s: %r" % (user, r))
    if select:
        r = c.cmd("SELECT %s" % select)
        if not r.ok:
            raise AssertionError("SELECT %s: %r" % (select, r))
    return c


def imaplib_session(port, user=ALICE, pw=PW, implicit=False):
    if implicit:
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls_ctx(), timeout=15)
    else:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
        m.starttls(tls_ctx())
    m.login(user, pw)
    return m


def sasl_plain(user=ALICE, pw=PW):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


def sasl_exchange(c, mech, steps, initial=None):
    """AUTHENTICATE mech [initial] on an Imap; steps(challenge bytes) gives
    the next response (bytes) for each '+' continuation. Returns the Reply."""
    head = "AUTHENTICATE %s" % mech
    if initial is not None:
        head += " " + (base64.b64encode(initial).decode() or "=")
    tag = c.start(head)
    untagged = []
    while True:
        r = c.response(20)
        if r is None:
            return Reply(tag, None, untagged)
        if r.startswith(tag.encode() + b" "):
            return Reply(tag, r[len(tag) + 1:].decode("utf-8", "replace"), untagged)
        if r.startswith(b"+"):
            chal = base64.b64decode(r[1:].strip() or b"")
            resp = steps(chal)
            c.send(base64.b64encode(resp) + b"\r\n")
            continue
        untagged.append(r)


def scram(c, mech, user=ALICE, pw=PW):
    """AUTHENTICATE SCRAM-SHA-1/-256 (RFC 5802) with SASL-IR. Returns
    (Reply, whether the server's signature was right)."""
    h = hashlib.sha256 if mech.upper().endswith("256") else hashlib.sha1
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
    st = {"verified": False}

    def steps(chal):
        text = chal.decode()
        if "server_first" not in st:
            st["server_first"] = text
            f = dict(kv.split("=", 1) for kv in text.split(","))
            if not f.get("r", "").startswith(cnonce):
                return b"*"
            salted = hashlib.pbkdf2_hmac(h().name, pw.encode(), base64.b64decode(f["s"]),
                                         int(f["i"]))
            ckey = hmac.new(salted, b"Client Key", h).digest()
            wo = "c=biws,r=%s" % f["r"]
            auth = ("%s,%s,%s" % (bare, text, wo)).encode()
            sig = hmac.new(h(ckey).digest(), auth, h).digest()
            proof = bytes(a ^ b for a, b in zip(ckey, sig))
            skey = hmac.new(salted, b"Server Key", h).digest()
            st["server_sig"] = base64.b64encode(hmac.new(skey, auth, h).digest()).decode()
            return ("%s,p=%s" % (wo, base64.b64encode(proof).decode())).encode()
        st["verified"] = text == "v=" + st["server_sig"]
        return b""
    r = sasl_exchange(c, mech, steps, ("n,," + bare).encode())
    m = re.search(r"\[SASL ([^\]]+)\]", r.line or "")
    if m and "server_sig" in st:
        st["verified"] = base64.b64decode(m.group(1)).decode() == "v=" + st["server_sig"]
    return r, st["verified"]


def exists_of(untagged):
    n = None
    for u in untagged:
        m = re.match(rb"\* (\d+) EXISTS", u)
        if m:
            n = int(m.group(1))
    return n


def code_value(untagged, code):
    """The value of '* OK [CODE value]' among untagged responses, or None."""
    for u in untagged:
        m = re.match(rb"\* OK \[" + code.encode() + rb" ?([^\]]*)\]", u)
        if m:
            return m.group(1).decode()
    return None


def uid_map(c, rng="1:*"):
    """{uid: Message-ID} of the selected folder (by FETCH)."""
    r = c.cmd("UID FETCH %s (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])" % rng)
    out = {}
    for _seq, d in fetches(r.untagged).items():
        hdr = [v for k, v in d.items() if k.startswith("BODY[")]
        mid = b""
        if hdr and hdr[0]:
            m = re.search(rb"(?i)message-id:\s*(\S+)", hdr[0])
            mid = m.group(1) if m else b""
        out[int(d["UID"])] = mid.decode()
    return out


def seq_uids(c):
    """[uid of seq 1, uid of seq 2, ...] of the selected folder."""
    r = c.cmd("FETCH 1:* (UID)")
    f = fetches(r.untagged)
    return [int(f[k]["UID"]) for k in sorted(f)]


# ---------------------------------------------------------------- suites

def status_of(untagged):
    """{ITEM: int} of the first STATUS response."""
    for x in untagged:
        if x.upper().startswith(b"* STATUS "):
            t = parse(x[9:])
            items = t[1]
            return {items[i].upper(): int(items[i + 1]) for i in range(0, len(items) - 1, 2)}
    return {}


def imap_suite(name, extra=None, pop3=False, users=pt.DEFAULT_USERS):
    """A Suite with the IMAP listeners (and POP3 when asked); ports in
    s.imap_port, s.imaps_port (s.pop3_port)."""
    conf = {}
    ip, isp = pt.free_port(), pt.free_port()
    conf["imap_listen"] = "127.0.0.1:%d" % ip
    conf["imaps_listen"] = "127.0.0.1:%d" % isp
    if pop3:
        pp = pt.free_port()
        conf["pop3_listen"] = "127.0.0.1:%d" % pp
    conf.update(extra or {})
    s = pt.Suite(name=name, extra_conf=conf, users=users)
    s.imap_port, s.imaps_port = ip, isp
    s.pop3_port = pp if pop3 else None
    return s


def imap_ready(port, implicit=False, timeout=20):
    """Poll until port answers with an IMAP greeting; the last greeting or error."""
    last = ["nothing"]

    def probe():
        try:
            c = Imap(port, tls=implicit, timeout=3)
            try:
                g = c.greeting(3)
                last[0] = g
                if g and g.startswith("* OK"):
                    c.send(b"z LOGOUT\r\n")
                    return True
            finally:
                c.close()
        except (OSError, ssl.SSLError) as e:
            last[0] = "%s: %s" % (type(e).__name__, e)
        return False
    if pt.poll(probe, timeout, 0.1):
        return True, last[0]
    return False, last[0]


def start_imap_suite(s):
    """Start the master and wait for both IMAP listeners. Raises on failure."""
    s.start()
    for port, implicit in ((s.imap_port, False), (s.imaps_port, True)):
        ok, last = imap_ready(port, implicit)
        if not ok:
            raise pt.SuiteError("no IMAP greeting on port %d (%s): %s"
                                % (port, "imaps" if implicit else "imap", last))
    return s


# ---------------------------------------------------------------- messages

def plain_message(subject, body="Hello.\n", sender="sender@remote.test",
                  to=ALICE, msgid=None, date=None, extra=""):
    """A simple message (bytes, LF line ends, as deliver stores it)."""
    msgid = msgid or "<%s@client.test>" % re.sub(r"[^A-Za-z0-9.-]", "-", subject)
    date = date or "Mon, 06 May 2024 10:00:00 +0000"
    return ("Date: %s\nFrom: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: %s\n%s\n%s"
            % (date, sender, to, subject, msgid, extra, body)).encode("utf-8")


def sized_message(subject, size, msgid=None):
    """A message of exactly size octets with CRLF line ends."""
    head = "Date: Mon, 06 May 2024 10:00:00 +0000\r\nFrom: <sender@remote.test>\r\n" \
        "To: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\n" % (
            ALICE, subject, msgid or "<%s-%d@client.test>" % (subject, size))
    head = head.encode()
    left = size - len(head)
    line = b"x" * 70 + b"\r\n"
    body = line * (left // len(line))
    rest = left - len(body)
    if rest >= 2:
        body += b"y" * (rest - 2) + b"\r\n"
    elif rest:
        body = body[:-2] + b"z" * rest + b"\r\n"
    return head + body


MULTIPART = (
    'Date: Tue, 07 May 2024 09:30:00 +0200\n'
    'From: "Ana Example" <ana@remote.test>\n'
    'To: Alice <alice@example.test>, bob@example.test\n'
    'Cc: "Carol" <carol@example.org>\n'
    'Subject: =?utf-8?q?Caf=C3=A9_report?=\n'
    'Message-ID: <multi-1@remote.test>\n'
    'In-Reply-To: <earlier@remote.test>\n'
    'MIME-Version: 1.0\n'
    'Content-Type: multipart/mixed; boundary="==outer=="\n'
    '\n'
    'This is a multi-part message in MIME format.\n'
    '--==outer==\n'
    'Content-Type: text/plain; charset=utf-8\n'
    'Content-Transfer-Encoding: quoted-printable\n'
    '\n'
    'Le caf=C3=A9 est pr=C3=AAt. zanzibar-word\n'
    'Second line.\n'
    '--==outer==\n'
    'Content-Type: application/octet-stream; name="data.bin"\n'
    'Content-Transfer-Encoding: base64\n'
    'Content-Disposition: attachment; filename="data.bin"\n'
    '\n'
    'AAECAwQFBgcICQ==\n'
    '--==outer==\n'
    'Content-Type: message/rfc822\n'
    '\n'
    'From: inner@remote.test\n'
    'Subject: inner message\n'
    '\n'
    'Inner body.\n'
    '--==outer==--\n').encode()

MULTIPART_PART1 = (b"Le caf=C3=A9 est pr=C3=AAt. zanzibar-word\r\n"
                   b"Second line.")
MULTIPART_PART2_DECODED = bytes(range(10))


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(suite, user, data, sub="new"):
    """Write a message into user's INBOX as deliver does."""
    return pl.deliver_file(suite.maildir(user), data, sub=sub)
