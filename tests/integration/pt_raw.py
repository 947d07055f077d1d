"""
pt_raw: the byte-level SMTP client of the integration tests (pt.Raw,
re-exported by postern_test): exact commands, multi-line replies with
their codes, STARTTLS, and enhanced status codes (pt.enhanced). Only the
Python 3 standard library.
"""

import re
import socket
import ssl
import time


class Raw:
    """A byte-exact SMTP client on a socket: send bytes, read reply lines
    with a timeout. reply() returns (code, [lines as str]); code None on EOF."""

    def __init__(self, port=None, sock=None, timeout=10.0):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = sock
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.transcript = []

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(b"C: " + data[:300])
        self.sock.sendall(data)

    def line(self, timeout=None):
        """One line (without CRLF) as bytes, or None on EOF. Raises
        socket.timeout when nothing complete arrives in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete line within the timeout")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buf:
                    rest, self.buf = self.buf, b""
                    return rest
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.rstrip(b"\r")
        self.transcript.append(b"S: " + line[:300])
        return line

    def reply(self, timeout=None):
        lines = []
        while True:
            ln = self.line(timeout)
            if ln is None:
                return None, lines
            text = ln.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 4 or text[3:4] != "-":
                try:
                    return int(text[:3]), lines
                except ValueError:
                    return -1, lines

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def greeting(self):
        return self.reply()

    def ehlo(self, name="client.test"):
        return self.cmd("EHLO " + name)

    def wait_closed(self, timeout=10.0):
        """True when the server closes the connection within timeout
        (data arriving before the close is read and ignored)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        return False

    def starttls(self, server_hostname=None):
        """TLS handshake on the socket (no certificate verification).
        Bytes already buffered from the server are kept (there should be
        none)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def text(self):
        return b"\n".join(self.transcript).decode("utf-8", "replace")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def enhanced(lines):
    """The enhanced status code (RFC 3463) of the first reply line, or ''."""
    if not lines:
        return ""
    m = re.match(r"^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b", lines[0])
    return m.group(1) if m else ""


# ---------------------------------------------------------------- /proc
