#!/usr/bin/env python3
"""
postern_test: the shared harness of the integration tests.

Each test_*.py is one TAP program. It builds a throw-away postern in a
temporary tree (config, TLS certificate, sasldb users, aliases), starts
the real master (`postern run`) on free loopback high ports in its own
session, drives it with real clients (smtplib, raw sockets, swaks) and
cleans up on every exit path: normal exit, exception, timeout, signal.

Only the Python 3 standard library is used. Environment:
  top_builddir, top_srcdir  set by `make check`; default: the repository
                            root two levels above this file.
  POSTERN_TEST_KEEP=1       keep the temporary trees (their path is printed).
"""

import atexit
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pt_raw import Raw, enhanced  # noqa: E402,F401  (re-exported: pt.Raw)
from pt_clients import (  # noqa: E402,F401  (re-exported: pt.run_cmd)
    CLIENT_PACKAGES, PERL_PACKAGES, client_problems, run_cmd)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_BUILDDIR = os.path.abspath(
    os.environ.get("top_builddir") or os.path.join(HERE, "..", ".."))
TOP_SRCDIR = os.path.abspath(
    os.environ.get("top_srcdir") or os.path.join(HERE, "..", ".."))

POSTERN = os.path.join(TOP_BUILDDIR, "postern")
SMTPD = os.path.join(TOP_BUILDDIR, "smtpd", "smtpd")
QMGR = os.path.join(TOP_BUILDDIR, "queue", "qmgr")
LOOKUPD = os.path.join(TOP_BUILDDIR, "queue", "lookupd")
DELIVER = os.path.join(TOP_BUILDDIR, "deliver", "deliver")

IS_ROOT = os.geteuid() == 0
HOSTNAME = "mx.example.test"
LOCAL_DOMAINS = ("example.test", "example.org")
DEFAULT_USERS = ("alice@example.test", "bob@example.test",
                 "carol@example.org", "dave@example.test")
DEFAULT_ALIASES = ("info: alice@example.test\n"
                   "team: alice@example.test, bob@example.test\n")
PASSWORD = "Test-pass-1234"
QUEUE_SUBDIRS = ("incoming", "active", "deferred", "hold", "maildrop")
QID_RE = re.compile(rb"queued as ([0-9A-Za-z]+)")


# ---------------------------------------------------------------- TAP

class TestTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so `except Exception` in a test
    does not swallow it."""


class TAP:
    """TAP producer. The plan is printed at the end (valid TAP), so a
    program that dies early is reported as an error by the driver."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.finished = False
        self.in_run = False
        self.dump_pending = False

    @staticmethod
    def diag(msg):
        for line in str(msg).splitlines() or [""]:
            sys.stdout.write("# %s\n" % line)
        sys.stdout.flush()

    def ok(self, cond, desc, diag=None):
        self.n += 1
        desc = desc.replace("#", "\\#").replace("\n", " ")
        sys.stdout.write("%sok %d - %s\n" % ("" if cond else "not ", self.n, desc))
        sys.stdout.flush()
        if not cond:
            self.failed += 1
            if diag is not None:
                self.diag(diag)
            if self.in_run:
                self.dump_pending = True   # once, at the end of the test
            else:
                dump_suite_logs()
        return bool(cond)

    def eq(self, got, expected, desc):
        return self.ok(got == expected, desc,
                       "expected: %r\n     got: %r" % (expected, got))

    def skip(self, desc, reason):
        self.n += 1
        sys.stdout.write("ok %d - %s # SKIP %s\n" % (self.n, desc, reason))
        sys.stdout.flush()

    def skip_all(self, reason):
        sys.stdout.write("1..0 # SKIP %s\n" % reason)
        sys.stdout.flush()
        self.finished = True
        sys.exit(0)

    def bail(self, reason):
        sys.stdout.write("Bail out! %s\n" % reason)
        sys.stdout.flush()
        self.finished = True

    def run(self, fn, timeout=60, name=None):
        """Run one test function under a SIGALRM timeout. An exception or a
        timeout is one failed TAP result with the traceback as diagnostics."""
        name = name or fn.__name__
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(timeout)
        self.in_run, self.dump_pending = True, False
        try:
            fn()
        except TestTimeout:
            self.ok(False, "%s: finished within %d s" % (name, timeout),
                    "timed out; traceback:\n" + traceback.format_exc())
        except Exception:
            self.ok(False, "%s: ran without an exception" % name,
                    traceback.format_exc())
        finally:
            signal.alarm(0)
            self.in_run = False
            if self.dump_pending:
                self.diag("(%s failed; the suite's log follows)" % name)
                dump_suite_logs(40)
            self.dump_pending = False

    def done(self):
        """Print the plan and exit. The exit status is 0: results are in
        the TAP lines (a non-zero status would add an ERROR to the count)."""
        check_sanitizer_reports()
        sys.stdout.write("1..%d\n" % self.n)
        if self.failed:
            self.diag("%d of %d failed" % (self.failed, self.n))
        sys.stdout.flush()
        self.finished = True
        sys.exit(0)


SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                   b"runtime error:", b"ERROR: UndefinedBehaviorSanitizer")


def check_sanitizer_reports():
    """The daemons' stderr goes to each suite's log: under --enable-asan a
    memory error in a daemon shows up there, not in any exit status the
    test sees. One TAP result per suite log: it fails on any report."""
    for s in _suites:
        try:
            with open(s.log_path, "rb") as f:
                text = f.read()
        except OSError:
            continue
        hits = [m for m in SANITIZER_MARKS if m in text]
        excerpt = ""
        if hits:
            i = text.find(hits[0])
            excerpt = text[max(0, i - 200):i + 3000].decode("utf-8", "replace")
        tap.ok(not hits, "no sanitizer report in the log of %s" % s.name, excerpt)


def _on_alarm(signum, frame):
    raise TestTimeout()


tap = TAP()


# ---------------------------------------------------------------- cleanup

_suites = []          # every Suite created (for cleanup and log dumps)
_extra_procs = []     # other processes started by tests (Popen)
_trees = []           # temporary trees to remove


def register_proc(p):
    _extra_procs.append(p)
    return p


def _kill_pg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cleanup():
    for p in _extra_procs:
        if p.poll() is None:
            _kill_pg(p.pid)
            try:
                p.kill()
            except OSError:
                pass
    for s in _suites:
        s._kill_all()
    keep = os.environ.get("POSTERN_TEST_KEEP") == "1"
    for t in _trees:
        if keep:
            sys.stdout.write("# kept %s\n" % t)
        else:
            shutil.rmtree(t, ignore_errors=True)
    del _trees[:]


def _on_signal(signum, frame):
    signal.signal(signum, signal.SIG_DFL)
    tap.bail("killed by signal %d" % signum)
    cleanup()
    os._exit(128 + signum)


atexit.register(cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def dump_suite_logs(lines=25):
    for s in _suites:
        s.dump_log(lines)


# ---------------------------------------------------------------- helpers

_ports_given = set()


def _ephemeral_low():
    """The low end of the kernel's range for the local ports of outgoing
    connections (and of bind to port 0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A free loopback TCP port for a listener a daemon binds later.
    Picked at random below the ephemeral range and tried with a bind:
    a port from bind(("127.0.0.1", 0)) is one the kernel may hand next
    to any client's outgoing connection, or to another test's bind to 0,
    before the daemon binds it (seen in .ci/run: a master refused to
    start, "pop3_listen: Address already in use", while tests ran two at
    a time). Never the same port twice in one process."""
    top = max(_ephemeral_low(), 12000)
    for _ in range(200):
        port = random.randrange(10000, top)
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(cond, timeout, interval=0.05):
    """Call cond() until it returns a true value or timeout seconds pass.
    Returns the last value. Bounded polling is the only waiting we do."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def as_user(name):
    """A preexec_fn for subprocess (as root): become the account `name`
    (no supplementary groups), as `setpriv --reuid --regid --clear-groups`."""
    import pwd
    pw = pwd.getpwnam(name)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


def chown_tree(path, name):
    """chown -R path to the account `name` and its group."""
    import pwd
    pw = pwd.getpwnam(name)
    for dp, dirs, files in os.walk(path):
        for n in [dp] + [os.path.join(dp, f) for f in dirs + files]:
            os.lchown(n, pw.pw_uid, pw.pw_gid)


def clean_env():
    env = dict(os.environ)
    for k in ("POSTERN_CONF", "POSTERN_LOG", "LISTEN_FDS", "LISTEN_PID",
              "LISTEN_FDNAMES", "TCPREMOTEIP"):
        env.pop(k, None)
    return env


def fetchmail_fetch(home, protocol, port, user, password, opts):
    """Run fetchmail once (keep, no certificate check) from 127.0.0.1:port
    with protocol (pop3, imap) and the TLS options opts ("ssl",
    "sslproto tls1.2+"), appending what it fetches to home/mbox, which is
    emptied first. Returns (CompletedProcess, the mbox bytes)."""
    out = os.path.join(home, "mbox")
    rc = os.path.join(home, "rc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 port %d protocol %s auth password\n'
                '  user "%s" password "%s" %s no sslcertck keep\n'
                '  mda "/bin/sh -c \'cat >> %s\'"\n'
                % (port, protocol, user, password, opts, out))
    os.chmod(rc, 0o600)
    env = clean_env()
    env["HOME"] = home
    env["FETCHMAILHOME"] = home
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--all",
                        "--pidfile", os.path.join(home, "pid")],
                       capture_output=True, text=True, timeout=60, env=env)
    data = open(out, "rb").read() if os.path.exists(out) else b""
    return r, data


def make_message(subject, body="Hello.\n", sender="sender@remote.test",
                 to="alice@example.test", msgid=None):
    """A message as str with CRLF line ends, ready for smtplib."""
    msgid = msgid or "<%s@client.test>" % re.sub(r"[^A-Za-z0-9.-]", "-", subject)
    lines = ["From: <%s>" % sender, "To: <%s>" % to, "Subject: %s" % subject,
             "Message-ID: %s" % msgid, ""] + body.split("\n")
    return "\r\n".join(lines)


def split_message(data):
    """(header bytes, body bytes) of a stored message (LF or CRLF)."""
    data = data.replace(b"\r\n", b"\n")
    i = data.find(b"\n\n")
    if i < 0:
        return data, b""
    return data[:i + 1], data[i + 2:]


def header_values(data, name):
    """Values of header `name` (unfolded) in a stored message."""
    head, _ = split_message(data)
    out, cur = [], None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and cur is not None:
            cur[1] += b" " + line.strip()
            continue
        if cur is not None:
            out.append(cur)
        k, sep, v = line.partition(b":")
        cur = [k.strip().lower(), v.strip()] if sep else None
    if cur is not None:
        out.append(cur)
    return [v.decode("utf-8", "replace") for k, v in out
            if k == name.lower().encode()]


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        # Maildir files may move new/ -> cur/; callers re-list.
        return None


def subject_of(data):
    v = header_values(data, "Subject")
    return v[0] if v else None


# ---------------------------------------------------------------- clients

# The Debian package of each external program the tests drive; tools/deps.sh
# installs every one by name (Recommends are not installed).
def require(tool, *features):
    """Check at the start of a test that the external client `tool` is
    installed and can do what the test asks (require("swaks", "TLS",
    "AUTH"), require("curl", "pop3s"), require("fetchmail", "SSL"),
    require("mbsync"): isync 1.4 or later). One TAP
    result; True when it can. A missing client or feature FAILS the test,
    with the Debian package to install (`sh tools/deps.sh` installs them
    all): it never skips silently. Only POSTERN_TEST_MISSING=skip, for a
    developer who knows what he lacks, turns that into a visible SKIP."""
    problems = client_problems(tool, *features)
    what = " ".join((tool,) + features)
    if not problems:
        tap.ok(True, "client available: %s" % what)
        return True
    msg = "; ".join(problems) + " (sh tools/deps.sh installs every test client)"
    if os.environ.get("POSTERN_TEST_MISSING") == "skip":
        tap.skip("client available: %s" % what, msg)
    else:
        tap.ok(False, "client available: %s -- %s" % (what, msg), msg)
    return False


# ---------------------------------------------------------------- raw SMTP

def proc_list():
    """[(pid, ppid, pgid, exe basename, argv0 basename)] of all processes."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                st = f.read()
            rest = st[st.rfind(b")") + 2:].split()
            ppid, pgid = int(rest[1]), int(rest[2])
            if rest[0] == b"Z":
                continue
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            try:
                exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
            except OSError:
                exe = ""
            a0 = os.path.basename(argv[0].decode("utf-8", "replace")) if argv else ""
        except (OSError, IndexError, ValueError):
            continue
        out.append((pid, ppid, pgid, exe, a0))
    return out


def descendants(root_pid):
    procs = proc_list()
    kids = {}
    for p in procs:
        kids.setdefault(p[1], []).append(p)
    out, todo = [], [root_pid]
    while todo:
        for p in kids.get(todo.pop(), []):
            out.append(p)
            todo.append(p[0])
    return out


def proc_ids(pid):
    """{'Uid': [r, e, s, fs], 'Gid': [...], 'Groups': [...]} of a process."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = [int(x) for x in v.split()]
    return ids


# ---------------------------------------------------------------- the suite

class SuiteError(Exception):
    pass


class Suite:
    """A postern instance in a temporary tree."""

    def __init__(self, extra_conf=None, users=DEFAULT_USERS,
                 aliases=DEFAULT_ALIASES, tls=True, name="suite"):
        self.name = name
        self.tree = tempfile.mkdtemp(prefix="postern-test-")
        _trees.append(self.tree)
        _suites.append(self)
        if IS_ROOT:
            os.chmod(self.tree, 0o755)   # the system accounts traverse it
        self.etc = os.path.join(self.tree, "etc")
        os.mkdir(self.etc, 0o755)
        self.conf = os.path.join(self.etc, "postern.conf")
        self.state_dir = os.path.join(self.tree, "state")
        self.queue_dir = os.path.join(self.state_dir, "queue")
        self.mail_root = os.path.join(self.tree, "mail")
        self.sasl_db = os.path.join(self.etc, "sasldb2")
        self.alias_file = os.path.join(self.etc, "aliases")
        self.log_path = os.path.join(self.tree, "master.log")
        self.port = free_port()
        self.proc = None
        self.logf = None
        self.starts = 0
        self.tls_cert = self.tls_key = ""
        if tls:
            self._make_cert()
        with open(self.alias_file, "w") as f:
            f.write(aliases)
        self.settings = {
            "hostname": HOSTNAME,
            "local_domains": ", ".join(LOCAL_DOMAINS),
            "state_dir": self.state_dir,
            "mail_root": self.mail_root,
            "sasl_db": self.sasl_db,
            "alias_file": self.alias_file,
            "smtp_listen": "127.0.0.1:%d" % self.port,
            "submission_listen": "",
            "submissions_listen": "",
            "pop3_listen": "",
            "pop3s_listen": "",
            "imap_listen": "",
            "imaps_listen": "",
            "queue_retry_min": "1s",
            "queue_retry_max": "4s",
            "tls_cert": self.tls_cert,
            "tls_key": self.tls_key,
        }
        self.settings.update(extra_conf or {})
        self.write_conf()
        for u in users:
            self.add_user(u)

    # -- setup

    def _make_cert(self):
        self.tls_cert = os.path.join(self.etc, "cert.pem")
        self.tls_key = os.path.join(self.etc, "key.pem")
        problems = client_problems("openssl")
        if problems:
            raise SuiteError("; ".join(problems))
        r = run_cmd(["openssl", "req", "-x509", "-newkey", "ec",
                     "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", self.tls_key, "-out", self.tls_cert,
                     "-days", "2", "-subj", "/CN=" + HOSTNAME], timeout=30)
        if r.returncode != 0:
            raise SuiteError("openssl req failed: %s" % r.stderr)
        os.chmod(self.tls_key, 0o600)

    def write_conf(self, path=None):
        with open(path or self.conf, "w") as f:
            f.write("# postern.conf written by the integration tests\n")
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))

    def add_user(self, addr, password=PASSWORD):
        r = run_cmd([POSTERN, "user", "add", "-c", self.conf, addr],
                    input=password + "\n")
        if r.returncode != 0:
            raise SuiteError("postern user add %s: status %s: %s%s"
                             % (addr, r.returncode, r.stdout, r.stderr))

    # -- processes

    def start(self, ready_timeout=20, user=None):
        """Start `postern run` and wait for the 220 greeting. As root, user
        runs it as that account instead (its tree must belong to it)."""
        if not os.access(POSTERN, os.X_OK):
            raise SuiteError("%s is not built" % POSTERN)
        self.starts += 1
        self.logf = open(self.log_path, "ab")
        self.logf.write(b"=== start %d ===\n" % self.starts)
        self.logf.flush()
        self.proc = subprocess.Popen(
            [POSTERN, "run", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=self.logf, env=clean_env(),
            start_new_session=True, cwd=self.tree,
            preexec_fn=as_user(user) if user else None)
        deadline = time.monotonic() + ready_timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SuiteError("postern run exited with status %s before "
                                 "it was ready" % self.proc.returncode)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=2) as s:
                    s.settimeout(2)
                    data = s.recv(512)
                    if data.startswith(b"220"):
                        try:
                            s.sendall(b"QUIT\r\n")
                            s.recv(512)
                        except OSError:
                            pass
                        return self
                    last = "greeting %r" % data
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise SuiteError("no 220 greeting on port %d within %d s (%s)"
                         % (self.port, ready_timeout, last))

    def pids(self):
        """The master and all its descendants, plus its process group."""
        if self.proc is None:
            return []
        seen = {self.proc.pid}
        for p in descendants(self.proc.pid):
            seen.add(p[0])
        for p in proc_list():
            if p[2] == self.proc.pid:
                seen.add(p[0])
        return sorted(seen)

    def group_alive(self):
        """Processes still in the suite's process group (excluding zombies)."""
        if self.proc is None:
            return []
        return [p for p in proc_list() if p[2] == self.proc.pid]

    def stop(self, timeout=15):
        """SIGTERM to the master; returns its exit status (None when it did
        not exit in time: then the group is killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
            self._kill_all()
        self._close_log()
        return rc

    def kill9(self):
        """SIGKILL to the whole suite at once (group and descendants)."""
        if self.proc is None:
            return
        pids = self.pids()
        _kill_pg(self.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        # The master's exit does not mean its children are gone: a killed
        # process holds its sockets until it has exited (an ASan process
        # takes a while to unmap its shadow memory), and a restart before
        # then fails to bind its listeners (EADDRINUSE). A zombie has
        # closed its files (alive() leaves zombies out).
        poll(lambda: not alive(pids) and not self.group_alive(), 10)
        self._close_log()

    def _kill_all(self):
        if self.proc is not None and (self.proc.poll() is None or self.group_alive()):
            self.kill9()

    def _close_log(self):
        if self.logf:
            self.logf.close()
            self.logf = None

    # -- clients

    def smtp(self, timeout=15):
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test",
                            timeout=timeout)

    def raw(self, port=None, timeout=10.0):
        return Raw(port or self.port, timeout=timeout)

    def send(self, subject, rcpts=("alice@example.test",), body="Hello.\n",
             sender="sender@remote.test"):
        """Send one message with smtplib; returns (code, reply bytes)."""
        with self.smtp() as s:
            s.ehlo()
            code, msg = s.mail(sender)
            if code != 250:
                return code, msg
            for r in rcpts:
                code, msg = s.rcpt(r)
                if code != 250:
                    return code, msg
            return s.data(make_message(subject, body, sender, rcpts[0]))

    def send_many(self, prefix, n, rcpt="alice@example.test",
                  sender="sender@remote.test"):
        """Send n messages (Subject PREFIX-0 .. PREFIX-(n-1)) in one session."""
        with self.smtp() as s:
            s.ehlo()
            for i in range(n):
                s.sendmail(sender, [rcpt], make_message("%s-%d" % (prefix, i),
                                                        "Hello.\n", sender, rcpt))

    # -- mailboxes and queue

    def maildir(self, addr):
        local, _, domain = addr.lower().partition("@")
        return os.path.join(self.mail_root, domain, local, "Maildir")

    def maildir_messages(self, addr, subdirs=("new", "cur")):
        out = []
        for sub in subdirs:
            d = os.path.join(self.maildir(addr), sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            out.extend(os.path.join(d, n) for n in names if not n.startswith("."))
        return sorted(out)

    def messages_with_subject(self, addr, subject):
        out = []
        for p in self.maildir_messages(addr):
            data = read_file(p)
            if data is not None and subject_of(data) == subject:
                out.append(p)
        return out

    def wait_for_messages(self, addr, n, timeout=15):
        """Poll until addr has at least n messages; returns the list."""
        return poll(lambda: (lambda m: m if len(m) >= n else None)(
            self.maildir_messages(addr)), timeout) or self.maildir_messages(addr)

    def wait_for_subject(self, addr, subject, n=1, timeout=15):
        """Poll until addr has at least n messages with this Subject."""
        got = poll(lambda: (lambda m: m if len(m) >= n else None)(
            self.messages_with_subject(addr, subject)), timeout)
        return got or self.messages_with_subject(addr, subject)

    def queue_files(self):
        out = []
        for sub in QUEUE_SUBDIRS:
            d = os.path.join(self.queue_dir, sub)
            try:
                out.extend(os.path.join(sub, n) for n in os.listdir(d))
            except FileNotFoundError:
                pass
        return out

    def delete_queued_for(self, rcpt, timeout=20):
        """Delete, with `postern queue delete`, every message the log shows
        for the recipient rcpt, and wait until their files are gone (a
        message being delivered is deleted when the attempt ends). False
        when no queue id is logged for rcpt within timeout: the smtp
        client logs its reason before qmgr logs the "to=" line, and a
        delete with no id would delete nothing and leave the message to
        be retried through the tests after it."""
        pat = re.compile(r"([0-9A-Z]{20}): to=<%s>" % re.escape(rcpt))
        qids = poll(lambda: sorted(set(pat.findall(self.log_text()))), timeout)
        if not qids:
            tap.diag("no queue id logged for <%s>" % rcpt)
            return False
        for q in qids:
            r = run_cmd([POSTERN, "queue", "-c", self.conf, "delete", q])
            if r.returncode != 0:
                tap.diag("queue delete %s: %s%s" % (q, r.stdout, r.stderr))
                return False
        return poll(lambda: not any(os.path.basename(f) in qids
                                    for f in self.queue_files()), timeout)

    def wait_queue_empty(self, timeout=20):
        return poll(lambda: not self.queue_files(), timeout)

    def settle(self, rcpts=("alice@example.test",), timeout=20):
        """Barrier: send a sentinel to rcpts, wait until it is in each
        Maildir and the queue is empty. Everything queued before it has then
        been dealt with. Returns True on success."""
        subj = "sentinel-%d-%f" % (os.getpid(), time.monotonic())
        code, msg = self.send(subj, rcpts)
        if code != 250:
            tap.diag("sentinel refused: %s %r" % (code, msg))
            return False
        for r in rcpts:
            if not self.wait_for_subject(r, subj, 1, timeout):
                tap.diag("sentinel not delivered to %s within %d s" % (r, timeout))
                return False
        if not self.wait_queue_empty(timeout):
            tap.diag("queue not empty: %r" % self.queue_files()[:10])
            return False
        return True

    # -- log

    def log_text(self):
        if self.logf:
            self.logf.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=10):
        return poll(lambda: needle in self.log_text(), timeout)

    def dump_log(self, lines=25):
        text = self.log_text()
        if not text:
            return
        tail = text.splitlines()[-lines:]
        tap.diag("--- last %d lines of %s ---" % (len(tail), self.log_path))
        for ln in tail:
            tap.diag("  " + ln)


def start_suite_or_bail(**kw):
    """Make and start a Suite; when that fails, report one failed result,
    dump what we know and finish the TAP stream."""
    try:
        return Suite(**kw).start()
    except Exception:
        tap.ok(False, "the suite starts (postern run answers 220)",
               traceback.format_exc())
        tap.done()


def alive(pids):
    """Those of pids that still exist and are not zombies."""
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                st = f.read()
        except OSError:
            continue
        if st[st.rfind(b")") + 2:][:1] != b"Z":
            out.append(pid)
    return out


def greets(port):
    """Does an SMTP server on port answer with a 220 greeting? (for poll)"""
    try:
        r = Raw(port, timeout=3)
        code, _ = r.greeting()
        r.cmd("QUIT")
        r.close()
        return code == 220
    except OSError:
        return False
