"""
pt_clients: running commands (pt.run_cmd) and knowing whether the real
clients the integration tests drive are installed and able (swaks with
TLS and SASL, curl with imap/pop3, fetchmail with SSL, isync 1.4):
client_problems() names what is missing and the Debian package to
install. Re-exported by postern_test; pt.require() turns the answer into
a TAP line. Only the Python 3 standard library.
"""

import re
import shutil
import subprocess
import sys


def run_cmd(argv, input=None, timeout=20, env=None):
    """Run a command; returns CompletedProcess with text stdout/stderr.
    A timeout gives returncode None."""
    try:
        return subprocess.run(argv, input=input, capture_output=True,
                              text=True, timeout=timeout, env=env,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(
            argv, None, (e.stdout or b"").decode("utf-8", "replace")
            if isinstance(e.stdout, bytes) else (e.stdout or ""),
            (e.stderr or b"").decode("utf-8", "replace")
            if isinstance(e.stderr, bytes) else (e.stderr or ""))


CLIENT_PACKAGES = {
    "swaks": "swaks", "msmtp": "msmtp", "fetchmail": "fetchmail",
    "curl": "curl", "openssl": "openssl", "mbsync": "isync", "make": "make",
    "setpriv": "util-linux", "strace": "strace",
}
# Perl modules swaks names when it cannot do something, and their packages.
PERL_PACKAGES = {
    "Net::SSLeay": "libnet-ssleay-perl", "IO::Socket::SSL": "libio-socket-ssl-perl",
    "Authen::SASL": "libauthen-sasl-perl", "Digest::HMAC": "libdigest-hmac-perl",
    "Digest::HMAC_MD5": "libdigest-hmac-perl", "Digest::SHA": "perl",
    "MIME::Base64": "perl", "Authen::NTLM": "libauthen-ntlm-perl",
}
# swaks --support names of what a test may ask of it.
SWAKS_FEATURES = {"TLS": "TLS", "AUTH": "Basic AUTH", "CRAM-MD5": "AUTH CRAM-MD5"}
_required = {}


def _swaks_problems(features):
    r = run_cmd(["swaks", "--support"], timeout=30)
    text = (r.stdout or "") + (r.stderr or "")
    out = []
    for f in features:
        name = SWAKS_FEATURES.get(f, f)
        if re.search(r"^=== %s supported" % re.escape(name), text, re.M):
            continue
        m = re.search(r"^\*\*\* %s not available: requires (.*)$" % re.escape(name),
                      text, re.M)
        mods = m.group(1).split() if m else []
        pkgs = sorted({PERL_PACKAGES.get(x, "the package of Perl's " + x) for x in mods})
        out.append("swaks cannot do %s%s: install %s" % (
            f, " (needs %s)" % " ".join(mods) if mods else "",
            " ".join(pkgs) or "a swaks with %s support" % f))
    return out


def _curl_problems(features):
    r = run_cmd(["curl", "--version"], timeout=10)
    m = re.search(r"^Protocols: (.*)$", r.stdout or "", re.M)
    have = m.group(1).split() if m else []
    return ["curl cannot do %s (curl --version: %s): install Debian's curl"
            % (f, " ".join(have) or "no Protocols line") for f in features
            if f not in have]


def _fetchmail_problems(features):
    r = run_cmd(["fetchmail", "--version"], timeout=30)
    text = (r.stdout or "") + (r.stderr or "")
    return ["fetchmail cannot do SSL (fetchmail --version has no +SSL): install "
            "Debian's fetchmail" for f in features if f == "SSL" and "+SSL" not in text]


def _mbsync_problems():
    # The tests' mbsyncrc uses the Far/Near names of isync 1.4.
    r = run_cmd(["mbsync", "--version"], timeout=30)
    m = re.search(r"isync (\d+)\.(\d+)", (r.stdout or "") + (r.stderr or ""))
    if m and (int(m.group(1)), int(m.group(2))) >= (1, 4):
        return []
    return ["mbsync is not isync 1.4 or later (mbsync --version: %s): install "
            "Debian's isync" % ((r.stdout or r.stderr or "").strip() or "nothing")]


def client_problems(tool, *features):
    """What keeps the external client `tool` from doing `features`: a list
    of messages naming the Debian package to install ([] when it can).
    tool "python3:MODULE" is a module of Debian's python3."""
    key = (tool,) + features
    if key in _required:
        return _required[key]
    if tool.startswith("python3:"):
        mod = tool.split(":", 1)[1]
        try:
            __import__(mod)
            out = []
        except ImportError as e:
            out = ["%s cannot import %s (%s): install python3-%s" % (
                sys.executable, mod, e, mod)]
    elif not shutil.which(tool):
        out = ["%s is not installed: install the Debian package %s" % (
            tool, CLIENT_PACKAGES.get(tool, tool))]
    elif tool == "swaks":
        out = _swaks_problems(features)
    elif tool == "curl":
        out = _curl_problems(features)
    elif tool == "fetchmail":
        out = _fetchmail_problems(features)
    elif tool == "mbsync":
        out = _mbsync_problems()
    else:
        out = []
    _required[key] = out
    return out
