#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs the package with its
# test extras, installs the real test peers when it can (rsyslog, syslog-ng, lognormalizer,
# promtool/prometheus as root via apt; real mcp-hangar releases from PyPI into cached
# virtualenvs), lints, type-checks (mypy), then runs pytest. Extra arguments go to pytest
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
export HANGAR_VENV_CACHE="${HANGAR_VENV_CACHE:-$HOME/.cache/hangar-otelcol/hangar-venvs}"
if [ -f tests/hangar/install_hangars.sh ]; then
    bash tests/hangar/install_hangars.sh \
        || echo "note: could not build the mcp-hangar virtualenvs; hangar tests will skip"
fi

.venv/bin/ruff check .
bash scripts/typecheck.sh
exec .venv/bin/pytest "$@"
