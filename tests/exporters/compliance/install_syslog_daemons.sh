#!/bin/sh
# Install the real syslog receivers and parsers the compliance tests talk to:
#   rsyslog (+ rsyslog-openssl for TLS) as a Debian package,
#   syslog-ng 3.38 unpacked with `dpkg -x` (its package conflicts with rsyslog),
#   liblognorm-utils (`lognormalizer`, a strict CEF parser).
# Idempotent and non-interactive. Daemons are never started by the package
# scripts (policy-rc.d returns 101); the tests start their own instances on
# 127.0.0.1 with private configs and stop them by pid.
#
# syslog-ng lands in $SYSLOG_NG_ROOT (default /opt/syslog-ng); the tests look
# there (override with the same variable).
set -eu

SYSLOG_NG_ROOT="${SYSLOG_NG_ROOT:-/opt/syslog-ng}"
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# Keep postinst scripts from starting daemons in containers without init.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
fi

need=""
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || need="$need rsyslog"
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ] || ls /usr/lib/*/rsyslog/lmnsd_ossl.so \
    >/dev/null 2>&1 || need="$need rsyslog-openssl"
command -v lognormalizer >/dev/null 2>&1 || need="$need liblognorm-utils"
# syslog-ng's shared-library dependencies (the binary itself is unpacked below)
for lib in libivykis0 libnet1 libpcre3 libwrap0 libjson-c5 libglib2.0-0; do
    dpkg -s "$lib" >/dev/null 2>&1 || need="$need $lib"
done
command -v openssl >/dev/null 2>&1 || need="$need openssl"

if [ -n "$need" ] || [ ! -x "$SYSLOG_NG_ROOT/usr/sbin/syslog-ng" ]; then
    $SUDO apt-get update -qq
fi
if [ -n "$need" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $need
fi

if [ ! -x "$SYSLOG_NG_ROOT/usr/sbin/syslog-ng" ]; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download syslog-ng-core syslog-ng-scl >/dev/null)
    $SUDO mkdir -p "$SYSLOG_NG_ROOT"
    for deb in "$tmp"/*.deb; do $SUDO dpkg -x "$deb" "$SYSLOG_NG_ROOT"; done
    rm -rf "$tmp"
fi

echo "rsyslogd: $(command -v rsyslogd || echo /usr/sbin/rsyslogd)"
echo "lognormalizer: $(command -v lognormalizer)"
echo "syslog-ng: $SYSLOG_NG_ROOT/usr/sbin/syslog-ng"
