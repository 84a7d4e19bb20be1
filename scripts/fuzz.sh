#!/usr/bin/env bash
# Long, coverage-guided fuzz runs with atheris: every target (tests/fuzz/targets.py) for
# SECONDS each (default 300), growing its corpus in tests/testdata/fuzz/<target>.
#   bash scripts/fuzz.sh [SECONDS] [TARGET ...]
# The test command runs a short, deterministic pass over the same targets (tests/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,fuzz]'
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(otlp_protobuf otlp_json config_yaml pricing_yaml)
mkdir -p .fuzz-findings
for t in "${targets[@]}"; do
    echo "== $t (${seconds}s)"
    (cd .fuzz-findings && PYTHONPATH=.. ../.venv/bin/python -m tests.fuzz.atheris_main "$t" \
        -max_total_time="$seconds" -print_final_stats=1 "../tests/testdata/fuzz/$t")
done
