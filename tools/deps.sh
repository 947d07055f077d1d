#!/bin/sh
# Install what postern needs to build and test on Debian 12, and the system
# accounts it uses when started as root. Run as root.
#
#   sh tools/deps.sh           build and test dependencies (every package a
#                              test uses, named here: Recommends are not
#                              installed, so nothing may come in through them)
#   sh tools/deps.sh --bench   also what bench/ compares against (Postfix,
#                              Dovecot), with their services kept stopped
#   sh tools/deps.sh --pkg     also what building and testing the Debian
#                              package needs (tools/build-deb.sh,
#                              tests/integration/test_package.sh; .ci/run)
set -e
export DEBIAN_FRONTEND=noninteractive
bench=no pkg=no
for a in "$@"; do
	case $a in
	--bench) bench=yes ;;
	--pkg) pkg=yes ;;
	*) echo "usage: sh tools/deps.sh [--bench] [--pkg]" >&2; exit 2 ;;
	esac
done
apt-get update -qq
# Build: compiler, autotools, the three libraries, zlib (IMAP COMPRESS),
# cmocka (unit tests), mandoc (man page lint), cppcheck (static check).
# Tests: Debian's python3 (configure picks /usr/bin/python3 whatever python3
# is first on PATH) and aiosmtpd (a real SMTP sink); the clients the
# integration tests drive: swaks with the Perl modules it needs for TLS and
# SASL (Recommends of swaks), msmtp, fetchmail, curl, isync (mbsync);
# strace (test_qfile_reuse.py watches the order of qmgr's system calls).
apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libssl-dev libsasl2-dev libsasl2-modules libsasl2-modules-db sasl2-bin \
	libpcre2-dev zlib1g-dev libdb-dev libcrypt-dev libcmocka-dev mandoc cppcheck \
	python3 python3-aiosmtpd \
	swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl \
	msmtp fetchmail curl isync openssl ca-certificates strace
if [ "$pkg" = yes ]; then
	# The package build (debhelper runs dh_autoreconf), lintian; the
	# package test: systemd for systemd-analyze and systemd-socket-activate
	# (installed, never booted), ssl-cert for the snakeoil certificate the
	# package's configuration uses, setpriv (util-linux) for the units'
	# capability sets; openbsd-inetd and ucspi-tcp (tcpserver) for the
	# inetd and tcpserver recipes of postern(7), with inetd kept stopped
	# (policy-rc.d 101) as it installs.
	prc=/usr/sbin/policy-rc.d
	had_prc=no; [ -e $prc ] && had_prc=yes
	[ $had_prc = yes ] || { printf '#!/bin/sh\nexit 101\n' > $prc; chmod 755 $prc; }
	apt-get install -y -qq --no-install-recommends \
		debhelper dpkg-dev lintian systemd ssl-cert util-linux \
		openbsd-inetd ucspi-tcp || { [ $had_prc = yes ] || rm -f $prc; exit 1; }
	[ $had_prc = yes ] || rm -f $prc
fi
if [ "$bench" = yes ]; then
	# The comparison systems of bench/. Their packages would start them on
	# the standard ports: forbid that while they install (policy-rc.d 101).
	prc=/usr/sbin/policy-rc.d
	had_prc=no; [ -e $prc ] && had_prc=yes
	[ $had_prc = yes ] || { printf '#!/bin/sh\nexit 101\n' > $prc; chmod 755 $prc; }
	# postfix-pcre: Postfix's pcre: tables (smtp-throughput --checks);
	# linux-perf: perf stat, the system calls per message of each system.
	apt-get install -y -qq --no-install-recommends postfix postfix-pcre dovecot-core \
		dovecot-imapd dovecot-pop3d procps linux-perf || { [ $had_prc = yes ] || rm -f $prc; exit 1; }
	[ $had_prc = yes ] || rm -f $prc
fi
# Accounts (DESIGN.md, mail_owner, login_user, vmail_user, maildrop_group,
# auth_user).
getent group postdrop >/dev/null || groupadd --system postdrop
getent passwd postern >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern
getent passwd postern-login >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern-login
getent passwd vmail >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
getent passwd postern-auth >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern-auth
exit 0
