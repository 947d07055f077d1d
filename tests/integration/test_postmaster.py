#!/usr/bin/env python3
"""
The reserved mailboxes (issue 13): RFC 5321 4.5.1 says a server MUST
accept postmaster, any case, with or without a domain, for every domain
it delivers; RFC 2142 abuse is accepted only when an alias exists.
postmaster goes to its alias, else postmaster_address, else root's
alias, else the first user of the user database (common/postmaster.h). `postern check` warns
when it reaches no mailbox. smtplib as the client.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (  # noqa: E402
    POSTERN, DEFAULT_ALIASES, Suite, tap, run_cmd)

WARNING = "postmaster@example.test reaches no mailbox"


def deliver_to(s, rcpt, mailbox, what):
    """RCPT rcpt is accepted and the message lands in mailbox only."""
    subj = "pm-%s-%d" % (rcpt.replace("@", "-at-"), os.getpid())
    with s.smtp() as c:
        c.ehlo()
        c.mail("sender@remote.test")
        code, msg = c.rcpt(rcpt)
        tap.eq(code, 250, "%s: RCPT TO:<%s> gets 250" % (what, rcpt))
        if code != 250:
            tap.diag(msg)
            return
        code, _ = c.data("From: sender@remote.test\r\nTo: %s\r\nSubject: %s\r\n"
                         "\r\nHello postmaster.\r\n" % (rcpt, subj))
        tap.eq(code, 250, "%s: DATA for <%s> gets 250" % (what, rcpt))
    got = s.wait_for_subject(mailbox, subj)
    tap.eq(len(got), 1, "%s: <%s> delivered to %s" % (what, rcpt, mailbox))


def refused(s, rcpt, what):
    with s.smtp() as c:
        c.ehlo()
        c.mail("sender@remote.test")
        code, msg = c.rcpt(rcpt)
    tap.ok(code == 550 and b"5.1.1" in msg,
           "%s: RCPT TO:<%s> gets 550 5.1.1" % (what, rcpt), (code, msg))


def check_stderr(s):
    return run_cmd([POSTERN, "check", "-c", s.conf]).stderr


def t_first_user():
    s = Suite(name="first-user").start()
    try:
        what = "no alias, no postmaster_address"
        deliver_to(s, "postmaster", "alice@example.test", what)
        deliver_to(s, "POSTMASTER@example.test", "alice@example.test", what)
        deliver_to(s, "PostMaster@Example.ORG", "alice@example.test", what)
        refused(s, "abuse@example.test", "no abuse alias")
        with s.smtp() as c:
            c.ehlo()
            c.mail("sender@remote.test")
            code, msg = c.rcpt("abuse")
        tap.ok(code == 501 and b"5.1.3" in msg,
               "only postmaster goes without a domain: <abuse> gets 501 5.1.3",
               (code, msg))
        refused(s, "nobody@example.test", "an unknown user still")
        tap.ok(WARNING not in check_stderr(s),
               "postern check: no warning when a user exists")
    finally:
        s.stop()


def t_alias():
    s = Suite(name="alias", aliases=DEFAULT_ALIASES +
              "postmaster: bob@example.test\nabuse: dave@example.test\n").start()
    try:
        what = "with a postmaster alias"
        deliver_to(s, "postmaster", "bob@example.test", what)
        deliver_to(s, "POSTMASTER@example.test", "bob@example.test", what)
        deliver_to(s, "abuse@example.test", "dave@example.test",
                   "with an abuse alias")
        deliver_to(s, "ABUSE@example.org", "dave@example.test",
                   "with an abuse alias")
        tap.eq(len(s.maildir_messages("alice@example.test")), 0,
               "nothing went to the first user")
    finally:
        s.stop()


def t_root_alias():
    s = Suite(name="root-alias", aliases=DEFAULT_ALIASES +
              "root: carol@example.org\n").start()
    try:
        what = "no postmaster alias, root has one"
        deliver_to(s, "postmaster", "carol@example.org", what)
        deliver_to(s, "POSTMASTER@example.test", "carol@example.org", what)
        tap.eq(len(s.maildir_messages("alice@example.test")), 0,
               "root's alias comes before the first user")
    finally:
        s.stop()


def t_postmaster_address():
    s = Suite(name="pm-address",
              extra_conf={"postmaster_address": "dave@example.test"}).start()
    try:
        what = "with postmaster_address"
        deliver_to(s, "postmaster", "dave@example.test", what)
        deliver_to(s, "POSTMASTER@example.test", "dave@example.test", what)
        r = run_cmd([POSTERN, "config", "-c", s.conf, "postmaster_address"])
        tap.eq(r.stdout.strip(), "postmaster_address = dave@example.test",
               "postern config shows postmaster_address")
    finally:
        s.stop()


def t_check_warns():
    s = Suite(name="no-users", users=())
    err = check_stderr(s)
    tap.ok(WARNING in err, "postern check warns: postmaster reaches no mailbox",
           err)
    s.settings["postmaster_address"] = "root@elsewhere.test"
    s.write_conf()
    err = check_stderr(s)
    tap.ok(WARNING not in err, "no warning once postmaster_address is set", err)


for fn in (t_first_user, t_alias, t_root_alias, t_postmaster_address,
           t_check_warns):
    tap.run(fn, timeout=120)
tap.done()
