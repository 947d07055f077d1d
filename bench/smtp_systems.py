"""The two systems smtp-throughput measures (bench/smtp-throughput): a
postern suite and a Postfix instance, each in a temporary tree on
loopback with one virtual Maildir recipient, and the helpers they share
with the script (logging, failures, commands, ports, file counts, the
file system's fsync latency).

Not a program: smtp-throughput imports it (as it does smtp_measure).
"""
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import time

import smtp_measure as sm

SENDER = "sender@example.org"
DOMAIN = "example.test"
LOCALPART = "user"
RCPT = LOCALPART + "@" + DOMAIN
PASSWORD = "bench-password-1"

FAILS = []


def write_checks(directory, nheader, nbody):
    """Write header_checks and body_checks files of nheader and nbody
    rules that never match smtp-source's messages, so that every rule is
    tried on every line: the cost of matching, not of acting.  The same
    text is a postern file and a Postfix pcre: or regexp: table (POSIX ERE
    syntax only; both are case-insensitive by default).  Returns the two
    paths (None for a count of 0)."""
    kinds = (
        "/^Subject:.*bench-word-{i}[0-9]*/ REJECT header rule {i}",
        "/^(From|Reply-To):.*@spam-{i}[.]example/ REJECT header rule {i}",
        "/^X-Mailer:.*BulkTool {i}[.][0-9]+/ REJECT header rule {i}",
        "/^Received:.*[[]10[.]{i}[.][0-9]+[.][0-9]+[]]/ REJECT header rule {i}",
    )
    paths = []
    for name, n, make in (
            ("header_checks", nheader, lambda i: kinds[i % 4].format(i=i)),
            ("body_checks", nbody,
             lambda i: "/cheap-pill-{i}[a-z]*/ REJECT body rule {i}".format(i=i))):
        if n <= 0:
            paths.append(None)
            continue
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write("# written by bench/smtp-throughput --checks\n")
            for i in range(n):
                f.write(make(i) + "\n")
        os.chmod(path, 0o644)
        paths.append(path)
    return paths


def log(msg):
    print(msg, flush=True)


def fail(msg):
    FAILS.append(msg)
    log("FAIL: " + msg)
    log("!" * 72)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_greeting(port, timeout, proc=None):
    """Wait until 127.0.0.1:port answers with a 220 greeting."""
    deadline = time.monotonic() + timeout
    last = "no connection"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return "process exited with status %d" % proc.returncode
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(5)
                line = s.makefile("rb").readline(1024)
                if line.startswith(b"220"):
                    try:
                        s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                    return None
                last = "greeting %r" % line[:80]
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    return "no 220 greeting on port %d within %ds (%s)" % (port, timeout, last)


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for e in it if not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def count_tree(d):
    n = 0
    for _root, _dirs, files in os.walk(d):
        n += len(files)
    return n


def clear_dir(d):
    """Empty a Maildir's new/ before a run by moving its files into the
    sibling directory `aside` (made with new/'s owner), not by unlinking
    them: ext4 without a journal skips every inode freed in the last one
    to six minutes when it allocates one (recently_deleted() in its
    ialloc.c), so thousands of files unlinked between runs made every
    file the systems created afterwards walk past them, for minutes. The
    temporary tree goes at the end with everything in it."""
    try:
        with os.scandir(d) as it:
            names = [e.name for e in it]
    except FileNotFoundError:
        return
    if not names:
        return
    aside = os.path.join(os.path.dirname(d), "aside")
    if not os.path.isdir(aside):
        st = os.stat(d)
        os.mkdir(aside, 0o700)
        os.chown(aside, st.st_uid, st.st_gid)
    for n in names:
        os.rename(os.path.join(d, n), os.path.join(aside, n))


def run_cmd(argv, timeout=60, input_text=None):
    try:
        p = subprocess.run(argv, input=input_text, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", "timed out after %ds: %s" % (timeout, " ".join(argv))
    except OSError as e:
        return 127, "", str(e)
    return p.returncode, p.stdout, p.stderr


def fs_type(path):
    rc, out, _ = run_cmd(["stat", "-f", "-c", "%T", path], timeout=10)
    kind = out.strip() if rc == 0 else "?"
    # ext4 shows as ext2/ext3; say whether it has a journal (jbd2).
    st = os.stat(path)
    try:
        dev = os.path.basename(os.path.realpath(
            "/sys/dev/block/%d:%d" % (os.major(st.st_dev),
                                      os.minor(st.st_dev))))
        if os.path.isdir("/proc/fs/ext4/" + dev):
            j = os.path.isdir("/proc/fs/jbd2/%s-8" % dev)
            kind = "ext4 on %s, %s" % (dev, "journal" if j else "NO journal")
    except OSError:
        pass
    return kind


def disk_of(path):
    """The sysfs directory of the whole disk that holds path (a partition's
    parent; a loop device itself), or None."""
    st = os.stat(path)
    try:
        d = os.path.realpath("/sys/dev/block/%d:%d" % (os.major(st.st_dev),
                                                       os.minor(st.st_dev)))
    except OSError:
        return None
    if os.path.exists(os.path.join(d, "partition")):
        d = os.path.dirname(d)
    return d if os.path.exists(os.path.join(d, "stat")) else None


def disk_counts(sysdir):
    """(write requests, flush requests) completed so far by a disk
    (Documentation/block/stat.rst: fields 5 and 16; flushes since Linux
    5.5), or None."""
    if sysdir is None:
        return None
    try:
        with open(os.path.join(sysdir, "stat")) as f:
            v = f.read().split()
    except OSError:
        return None
    return (int(v[4]), int(v[15])) if len(v) >= 17 else None


def fsync_latency(top, rounds=50):
    """Median milliseconds of fsync(4 KiB file) and of create+fsync(dir)."""
    d = os.path.join(top, "fsync-probe")
    os.mkdir(d)
    fd = os.open(os.path.join(d, "f"), os.O_CREAT | os.O_WRONLY, 0o600)
    dfd = os.open(d, os.O_RDONLY)
    ft, dt = [], []
    try:
        for i in range(rounds):
            os.write(fd, b"x" * 4096)
            t = time.monotonic()
            os.fsync(fd)
            ft.append(time.monotonic() - t)
            n = os.path.join(d, "n%d" % i)
            os.close(os.open(n, os.O_CREAT | os.O_WRONLY, 0o600))
            t = time.monotonic()
            os.fsync(dfd)
            dt.append(time.monotonic() - t)
    finally:
        os.close(fd)
        os.close(dfd)
        shutil.rmtree(d, ignore_errors=True)
    return statistics.median(ft) * 1000, statistics.median(dt) * 1000


def queue_leftovers(queue, subs):
    """Files left in each of the queue's directories subs: {sub: count}."""
    n = {}
    for sub in subs:
        c = count_tree(os.path.join(queue, sub))
        if c:
            n[sub] = c
    return n


def log_tail(path, lines=15):
    """The last lines of a system's log, indented, for a failure report."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    " + l for l in data[-lines:])
    except OSError:
        return "    (no log)"


class Postern:
    """A postern suite; name "baseline" for a second build (--baseline)."""

    def __init__(self, top, binary, timeout, checks=(0, 0), cgroup=True,
                 name="postern", params=()):
        self.name = name
        self.params = list(params)
        self.top = os.path.join(top, name)
        self.group = sm.Group(self.name, cgroup)
        self.group.root_pid = lambda: self.proc.pid if self.proc else None
        self.checks = checks
        self.binary = binary
        self.timeout = timeout
        self.port = free_port()
        self.proc = None
        self.logf = None
        self.conf = os.path.join(self.top, "postern.conf")
        self.logpath = os.path.join(self.top, "postern.log")
        self.maildir_new = os.path.join(self.top, "mail", DOMAIN, LOCALPART,
                                        "Maildir", "new")
        self.queue = os.path.join(self.top, "state", "queue")

    def setup(self):
        os.makedirs(self.top)
        os.chmod(self.top, 0o755)
        t = self.top
        with open(self.conf, "w") as f:
            f.write("# written by bench/smtp-throughput\n"
                    "hostname = bench.example.test\n"
                    "local_domains = %s\n"
                    "state_dir = %s/state\n"
                    "mail_root = %s/mail\n"
                    "sasl_db = %s/sasldb2\n"
                    "alias_file = %s/aliases\n"
                    "smtp_listen = 127.0.0.1:%d\n"
                    "submission_listen =\n"
                    "submissions_listen =\n"
                    "pop3_listen =\n"
                    "pop3s_listen =\n"
                    "imap_listen =\n"
                    "imaps_listen =\n" % (DOMAIN, t, t, t, t, self.port))
            hc, bc = write_checks(t, *self.checks)
            if hc:
                f.write("header_checks = %s\n" % hc)
            if bc:
                f.write("body_checks = %s\n" % bc)
            for kv in self.params:
                name, value = kv.split("=", 1)
                f.write("%s = %s\n" % (name.strip(), value.strip()))
        rc, out, err = run_cmd([self.binary, "user", "add", "-c", self.conf,
                                RCPT], input_text=PASSWORD + "\n")
        if rc != 0:
            return "postern user add failed (%d): %s%s" % (rc, out, err)
        return None

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.group.wrap([self.binary, "run",
                                                      "-c", self.conf]),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        err = wait_greeting(self.port, 30, self.proc)
        if err:
            return "postern run: " + err
        return None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log("postern run did not stop on SIGTERM within 20s; "
                    "killing its process group")
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait(timeout=10)
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def leftovers(self):
        return queue_leftovers(self.queue, ("incoming", "active", "deferred",
                                            "hold"))

    def log_tail(self, lines=15):
        return log_tail(self.logpath, lines)


MASTER_CF = """\
# written by bench/smtp-throughput: no chroot, so no copies of /etc needed
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
# written by bench/smtp-throughput
compatibility_level = 3.6
queue_directory = {t}/queue
data_directory = {t}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {t}
maillog_file = {t}/maillog
myhostname = bench.example.org
mydomain = example.org
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 100
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {t}/vmail
virtual_mailbox_maps = texthash:{t}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
message_size_limit = 10240000
"""


class Postfix:
    name = "postfix"

    def __init__(self, top, timeout, in_flow_delay, dirsync, params=(),
                 checks=(0, 0), cgroup=True):
        self.top = os.path.join(top, "postfix")
        self.checks = checks
        self.timeout = timeout
        self.port = free_port()
        self.confdir = os.path.join(self.top, "conf")
        self.maildir_new = os.path.join(self.top, "vmail", DOMAIN, LOCALPART,
                                        "new")
        self.queue = os.path.join(self.top, "queue")
        self.logpath = os.path.join(self.top, "maillog")
        self.in_flow_delay = in_flow_delay
        self.dirsync = dirsync
        self.params = list(params)
        self.started = False
        self.group = sm.Group(self.name, cgroup)
        self.group.root_pid = self.master_pid

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def vmail_ids(self):
        for name in ("vmail", "nobody"):
            try:
                pw = pwd.getpwnam(name)
                return pw.pw_uid, pw.pw_gid
            except KeyError:
                continue
        return None

    def setup(self):
        ids = self.vmail_ids()
        if ids is None:
            return "no 'vmail' or 'nobody' account for virtual_uid_maps"
        uid, gid = ids
        os.makedirs(self.confdir)
        os.chmod(self.top, 0o755)
        try:
            pf = pwd.getpwnam("postfix")
        except KeyError:
            return "no 'postfix' account (is the postfix package installed?)"
        os.makedirs(os.path.join(self.top, "queue"))
        data = os.path.join(self.top, "data")
        os.makedirs(data)
        os.chown(data, pf.pw_uid, pf.pw_gid)
        vmail = os.path.join(self.top, "vmail")
        os.makedirs(vmail)
        os.chown(vmail, uid, gid)
        if self.dirsync:
            # ext4 'D' attribute: directory updates are synchronous, and new
            # subdirectories inherit it: the queue and Maildir directories
            # get what postern does with fsync(dir).
            for d in (os.path.join(self.top, "queue"), vmail):
                rc, out, err = run_cmd(["chattr", "+D", d])
                if rc != 0:
                    return "chattr +D %s failed: %s%s" % (d, out, err)
        main = MAIN_CF.format(t=self.top, domain=DOMAIN, uid=uid, gid=gid)
        if self.in_flow_delay is not None:
            main += "in_flow_delay = %s\n" % self.in_flow_delay
        hc, bc = write_checks(self.confdir, *self.checks)
        if hc or bc:
            rc, out, _ = run_cmd(["/usr/sbin/postconf", "-m"])
            table = "pcre" if "pcre" in out.split() else "regexp"
            log("Postfix checks: %s: tables (%s)" % (
                table, "pcre" if table == "pcre" else
                "install postfix-pcre for pcre:"))
            if hc:
                main += "header_checks = %s:%s\n" % (table, hc)
            if bc:
                main += "body_checks = %s:%s\n" % (table, bc)
        for kv in self.params:
            main += "%s\n" % kv
        with open(os.path.join(self.confdir, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.confdir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        with open(os.path.join(self.confdir, "vmailbox"), "w") as f:
            # trailing slash: Maildir delivery
            f.write("%s %s/%s/\n" % (RCPT, DOMAIN, LOCALPART))
        rc, out, err = run_cmd(["/usr/sbin/postfix", "-c", self.confdir,
                                "check"], timeout=120)
        text = (out + err).strip()
        if rc != 0:
            return "postfix check failed (%d): %s" % (rc, text)
        if text:
            log("postfix check said:\n" + text)
        warn = [l for l in self.log_tail(50).splitlines() if "warning" in l]
        if warn:
            log("postfix check logged:\n" + "\n".join(warn))
        return None

    def start(self):
        rc, out, err = run_cmd(self.group.wrap(["/usr/sbin/postfix", "-c",
                                                self.confdir, "start"]),
                               timeout=60)
        self.started = True
        if rc != 0:
            return "postfix start failed (%d): %s%s" % (rc, out, err)
        err = wait_greeting(self.port, 30)
        if err:
            return "postfix: " + err
        return None

    def stop(self):
        if not self.started:
            return
        rc, out, err = run_cmd(["/usr/sbin/postfix", "-c", self.confdir,
                                "stop"], timeout=60)
        if rc != 0 and os.path.exists(os.path.join(self.queue, "pid",
                                                   "master.pid")):
            log("postfix stop failed (%d): %s%s" % (rc, out, err))
            run_cmd(["/usr/sbin/postfix", "-c", self.confdir, "abort"],
                    timeout=60)
        self.started = False

    def leftovers(self):
        return queue_leftovers(self.queue, ("maildrop", "incoming", "active",
                                            "deferred", "hold"))

    def log_tail(self, lines=15):
        return log_tail(self.logpath, lines)
