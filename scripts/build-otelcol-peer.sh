#!/usr/bin/env bash
# Build the real OpenTelemetry Collector (Go) TEST PEER once and print its path.
#
# The peer is a test and benchmark counterpart only; it is never shipped.
# Sources: tests/peers/otelcol/{go.mod,go.sum,*.go} (every module pinned).
# Binary:  ${HANGAR_OTELCOL_PEER_CACHE:-$HOME/.cache/hangar-otelcol/otelcol-peer}/<hash>/otelcol
#          where <hash> = first 16 hex chars of sha256(go.mod + go.sum + *.go).
# A cached binary is reused while those files do not change.
#
# stdout: the binary's path, one line, nothing else. Progress goes to stderr.
# Exit:   0 built or reused; 3 `go` not found (and no cached binary); 4 `--cached-only`
#         and not built yet; other non-zero: the build failed.
# --cached-only: print the cached binary's path, never build (what `python -m bench
#         --quick` uses: a smoke run must not start a build of several minutes).
#
# Writes nothing into the repository: the sources are copied to a scratch folder
# beside the cache and built there (so `-mod=mod` can never touch go.mod/go.sum
# in the checkout); the Go build and module caches are Go's defaults (outside).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../tests/peers/otelcol" && pwd)"

cached_only=0
case "${1:-}" in
    --cached-only) cached_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--cached-only]" >&2; exit 2 ;;
esac

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -c1-64
    else shasum -a 256 | cut -c1-64; fi
}

cd "$src"
go_files=()
while IFS= read -r f; do go_files+=("$f"); done < <(LC_ALL=C ls -1 -- *.go)
hash="$(cat go.mod go.sum "${go_files[@]}" | sha256 | cut -c1-16)"

cache_root="${HANGAR_OTELCOL_PEER_CACHE:-$HOME/.cache/hangar-otelcol/otelcol-peer}"
out_dir="$cache_root/$hash"
bin="$out_dir/otelcol"

if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi
if [ "$cached_only" = 1 ]; then
    echo "build-otelcol-peer: the otelcol test peer ($hash) is not built yet (run scripts/build-otelcol-peer.sh)" >&2
    exit 4
fi

if ! command -v go >/dev/null 2>&1; then
    echo "build-otelcol-peer: go not found in PATH (the otelcol test peer needs Go >= 1.26)" >&2
    exit 3
fi

mkdir -p "$cache_root"

# One build at a time (parallel test workers may all ask at once).
lock="$cache_root/.build.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock 9
    if [ -x "$bin" ]; then   # another process built it while we waited
        echo "$bin"
        exit 0
    fi
fi

work="$(mktemp -d "$cache_root/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp go.mod go.sum "${go_files[@]}" "$work/"

# Keep the caller's GOFLAGS but own the -mod and -buildvcs choices.
goflags=""
for f in ${GOFLAGS:-}; do
    case "$f" in -mod=*|-buildvcs=*) ;; *) goflags="$goflags $f" ;; esac
done
export GOFLAGS="${goflags# } -mod=mod -buildvcs=false"
export CGO_ENABLED="${CGO_ENABLED:-0}"

echo "build-otelcol-peer: building otelcol test peer ($hash) with $(go version | cut -d' ' -f3) ..." >&2
start=$(date +%s)
(
    cd "$work"
    go build -trimpath -ldflags "-s -w" -o "$work/otelcol" . >&2
)
elapsed=$(( $(date +%s) - start ))

mkdir -p "$out_dir"
mv -f "$work/otelcol" "$bin.tmp.$$"
mv -f "$bin.tmp.$$" "$bin"
echo "build-otelcol-peer: built in ${elapsed}s -> $bin" >&2
echo "$bin"
