"""
fake_smtp: small scripted SMTP servers (Python standard library only) for
the outbound tests: they answer 451 then 250, 550, malformed replies, a
STARTTLS injection segment, or stall, and they record every byte the
client sends, so the tests can check the wire format exactly.

Each FakeSMTP listens on 127.0.0.1 on a free port in a daemon thread and
serves connections one after another (the client under test opens one
connection per transaction). Every wait is bounded.
"""

import base64
import socket
import threading
import time


class Conn:
    """One accepted connection: the raw bytes received, the commands."""

    def __init__(self, sock):
        self.sock = sock
        self.raw = b""          # everything the client sent
        self.buf = b""
        self.commands = []      # command lines (without CRLF), not data
        self.tls = False
        self.messages = []      # DATA contents as received (with CRLF, stuffed)
        self.closed = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self, timeout=20):
        """One line with its line end, or None on EOF/timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not chunk:
                self.closed = True
                return None
            self.raw += chunk
            self.buf += chunk
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln + b"\n"

    def data(self, timeout=30):
        """The DATA content up to and without the CRLF.CRLF terminator."""
        out = b""
        while True:
            ln = self.line(timeout)
            if ln is None:
                return None
            if ln == b".\r\n":
                self.messages.append(out)
                return out
            out += ln


class FakeSMTP:
    """A scripted server. behaviour(conn_number) returns a dict of options:
       ehlo: list of extension lines (default PIPELINING, SIZE)
       starttls_reply: bytes sent in reply to STARTTLS (default: not offered)
       rcpt: function(address) -> reply line (default 250)
       mail: reply to MAIL (default 250)
       data_end: reply after the dot (default 250 2.0.0 Ok: queued)
       stall_data_end: seconds to wait before that reply
       greeting: bytes of the greeting
       tls_ctx: an ssl server context: offer STARTTLS and do it
       tls_garbage: bytes sent instead of a TLS handshake (after
           starttls_reply and the client's first bytes), then close
       auth: offer AUTH PLAIN LOGIN and record the credentials (PLAIN)
    """

    def __init__(self, behaviour=None, port=0, threaded=False):
        self.behaviour = behaviour or (lambda n: {})
        self.threaded = threaded      # one thread per connection
        self.active = 0               # connections being served now
        self.max_active = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.auth = []                # (user, password, over TLS)
        self.stop_flag = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_flag = True
        self.thread.join(5)
        try:
            self.lsock.close()
        except OSError:
            pass

    def messages(self):
        with self.lock:
            return [m for c in self.conns for m in c.messages]

    def all_commands(self):
        with self.lock:
            return [x for c in self.conns for x in c.commands]

    def wait_messages(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages()) >= n:
                return True
            time.sleep(0.05)
        return len(self.messages()) >= n

    def _loop(self):
        n = 0
        while not self.stop_flag:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c = Conn(s)
            with self.lock:
                self.conns.append(c)
            if self.threaded:
                threading.Thread(target=self._run, args=(c, n), daemon=True).start()
            else:
                self._run(c, n)
            n += 1

    def _run(self, c, n):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._serve(c, self.behaviour(n) or {})
        except OSError:
            pass
        finally:
            with self.lock:
                self.active -= 1
            try:
                c.sock.close()
            except OSError:
                pass

    def _serve(self, c, b):
        c.send(b.get("greeting", b"220 fake.test ESMTP\r\n"))
        rcpts = 0
        while True:
            ln = c.line()
            if ln is None:
                return
            cmd = ln.rstrip(b"\r\n").decode("utf-8", "replace")
            c.commands.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                ext = list(b.get("ehlo", ["PIPELINING", "SIZE 10240000"]))
                if b.get("starttls_reply") is not None or (
                        b.get("tls_ctx") is not None and not c.tls):
                    ext.append("STARTTLS")
                if b.get("auth"):
                    ext.append("AUTH PLAIN LOGIN")
                lines = ["fake.test"] + ext
                out = "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                              for i, l in enumerate(lines))
                c.send(b.get("ehlo_raw", out.encode()))
            elif verb == "STARTTLS" and b.get("tls_ctx") is not None:
                c.send("220 2.0.0 ready\r\n")
                c.sock = b["tls_ctx"].wrap_socket(c.sock, server_side=True)
                c.tls = True
                c.buf = b""
            elif verb == "AUTH" and b.get("auth"):
                parts = cmd.split()
                if len(parts) == 3 and parts[1].upper() == "PLAIN":
                    raw = base64.b64decode(parts[2]).split(b"\0")
                    with self.lock:
                        self.auth.append((raw[1].decode(), raw[2].decode(), c.tls))
                    c.send("235 2.7.0 ok\r\n")
                else:
                    c.send("504 5.5.4 only PLAIN here\r\n")
            elif verb == "STARTTLS":
                c.send(b["starttls_reply"])
                if b.get("tls_garbage") is not None:
                    # A broken TLS stack: the ClientHello gets garbage back.
                    c.sock.settimeout(5)
                    try:
                        c.raw += c.sock.recv(65536)
                    except (socket.timeout, OSError):
                        pass
                    c.send(b["tls_garbage"])
                    return
                # Whatever comes next is recorded by line()/raw; a TLS
                # ClientHello has no LF soon, so wait for close or bytes.
                c.line(timeout=5)
                return
            elif verb == "MAIL":
                rcpts = 0
                c.send(b.get("mail", "250 2.1.0 Ok\r\n"))
            elif verb == "RCPT":
                addr = cmd[cmd.find("<") + 1:cmd.find(">")]
                rep = b.get("rcpt", lambda a: "250 2.1.5 Ok\r\n")(addr)
                if rep.startswith("2"):
                    rcpts += 1
                c.send(rep)
            elif verb == "DATA":
                if rcpts == 0:
                    c.send("554 5.5.1 no valid recipients\r\n")
                    continue
                c.send(b.get("data", "354 go ahead\r\n"))
                if not b.get("data", "354").startswith("354"):
                    continue
                if c.data() is None:
                    return
                if b.get("stall_data_end"):
                    time.sleep(b["stall_data_end"])
                c.send(b.get("data_end", "250 2.0.0 Ok: queued as FAKE\r\n"))
            elif verb == "RSET":
                c.send("250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                c.send("221 2.0.0 Bye\r\n")
                return
            else:
                c.send("502 5.5.2 unknown command\r\n")
