#!/bin/sh
# Install what postern needs to build and test on Debian 12, and the system
# accounts it uses when started as root. Run as root.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libssl-dev libsasl2-dev libsasl2-modules libsasl2-modules-db sasl2-bin \
	libpcre2-dev libdb-dev libcmocka-dev mandoc cppcheck \
	python3 python3-aiosmtpd swaks msmtp fetchmail curl openssl ca-certificates
# Accounts (DESIGN.md, mail_owner, login_user, vmail_user, maildrop_group).
getent group postdrop >/dev/null || groupadd --system postdrop
getent passwd postern >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern
getent passwd postern-login >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern-login
getent passwd vmail >/dev/null || useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
exit 0
