#!/usr/bin/env bash
# Run the gateway from a fresh clone: creates .venv, installs the package, then runs
# `hangar-otelcol` with any arguments given (none: the embedded default gateway config).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e . \
        > .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    exit 1
fi
exec .venv/bin/hangar-otelcol "$@"
