#!/bin/bash
# The Debian package, installed as a packager's user would (issue 11).
# As root, in a copy-on-write overlay of this very system (its own mount
# namespace; the real / is left as it was, so the machine's own MTA and
# accounts do not matter): dpkg -i the .deb, check the accounts, the
# setgid postdrop (dpkg-statoverride) and the generated postern.conf,
# `systemd-analyze verify` the units, start the master the way
# postern.service does (ExecStartPre check, `postern run` under the
# unit's capability bounding set, READY=1 over $NOTIFY_SOCKET) on
# loopback high ports, send mail through smtpd and sendmail(1), read it
# over POP3 and IMAP; smtpd and imapd under systemd-socket-activate in
# both Accept modes, as their socket units run them; smtpd, pop3d and
# imapd under inetd and tcpserver as postern(7) has them; then dpkg --purge
# and check that nothing of postern is left but what policy keeps (the
# accounts, the users' mail).
#
#   tests/integration/test_package.sh [DEB]
#
# DEB defaults to $POSTERN_DEB, else tools/build-deb.sh builds one (a few
# minutes). TAP on stdout. Needs: sh tools/deps.sh --pkg.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

if [ "${1:-}" = --inner ]; then
	inner=yes; shift
else
	inner=no
fi

# ---------------------------------------------------------------- outside
if [ $inner = no ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root (dpkg -i in an overlay of /)"; exit 0
	fi
	for t in unshare dpkg-deb systemd-analyze systemd-socket-activate setpriv make-ssl-cert \
	    inetd tcpserver; do
		command -v $t >/dev/null || {
			echo "Bail out! $t missing: sh tools/deps.sh --pkg"; exit 1; }
	done
	deb=${1:-${POSTERN_DEB:-}}
	work=$(mktemp -d /tmp/postern-pkgtest.XXXXXX)
	chmod 755 "$work"
	trap 'rm -rf "$work"' EXIT
	if [ -z "$deb" ]; then
		sh "$src/tools/build-deb.sh" "$work/deb" >&2 || {
			echo "Bail out! package build failed"; exit 1; }
		deb=$(ls "$work"/deb/postern_*.deb | tail -1)
	fi
	deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
	[ -f "$deb" ] || { echo "Bail out! no package: $deb"; exit 1; }
	mkdir "$work/upper" "$work/ovl" "$work/root"
	# A private mount namespace: the overlay and its mounts vanish with it.
	unshare --mount --propagation private bash -c '
		set -e
		w=$1; shift
		mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/ovl" "$w/root"
		mount --rbind /proc "$w/root/proc"
		mount --rbind /dev "$w/root/dev"
		mount --rbind /sys "$w/root/sys"
		mount -t tmpfs tmpfs "$w/root/run"
		exec chroot "$w/root" "$@"' sh "$work" bash "$here/$(basename "$0")" --inner "$deb"
	exit $?
fi

# ----------------------------------------------------------------- inside
# From here on we are root in the overlay: nothing written reaches the
# real system.
deb=$1
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {	# description, command...
	local d=$1; shift
	if "$@" > /tmp/check.out 2>&1; then ok "$d"; else
		not_ok "$d"; sed 's/^/# /' /tmp/check.out | tail -30; fi
}
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	return 0
}
trap cleanup EXIT

# A system that had no MTA and no postern accounts: purge another MTA
# (here only), never start services (policy-rc.d), drop the accounts
# tools/deps.sh made, so that postinst is seen making them.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
rm -f /var/lib/man-db/auto-update	# no mandb run per dpkg -i: minutes
mtas=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
	awk '$1 ~ /^[ih]i/ && /mail-transport-agent/ { print $2 }')
[ -z "$mtas" ] || dpkg --purge --force-depends $mtas > /tmp/mta-purge.log 2>&1 ||
	{ echo "Bail out! could not purge $mtas in the overlay"; cat /tmp/mta-purge.log; exit 1; }
for u in postern postern-login vmail postern-auth; do
	getent passwd $u >/dev/null && userdel $u
	getent group $u >/dev/null && groupdel $u
done
getent group postdrop >/dev/null && groupdel postdrop
# The snakeoil certificate of ssl-cert, which the package configures.
[ -e /etc/ssl/certs/ssl-cert-snakeoil.pem ] ||
	make-ssl-cert generate-default-snakeoil --force-overwrite >/dev/null 2>&1
snapshot() {	# what exists in the places a package may touch
	find /etc /var /usr /lib /opt /srv -xdev 2>/dev/null |
		grep -v -E '^/var/(lib/dpkg|log|cache|lib/ucf)(/|$)|^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^/etc/ld\.so\.cache$' | sort
}
snapshot > /tmp/before.list

# 1. Install.
check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
check "accounts postern, postern-login, vmail, postern-auth and group postdrop made" \
	sh -c 'for u in postern postern-login vmail postern-auth; do
		getent passwd $u | grep -q ":/nonexistent:/usr/sbin/nologin$" || exit 1; done
		getent group postdrop >/dev/null'
check "postdrop setgid postdrop through dpkg-statoverride" sh -c '
	dpkg-statoverride --list /usr/lib/postern/postdrop | grep -qx "root postdrop 2755 /usr/lib/postern/postdrop" &&
	[ "$(stat -c "%U %G %a" /usr/lib/postern/postdrop)" = "root postdrop 2755" ]'
check "/usr/sbin/sendmail, /usr/bin/mailq and newaliases are postern-sendmail" sh -c '
	for f in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
		[ "$(readlink -f $f)" = /usr/bin/postern-sendmail ] || exit 1; done'
check "/etc/postern/aliases is a conffile; postern.conf is not" sh -c '
	dpkg-query -W -f "\${Conffiles}\n" postern | grep -q "^ /etc/postern/aliases " &&
	! dpkg-query -W -f "\${Conffiles}\n" postern | grep -q postern.conf'
check "postern.conf made with the snakeoil certificate" \
	grep -qx "tls_cert = /etc/ssl/certs/ssl-cert-snakeoil.pem" /etc/postern/postern.conf
check "postern check accepts the packaged configuration" postern check

# The branch without a certificate: a reinstall remakes a missing file.
mv /etc/ssl/certs/ssl-cert-snakeoil.pem /tmp/snakeoil.pem
rm /etc/postern/postern.conf
dpkg -i "$deb" >/dev/null 2>&1
check "without snakeoil: TLS keys left commented" sh -c '
	grep -q "^#tls_cert = " /etc/postern/postern.conf &&
	! grep -q "^tls_cert" /etc/postern/postern.conf && postern check'
mv /tmp/snakeoil.pem /etc/ssl/certs/ssl-cert-snakeoil.pem
rm /etc/postern/postern.conf
dpkg -i "$deb" >/dev/null 2>&1

# 2. The units.
check "systemd-analyze verify: no output" sh -c '
	out=$(cd /lib/systemd/system && systemd-analyze verify postern.service \
		postern-smtpd.socket postern-smtpd@0.service \
		postern-submitd.socket postern-submissions.socket postern-submitd.service \
		postern-pop3d.socket postern-pop3s.socket postern-pop3d.service \
		postern-imapd.socket postern-imaps.socket postern-imapd.service 2>&1)
	echo "$out"; [ -z "$out" ]'

# 3. Run it as postern.service does, on loopback high ports.
read -r p25 p587 p465 p110 p995 p143 p993 pa25 pb25 pa143 pb143 pi25 pi110 pt25 pt143 < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(15)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
cat >> /etc/postern/postern.conf <<EOF

# test_package.sh: loopback high ports
hostname = mail.example.test
local_domains = example.test
smtp_listen = 127.0.0.1:$p25
submission_listen = 127.0.0.1:$p587
submissions_listen = 127.0.0.1:$p465
pop3_listen = 127.0.0.1:$p110
pop3s_listen = 127.0.0.1:$p995
imap_listen = 127.0.0.1:$p143
imaps_listen = 127.0.0.1:$p993
EOF
pw=pkg-test-$$-secret
check "postern user add alice@example.test" sh -c "echo '$pw' | postern user add alice@example.test"
unit_caps() {	# the CapabilityBoundingSet= of a unit, for setpriv
	sed -n 's/^CapabilityBoundingSet=//p' "/lib/systemd/system/$1" | tr ' ' '\n' |
		sed -n 's/^CAP_\(.*\)/+\1/p' | tr 'A-Z' 'a-z' | paste -sd, -
}
notify=/tmp/notify.sock
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
print(s.recv(4096).decode(), flush=True)' $notify > /tmp/notify.out 2>&1 &
pids+=($!)
sleep 0.5
check "ExecStartPre: postern check" postern check
NOTIFY_SOCKET=$notify setpriv --bounding-set "-all,$(unit_caps postern.service)" \
	postern run > /tmp/master.log 2>&1 &
master=$!; pids+=($master)
for _ in $(seq 60); do grep -q READY=1 /tmp/notify.out && break; sleep 0.5; done
check "the master says READY=1 over NOTIFY_SOCKET (Type=notify)" grep -qx READY=1 /tmp/notify.out
check "the master runs under the unit's capability bounding set" sh -c "
	kill -0 $master && grep CapBnd /proc/$master/status /proc/$$/status &&
	[ \"\$(grep CapBnd /proc/$master/status)\" != \"\$(grep CapBnd /proc/$$/status)\" ]"

mail_py() {	# smtp PORT SUBJECT | pop3 PORT SUBJECT | imap PORT SUBJECT [plain-imaps]
	/usr/bin/python3 - "$@" <<'EOF'
import imaplib, poplib, smtplib, ssl, sys, time
what, port, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pw = open("/tmp/pw").read().strip()
ctx = ssl._create_unverified_context()
user = "alice@example.test"
if what == "smtp":
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("bob@example.org", [user],
                   "From: bob@example.org\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (user, subject))
    sys.exit(0)
for _ in range(60):	# delivery is asynchronous
    if what == "pop3":
        p = poplib.POP3("127.0.0.1", port, timeout=30); p.stls(ctx)
        p.user(user); p.pass_(pw)
        found = any(subject.encode() in b"\n".join(p.retr(i + 1)[1])
                    for i in range(len(p.list()[1])))
        p.quit()
    else:
        if what == "imaps":
            m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=30)
        else:
            m = imaplib.IMAP4("127.0.0.1", port, timeout=30); m.starttls(ctx)
        m.login(user, pw); m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
        found = typ == "OK" and data[0].split() != []
        m.logout()
    if found:
        sys.exit(0)
    time.sleep(0.5)
print("not found: " + subject); sys.exit(1)
EOF
}
echo "$pw" > /tmp/pw
check "SMTP to alice@example.test through smtpd (port $p25)" mail_py smtp $p25 "pkg-smtpd-$$"
check "read over POP3 with STLS (port $p110)" mail_py pop3 $p110 "pkg-smtpd-$$"
check "read over IMAP with STARTTLS (port $p143)" mail_py imap $p143 "pkg-smtpd-$$"
check "sendmail(1) as an ordinary user (setgid postdrop)" sh -c "
	printf 'Subject: pkg-sendmail-$$\n\nhi\n' |
	setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/sbin/sendmail alice@example.test"
check "the sendmail message read over IMAPS (port $p993)" mail_py imaps $p993 "pkg-sendmail-$$"

# 4. Socket activation, as the socket units run the daemons (their
# capability sets and NoNewPrivileges): smtpd and imapd, each Accept=yes
# and Accept=no, next to the master (which runs lookupd, authd, qmgr).
activate() {	# unit-of-caps, then systemd-socket-activate arguments
	local caps; caps=$(unit_caps "$1"); shift
	setpriv --no-new-privs --bounding-set "-all,$caps" \
		systemd-socket-activate "$@" > /tmp/activate.$n.log 2>&1 &
	pids+=($!)
}
activate postern-smtpd@.service -l 127.0.0.1:$pa25 --accept /usr/lib/postern/smtpd
activate postern-smtpd@.service -l 127.0.0.1:$pb25 --fdname=smtp /usr/lib/postern/smtpd
activate postern-imapd.service -l 127.0.0.1:$pa143 --accept /usr/lib/postern/imapd
activate postern-imapd.service -l 127.0.0.1:$pb143 --fdname=imap /usr/lib/postern/imapd
sleep 1
check "smtpd socket-activated, Accept=yes (postern-smtpd@.service)" mail_py smtp $pa25 "pkg-sa-yes-$$"
check "smtpd socket-activated, Accept=no (FileDescriptorName=smtp)" mail_py smtp $pb25 "pkg-sa-no-$$"
check "imapd socket-activated, Accept=no (postern-imapd.service)" mail_py imap $pb143 "pkg-sa-yes-$$"
check "imapd socket-activated, Accept=yes" mail_py imap $pa143 "pkg-sa-no-$$"

# 5. inetd (openbsd-inetd) and tcpserver (ucspi-tcp) with the recipes of
# postern(7), on loopback high ports.
cat > /tmp/inetd.conf <<EOF
127.0.0.1:$pi25 stream tcp nowait root /usr/lib/postern/smtpd smtpd
127.0.0.1:$pi110 stream tcp nowait root /usr/lib/postern/pop3d pop3d
EOF
inetd -d /tmp/inetd.conf > /tmp/inetd.log 2>&1 &
pids+=($!)
tcpserver -v -c 10 127.0.0.1 $pt25 /usr/lib/postern/smtpd > /tmp/tcpserver25.log 2>&1 &
pids+=($!)
tcpserver -v -c 10 127.0.0.1 $pt143 /usr/lib/postern/imapd > /tmp/tcpserver143.log 2>&1 &
pids+=($!)
sleep 1
check "smtpd under inetd (openbsd-inetd, nowait)" mail_py smtp $pi25 "pkg-inetd-$$"
check "pop3d under inetd reads it" mail_py pop3 $pi110 "pkg-inetd-$$"
check "smtpd under tcpserver (TCPREMOTEIP)" mail_py smtp $pt25 "pkg-tcpserver-$$"
check "imapd under tcpserver reads it" mail_py imap $pt143 "pkg-tcpserver-$$"

# 6. Stop (systemctl stop: SIGTERM to the master) and purge.
kill -TERM $master
for _ in $(seq 40); do kill -0 $master 2>/dev/null || break; sleep 0.5; done
check "the master stops on SIGTERM" sh -c "! kill -0 $master 2>/dev/null"
cleanup; pids=()
check "dpkg --purge postern" dpkg --purge postern
check "purge: /etc/postern, /var/lib/postern, the statoverride and the binaries gone" sh -c '
	[ ! -e /etc/postern ] && [ ! -e /var/lib/postern ] && [ ! -e /usr/lib/postern ] &&
	[ ! -e /usr/sbin/sendmail ] && [ ! -e /usr/sbin/postern ] &&
	! dpkg-statoverride --list | grep -q postern &&
	! ls /lib/systemd/system/postern* 2>/dev/null && ! dpkg -s postern 2>/dev/null'
check "purge keeps the accounts (policy 9.2.2) and the users' mail" sh -c '
	getent passwd postern >/dev/null && getent passwd vmail >/dev/null &&
	ls /var/vmail/example.test/alice/Maildir/new /var/vmail/example.test/alice/Maildir/cur |
	grep -q "^[0-9]"'
snapshot > /tmp/after.list
check "nothing else of postern is left (files before install vs after purge)" sh -c '
	left=$(comm -13 /tmp/before.list /tmp/after.list | grep -v "^/var/vmail\(/\|$\)")
	echo "$left"; [ -z "$left" ]'

echo "1..$n"
[ $failed -eq 0 ]
