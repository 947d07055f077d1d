# smtp_measure.py -- what bench/smtp-throughput measures besides the
# message rate: server CPU time (a cgroup v2 per system), PSS of a
# system's processes, idle SMTP connections, and an SMTP load generator of
# its own that records, per message, the time from the final "." CRLF to
# the 250 (accept latency).
#
# Python 3 standard library only; imported by bench/smtp-throughput.

import math
import os
import signal
import socket
import statistics
import subprocess
import threading
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cgroup2_mount():
    """The mount point of the cgroup v2 hierarchy (/sys/fs/cgroup, or
    /sys/fs/cgroup/unified on a hybrid system), or None."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    return None


def read_proc_stat(pid):
    """(ppid, utime+stime+cutime+cstime in seconds) of a process, or None.
    A child's time is in its parent's cutime/cstime once it was reaped."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            st = f.read()
    except OSError:
        return None
    rest = st[st.rfind(b")") + 2:].split()
    try:
        ppid = int(rest[1])
        ticks = sum(int(x) for x in rest[11:15])
    except (IndexError, ValueError):
        return None
    return ppid, ticks / CLK_TCK


def process_tree(root):
    """root and all its living descendants (pids)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = read_proc_stat(int(d))
        if st is not None:
            kids.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


class Group:
    """The processes of one system under test and their CPU time.

    With a writable cgroup v2 hierarchy: a cgroup of its own
    (<mount>/<prefix>-<pid>-<name>, prefix smtp-throughput unless the
    caller names another); the command that starts the
    system is wrapped so that it moves itself in before it execs, and so
    before it forks any daemon. cpu.stat's usage_usec then counts every
    process of the system, those that already exited included.

    Otherwise (method "proc"): the process tree of root_pid() (a callable,
    set by the system), CPU time summed from /proc/PID/stat utime + stime
    + cutime + cstime (exited children count once reaped; processes that
    left the tree, e.g. by double fork, are missed)."""

    def __init__(self, name, use_cgroup=True, prefix="smtp-throughput"):
        self.name = name
        self.path = None
        self.method = "proc"
        self.why = "cgroup v2 not used (--no-cgroup)"
        self.root_pid = lambda: None
        if not use_cgroup:
            return
        mnt = cgroup2_mount()
        if mnt is None:
            self.why = "no cgroup v2 hierarchy mounted"
            return
        path = os.path.join(mnt, "%s-%d-%s" % (prefix, os.getpid(), name))
        try:
            os.mkdir(path)
            with open(os.path.join(path, "cpu.stat")) as f:
                if "usage_usec" not in f.read():
                    raise OSError("no usage_usec in cpu.stat")
            # can a process move itself in (as the wrapper will)?
            rc = subprocess.call(["/bin/sh", "-c", 'echo $$ > "$0"',
                                  os.path.join(path, "cgroup.procs")],
                                 stderr=subprocess.DEVNULL)
            if rc != 0:
                raise OSError("a process cannot move itself into it")
        except OSError as e:
            self.why = "cgroup v2 at %s not usable: %s" % (mnt, e)
            try:
                os.rmdir(path)
            except OSError:
                pass
            return
        self.path = path
        self.method = "cgroup"
        self.why = path

    def wrap(self, argv):
        """argv, started so that it first joins the cgroup."""
        if self.path is None:
            return list(argv)
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                os.path.join(self.path, "cgroup.procs")] + list(argv)

    def pids(self):
        if self.path is not None:
            try:
                with open(os.path.join(self.path, "cgroup.procs")) as f:
                    return [int(x) for x in f.read().split()]
            except OSError:
                return []
        root = self.root_pid()
        return process_tree(root) if root else []

    def cpu_seconds(self):
        """CPU time used so far by the system (user + system), seconds."""
        if self.path is not None:
            try:
                with open(os.path.join(self.path, "cpu.stat")) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k == "usage_usec":
                            return int(v) / 1e6
            except (OSError, ValueError):
                return None
            return None
        root = self.root_pid()
        if not root:
            return None
        total = 0.0
        for pid in process_tree(root):
            st = read_proc_stat(pid)
            if st is not None:
                total += st[1]
        return total

    def counters_start(self, perf="/usr/bin/perf"):
        """Count the system calls and context switches of the cgroup's
        processes (perf stat -a --for-each-cgroup: every CPU, only this
        cgroup) until counters_stop(). False when that cannot be done (no
        cgroup, no perf); the caller then reports no figure."""
        self._perf = None
        if self.path is None or not os.access(perf, os.X_OK):
            return False
        rel = os.path.relpath(self.path, cgroup2_mount())
        self._perf_out = tempfile.TemporaryFile()
        self._perf = subprocess.Popen(
            [perf, "stat", "-a", "-x,", "-e",
             "raw_syscalls:sys_enter,context-switches",
             "--for-each-cgroup", rel],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._perf_out)
        time.sleep(0.3)     # perf has opened its counters by then
        return self._perf.poll() is None

    def counters_stop(self):
        """(system calls, context switches) since counters_start(), or
        None."""
        p, self._perf = getattr(self, "_perf", None), None
        if p is None:
            return None
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None
        self._perf_out.seek(0)
        text = self._perf_out.read().decode("utf-8", "replace")
        self._perf_out.close()
        got = {}
        for line in text.splitlines():
            f = line.split(",")
            if len(f) >= 3 and f[0].isdigit():
                got[f[2]] = int(f[0])
        if "raw_syscalls:sys_enter" not in got or "context-switches" not in got:
            return None
        return got["raw_syscalls:sys_enter"], got["context-switches"]

    def wait_empty(self, timeout):
        """Wait until no process is left (cgroup only); True if empty."""
        if self.path is None:
            return True
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def kill(self):
        """SIGKILL every process of the cgroup at once (cgroup.kill, Linux
        5.14). None, or why it could not."""
        if self.path is None:
            return "no cgroup"
        try:
            with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError as e:
            return "cgroup.kill: %s" % e
        return None

    def remove(self):
        """Kill what is left in the cgroup and remove it. Returns a
        complaint or None."""
        if self.path is None:
            return None
        left = self.pids()
        if left:
            if self.kill() is not None:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            self.wait_empty(10)
        try:
            os.rmdir(self.path)
        except OSError as e:
            return "cannot remove cgroup %s: %s" % (self.path, e)
        finally:
            self.path = None
        return ("killed %d process(es) left in %s's cgroup" % (len(left), self.name)
                if left else None)


def pss_kib(pids):
    """Sum of Pss (kB, /proc/PID/smaps_rollup) over pids, how many
    processes were counted, and how many exist but could not be read
    (not root). Processes that exited meanwhile are not counted."""
    total, n, unreadable = 0, 0, 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        n += 1
                        break
        except (FileNotFoundError, ProcessLookupError):
            continue
        except (OSError, ValueError, IndexError):
            unreadable += 1
    return total, n, unreadable


# ---------------------------------------------------------------- SMTP

class Conn:
    """A blocking SMTP client connection that reads whole replies."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # Every write is a complete command or the end of the data: no
        # Nagle delay (which, with the server's delayed ACK, would hold
        # the final "." CRLF back for up to 40 ms).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        """(code, text) of the next reply, multi-line replies joined."""
        lines = []
        while True:
            i = self.buf.find(b"\n")
            while i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OSError("connection closed by the server after %r"
                                  % b"".join(lines)[-200:])
                self.buf += chunk
                i = self.buf.find(b"\n")
            line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                try:
                    return int(line[:3]), b"".join(lines)
                except ValueError:
                    raise OSError("not an SMTP reply: %r" % line[:200])

    def cmd(self, data, want):
        self.sock.sendall(data)
        code, text = self.reply()
        if code != want:
            raise OSError("%r: %d %r" % (data[:40], code, text[:200]))
        return text

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def message_body(size, ident):
    """Header and a body of about size octets in lines of 78 'x', dot-safe,
    without the final dot (as smtp-source -l size)."""
    head = ("From: <bench@example.org>\r\nTo: <user@example.test>\r\n"
            "Subject: latency %s\r\nMessage-ID: <%s@bench.example.org>\r\n\r\n"
            % (ident, ident)).encode()
    line = b"x" * 78 + b"\r\n"
    n, rest = divmod(size, len(line))
    body = line * n + (b"x" * max(0, rest - 2) + b"\r\n" if rest else b"")
    return head + body


class LatencyLoad:
    """sessions threads, each sending its share of `messages` over one
    connection per message (banner, EHLO, MAIL, RCPT, DATA, the message,
    QUIT; nothing pipelined), timing the final '.' CRLF to the 250. Has
    the part of subprocess.Popen's interface that one_run uses (poll,
    wait, kill, returncode) and collects its errors as text."""

    def __init__(self, port, sessions, messages, size, sender, rcpt,
                 timeout=30):
        self.port, self.size, self.timeout = port, size, timeout
        self.sender, self.rcpt = sender, rcpt
        self.latencies = []
        self.errors = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.returncode = None
        share = [messages // sessions + (1 if i < messages % sessions else 0)
                 for i in range(sessions)]
        self.threads = [threading.Thread(target=self.session, args=(i, n),
                                         daemon=True)
                        for i, n in enumerate(share)]
        for t in self.threads:
            t.start()

    def one(self, ident):
        c = Conn(self.port, self.timeout)
        try:
            code, text = c.reply()
            if code != 220:
                raise OSError("banner %d %r" % (code, text[:200]))
            c.cmd(b"EHLO bench.example.org\r\n", 250)
            c.cmd(b"MAIL FROM:<%s>\r\n" % self.sender.encode(), 250)
            c.cmd(b"RCPT TO:<%s>\r\n" % self.rcpt.encode(), 250)
            c.cmd(b"DATA\r\n", 354)
            c.sock.sendall(message_body(self.size, ident))
            t0 = time.perf_counter()
            c.sock.sendall(b".\r\n")
            code, text = c.reply()
            dt = time.perf_counter() - t0
            if code != 250:
                raise OSError("end of data: %d %r" % (code, text[:200]))
            with self.lock:
                self.latencies.append(dt)
            try:
                c.cmd(b"QUIT\r\n", 221)
            except OSError:
                pass
        finally:
            c.close()

    def session(self, i, n):
        for k in range(n):
            if self.stop.is_set():
                return
            try:
                self.one("%d.%d.%d" % (os.getpid(), i, k))
            except OSError as e:
                with self.lock:
                    self.errors.append("session %d message %d: %s" % (i, k, e))

    def poll(self):
        if self.returncode is None and not any(t.is_alive() for t in self.threads):
            self.returncode = 1 if self.errors else 0
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self.threads:
            t.join(None if deadline is None
                   else max(0.0, deadline - time.monotonic()))
        return self.poll()

    def kill(self):
        self.stop.set()
        with self.lock:
            self.errors.append("stopped (timeout)")

    def error_text(self):
        with self.lock:
            return "%d error(s): %s" % (len(self.errors), "; ".join(self.errors[:5])) \
                if self.errors else ""

    def percentiles(self):
        """(p50, p99) in milliseconds (nearest rank), or (None, None)."""
        with self.lock:
            xs = sorted(self.latencies)
        if not xs:
            return None, None

        p99 = xs[min(len(xs), max(1, math.ceil(0.99 * len(xs)))) - 1]
        return statistics.median(xs) * 1000, p99 * 1000


def open_idle(port, n, timeout=30):
    """Open n connections that read the banner, send EHLO and read its
    reply, then stay idle. Returns (connections, error or None)."""
    conns = []
    try:
        for _ in range(n):
            c = Conn(port, timeout)
            conns.append(c)
            code, text = c.reply()
            if code != 220:
                raise OSError("banner %d %r" % (code, text[:200]))
            c.cmd(b"EHLO idle.example.org\r\n", 250)
    except OSError as e:
        return conns, "idle connection %d of %d: %s" % (len(conns), n, e)
    return conns, None


def close_idle(conns):
    for c in conns:
        try:
            c.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        c.close()
