#!/usr/bin/env bash
# Real programs the tests talk to, from Debian's packages (idempotent, non-interactive,
# never starts a daemon: the tests run their own instances on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
fi
# syslog receivers and CEF parser for the compliance tests
sh tests/exporters/compliance/install_syslog_daemons.sh
# promtool and a real Prometheus server for the metrics tests
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# the shared count-once ledger (Redis) and the L4 load balancer (HAProxy) of the scale-out
# tests (tests/e2e/test_scale_out.py)
if ! command -v redis-server >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server haproxy >/dev/null
fi
# logrotate for the SIGKILL-and-rotate test of chained records (tests/faults/test_sigkill_chain.py)
if ! command -v logrotate >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends logrotate >/dev/null
fi
