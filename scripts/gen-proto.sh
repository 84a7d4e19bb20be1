#!/usr/bin/env bash
# Regenerate the Python code of the project's own protobuf definitions (proto/) into the
# package (hangar_otelcol/proto/). The generated files are committed; a test checks they
# are current. Needs grpcio-tools (a test extra).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
find proto -name '*.proto' -print0 | xargs -0 "${PYTHON:-.venv/bin/python}" -m grpc_tools.protoc \
    -Iproto --python_out="$out" --pyi_out="$out"
