#!/usr/bin/env bash
# Build (once) the throwaway virtualenvs the real-hangar end-to-end tests run:
#   hangar-2.34.4  mcp-hangar[opentelemetry]==2.34.4
#   hangar-1.6.3   mcp-hangar[opentelemetry]==1.6.3
#   hangar-1.1.0   mcp-hangar==1.1.0 + the v1.1.0 uv.lock pins (hangar-contract.md §12): without
#                  them pip picks mcp 2.x and `mcp-hangar` crashes at import
#   client         mcp<2 (the stdio math server and the MCP client that drives hangar)
# into $HANGAR_VENV_CACHE (default: <repo>/.cache/hangar-venvs, git-ignored).
# A venv is reused when its ".ok" stamp matches the requirement line below, so a warm run costs
# nothing; a failed build leaves no stamp and is retried next time.
# usage: tests/hangar/install_hangars.sh [NAME ...]   (default: all four)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${HANGAR_VENV_CACHE:-$ROOT/.cache/hangar-venvs}
PYTHON=${HANGAR_PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
mkdir -p "$CACHE"

P110='mcp-hangar==1.1.0 mcp==1.26.0 protobuf==6.33.6 grpcio==1.78.0 opentelemetry-api==1.40.0
opentelemetry-sdk==1.40.0 opentelemetry-proto==1.40.0 opentelemetry-exporter-otlp==1.40.0
opentelemetry-exporter-otlp-proto-grpc==1.40.0 opentelemetry-exporter-otlp-proto-http==1.40.0
starlette==1.0.0 uvicorn==0.42.0 sse-starlette==3.3.3 pydantic==2.12.5 structlog==25.5.0
typer==0.24.1 anyio==4.13.0'

spec() {
  case "$1" in
    hangar-2.34.4) echo 'mcp-hangar[opentelemetry]==2.34.4' ;;
    hangar-1.6.3) echo 'mcp-hangar[opentelemetry]==1.6.3' ;;
    hangar-1.1.0) echo "$P110" | tr '\n' ' ' ;;
    client) echo 'mcp>=1.20,<2' ;;
    *) echo "unknown venv $1" >&2; return 1 ;;
  esac
}

build() {
  local name=$1 req dir
  req=$(spec "$name")
  dir="$CACHE/$name"
  if [[ -f "$dir/.ok" && "$(cat "$dir/.ok")" == "$req" ]]; then
    echo "$name: cached ($dir)"; return 0
  fi
  rm -rf "$dir"
  local t0=$SECONDS
  "$PYTHON" -m venv "$dir"
  # shellcheck disable=SC2086 - the requirement list is meant to split into words
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check $req
  echo "$req" > "$dir/.ok"
  echo "$name: built in $((SECONDS - t0))s ($dir)"
}

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(client hangar-2.34.4 hangar-1.6.3 hangar-1.1.0)
for n in "${names[@]}"; do build "$n"; done
