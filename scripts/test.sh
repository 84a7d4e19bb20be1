#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs the package with its
# test extras, installs the real test peers when it can (rsyslog, syslog-ng, lognormalizer,
# promtool/prometheus as root via apt; real mcp-hangar releases from PyPI into cached
# virtualenvs; the OpenTelemetry Collector built from tests/peers/otelcol when Go is there),
# lints, type-checks (mypy), then runs pytest. Extra arguments go to pytest
# (e.g. `-m "not hangar"` to skip the real-hangar tests offline).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
        > .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    exit 1
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    bash scripts/install-test-peers.sh
else
    echo "note: not root: tests needing syslog daemons or Prometheus skip unless installed"
fi
# the real OpenTelemetry Collector (Go), a test and benchmark peer only (tests/peers/otelcol):
# built once into ~/.cache (minutes; then reused); without Go, or if the build fails, the
# tests that need it skip with the reason, and the rest of the suite runs
if [ -z "${HANGAR_OTELCOL_PEER_BIN:-}" ] && [ -z "${HANGAR_OTELCOL_PEER_SKIP:-}" ]; then
    peer_log=.venv/otelcol-peer-build.log
    peer_rc=0
    peer_bin=$(bash scripts/build-otelcol-peer.sh 2>"$peer_log") || peer_rc=$?
    if [ "$peer_rc" = 0 ]; then
        export HANGAR_OTELCOL_PEER_BIN="$peer_bin"
    elif [ "$peer_rc" = 3 ]; then
        export HANGAR_OTELCOL_PEER_SKIP="go not found in PATH (the otelcol test peer needs Go >= 1.26)"
        echo "note: $HANGAR_OTELCOL_PEER_SKIP: the tests beside the OpenTelemetry Collector skip"
    else
        cat "$peer_log" >&2
        export HANGAR_OTELCOL_PEER_SKIP="the otelcol test peer build failed (exit $peer_rc; log: $peer_log)"
        echo "note: $HANGAR_OTELCOL_PEER_SKIP: the tests beside the OpenTelemetry Collector skip"
    fi
fi
export HANGAR_VENV_CACHE="${HANGAR_VENV_CACHE:-$HOME/.cache/hangar-otelcol/hangar-venvs}"
if [ -f tests/hangar/install_hangars.sh ]; then
    bash tests/hangar/install_hangars.sh \
        || echo "note: could not build the mcp-hangar virtualenvs; hangar tests will skip"
fi

.venv/bin/ruff check .
bash scripts/typecheck.sh
exec .venv/bin/pytest "$@"
